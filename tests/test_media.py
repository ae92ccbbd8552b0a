"""Messy media: every valid image variant decodes upright to RGB (and says what it did), bad
files are skipped with their file, row and column (or fail under strict), messy texts are
counted or repaired. The colour-histogram encoder runs the real decoding path (no weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline.dataset import LoadedDataset
from pipeline.dataset.spec import DatasetSpec
from pipeline.encoders.histogram import ColorHistogramEncoder
from pipeline.errors import DatasetError
from pipeline.features.encode import BAD_UTF8, EMPTY_TEXT, encode_image_modality, encode_text_modality
from pipeline.images import decode_image

pytestmark = pytest.mark.unit


def _variants(folder: Path) -> dict[str, tuple[Path, str | None]]:
    """name -> (file, the note decoding must report)."""
    red = Image.new("RGB", (40, 20), (255, 0, 0))
    out: dict[str, tuple[Path, str | None]] = {}

    def save(name: str, image: Image.Image, note: str | None, **kw: object) -> None:
        path = folder / name
        image.save(path, **kw)
        out[name] = (path, note)

    save("rgb.png", red, None)
    save("gray.png", red.convert("L"), "L converted to RGB")
    save("bilevel.png", red.convert("1"), "1 converted to RGB")
    rgba = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    save("rgba.png", rgba, "transparency composited on white")
    palette = red.convert("P")
    palette.info["transparency"] = 0
    save("palette.png", palette, "transparency composited on white")
    save("cmyk.jpg", red.convert("CMYK"), "CMYK converted to RGB")
    wide = Image.fromarray(np.full((20, 40), 32768, dtype=np.uint16))
    save("gray16.png", wide, f"{wide.mode} grayscale scaled to 8 bits")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: the file is 40x20, upright it is 20x40
    save("rotated.jpg", red, "EXIF orientation applied", exif=exif)
    frames = [Image.new("RGB", (40, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    save("animated.gif", frames[0], "animated: first frame used", save_all=True, append_images=frames[1:])
    return out


def test_every_valid_variant_decodes_to_upright_rgb(tmp_path: Path) -> None:
    for name, (path, note) in _variants(tmp_path).items():
        image, notes = decode_image(path)
        assert image.mode == "RGB", name
        assert (note in notes) if note else notes == [], (name, notes)
        pixel = image.getpixel((image.width // 2, image.height // 2))
        if name == "rotated.jpg":
            assert image.size == (20, 40)
        elif name == "gray16.png":
            assert all(120 <= v <= 136 for v in pixel), pixel  # mid-gray, not clipped to white
        elif name in ("rgba.png",):
            assert pixel == (255, 255, 255)
        elif name == "animated.gif":
            assert pixel[0] > 200 and pixel[2] < 50  # the first (red) frame


def _bad_images(folder: Path) -> dict[str, Path]:
    Image.new("RGB", (64, 64), (0, 128, 0)).save(folder / "good.png")
    full = (folder / "good.png").read_bytes()
    files = {"empty.png": b"", "truncated.png": full[: len(full) // 2], "notes.png": b"just some text\n"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    Image.new("RGB", (200, 200)).save(folder / "huge.png")
    return {name: folder / name for name in ["good.png", *files, "huge.png"]}


def test_bad_images_are_dataset_errors_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100 // 2)  # 200x200 is a "bomb" (> 2x the limit)
    for name, path in _bad_images(tmp_path).items():
        if name == "good.png":
            decode_image(path)
            continue
        with pytest.raises(DatasetError) as info:
            decode_image(path)
        assert info.value.file == str(path) and "cannot decode image" in info.value.message, name


def _dataset(root: Path, nodes: pd.DataFrame, **spec: object) -> LoadedDataset:
    spec_model = DatasetSpec.model_validate(
        {
            "name": "messy",
            "task": "node_classification",
            "id_column": "id",
            "label_column": "label",
            "edges": {"source": "s", "target": "t"},
            **spec,
        }
    )
    return LoadedDataset(root, spec_model, nodes, pd.DataFrame({"s": [], "t": []}))


def test_undecodable_images_are_skipped_with_row_and_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What validate lets through (a file replaced after validation) the image stage skips and reports."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100 // 2)
    (tmp_path / "images").mkdir()
    files = _bad_images(tmp_path / "images")
    names = list(files)
    nodes = pd.DataFrame({"id": names, "label": "x", "photo": names, "back": ["good.png"] + [None] * (len(names) - 1)})
    dataset = _dataset(tmp_path, nodes, image_columns=["photo", "back"])
    encoder = ColorHistogramEncoder(bins=4, decode_workers=0)
    features, report = encode_image_modality(dataset, encoder)
    assert features.mask.tolist() == [True] + [False] * (len(names) - 1)
    assert [(s.row, s.column) for s in report.skipped] == [(3 + i, "photo") for i in range(len(names) - 1)]
    assert all("cannot decode image" in s.reason for s in report.skipped)
    assert report.summary()["skipped"] == 4 and any("row 3, column 'photo'" in line for line in report.lines())
    # two image columns joined: node 0 has the same picture twice, so the mean is that picture
    np.testing.assert_allclose(features.x[0].numpy(), encoder.encode([files["good.png"]])[0].numpy(), rtol=1e-6)


def test_histogram_encoder_on_flags(small_countries: Path) -> None:
    flags = sorted((small_countries / "images").iterdir())[:12]
    encoder = ColorHistogramEncoder(decode_workers=0)
    x, failed, notes = encoder.encode_checked(flags)
    assert x.shape == (12, 512) and not failed and (x >= 0).all()
    np.testing.assert_allclose(x.norm(dim=1).numpy(), 1.0, rtol=1e-5)  # sqrt of an L1-normalised histogram
    assert not np.allclose(x[0].numpy(), x[1].numpy())
    with_workers = ColorHistogramEncoder(decode_workers=1, batch_size=4).encode(flags)  # decoded in a worker
    np.testing.assert_array_equal(with_workers.numpy(), x.numpy())


def test_messy_texts_are_counted_or_repaired_with_their_location(tmp_path: Path) -> None:
    from pipeline.encoders.tfidf import TfidfTextEncoder

    nodes = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "label": "x",
            "title": ["red mug", "   ", None, b"caf\xe9 chair"],
            "body": ["big", "", None, "wooden"],
        }
    )
    dataset = _dataset(tmp_path, nodes, text_columns=["title", "body"])
    encoder = TfidfTextEncoder(dim=2).fit(["red mug big", "cafe chair wooden", "blue lamp"])
    features, report = encode_text_modality(dataset, encoder)
    assert features.mask.tolist() == [True, False, False, True]
    assert report.notes[EMPTY_TEXT] == 2
    assert [(r.row, r.column, r.reason) for r in report.repaired] == [(5, "title", BAD_UTF8)]
