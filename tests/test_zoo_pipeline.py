"""The whole model zoo through the pipeline (issue 16 "the zoo through the pipeline", issue 17 bar
"fusion x backbone x task"): every fusion x backbone, for node classification and for link
prediction (the decoders in turn), is trained, saved and reloaded as a bundle, evaluated as the
evaluate stage does (metrics, spread, ablation, embedding map), and answers ``graphfuse predict
--nodes`` (``--pairs`` for links) and the pyfunc class, which must agree.

Cheap by construction: a 48-node dataset whose modalities are a numeric table and a precomputed
embedding (no encoder runs), its graph built once per task by the real stages, a few epochs and
one seed. What does not depend on the model (plots, MLflow logging, the registry, MLflow's
pyfunc loading) runs once per task through the real ``train.run`` and ``evaluate.run`` on a
combination that used to crash, with one SQLite MLflow store for the module.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from mlflow.pyfunc import PythonModelContext
from typer.testing import CliRunner

from pipeline.atomic import read_json
from pipeline.cli import app
from pipeline.config import Params, load_params
from pipeline.dataset import DatasetSpec
from pipeline.evaluation.embeddings import node_embeddings
from pipeline.evaluation.suite import evaluate_model
from pipeline.graph import load_graph
from pipeline.graph.store import load_encoder_states
from pipeline.inference.bundle import ModelBundle, load_bundle, save_bundle
from pipeline.inference.known_graph import KnownGraph, save_known_graph
from pipeline.models import BACKBONES, DECODERS, FUSIONS, build_model
from pipeline.paths import Paths
from pipeline.stages import build_graph, evaluate, preprocess, preprocess_embedding, train, validate
from pipeline.tasks.link.evaluate import evaluate_link_model
from pipeline.tasks.link.train import train_link_predictor
from pipeline.tracking.pyfunc_model import GraphFusePyfunc
from pipeline.training import options_from, seed_everything, train_node_classifier
from tests.evaluation_fixtures import REPO
from tests.tiny_graphs import one_thread  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.integration

CPU = torch.device("cpu")
N_NODES, N_CLASSES, DIM = 48, 3, 6
PAIRS = list(itertools.product(sorted(FUSIONS), sorted(BACKBONES)))
LINK_CASES = [(f, b, sorted(DECODERS)[i % len(DECODERS)]) for i, (f, b) in enumerate(PAIRS)]
PREPARE = (validate.run, preprocess.run_text, preprocess.run_image, preprocess.run_tabular, preprocess_embedding.run)


def write_zoo_dataset(root: Path) -> Path:
    """Three classes; a numeric table and a 6-d embedding that both carry the class (some nodes
    lack one of them); edges mostly within a class."""
    rng = np.random.default_rng(0)
    labels = np.arange(N_NODES) % N_CLASSES
    ids = [f"n{i:02d}" for i in range(N_NODES)]
    table = rng.normal(size=(N_NODES, 2)) + labels[:, None]
    table[::7, :] = np.nan  # no numbers for these nodes
    vectors = (rng.normal(size=(N_CLASSES, DIM)) * 2)[labels] + rng.normal(size=(N_NODES, DIM))
    vectors[3::11] = np.nan  # an all-NaN row: the node has no embedding
    root.mkdir(parents=True)
    (root / "emb").mkdir()
    np.save(root / "emb" / "vec.npy", vectors.astype(np.float32))
    nodes = pd.DataFrame({"node_id": ids, "label": [f"c{c}" for c in labels], "a": table[:, 0], "b": table[:, 1]})
    nodes.to_csv(root / "nodes.csv", index=False)
    edges = [(i, j) for i in range(N_NODES) for j in rng.choice(N_NODES, 3) if i < j and labels[i] == labels[j]]
    edges += [(i, (i + 1) % N_NODES) for i in range(0, N_NODES, 5)]  # a few across classes
    pd.DataFrame({"src": [ids[i] for i, _ in edges], "dst": [ids[j] for _, j in edges]}).to_csv(
        root / "edges.csv", index=False
    )
    spec = {
        "name": "zoo",
        "task": "node_classification",
        "id_column": "node_id",
        "label_column": "label",
        "numeric_columns": ["a", "b"],
        "embedding_modalities": {"vec": {"file": "emb/vec.npy"}},
        "edges": {"file": "edges.csv", "source": "src", "target": "dst", "directed": False},
    }
    (root / "dataset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def _params(root: Path, dataset: Path, task: str) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"].update(dir=str(dataset), task=task)
    params["preprocess"]["cache_dir"] = ""
    params["build_graph"]["eval_negatives"] = 10
    params["train"].update(
        max_epochs=4, patience=10, hidden_dim=8, projection_dim=4, embedding_dim=4, heads=2, hops=1,
        checkpoint_every=0, smoothing="off",  # Correct & Smooth is the same for every model: the stage tests keep it
        search="off",  # each zoo pair as itself, not the search around it
    )  # fmt: skip
    params["evaluate"].update(seeds=1, retrain_ablation=False, embedding_map=True)
    params["tracking"]["model_name"] = f"zoo-{task}"
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def tracking_store(tmp_path_factory: pytest.TempPathFactory):
    """One SQLite MLflow store for every combination of the module."""
    store = tmp_path_factory.mktemp("zoo-mlflow")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
        env.delenv("MLFLOW_REGISTRY_URI", raising=False)
        yield store


def _prepared(root: Path, task: str) -> tuple[Path, Params]:
    _params(root, write_zoo_dataset(root / "data"), task)
    params, paths = load_params(root / "params.yaml"), Paths(root)
    for stage in (*PREPARE, build_graph.run):
        stage(params, paths)
    return root, params


@pytest.fixture(scope="module")
def node_project(tmp_path_factory: pytest.TempPathFactory, tracking_store: Path) -> tuple[Path, Params]:
    return _prepared(tmp_path_factory.mktemp("zoo-node"), "node_classification")


@pytest.fixture(scope="module")
def link_project(tmp_path_factory: pytest.TempPathFactory, tracking_store: Path) -> tuple[Path, Params]:
    return _prepared(tmp_path_factory.mktemp("zoo-link"), "link_prediction")


def _with(params: Params, **train_settings: object) -> Params:
    """The project's params with other ``train`` settings (in memory: the stages take the object)."""
    return params.model_copy(update={"train": params.train.model_copy(update=train_settings)})


