"""One module a pipeline stage: read the files named in dvc.yaml, do the work, write atomically.

Stages are plain functions of (params, paths) so that Prefect flows, tests and users call the
same code; none imports Prefect or DVC.
"""

import os

from pipeline.stages.registry import STAGES  # noqa: E402 - the names, from the one stage registry

__all__ = ["STAGES", "show_progress"]


def show_progress() -> bool:
    """Progress bars for people, silence for CI logs."""
    return not os.environ.get("CI")
