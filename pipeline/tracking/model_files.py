"""A registered model's files, read into memory: the bundle and the training graph behind a
model URI, with no unpickling, no MLflow progress bars in the caller's output, and no download
left behind. A version of the project's own registry whose files are local is read in place,
without importing MLflow (:mod:`pipeline.tracking.local_registry`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from pipeline.errors import GraphFuseError
from pipeline.inference.bundle import ModelBundle, load_bundle
from pipeline.inference.known_graph import KnownGraph, load_known_graph
from pipeline.redact import redact_text, redact_uri
from pipeline.tracking.local_registry import local_model_dir


def _download(model_uri: str, dst: str) -> Path:
    """The model's files, fetched without MLflow's progress bars (they end up in predict's output)."""
    import mlflow
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
    from mlflow.exceptions import MlflowException

    saved = os.environ.get(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name)
    os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = "false"
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=dst))
    except MlflowException as exc:
        raise GraphFuseError(
            f"model {model_uri!r} could not be found in the registry at "
            f"{redact_uri(mlflow.get_tracking_uri())}: {redact_text(str(exc))}"
        ) from exc
    finally:
        if saved is None:
            os.environ.pop(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name, None)
        else:
            os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = saved


def load_registered_package(model_uri: str, root: str | Path = ".") -> tuple[ModelBundle, KnownGraph | None]:
    """:func:`load_package_from_registry` for a command run in project ``root``: a version of the
    project's own registry with local files is read in place (no MLflow import, no copy); any
    other is fetched through MLflow, connected to ``root``'s store first."""
    local = local_model_dir(model_uri, root)
    if local is not None:
        return _read_package(model_uri, local)
    from pipeline.tracking.runs import connect_tracking

    connect_tracking(root)
    return load_package_from_registry(model_uri)


def load_package_from_registry(model_uri: str) -> tuple[ModelBundle, KnownGraph | None]:
    """The bundle (and training graph, when the version has one) behind a model URI, no unpickling.

    Everything is read into memory and the download is deleted before returning.
    """
    with tempfile.TemporaryDirectory(prefix="graphfuse-model-") as tmp:
        return _read_package(model_uri, _download(model_uri, tmp))


def _read_package(model_uri: str, local: Path) -> tuple[ModelBundle, KnownGraph | None]:
    """The bundle and training graph of a model folder (its MLmodel names where they are)."""
    artifacts = _artifact_dirs(local)
    if "bundle" not in artifacts:
        raise GraphFuseError(f"model {model_uri!r} is not a GraphFuse model (its MLmodel names no 'bundle' artifact)")
    bundle = load_bundle(artifacts["bundle"])
    known = load_known_graph(artifacts["known_graph"]) if "known_graph" in artifacts else None
    return bundle, known


def load_bundle_from_registry(model_uri: str) -> ModelBundle:
    """Fetch the bundle behind ``models:/name@alias`` (or any model URI) without unpickling."""
    return load_package_from_registry(model_uri)[0]


def _artifact_dirs(model_dir: Path) -> dict[str, Path]:
    """Where the pyfunc flavour put its artifacts, read from MLmodel (plain YAML, nothing executed)."""
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        return {}
    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    artifacts = spec.get("flavors", {}).get("python_function", {}).get("artifacts", {})
    out = {}
    for key, entry in artifacts.items():
        relative = (entry or {}).get("path")
        if relative:
            path = (model_dir / relative).resolve()
            if path.is_relative_to(model_dir.resolve()):
                out[key] = path
    return out