NEW_NODES = pd.DataFrame(
    {
        "node_id": ["NEW1", "NEW2"],
        "a": [2.0, None],
        "b": [1.5, None],
        "emb_vec": [" ".join(["0.5"] * DIM), None],
        "neighbors": ["n02;NEW2", "n01"],
    }
)
NEW_EDGES = "src,dst\nNEW1,n02\nNEW1,NEW2\nNEW2,n01\n"
PAIRS_CSV, PAIRS_FRAME = (
    "source,target\nn00,n03\nn01,\n",
    pd.DataFrame({"source": ["n00", "n01"], "target": ["n03", None]}),
)


def _graphfuse(root: Path, *args: str) -> None:
    """The real CLI, in process."""
    result = CliRunner().invoke(app, [*args, "--root", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output[-3000:]


def _fit_bundle(params: Params, paths: Paths, model_dir: Path) -> ModelBundle:
    """What the train stage fits and saves with ``params``, read back from disk."""
    data, meta = load_graph(paths.graph)
    config = train._model_config(params.train, meta, len(meta.node_ids))
    seed_everything(params.train.seed)
    model, options = build_model(config), options_from(params.train)
    if config.decoder is not None:
        result = train_link_predictor(model, data, device=CPU, options=options)
    else:
        result = train_node_classifier(model, data, num_classes=len(meta.classes), device=CPU, options=options)
    bundle = ModelBundle(
        config=config.model_copy(update=result.config_update()),
        classes=meta.classes,
        encoders=meta.encoders,
        dataset_name=meta.dataset,
        state_dict=result.state_dict,
        training={"best_epoch": result.best_epoch},
        knn=meta.knn.get("settings", {}),
        encoder_states=load_encoder_states(paths.graph),
    )
    save_bundle(model_dir, bundle)
    return load_bundle(model_dir)


def _pyfunc(model_dir: Path, root: Path) -> GraphFusePyfunc:
    """The served model's class, loaded as MLflow loads it, from the bundle and the training graph."""
    known_dir = root / "known_graph"
    if not known_dir.is_dir():
        data, meta = load_graph(Paths(root).graph)
        spec = DatasetSpec.model_validate(read_json(Paths(root).dataset / "dataset.json")["spec"])
        save_known_graph(known_dir, KnownGraph.from_graph(data, meta, spec))
    served = GraphFusePyfunc()
    served.load_context(PythonModelContext({"bundle": str(model_dir), "known_graph": str(known_dir)}, {}))
    return served


def _embeddings_are_one_row_a_node(model, data) -> None:
    z = node_embeddings(model, data, CPU)  # what the map draws (t-SNE itself runs in the stage tests)
    assert z.shape[0] == N_NODES and z.ndim == 2 and np.isfinite(z).all()


@pytest.mark.parametrize(("fusion", "backbone"), PAIRS)
def test_every_node_classifier_trains_evaluates_and_predicts(
    node_project: tuple[Path, Params], tmp_path: Path, fusion: str, backbone: str
) -> None:
    root, params = node_project
    params, paths = _with(params, fusion=fusion, backbone=backbone), Paths(root)
    bundle = _fit_bundle(params, paths, tmp_path / "model")
    data, meta = load_graph(paths.graph)
    model = bundle.build()
    no_map = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"embedding_map": False})})
    result = evaluate_model(model, bundle.config, data, meta, no_map, CPU)
    assert np.isfinite(result.metrics["test"]["accuracy"]) and len(result.spread["seeds"]) == 1
    assert {"full", "no_tabular", "no_emb_vec", "no_graph"} <= set(result.ablation["inference"])
    assert (result.modality_weights is not None) == (fusion != "early")
    _embeddings_are_one_row_a_node(model, data)
    answer = _pyfunc(tmp_path / "model", root).predict(None, NEW_NODES)
    assert answer["node_id"].tolist() == ["NEW1", "NEW2"] and set(answer["predicted"]) <= set(meta.classes)
    assert np.isfinite(answer["confidence"]).all()


