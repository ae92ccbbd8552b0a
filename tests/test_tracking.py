"""MLflow on a real SQLite store: models are logged, registered, and the champion alias moves
only when the validation metric improves."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
import torch
from mlflow import MlflowClient

from pipeline.dataset import DatasetSpec, EdgesSpec
from pipeline.inference.bundle import ModelBundle, load_bundle, save_bundle
from pipeline.inference.known_graph import KnownGraph
from pipeline.models import FusionModelConfig, build_model
from pipeline.tracking import (
    configure_tracking,
    load_bundle_from_registry,
    log_bundle_model,
    register_and_promote,
    start_run,
    training_run,
)
from pipeline.tracking.runs import TrainingRun
from tests.helpers import forget_tracking_env

pytestmark = pytest.mark.unit


def _bundle(seed: int) -> ModelBundle:
    config = FusionModelConfig(modality_dims={"tabular": 3}, num_classes=2, projection_dim=4, hidden_dim=4, dropout=0.0)
    torch.manual_seed(seed)
    model = build_model(config)
    state_dict = {k: v.clone() for k, v in model.state_dict().items()}
    return ModelBundle(
        config=config,
        classes=["a", "b"],
        encoders={"tabular": {"encoder": "tabular", "state": {}}},
        dataset_name="toy",
        state_dict=state_dict,
    )


@pytest.fixture(scope="module")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new SQLite store, made once as a project's first stage makes it (MLflow's schema migrations,
    ~1 CPU-s a store) and copied into each test's root; making a root's own store is
    test_a_second_root_in_the_same_process_gets_its_own_store's, and every stage test's."""
    from pipeline.tracking.store_file import create_whole

    folder = tmp_path_factory.mktemp("migrated_store")
    create_whole(f"sqlite:///{folder / 'mlflow.db'}", (folder / "mlartifacts").as_uri())
    return folder / "mlflow.db"


@pytest.fixture
def tracking_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_store: Path) -> Path:
    forget_tracking_env(monkeypatch)
    shutil.copy(migrated_store, tmp_path / "mlflow.db")
    uri = configure_tracking(tmp_path, "graphfuse-test")
    assert uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    return tmp_path


def toy_known_graph() -> KnownGraph:
    spec = DatasetSpec(
        name="toy",
        task="node_classification",
        id_column="id",
        label_column="label",
        numeric_columns=["a", "b", "c"],
        edges=EdgesSpec(source="s", target="t"),
    )
    return KnownGraph(
        spec=spec,
        node_ids=["n0", "n1"],
        features={"tabular": torch.zeros(2, 3)},
        masks={"tabular": torch.ones(2, dtype=torch.bool)},
        edge_index=torch.tensor([[0, 1], [1, 0]]),
    )


def _log(root: Path, seed: int) -> tuple[str, str, ModelBundle]:
    bundle = _bundle(seed)
    bundle_dir = root / f"bundle{seed}"
    save_bundle(bundle_dir, bundle)
    with start_run() as run:
        uri = log_bundle_model(bundle_dir, toy_known_graph())
    return run.info.run_id, uri, bundle


def test_champion_moves_only_on_improvement(tracking_root: Path) -> None:
    run1, uri1, bundle1 = _log(tracking_root, 1)
    first = register_and_promote(uri1, run1, name="gf", alias="champion", metric="macro_f1", value=0.5)
    assert first.version == 1 and first.promoted and first.previous_champion is None

    run2, uri2, _ = _log(tracking_root, 2)
    worse = register_and_promote(uri2, run2, name="gf", alias="champion", metric="macro_f1", value=0.4)
    assert worse.version == 2 and not worse.promoted and worse.previous_champion == 1

    tie = register_and_promote(uri2, run2, name="gf", alias="champion", metric="macro_f1", value=0.5)
    assert not tie.promoted

    run3, uri3, bundle3 = _log(tracking_root, 3)
    better = register_and_promote(uri3, run3, name="gf", alias="champion", metric="macro_f1", value=0.6)
    assert better.promoted and better.previous_value == 0.5

    assert int(MlflowClient().get_model_version_by_alias("gf", "champion").version) == better.version
    loaded = load_bundle_from_registry("models:/gf@champion")
    for key, value in bundle3.state_dict.items():
        assert torch.equal(loaded.state_dict[key], value)
    assert artifacts_are_under(tracking_root)


def artifacts_are_under(root: Path) -> bool:
    location = mlflow.get_experiment_by_name("graphfuse-test").artifact_location
    return location.startswith((root.resolve() / "mlartifacts").as_uri())


