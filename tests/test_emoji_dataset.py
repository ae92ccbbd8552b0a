"""The second real dataset (data/raw/emoji) is a valid format-v1 folder with what its README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.dataset import load_dataset, with_splits

pytestmark = pytest.mark.unit

EMOJI = Path(__file__).resolve().parents[1] / "data" / "raw" / "emoji"


def test_emoji_dataset_validates_and_splits() -> None:
    dataset = load_dataset(EMOJI)
    assert len(dataset.nodes) == 1911 and len(dataset.edges) == 517
    assert dataset.spec.modalities == ["text", "image", "tabular"]
    assert len(dataset.classes) == 10 and "People & Body" in dataset.classes
    assert dataset.nodes["image"].notna().all()  # every image cell names a file that exists (checked on load)
    assert any("1545 of 1911 nodes have no edges" in note for note in dataset.notes)
    split = with_splits(dataset, seed=42, val_fraction=0.2, test_fraction=0.2).split
    assert set(split.dropna()) == {"train", "val", "test"}
    for leak in ("sort_order", "subcategory", "sheet_x"):
        assert leak not in dataset.nodes.columns
