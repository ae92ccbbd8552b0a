"""The hand-over to AutoGluon's interpreter (benchmarks/autogluon_baseline.py): a plain .npz.

AutoGluon itself is not installed here (it lives in a venv of its own); these tests check the file
both interpreters read: what goes in comes back, objects are refused, a bad split is named.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.autogluon_baseline import export_features, load_features

pytestmark = pytest.mark.unit


def split_masks(n: int) -> dict[str, np.ndarray]:
    order = np.arange(n)
    return {"train": order < 6, "val": (order >= 6) & (order < 8), "test": order >= 8}


def test_features_labels_and_split_come_back_as_written(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 4)), rng.integers(0, 3, 10)
    path = export_features(tmp_path / "ag" / "features.npz", x, y, split_masks(10), "countries")
    data = load_features(path)
    np.testing.assert_array_equal(data["x"], x.astype(np.float32))
    np.testing.assert_array_equal(data["y"], y)
    for split, mask in split_masks(10).items():
        assert data[f"{split}_mask"].dtype == bool
        np.testing.assert_array_equal(data[f"{split}_mask"], mask)
    assert str(data["dataset"]) == "countries"


def test_an_object_array_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "features.npz"
    masks = {f"{s}_mask": m for s, m in split_masks(10).items()}
    np.savez(path, x=np.zeros((10, 2)), y=np.array([{"a": 1}] * 10, dtype=object), dataset=np.str_("d"), **masks)
    with pytest.raises(ValueError, match="allow_pickle"):
        load_features(path)


def test_overlapping_masks_and_short_labels_are_named(tmp_path):
    masks = split_masks(10)
    masks["val"] = masks["val"] | masks["test"]
    overlapping = export_features(tmp_path / "a.npz", np.zeros((10, 2)), np.zeros(10), masks, "d")
    with pytest.raises(ValueError, match="a.npz: the train/val/test masks overlap"):
        load_features(overlapping)
    short = export_features(tmp_path / "b.npz", np.zeros((10, 2)), np.zeros(9), split_masks(10), "d")
    with pytest.raises(ValueError, match=r"b.npz: y has shape \(9,\)"):
        load_features(short)
