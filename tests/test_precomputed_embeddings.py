"""Format v1's precomputed-embedding modality: the file checks, and one cheap end-to-end run of an
imported MM-GRAPH folder through every stage (validate .. evaluate) with its CLIP features as the
modality emb_clip, then predict on a dataset folder and on new nodes that bring their vector."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import save_file

from pipeline.atomic import read_json
from pipeline.config import ValidateParams
from pipeline.dataset import DatasetSpec, load_dataset
from pipeline.errors import DatasetError
from pipeline.graph import load_graph
from pipeline.importers import import_mm_graph
from pipeline.inference.bundle import load_bundle
from pipeline.inference.inductive import predict_new_nodes
from pipeline.inference.known_graph import KnownGraph
from pipeline.inference.predict import predict_dataset
from pipeline.paths import Paths
from pipeline.stages.validate import checked_dataset
from tests.benchmark_layouts import N, write_mm_graph_nc
from tests.evaluation_fixtures import REPO, run_stages
from tests.helpers import own_tracking_store

pytestmark = pytest.mark.integration

STAGES = ("validate", "preprocess_text", "preprocess_image", "preprocess_tabular")


def _with_embedding(data: Path, file: str, **entry: object) -> None:
    spec = yaml.safe_load((data / "dataset.yaml").read_text())
    spec["embedding_modalities"] = {"clip": {"file": file, **entry}}
    (data / "dataset.yaml").write_text(yaml.safe_dump(spec))


@pytest.fixture
def countries(editable_countries: Path) -> Path:
    (editable_countries / "emb").mkdir()
    return editable_countries


def test_an_all_nan_row_is_a_missing_node_and_float16_npy_reads(countries: Path) -> None:
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float16)
    x[[2, 9]] = np.nan
    np.save(countries / "emb" / "clip.npy", x)
    _with_embedding(countries, "emb/clip.npy")
    dataset = checked_dataset(countries, ValidateParams())
    assert "2 of 40 nodes have no 'clip' embedding" in " ".join(dataset.notes)
    assert dataset.spec.modalities[-1] == "emb_clip"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda x: x.__setitem__((4, 1), np.nan) or x,
            r"array row 4 \(node '\w+', nodes.csv row 6\) has nan in column 1",
        ),
        (lambda x: x.__setitem__((0, 0), np.inf) or x, "has inf in column 0"),
        (lambda x: x[:39], "39 rows for 40 nodes in nodes.csv"),
        (lambda x: x.astype(np.int64), "dtype int64; embeddings must be floating point"),
        (lambda x: x[:, :, None], r"expected a 2-D array \[nodes, dims\], got shape \[40, 6, 1\]"),
        (lambda x: np.array([object()] * 40), "object arrays are refused"),
    ],
)
def test_a_bad_embedding_is_an_error_naming_the_file(countries: Path, make, message: str) -> None:
    x = make(np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32))
    if x.dtype == object:  # an .npy of Python objects (its header says so): refused before any byte is unpickled
        with (countries / "emb" / "clip.npy").open("wb") as handle:
            header = {"descr": "|O", "fortran_order": False, "shape": (40,)}
            np.lib.format.write_array_header_1_0(handle, header)
            handle.write(b"\x80\x04 whatever a pickle would hold")
    else:
        np.save(countries / "emb" / "clip.npy", x)
    _with_embedding(countries, "emb/clip.npy")
    with pytest.raises(DatasetError, match=message) as caught:
        load_dataset(countries)
    assert caught.value.file.endswith("clip.npy")


@pytest.mark.parametrize("file", ["../outside.npy", "/etc/passwd.npy", "emb/link.npy", "emb/x.csv", "emb/none.npy"])
def test_an_embedding_path_must_stay_inside_the_folder(countries: Path, file: str) -> None:
    np.save(countries.parent / "outside.npy", np.zeros((40, 2), np.float32))
    (countries / "emb" / "link.npy").symlink_to(countries.parent / "outside.npy")
    (countries / "emb" / "x.csv").write_text("1,2\n")
    _with_embedding(countries, file)
    with pytest.raises(DatasetError, match="inside the dataset folder|outside the dataset folder|not '.csv'|not found"):
        load_dataset(countries)


def test_safetensors_embeddings_with_a_named_bfloat16_tensor(countries: Path) -> None:
    x = torch.randn(40, 4)
    save_file({"clip": x.to(torch.bfloat16), "other": torch.zeros(1)}, str(countries / "emb" / "f.safetensors"))
    _with_embedding(countries, "emb/f.safetensors")
    with pytest.raises(DatasetError, match="name one with 'tensor:'"):
        load_dataset(countries)
    _with_embedding(countries, "emb/f.safetensors", tensor="clip")
    assert load_dataset(countries).spec.embedding_modalities["clip"].tensor == "clip"
    save_file({"clip": x}, str(countries / "emb" / "g.safetensors"))  # float32: read through NumPy
    _with_embedding(countries, "emb/g.safetensors")
    assert load_dataset(countries).spec.embedding_modalities["clip"].file == "emb/g.safetensors"


@pytest.fixture(scope="module")
def trained_import(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An imported MM-GRAPH folder trained and evaluated through every stage (stages called directly)."""
    base = tmp_path_factory.mktemp("mmgraph-e2e")
    data = base / "ele-fashion"
    import_mm_graph(write_mm_graph_nc(base / "src" / "ele-fashion"), data)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"]["dir"] = str(data)
    params["preprocess"]["cache_dir"] = ""
    params["preprocess_text"] |= {"encoder": "tfidf", "tfidf_dim": 8}
    params["preprocess_image"] |= {"encoder": "color-histogram", "histogram_bins": 2, "decode_workers": 0}
    params["build_graph"]["knn"] |= {"enabled": True, "modality": "emb_clip", "k": 3}
    params["train"] |= {"max_epochs": 40, "patience": 15, "hidden_dim": 16, "projection_dim": 8, "search": "off"}
    params["evaluate"] |= {"seeds": 1, "embedding_map": False}
    (base / "params.yaml").write_text(yaml.safe_dump(params))
    with own_tracking_store():
        run_stages(base, STAGES)
        from pipeline.config import load_params
        from pipeline.stages import preprocess_embedding

        preprocess_embedding.run(load_params(base / "params.yaml"), Paths(base))
        run_stages(base, ("build_graph", "train", "evaluate"))
    return base, data