@pytest.mark.parametrize(("fusion", "backbone", "decoder"), LINK_CASES)
def test_every_link_predictor_trains_evaluates_and_predicts(
    link_project: tuple[Path, Params], tmp_path: Path, fusion: str, backbone: str, decoder: str
) -> None:
    root, params = link_project
    params, paths = _with(params, fusion=fusion, backbone=backbone, decoder=decoder), Paths(root)
    bundle = _fit_bundle(params, paths, tmp_path / "model")
    data, meta = load_graph(paths.graph)
    model = bundle.build()
    result = evaluate_link_model(model, bundle.config, data, meta, params, CPU)
    assert 0 <= result.metrics["test"]["mrr"] <= 1 and len(result.spread["seeds"]) == 1
    _embeddings_are_one_row_a_node(model, data)
    answer = _pyfunc(tmp_path / "model", root).predict(None, PAIRS_FRAME, {"k": 3})
    assert len(answer) == 4 and np.isfinite(answer["probability"].astype(float)).all()  # the pair, then top 3


def _stages(root: Path, params: Params) -> str:
    """The real train and evaluate stages; the registered version's URI."""
    paths = Paths(root)
    trained = train.run(params, paths)
    assert trained["model"] == f"{params.train.fusion}/{params.train.backbone}"
    registry = evaluate.run(params, paths)["registry"]
    for name in ("embeddings.png", "embeddings.csv", "confusion_test.png", "training_curves.png"):
        assert (paths.plots / name).is_file(), name
    coords = pd.read_csv(paths.plots / "embeddings.csv")
    assert len(coords) == N_NODES and np.isfinite(coords[["x", "y"]].to_numpy()).all()  # the t-SNE map
    return f"models:/{registry['model_name']}/{registry['version']}"


def test_the_stages_register_a_late_sign_classifier_that_predict_and_mlflow_load(
    node_project: tuple[Path, Params],
) -> None:
    """A pair that crashed the evaluate stage, through the stages, the registry, the CLI and MLflow."""
    root, params = node_project
    uri = _stages(root, _with(params, fusion="late", backbone="sign", smoothing="auto", skip=True))
    assert load_bundle(Paths(root).model).config.skip  # train.skip reaches the saved model
    nodes, edges, out = root / "new_nodes.csv", root / "new_edges.csv", root / "predictions.csv"
    NEW_NODES.drop(columns="neighbors").to_csv(nodes, index=False)
    edges.write_text(NEW_EDGES)
    _graphfuse(root, "predict", "--model", uri, "--nodes", str(nodes), "--edges", str(edges), "--out", str(out))
    cli, served = pd.read_csv(out), mlflow.pyfunc.load_model(uri).predict(NEW_NODES)
    assert cli["node_id"].tolist() == served["node_id"].tolist() == ["NEW1", "NEW2"]
    assert cli["predicted"].tolist() == served["predicted"].tolist()
    assert np.allclose(cli["confidence"], served["confidence"], atol=1e-4)


def test_the_stages_register_a_link_predictor_that_predict_and_mlflow_load(
    link_project: tuple[Path, Params],
) -> None:
    root, params = link_project
    uri = _stages(root, _with(params, fusion="gated", backbone="sign", decoder="mlp"))
    pairs, out = root / "pairs.csv", root / "links.csv"
    pairs.write_text(PAIRS_CSV)
    _graphfuse(root, "predict", "--model", uri, "--pairs", str(pairs), "--top-k", "3", "--out", str(out))
    cli = pd.read_csv(out, keep_default_na=False)
    served = mlflow.pyfunc.load_model(uri).predict(PAIRS_FRAME, params={"k": 3})
    assert len(cli) == len(served) == 4  # the scored pair, then n01's top 3
    assert np.allclose(cli["probability"].astype(float), served["probability"].astype(float), atol=1e-4)
