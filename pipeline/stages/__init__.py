"""One module a pipeline stage: read the files named in dvc.yaml, do the work, write atomically.

Stages are plain functions of (params, paths) so that Prefect flows, tests and users call the
same code; none imports Prefect or DVC.
"""

import os

STAGES = (
    "validate",
    "preprocess_text",
    "preprocess_image",
    "preprocess_tabular",
    "preprocess_embedding",
    "build_graph",
    "train",
    "evaluate",
)


def show_progress() -> bool:
    """Progress bars for people, silence for CI logs."""
    return not os.environ.get("CI")
