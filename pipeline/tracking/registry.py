"""Model Registry: register every evaluated model, move the champion alias only on improvement."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.bundle import ModelBundle, load_bundle
from pipeline.errors import GraphFuseError
from pipeline.redact import redact_text, redact_uri

METRIC_TAG_PREFIX = "val_"


@dataclass(frozen=True)
class PromotionResult:
    model_name: str
    version: int
    metric: str
    value: float
    promoted: bool
    previous_champion: int | None
    previous_value: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def _champion(client: MlflowClient, name: str, alias: str, metric_tag: str) -> tuple[int | None, float | None]:
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None, None
    value = version.tags.get(metric_tag)
    return int(version.version), (float(value) if value is not None else None)


def register_and_promote(
    model_uri: str, run_id: str, *, name: str, alias: str, metric: str, value: float
) -> PromotionResult:
    """Register ``model_uri`` as a new version; the alias moves only if ``value`` beats the champion's.

    Higher is better for the metrics GraphFuse uses (accuracy, macro-F1). A tie keeps the
    current champion, so re-running the same model never churns the alias.
    """
    client = MlflowClient()
    metric_tag = METRIC_TAG_PREFIX + metric
    previous, previous_value = _champion(client, name, alias, metric_tag)
    version = mlflow.register_model(model_uri, name, tags={metric_tag: f"{value:.6f}", "run_id": run_id})
    promoted = previous is None or previous_value is None or value > previous_value
    if promoted:
        client.set_registered_model_alias(name, alias, version.version)
    return PromotionResult(name, int(version.version), metric_tag, value, promoted, previous, previous_value)


def load_bundle_from_registry(model_uri: str) -> ModelBundle:
    """Fetch the bundle behind ``models:/name@alias`` (or any model URI) without unpickling."""
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=tempfile.mkdtemp(prefix="graphfuse-model-")
        )
    except MlflowException as exc:
        raise GraphFuseError(
            f"model {model_uri!r} could not be found in the registry at "
            f"{redact_uri(mlflow.get_tracking_uri())}: {redact_text(str(exc))}"
        ) from exc
    bundle_dir = _bundle_dir(Path(local))
    if bundle_dir is None:
        raise GraphFuseError(f"model {model_uri!r} is not a GraphFuse model (its MLmodel names no 'bundle' artifact)")
    return load_bundle(bundle_dir)


def _bundle_dir(model_dir: Path) -> Path | None:
    """Where the pyfunc flavour put the bundle, read from MLmodel (plain YAML, nothing executed)."""
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        return None
    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    artifacts = spec.get("flavors", {}).get("python_function", {}).get("artifacts", {})
    relative = artifacts.get("bundle", {}).get("path")
    if not relative:
        return None
    bundle_dir = (model_dir / relative).resolve()
    if not bundle_dir.is_relative_to(model_dir.resolve()):
        return None
    return bundle_dir
