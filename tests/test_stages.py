"""Every stage as its Prefect flow, on 40 real countries, with the real encoders and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.errors import DatasetError
from pipeline.features import load_features
from pipeline.graph import load_graph
from pipeline.inference.bundle import load_bundle
from pipeline.inference.predict import predict_dataset
from pipeline.paths import Paths
from pipeline.stages import STAGES
from tests.helpers import own_tracking_store

pytestmark = pytest.mark.integration

# The shipped default (train.search: auto) searches; these tests train the one recipe.
FAST_TRAIN = {
    "max_epochs": 60,
    "patience": 20,
    "hidden_dim": 32,
    "projection_dim": 16,
    "monitor": "val_macro_f1",
    "search": "off",
}


def write_params(root: Path, dataset_dir: Path, **train: object) -> None:
    params = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    params["dataset"]["dir"] = str(dataset_dir)
    params["train"].update(FAST_TRAIN | train)
    params["build_graph"]["knn"]["enabled"] = True  # off by default; the stage tests cover the kNN path too
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, small_countries: Path, prefect_api: None) -> Path:
    """A project root where the whole-pipeline flow ran once: its seven stage subflows in order."""
    from flows.pipeline_flow import pipeline_flow

    root = tmp_path_factory.mktemp("project")
    write_params(root, small_countries)
    with own_tracking_store():  # MLflow exports its URI; undo that afterwards
        summaries = pipeline_flow(params_file="params.yaml", root=str(root))
    assert list(summaries) == list(STAGES)
    return root


def test_validate_writes_the_processed_dataset(project: Path) -> None:
    info = json.loads((Paths(project).dataset / "dataset.json").read_text())
    assert info["counts"]["nodes"] == 40
    # 8 per region, 20% val and test each: round(1.6) = 2 val, 2 test, 4 train per region.
    assert info["counts"]["splits"] == {"train": 20, "val": 10, "test": 10}
    for region in ("Africa", "Americas", "Asia", "Europe", "Oceania"):
        assert all(n >= 1 for n in info["counts"]["class_splits"][region].values())


@pytest.mark.parametrize(("modality", "dim"), [("text", 384), ("image", 1280)])
def test_pretrained_encoders_fill_every_node(project: Path, modality: str, dim: int) -> None:
    feats = load_features(Paths(project).feature_file(modality))
    assert feats.x.shape == (40, dim)
    assert bool(feats.mask.all())
    assert feats.x.abs().sum(dim=1).min() > 0


def test_tabular_features_are_fitted_and_saved_for_predict(project: Path) -> None:
    feats = load_features(Paths(project).feature_file("tabular"))
    state = json.loads((Paths(project).features / "tabular_state.json").read_text())
    assert feats.x.shape[0] == 40
    assert feats.dim >= 4 * 2  # 4 numeric columns with their missing indicators, plus one-hots
    assert state, "the fitted statistics must be saved for predict"
    assert bool(feats.mask.all())


def test_build_graph_holds_features_edges_and_splits(project: Path) -> None:
    data, meta = load_graph(Paths(project).graph)
    assert meta.classes == ["Africa", "Americas", "Asia", "Europe", "Oceania"]
    assert meta.modalities["text"] == 384 and meta.modalities["image"] == 1280
    assert data.edge_index.size(1) > 0 and data.edge_index.size(1) % 2 == 0  # undirected: both ways
    assert int(data.train_mask.sum() + data.val_mask.sum() + data.test_mask.sum()) == 40
    assert not bool((data.train_mask & data.test_mask).any())
    assert data.edge_type.shape == (data.edge_index.size(1),)  # 0 = dataset edge, 1 = kNN edge (params)
    stats = json.loads((Paths(project).metrics / "graph.json").read_text())
    assert stats["nodes"] == 40 and stats["edges"]["all"] == data.edge_index.size(1)
    assert stats["edges"]["knn"] == int((data.edge_type == 1).sum()) == 2 * meta.knn["report"]["added"] > 0
    assert 0 <= stats["homophily_train"]["all"] <= 1


def test_train_and_evaluate_write_metrics_plots_and_register(project: Path) -> None:
    paths = Paths(project)
    metrics = json.loads((paths.metrics / "metrics_detail.json").read_text())
    assert {"train", "val", "test", "spread"} <= set(metrics)
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert metrics["train"]["accuracy"] > 0.5  # it learned something on the nodes it saw
    registry = json.loads((paths.metrics / "registry.json").read_text())
    assert registry["version"] == 1 and registry["promoted"]
    for plot in ("confusion_test.png", "training_curves.png"):
        assert (paths.plots / plot).read_bytes()[:4] == b"\x89PNG"
    history = pd.read_csv(paths.metrics / "training_history.csv")
    assert {"epoch", "train_loss", "val_loss", "val_macro_f1"} <= set(history.columns)
    training = load_bundle(paths.model).training
    assert training["monitor"] == "val_macro_f1"  # from params.yaml, through the stage, to the loop
    best_epoch = training["best_epoch"]
    assert history.loc[best_epoch - 1, "val_macro_f1"] == history["val_macro_f1"].max()  # params' monitor
    assert (project / "mlflow.db").is_file()


def test_predict_gives_every_node_a_label(project: Path, small_countries: Path) -> None:
    bundle = load_bundle(Paths(project).model)
    predictions, notes = predict_dataset(bundle, small_countries, device="cpu", progress=False)
    assert len(predictions) == 40 and predictions["node_id"].is_unique
    assert bundle.knn["enabled"] and any(note.startswith("kNN edges") for note in notes)  # as in training
    assert set(predictions["predicted"]) <= set(bundle.classes)
    probs = predictions[[f"p_{c}" for c in bundle.classes]].sum(axis=1)
    assert ((probs - 1).abs() < 1e-4).all()


def test_predict_treats_an_absent_modality_as_missing(project: Path, editable_countries: Path) -> None:
    spec = yaml.safe_load((editable_countries / "dataset.yaml").read_text())
    spec["image_column"] = None
    (editable_countries / "dataset.yaml").write_text(yaml.safe_dump(spec))
    predictions, notes = predict_dataset(
        load_bundle(Paths(project).model), editable_countries, device="cpu", progress=False
    )
    assert len(predictions) == 40
    assert any("image" in note for note in notes)


def test_a_bad_dataset_fails_validate_without_writing(
    tmp_path: Path, editable_countries: Path, prefect_api: None
) -> None:
    from flows.stage_flows import validate_flow

    nodes = (editable_countries / "nodes.csv").read_text().splitlines()
    nodes[3] = nodes[2]  # a duplicate id on row 4
    (editable_countries / "nodes.csv").write_text("\n".join(nodes) + "\n")
    write_params(tmp_path, editable_countries)
    with pytest.raises(DatasetError) as error:
        validate_flow(params_file="params.yaml", root=str(tmp_path))
    assert error.value.row == 4 and "nodes.csv" in error.value.file
    assert not Paths(tmp_path).dataset.exists()


def test_stage_flows_send_no_heartbeats_unless_the_user_sets_them(
    monkeypatch: pytest.MonkeyPatch, prefect_api: None
) -> None:
    """Prefect's heartbeat thread adds ~0.9 s to the end of every flow; a stage runs without it
    unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY asks for heartbeats (issue 16, row 6)."""
    from prefect import flow
    from prefect.settings import get_current_settings

    from flows.stage_flows import HEARTBEAT_VARIABLES, stage_heartbeats

    seen: list[int | None] = []

    @flow
    def probe() -> None:
        seen.append(get_current_settings().flows.heartbeat_frequency)

    for variable in HEARTBEAT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    with stage_heartbeats():
        probe()
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    with stage_heartbeats():
        probe()
    assert seen[0] is None
    assert seen[1] is not None  # the user's setting (or Prefect's default) stands


def test_the_warm_server_turns_heartbeats_off_once_for_every_stage_it_forks() -> None:
    """Entering Prefect's temporary settings in each stage cost ~0.25 s; the warm server does it
    once (``flows.stage_flows:warm_process_settings`` in its preload), unless the user set them."""
    import os
    import subprocess
    import sys

    from flows.stage_flows import HEARTBEAT_VARIABLES

    probe = (
        "from flows.stage_flows import warm_process_settings, stage_heartbeats\n"
        "from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY as H\n"
        "warm_process_settings()\n"
        "with stage_heartbeats():\n"
        "    print(H.value())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in HEARTBEAT_VARIABLES}
    off = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    on = subprocess.run(
        [sys.executable, "-c", probe],
        env=env | {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "45"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert off.stdout.split() == ["None"]
    assert on.stdout.split() == ["45"]
