"""One module a pipeline stage: read the files named in dvc.yaml, do the work, write atomically.

Stages are plain functions of (params, paths) so that Prefect flows, tests and users call the
same code; none imports Prefect or DVC.
"""

import os
import sys
from collections.abc import Callable

from pipeline.stages.registry import STAGES  # noqa: E402 - the names, from the one stage registry

__all__ = ["STAGES", "show_progress"]


def show_progress() -> bool:
    """Progress bars for people, silence for CI logs."""
    return not os.environ.get("CI")


def progress_lines() -> Callable[[str], None] | None:
    """Where a stage says how far it got: plain lines, flushed at once, so that they show when the
    output is a pipe or a log file (DVC, a Prefect worker) and not only on a terminal; None under CI."""
    if not show_progress():
        return None

    def say(message: str) -> None:
        print(message, file=sys.stdout, flush=True)

    return say
