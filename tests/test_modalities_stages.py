"""The preprocess stages with the cache, on 40 real countries, with the weight-free encoders
(tfidf text, colour-histogram images): reruns, one changed node, float16, strict, no images,
several columns per modality, the Dask shard runner, and encoders by name with local weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pipeline.config import Params
from pipeline.errors import GraphFuseError
from pipeline.features import load_feature_group, load_features
from pipeline.paths import Paths
from pipeline.stages import build_graph, preprocess, validate

pytestmark = pytest.mark.integration


def make_params(root: Path, data: Path, **preprocess_settings: object) -> Params:
    return Params.model_validate(
        {
            "dataset": {"dir": str(data)},
            "preprocess": {"cache_dir": str(root / "cache"), "shard_size": 16, **preprocess_settings},
            "preprocess_text": {"encoder": "tfidf", "tfidf_dim": 16},
            "preprocess_image": {"encoder": "color-histogram", "histogram_bins": 4, "decode_workers": 0},
        }
    )


@pytest.fixture
def project(tmp_path: Path, small_countries: Path) -> tuple[Path, Path]:
    data = Path(shutil.copytree(small_countries, tmp_path / "countries"))
    return tmp_path, data


def test_rerun_hits_the_cache_and_one_changed_node_is_the_only_one_encoded(project: tuple[Path, Path]) -> None:
    root, data = project
    params, paths = make_params(root, data), Paths(root)
    validate.run(params, paths)
    first = {m: fn(params, paths) for m, fn in (("text", preprocess.run_text), ("image", preprocess.run_image))}
    assert {m: (s["encoded"], s["cache"]["hits"]) for m, s in first.items()} == {"text": (40, 0), "image": (40, 0)}
    encoded = {name: (paths.feature_file("image") / name).read_bytes() for name in ("manifest.json", "x.npy")}
    again = preprocess.run_image(params, paths)
    assert (again["encoded"], again["cache"]["hits"]) == (0, 40)
    # The same bytes from the cache as from the encoder: DVC sees an unchanged output downstream.
    assert {name: (paths.feature_file("image") / name).read_bytes() for name in encoded} == encoded

    # A test-split node changes text and image (a train text would refit tfidf: all re-encoded).
    split = pd.read_parquet(paths.dataset / "nodes.parquet") if (paths.dataset / "nodes.parquet").exists() else None
    nodes = pd.read_csv(data / "nodes.csv", dtype=str, keep_default_na=False)
    from pipeline.dataset import read_processed

    dataset = read_processed(paths.dataset)
    row = int(np.flatnonzero((dataset.split == "test").to_numpy())[0])
    nodes.loc[row, "text"] = nodes.loc[row, "text"] + " Now with a new motto."
    nodes.to_csv(data / "nodes.csv", index=False)
    shutil.copy(data / "images" / nodes.loc[(row + 1) % 40, "image"], data / "images" / nodes.loc[row, "image"])
    del split
    validate.run(params, paths)
    text, image = preprocess.run_text(params, paths), preprocess.run_image(params, paths)
    assert (text["encoded"], text["cache"]["hits"]) == (1, 39)
    assert (image["encoded"], image["cache"]["hits"]) == (0, 40)  # its new bytes are another flag's: a hit

    manifest = json.loads((paths.feature_file("image") / "manifest.json").read_text())
    assert manifest["info"]["encoder"] == "color-histogram" and manifest["dim"] == 64 and manifest["present"] == 40
    assert manifest["missing"] == 0 and manifest["report"]["skipped"] == 0 and "cache" not in manifest["report"]
    x = np.load(paths.feature_file("image") / "x.npy", mmap_mode="r")
    assert isinstance(x, np.memmap) and x.shape == (40, 64)
    features = load_features(paths.feature_file("image"))
    np.testing.assert_array_equal(features.x[row].numpy(), features.x[(row + 1) % 40].numpy())
    preprocess.run_tabular(params, paths)
    summary = build_graph.run(params, paths)
    assert summary["modalities"] == {"text": 16, "image": 64, "tabular": summary["modalities"]["tabular"]}


def test_float16_strict_and_a_dataset_without_images(project: tuple[Path, Path]) -> None:
    root, data = project
    params, paths = make_params(root, data, float16=True, strict=True), Paths(root)
    validate.run(params, paths)
    (data / "images" / "AFG.png").write_bytes(b"replaced after validation")
    with pytest.raises(GraphFuseError, match=r"strict.*nodes.*row \d+, column 'image'.*AFG.png"):
        preprocess.run_image(params, paths)
    lenient = make_params(root, data, float16=True)
    summary = preprocess.run_image(lenient, paths)
    assert summary["skipped"] == 1 and summary["nodes_missing_modality"] == 1
    assert np.load(paths.feature_file("image") / "x.npy").dtype == np.float16
    assert load_features(paths.feature_file("image")).x.dtype == torch.float32

    spec = yaml.safe_load((data / "dataset.yaml").read_text())
    del spec["image_column"]
    (data / "dataset.yaml").write_text(yaml.safe_dump(spec))
    validate.run(params, paths)
    assert preprocess.run_image(params, paths)["dim"] == 0
    preprocess.run_text(params, paths)
    preprocess.run_tabular(params, paths)
    graph = build_graph.run(params, paths)
    assert "image" not in graph["modalities"] and "modality image left out: no node has it" in graph["notes"]


def test_several_text_and_image_columns_as_their_own_modalities(project: tuple[Path, Path]) -> None:
    root, data = project
    nodes = pd.read_csv(data / "nodes.csv", dtype=str, keep_default_na=False)
    nodes["motto"] = [f"motto of {n}" if i % 3 else "" for i, n in enumerate(nodes["node_id"])]
    nodes["flag_again"] = list(nodes["image"][1:]) + [""]
    nodes.to_csv(data / "nodes.csv", index=False)
    spec = yaml.safe_load((data / "dataset.yaml").read_text())
    del spec["text_columns"]
    spec["text_modalities"] = {"description": ["text"], "motto": ["motto"]}
    spec["image_columns"] = ["flag_again"]  # joined with image_column: the mean of a node's flags
    (data / "dataset.yaml").write_text(yaml.safe_dump(spec))
    params, paths = make_params(root, data), Paths(root)
    validate.run(params, paths)
    summary = preprocess.run_text(params, paths)
    assert set(summary["modalities"]) == {"text_description", "text_motto"}
    assert summary["modalities"]["text_motto"]["nodes_missing_modality"] == 14
    image = preprocess.run_image(params, paths)
    assert image["encoded"] == 40 and image["cache"]["misses"] == 79  # 40 + 39 cells, 40 distinct files
    groups = load_feature_group(paths.feature_file("text"))
    assert set(groups) == {"text_description", "text_motto"}
    preprocess.run_tabular(params, paths)
    graph = build_graph.run(params, paths)
    assert {"text_description", "text_motto", "image", "tabular"} == set(graph["modalities"])


def test_dask_runner_gives_the_same_embeddings(project: tuple[Path, Path], prefect_api: None) -> None:
    from flows.dask_shards import dask_map_shards

    root, data = project
    params, paths = make_params(root, data), Paths(root)
    validate.run(params, paths)
    local = preprocess.run_image(make_params(root, data, cache_dir=""), paths)
    expected = load_features(paths.feature_file("image")).x
    # A LocalCluster of 2 worker processes, as preprocess.runner: dask starts one: the encoder and
    # shards travel to the workers, which write the cache themselves.
    dask = preprocess.run_image(params, paths, map_shards=dask_map_shards(None, 2))
    assert local["encoded"] == dask["encoded"] == 40 and dask["cache"]["written"] == 40
    torch.testing.assert_close(load_features(paths.feature_file("image")).x, expected)
    assert len(list((root / "cache").rglob("*.emb"))) == 40  # the workers wrote the cache


def test_torchvision_weights_from_a_local_file_and_clear_errors(tmp_path: Path, small_countries: Path) -> None:
    import torchvision

    from pipeline.encoders import EncoderUnavailable, make_image_encoder

    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    encoder = make_image_encoder("torchvision/resnet18", weights=weights, image_size=64, progress=False)
    flags = sorted((small_countries / "images").iterdir())[:3]
    x = encoder.encode(flags)
    assert x.shape == (3, 512) and encoder.version.startswith("sha256:")
    with pytest.raises(EncoderUnavailable, match="does not exist"):
        make_image_encoder("torchvision/resnet18", weights=tmp_path / "nope.pth", progress=False)
    bad = tmp_path / "bad.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), bad)
    with pytest.raises(EncoderUnavailable, match="loading .*bad.pth failed.*preprocess_image.weights"):
        make_image_encoder("torchvision/resnet18", weights=bad, progress=False)
    try:
        import timm  # noqa: F401
    except ImportError:
        with pytest.raises(EncoderUnavailable, match="timm is not installed.*pip install timm"):
            make_image_encoder("timm/resnet18", progress=False)
