"""The synthetic generator's knobs do what they say: signal, homophily, isolated nodes, missing rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.dataset import load_dataset
from pipeline.synth import SynthConfig, load_synthetic_embeddings, write_synthetic_dataset, write_synthetic_embeddings

pytestmark = pytest.mark.unit

CLASSES = 4
CHANCE = 1 / CLASSES


def _cv_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    return float(cross_val_score(LogisticRegression(max_iter=2000), x, y, cv=4).mean())


def _features(root: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Cheap stand-ins for the encoders: bag of words, raw pixels, the numbers."""
    nodes = pd.read_csv(root / "nodes.csv", keep_default_na=False)
    text = CountVectorizer().fit_transform(nodes["text"]).toarray()
    images = [Image.open(root / "images" / f).resize((8, 8)) for f in nodes["image"]]
    pixels = np.stack([np.asarray(image, dtype=np.float32).ravel() / 255 for image in images])
    numbers = nodes[[c for c in nodes.columns if c.startswith("num_")]].to_numpy(dtype=np.float64)
    return {"text": text, "image": pixels, "tabular": numbers}, nodes["label"].to_numpy()


@pytest.fixture(scope="module")
def one_signal_each(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three datasets over the same labels: in each, only one modality carries the class."""
    out = {}
    for modality in ("text", "image", "tabular"):
        signals = {f"{m}_signal": (0.9 if m == modality else 0.0) for m in ("text", "image", "tabular")}
        config = SynthConfig(nodes=400, classes=CLASSES, seed=3, isolated=0.0, **signals)
        out[modality] = tmp_path_factory.mktemp("synth") / modality
        write_synthetic_dataset(config, out[modality])
    return out


@pytest.mark.parametrize("modality", ["text", "image", "tabular"])
def test_a_modality_with_signal_predicts_the_label_and_one_without_is_at_chance(one_signal_each, modality) -> None:
    features, y = _features(one_signal_each[modality])
    assert _cv_accuracy(features[modality], y) > 0.7
    for other in set(features) - {modality}:
        assert _cv_accuracy(features[other], y) < CHANCE + 0.1, other


def test_homophily_isolated_share_and_missing_rates(tmp_path: Path) -> None:
    config = SynthConfig(
        nodes=1000, classes=5, homophily=0.9, avg_degree=6, isolated=0.4, image_missing=0.3, text_missing=0.1, seed=1
    )
    summary = write_synthetic_dataset(config, tmp_path / "d")
    dataset = load_dataset(tmp_path / "d")
    assert summary["isolated_nodes"] == 400
    assert summary["edge_homophily"] == pytest.approx(0.9 + 0.1 / 5, abs=0.05)
    assert dataset.nodes["image"].isna().mean() == pytest.approx(0.3, abs=0.05)
    assert dataset.nodes["text"].isna().mean() == pytest.approx(0.1, abs=0.04)
    assert len(list((tmp_path / "d" / "images").iterdir())) == int(dataset.nodes["image"].notna().sum())
    mean_degree = 2 * summary["edges"] / 600
    assert mean_degree == pytest.approx(6, rel=0.15)

    low = write_synthetic_dataset(config.model_copy(update={"homophily": 0.0}), tmp_path / "low")
    assert low["edge_homophily"] < 0.3


def test_same_seed_same_data_and_one_knob_leaves_other_modalities_alone(tmp_path: Path) -> None:
    base = SynthConfig(nodes=60, classes=3, seed=7, avg_degree=3)
    write_synthetic_dataset(base, tmp_path / "a")
    write_synthetic_dataset(base, tmp_path / "b")
    write_synthetic_dataset(base.model_copy(update={"image_signal": 0.0}), tmp_path / "c")
    a, b, c = (pd.read_csv(tmp_path / x / "nodes.csv") for x in "abc")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a.drop(columns="image"), c.drop(columns="image"))
    assert (tmp_path / "a" / "edges.csv").read_bytes() == (tmp_path / "c" / "edges.csv").read_bytes()


def test_cli_writes_a_valid_dataset_and_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "s"
    args = ["synth", "--nodes", "30", "--out", str(out), "--classes", "3", "--modalities", "text,tabular"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    assert load_dataset(out).spec.modalities == ["text", "tabular"]
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "not an empty folder" in again.output
    bad = runner.invoke(app, ["synth", "--nodes", "30", "--out", str(tmp_path / "t"), "--text-signal", "2"])
    assert bad.exit_code == 1 and not (tmp_path / "t").exists()


def test_embeddings_mode_writes_float16_rows_with_the_chosen_signal(tmp_path: Path) -> None:
    config = SynthConfig(nodes=3000, classes=CLASSES, text_signal=0.9, image_signal=0.0, avg_degree=10, seed=2)
    dims = {"text": 24, "image": 40, "tabular": 8}
    write_synthetic_embeddings(config, tmp_path / "e", dims=dims, chunk_rows=1000)
    data, manifest = load_synthetic_embeddings(tmp_path / "e")
    assert manifest["dims"] == dims and data.num_nodes == 3000
    assert data.x_image.dtype == np.float16 or str(data.x_image.dtype) == "torch.float16"
    assert tuple(data.x_image.shape) == (3000, 40)
    assert data.edge_index.shape[1] == 2 * manifest["edges_undirected"]
    assert data.edge_index.shape[1] / 3000 == pytest.approx(10, rel=0.1)
    assert bool((data.train_mask | data.val_mask | data.test_mask).all())
    y = data.y.numpy()
    assert _cv_accuracy(data.x_text.float().numpy(), y) > 0.85
    assert _cv_accuracy(data.x_image.float().numpy(), y) < CHANCE + 0.1


def test_nodes_without_text_stay_missing_for_the_text_encoder(tmp_path: Path) -> None:
    from pipeline.features.encode import node_texts

    write_synthetic_dataset(SynthConfig(nodes=40, classes=2, text_missing=0.3, seed=4), tmp_path / "d")
    texts = node_texts(load_dataset(tmp_path / "d")).tolist()
    assert None in texts and all(t is None or isinstance(t, str) for t in texts)
