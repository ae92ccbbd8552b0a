"""``graphfuse init``: a dataset folder from raw files, checked as validate checks it, wired into params.yaml.

The order is what makes it safe: decide (``plan_dataset``), write the folder, run the validate
stage's own checks on it (a failure removes what was added), and only then point params.yaml's
``dataset.dir`` and ``tracking.model_name`` at it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Params, default_model_name, load_params
from pipeline.dataset import Dataset
from pipeline.onboarding.scaffold import InitPlan, InitRequest, write_dataset
from pipeline.params_file import set_params
from pipeline.stages.validate import checked_dataset


@dataclass(frozen=True)
class InitResult:
    dataset: Dataset
    dataset_dir: str  # as written to params.yaml
    model_name: str
    params_file: Path | None


def apply_plan(request: InitRequest, plan: InitPlan, *, params_file: Path | None, root: Path) -> InitResult:
    """Write the planned folder, validate it, then set params.yaml (when ``params_file`` is given)."""
    settings = load_params(params_file) if params_file is not None and params_file.is_file() else Params()
    dataset = write_dataset(request, plan, lambda out: checked_dataset(out, settings.validate_, settings.dataset.task))
    dataset_dir = _relative_to_root(request.out, root)
    model_name = default_model_name(dataset.spec.name)
    if params_file is not None:
        set_params(params_file, {"dataset.dir": dataset_dir, "tracking.model_name": model_name})
    return InitResult(dataset, dataset_dir, model_name, params_file)


def _relative_to_root(folder: Path, root: Path) -> str:
    """params.yaml names the folder relative to the project root when it is inside it (portable)."""
    folder, root = folder.resolve(), root.resolve()
    return os.path.relpath(folder, root) if folder.is_relative_to(root) else str(folder)