def test_registry_model_loads_as_pyfunc_without_pickle(tracking_root: Path) -> None:
    run_id, uri, bundle = _log(tracking_root, 5)
    model = mlflow.pyfunc.load_model(uri)
    python_model = model.unwrap_python_model()
    for key, value in bundle.state_dict.items():
        assert torch.equal(python_model.bundle.state_dict[key], value)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    assert not list(local.rglob("*.pkl")), "models-from-code must not store a pickled python model"
    assert load_bundle(local / "artifacts" / "bundle5").classes == ["a", "b"]


def test_unknown_model_uri_is_a_clear_error(tracking_root: Path) -> None:
    from pipeline.errors import GraphFuseError

    with pytest.raises(GraphFuseError, match="could not be found"):
        load_bundle_from_registry("models:/nope@champion")


def test_a_second_root_in_the_same_process_gets_its_own_store(tmp_path: Path, tracking_root: Path) -> None:
    """set_tracking_uri exports MLFLOW_TRACKING_URI; that export must not pass for the user's choice."""
    other = tmp_path / "other"
    other.mkdir()
    uri = configure_tracking(other, "graphfuse-test")
    assert uri == f"sqlite:///{other.resolve() / 'mlflow.db'}"
    assert mlflow.get_registry_uri() == uri
    assert mlflow.get_experiment_by_name("graphfuse-test").artifact_location.startswith(
        (other.resolve() / "mlartifacts").as_uri()
    )


def test_the_users_tracking_uri_holds_for_every_stage_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_store: Path
) -> None:
    """A user's MLFLOW_TRACKING_URI was taken for our own export after the first connect, so the
    next stage in the same process (train then evaluate) fell back to ROOT/mlflow.db."""
    shutil.copy(migrated_store, tmp_path / "team.db")  # the team's store exists already
    store = f"sqlite:///{tmp_path.resolve() / 'team.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    for _stage in ("train", "evaluate"):
        assert configure_tracking(tmp_path / "project", "graphfuse-test") == store
        assert mlflow.get_tracking_uri() == mlflow.get_registry_uri() == store
    assert not (tmp_path / "project" / "mlflow.db").exists()


def test_epoch_rows_are_written_in_batches_and_all_arrive(tracking_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Epoch rows wait for the next batch write (at most EPOCH_FLUSH_SECONDS apart), and the run's
    end writes the rest, also when training fails: every epoch of every figure reaches MLflow."""
    client = MlflowClient()
    rows = [{"epoch": e, "val_loss": 1.0 / e, "val_accuracy": e / 10} for e in range(1, 8)]
    monkeypatch.setattr(TrainingRun, "EPOCH_FLUSH_SECONDS", 3600.0)
    with pytest.raises(RuntimeError, match="training failed"), training_run(run_name="batched") as tracked:
        for row in rows:
            tracked.log_epoch(row["epoch"], row)
        assert client.get_metric_history(tracked.run_id, "val_loss") == []  # not yet written
        raise RuntimeError("training failed")  # the run's end still writes what it had
    history = client.get_metric_history(tracked.run_id, "val_loss")
    assert sorted((m.step, m.value) for m in history) == [(r["epoch"], r["val_loss"]) for r in rows]
    assert len(client.get_metric_history(tracked.run_id, "val_accuracy")) == len(rows)

    monkeypatch.setattr(TrainingRun, "EPOCH_FLUSH_SECONDS", 0.0)  # slow epochs: each is written as it ends
    with training_run(run_name="each") as tracked:
        tracked.log_epoch(1, rows[0])
        assert [m.step for m in client.get_metric_history(tracked.run_id, "val_loss")] == [1]


def test_a_failure_before_any_run_is_recorded_in_an_experiment_the_store_lacked(tracking_root: Path) -> None:
    """A flow run whose first stage failed before the experiment existed in this store still gets
    its FAILED run (the experiment is created), tagged with the stage and the error."""
    from pipeline.tracking.orchestrator_tags import TAG_FAILED_STAGE, TAG_FLOW_RUN_ID, record_failure

    assert mlflow.get_experiment_by_name("graphfuse-new") is None
    run_id = record_failure("flow-1", None, "graphfuse-new", "validate", "nodes.csv, row 3: empty id")
    run = MlflowClient().get_run(run_id)
    assert run.info.experiment_id == mlflow.get_experiment_by_name("graphfuse-new").experiment_id
    assert run.info.status == "FAILED"
    assert run.data.tags[TAG_FAILED_STAGE] == "validate"
    assert run.data.tags[TAG_FLOW_RUN_ID] == "flow-1"
