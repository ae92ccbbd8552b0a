"""Edges become the right edge_index: undirected doubled, duplicates merged, loops counted."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from pipeline.features import ModalityFeatures, ids_fingerprint
from pipeline.graph import GraphMeta, build_edge_index, build_graph, load_graph, save_graph

pytestmark = pytest.mark.unit

IDS = ["a", "b", "c", "d"]


def _edges(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["source", "target"], dtype="string")


def _pairs(edge_index: torch.Tensor) -> set[tuple[str, str]]:
    return {(IDS[s], IDS[t]) for s, t in edge_index.t().tolist()}


def test_undirected_edges_get_both_directions_and_duplicates_merge() -> None:
    edge_index, report = build_edge_index(
        _edges([("a", "b"), ("b", "a"), ("a", "b"), ("c", "c"), ("b", "c")]), IDS, directed=False
    )
    assert _pairs(edge_index) == {("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")}
    assert report.given == 5
    assert report.self_loops_dropped == 1
    assert report.duplicates_merged == 2
    assert report.final == 4
    assert len(report.notes()) == 2


def test_directed_edges_keep_their_direction() -> None:
    edge_index, report = build_edge_index(_edges([("a", "b"), ("a", "b"), ("d", "a")]), IDS, directed=True)
    assert _pairs(edge_index) == {("a", "b"), ("d", "a")}
    assert report.duplicates_merged == 1
    assert report.self_loops_dropped == 0


def test_no_edges_gives_an_empty_graph() -> None:
    edge_index, report = build_edge_index(_edges([]), IDS, directed=False)
    assert edge_index.shape == (2, 0)
    assert report.final == 0


def test_graph_round_trips_through_safetensors(tmp_path) -> None:
    feats = ModalityFeatures("text", torch.randn(4, 3), torch.tensor([True, False, True, True]), ids_fingerprint(IDS))
    edge_index, _ = build_edge_index(_edges([("a", "b")]), IDS, directed=False)
    y = torch.tensor([0, 1, -1, 0])
    masks = {"train": torch.tensor([True, False, False, True]), "val": torch.tensor([False, True, False, False])}
    data = build_graph({"text": feats}, edge_index, y, masks)
    meta = GraphMeta(dataset="toy", node_ids=IDS, classes=["x", "y"], modalities={"text": 3})
    save_graph(tmp_path, data, meta)
    loaded, loaded_meta = load_graph(tmp_path)
    assert loaded_meta == meta
    for key in ("x_text", "mask_text", "edge_index", "y", "train_mask", "val_mask"):
        assert torch.equal(loaded[key], data[key]), key
    assert loaded.num_nodes == 4
    assert not list(tmp_path.glob(".*.tmp"))
