"""Encoders by name with weights from a local file or the standard cache, offline, and
predict rebuilding every encoder training used (a fitted tfidf, a timm model's local weights).

Weights are written by the tests themselves from small models (timm's ``test_efficientnet``,
99k parameters; torchvision's ``mobilenet_v3_small``): nothing is downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import save_file
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.encoders import EncoderUnavailable, make_image_encoder
from pipeline.errors import GraphFuseError
from pipeline.features import load_feature_group
from pipeline.inference.bundle import load_bundle
from pipeline.paths import Paths
from tests.evaluation_fixtures import REPO, TINY_TRAIN, run_stages
from tests.helpers import own_tracking_store
from tests.test_encoders import block_network

pytestmark = pytest.mark.integration

timm = pytest.importorskip("timm")
TIMM_MODEL = "test_efficientnet"
TIMM_HUB_ID = "timm/test_efficientnet.r160_in1k"  # its pretrained_cfg's hf_hub_id


def _flags(countries: Path, k: int = 3) -> list[Path]:
    return sorted((countries / "images").iterdir())[:k]


def _timm_weights(folder: Path, seed: int) -> tuple[Path, Path]:
    """The same random weights twice: a full torch state dict (with the classifier) and a
    headless safetensors file, as a user might bring either."""
    torch.manual_seed(seed)
    model = timm.create_model(TIMM_MODEL, pretrained=False)
    folder.mkdir(parents=True, exist_ok=True)
    full, headless = folder / f"full-{seed}.pth", folder / f"headless-{seed}.safetensors"
    torch.save(model.state_dict(), full)
    model.reset_classifier(0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(headless))
    return full, headless


def test_timm_from_a_local_file_and_the_hf_cache_offline(
    tmp_path: Path, small_countries: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    block_network(monkeypatch)
    flags = _flags(small_countries)
    full, headless = _timm_weights(tmp_path / "w", seed=1)
    kw = {"image_size": 64, "progress": False, "decode_workers": 0}
    from_pth = make_image_encoder(f"timm/{TIMM_MODEL}", weights=full, **kw)
    x = from_pth.encode(flags)
    assert x.shape == (3, from_pth.dim) and from_pth.dim == 256 and from_pth.version.startswith("sha256:")
    from_safetensors = make_image_encoder(f"timm/{TIMM_MODEL}", weights=headless, **kw)
    torch.testing.assert_close(from_safetensors.encode(flags), x, atol=1e-5, rtol=1e-4)  # the same weights
    other = make_image_encoder(f"timm/{TIMM_MODEL}", weights=_timm_weights(tmp_path / "w", seed=2)[1], **kw)
    assert not torch.allclose(other.encode(flags), x, atol=1e-3)  # the file's weights are really used

    # No file given, offline: the Hugging Face cache (here a temporary one) or a clear error.
    hub = tmp_path / "hf-hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(EncoderUnavailable) as info:
        make_image_encoder(f"timm/{TIMM_MODEL}", **kw)
    message = str(info.value)
    assert f"timm/{TIMM_MODEL}" in message and "downloads are off" in message
    assert str(hub / "models--timm--test_efficientnet.r160_in1k") in message  # where it looked
    assert "preprocess_image.weights" in message and "allow_download" in message  # how to provide them
    repo = hub / f"models--{TIMM_HUB_ID.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "snapshots" / "0123abcd").mkdir(parents=True)
    shutil.copy(headless, repo / "snapshots" / "0123abcd" / "model.safetensors")
    cached = make_image_encoder(f"timm/{TIMM_MODEL}", **kw)
    torch.testing.assert_close(cached.encode(flags), x, atol=1e-5, rtol=1e-4)

    with pytest.raises(EncoderUnavailable, match="timm has no model 'no_such_net'"):
        make_image_encoder("timm/no_such_net", **kw)
    wrong = tmp_path / "resnet.pth"
    torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), wrong)
    with pytest.raises(EncoderUnavailable, match=r"resnet.pth failed.*preprocess_image.weights"):
        make_image_encoder(f"timm/{TIMM_MODEL}", weights=wrong, **kw)


def test_torchvision_from_the_torch_hub_cache_offline(
    tmp_path: Path, small_countries: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision

    block_network(monkeypatch)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    kw = {"image_size": 64, "progress": False, "decode_workers": 0}
    with pytest.raises(EncoderUnavailable) as info:
        make_image_encoder("torchvision/mobilenet_v3_small", **kw)
    checkpoints = tmp_path / "torch-home" / "hub" / "checkpoints"
    assert str(checkpoints) in str(info.value) and "preprocess_image.weights" in str(info.value)
    url = torchvision.models.get_model_weights("mobilenet_v3_small").DEFAULT.url
    checkpoints.mkdir(parents=True)
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), checkpoints / Path(url).name)
    encoder = make_image_encoder("torchvision/mobilenet_v3_small", **kw)
    assert encoder.encode(_flags(small_countries, 2)).shape == (2, 1024) and encoder.weights is None


@pytest.fixture(scope="module")
def tfidf_timm_project(tmp_path_factory: pytest.TempPathFactory, small_countries: Path) -> tuple[Path, Path]:
    """A trained project on 40 countries with a tfidf text encoder and a timm image encoder
    whose weights come from a local file (stages called directly, MLflow on SQLite)."""
    root = tmp_path_factory.mktemp("tfidf-timm")
    data = Path(shutil.copytree(small_countries, root / "countries"))
    weights = _timm_weights(root / "weights", seed=3)[0]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"]["dir"] = str(data)
    params["preprocess"]["cache_dir"] = str(root / "cache")
    params["preprocess_text"].update({"encoder": "tfidf", "tfidf_dim": 16})
    params["preprocess_image"].update(
        {"encoder": f"timm/{TIMM_MODEL}", "weights": str(weights), "image_size": 64, "decode_workers": 0}
    )
    params["train"].update(TINY_TRAIN | {"max_epochs": 10})
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    with own_tracking_store() as env:
        block_network(env)
        run_stages(root, ("validate", "preprocess_text", "preprocess_image", "preprocess_tabular", "build_graph"))
        run_stages(root, ("train",))
    return root, data


def test_predict_rebuilds_a_fitted_tfidf_and_local_timm_weights(
    tfidf_timm_project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.inference.predict import featurize_for_bundle

    root, data = tfidf_timm_project
    paths = Paths(root)
    bundle = load_bundle(paths.model)
    assert bundle.encoders["text"]["encoder"] == "tfidf" and set(bundle.encoder_states["text"]) == {
        "vocabulary_utf8",
        "idf",
        "components",
    }
    assert bundle.encoders["image"]["weights"].endswith("full-3.pth")
    assert (paths.model / "encoder_states.safetensors").is_file()

    # The rebuilt encoders give the very features training used (same text, same flags).
    from pipeline.dataset import load_dataset

    block_network(monkeypatch)
    rebuilt, _ = featurize_for_bundle(load_dataset(data, require_labels=False), bundle, progress=False)
    for kind in ("text", "image"):
        trained = load_feature_group(paths.feature_file(kind))[kind]
        torch.testing.assert_close(rebuilt[kind].x, trained.x, atol=1e-5, rtol=1e-4)

    # The CLI, both ways: a whole dataset, and new nodes on the known graph (the pyfunc's path).
    monkeypatch.chdir(root)
    monkeypatch.setenv("CI", "1")
    runner = CliRunner()
    out = root / "preds.csv"
    result = runner.invoke(app, ["predict", "--model", "models", "--dataset", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 40
    nodes = pd.read_csv(data / "nodes.csv", dtype=str, keep_default_na=False).head(2)
    nodes["node_id"] = ["NEW1", "NEW2"]
    nodes = nodes.drop(columns=["label"])
    nodes.to_csv(root / "new.csv", index=False)
    new_out = root / "new-preds.csv"
    args = ["predict", "--model", "models", "--nodes", str(root / "new.csv"), "--out", str(new_out)]
    result = runner.invoke(app, [*args, "--images-root", str(data / "images")])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(new_out)["node_id"]) == ["NEW1", "NEW2"]

    # Weights that changed since training are refused, naming the file; so is a bundle without its tfidf state.
    weights = Path(bundle.encoders["image"]["weights"])
    saved = weights.read_bytes()
    try:
        shutil.copy(_timm_weights(root / "other", seed=4)[0], weights)  # other weights at the same path
        result = runner.invoke(app, ["predict", "--model", "models", "--dataset", str(data), "--out", str(out)])
        assert result.exit_code == 1 and "is not the one the model was trained with" in result.output
        assert str(weights) in " ".join(result.output.split())
    finally:
        weights.write_bytes(saved)
    bare = root / "bare-model"
    shutil.copytree(paths.model, bare)
    (bare / "encoder_states.safetensors").unlink()
    with pytest.raises(GraphFuseError, match="tfidf.*carries no fitted state"):
        featurize_for_bundle(load_dataset(data, require_labels=False), load_bundle(bare), progress=False)
    assert np.isfinite(pd.read_csv(out)["confidence"]).all()