def test_an_imported_benchmark_trains_and_evaluates_with_its_precomputed_modality(trained_import) -> None:
    root, _ = trained_import
    data, meta = load_graph(Paths(root).graph)
    assert meta.modalities == {"text": 8, "image": 8, "emb_clip": 8}
    assert meta.encoders["emb_clip"]["encoder"] == "precomputed" and "kNN edges" in " ".join(meta.notes)
    manifest = read_json(Paths(root).features / "embedding" / "emb_clip" / "manifest.json")
    assert manifest["present"] == N and manifest["dim"] == 8
    metrics = read_json(root / "metrics" / "metrics_detail.json")
    assert metrics["test"]["accuracy"] >= 0.75  # every modality carries the class in this fixture
    ablation = read_json(root / "metrics" / "ablation.json")["inference"]
    assert {"full", "no_text", "no_image", "no_emb_clip", "no_graph"} <= set(ablation)


def test_predict_reads_the_embedding_of_a_dataset_or_of_a_new_node(trained_import, tmp_path: Path) -> None:
    root, data_dir = trained_import
    bundle = load_bundle(Paths(root).model)
    # tfidf (fitted on the train split) cannot be rebuilt by predict: the copies leave text out
    copy = Path(shutil.copytree(data_dir, tmp_path / "copy"))
    spec = yaml.safe_load((copy / "dataset.yaml").read_text())
    (copy / "dataset.yaml").write_text(yaml.safe_dump(spec | {"text_columns": []}))
    out, notes = predict_dataset(bundle, copy, device="cpu", progress=False)
    assert len(out) == N and not any("missing emb_clip" in n for n in notes)
    assert any("added from emb_clip embeddings" in n for n in notes)  # kNN edges as in training
    assert (out["predicted"] == out["label"])[out["label"] != ""].mean() >= 0.75

    del spec["embedding_modalities"]
    (copy / "dataset.yaml").write_text(yaml.safe_dump(spec | {"text_columns": []}))
    _, notes = predict_dataset(bundle, copy, device="cpu", progress=False)
    assert any("every node is treated as missing emb_clip" in n for n in notes)

    graph, meta = load_graph(Paths(root).graph)
    spec = DatasetSpec.model_validate(read_json(Paths(root).dataset / "dataset.json")["spec"])
    known = KnownGraph.from_graph(graph, meta, spec)
    vector = np.load(data_dir / "embeddings" / "clip.npy")[0]
    nodes = pd.DataFrame({"node_id": ["0"], "emb_clip": [" ".join(str(v) for v in vector)], "neighbors": ["1"]})
    pred, _ = predict_new_nodes(bundle, known.without({"0"}), nodes)
    assert pred["node_id"].tolist() == ["0"]
    nodes["emb_clip"] = "[1, 2, 3]"
    with pytest.raises(DatasetError, match=r"row 0, column 'emb_clip': 3 numbers; this model's emb_clip has 8"):
        predict_new_nodes(bundle, known.without({"0"}), nodes)
