"""kNN edges equal a brute-force numpy search; graph statistics on a hand-made graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.features import ModalityFeatures
from pipeline.graph import add_knn_edges, dataset_and_knn_edges, graph_stats
from pipeline.graph.knn import knn_pairs, knn_search

pytestmark = pytest.mark.unit


def _brute_neighbours(x: np.ndarray, k: int) -> list[set[int]]:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    return [set(np.argsort(-row)[:k].tolist()) for row in sim]


def _brute_pairs(neighbours: list[set[int]], *, mutual: bool) -> set[tuple[int, int]]:
    pairs = set()
    for i, found in enumerate(neighbours):
        for j in found:
            if not mutual or i in neighbours[j]:
                pairs.add((min(i, j), max(i, j)))
    return pairs


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(300, 32)).astype(np.float32)


def test_knn_search_equals_brute_force(points: np.ndarray) -> None:
    sim, idx = knn_search(points, 7)
    brute = _brute_neighbours(points, 7)
    assert [set(row) for row in idx.tolist()] == brute
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    expected = np.einsum("id,ikd->ik", unit, unit[idx])
    np.testing.assert_allclose(sim, expected, atol=1e-5)


@pytest.mark.parametrize("mutual", [False, True])
def test_knn_pairs_equal_brute_force(points: np.ndarray, mutual: bool) -> None:
    pairs, _ = knn_pairs(points, 5, mutual=mutual)
    assert {tuple(p) for p in pairs.tolist()} == _brute_pairs(_brute_neighbours(points, 5), mutual=mutual)


def test_cap_keeps_edges_in_the_top_cap_of_both_ends(points: np.ndarray) -> None:
    pairs, weight = knn_pairs(points, 8, cap=3)
    all_pairs, all_weight = knn_pairs(points, 8)
    assert np.bincount(pairs.ravel()).max() <= 3
    similarity = {tuple(p): w for p, w in zip(all_pairs.tolist(), all_weight.tolist(), strict=True)}
    incident: dict[int, list[float]] = {}
    for (a, b), w in similarity.items():
        incident.setdefault(a, []).append(w)
        incident.setdefault(b, []).append(w)
    expected = {
        (a, b)
        for (a, b), w in similarity.items()
        if all(sorted(incident[end], reverse=True).index(w) < 3 for end in (a, b))
    }
    assert {tuple(p) for p in pairs.tolist()} == expected


def test_knn_edges_skip_nodes_without_the_modality_and_keep_dataset_edges_first() -> None:
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(20, 4)).astype(np.float32))
    mask = torch.ones(20, dtype=torch.bool)
    mask[[3, 7]] = False
    x[~mask] = 0
    features = {"text": ModalityFeatures("text", x, mask, "")}
    dataset_edges = torch.tensor([[0, 1], [1, 0]])
    edge_index, edge_type, report = add_knn_edges(dataset_edges, features, 20, modality="text", k=3)
    assert torch.equal(edge_index[:, :2], dataset_edges) and edge_type[:2].tolist() == [0, 0]
    knn = edge_index[:, edge_type == 1]
    assert not set(knn.reshape(-1).tolist()) & {3, 7}
    keys = (edge_index[0] * 20 + edge_index[1]).tolist()
    assert len(keys) == len(set(keys)), "no edge twice, whatever its source"
    assert report.nodes_searched == 18 and knn.size(1) == 2 * report.added
    assert set(map(tuple, knn.t().tolist())) == {(b, a) for a, b in knn.t().tolist()}, "kNN edges are undirected"

    _, types, _, notes = dataset_and_knn_edges(dataset_edges, features, 20, enabled=True, modality="image", k=3)
    assert "fused" in notes[0] and int((types == 1).sum()) > 0
    off = dataset_and_knn_edges(dataset_edges, features, 20, enabled=False, modality="text", k=3)
    assert torch.equal(off[0], dataset_edges) and off[2] is None


def test_graph_stats_on_a_hand_made_graph() -> None:
    # Nodes 0-3 train, 4-5 test, 6 isolated. Labels: 0,0,1,1,0,1,0.
    y = torch.tensor([0, 0, 1, 1, 0, 1, 0])
    train = torch.tensor([True, True, True, True, False, False, False])
    undirected = [(0, 1, 0), (1, 2, 0), (2, 3, 1), (0, 3, 1), (3, 4, 0), (4, 5, 1)]
    src = [a for a, b, _ in undirected] + [b for a, b, _ in undirected]
    dst = [b for a, b, _ in undirected] + [a for a, b, _ in undirected]
    edge_type = torch.tensor([t for *_, t in undirected] * 2)
    stats = graph_stats(torch.tensor([src, dst]), edge_type, y, train)
    assert stats["nodes"] == 7 and stats["train_nodes"] == 4
    assert stats["edges"] == {"dataset": 6, "knn": 6, "all": 12}
    assert stats["isolated_nodes"] == {"dataset": 2, "knn": 2, "all": 1}  # dataset: 5, 6; knn: 1, 6
    # Train-train edges: dataset 0-1 (same), 1-2 (differ); knn 2-3 (same), 0-3 (differ). 3-4 and
    # 4-5 touch test nodes: a test label must not count, though 4-5 differ and 3-4 differ.
    assert stats["homophily_train"] == {"dataset": 0.5, "knn": 0.5, "all": 0.5}
    assert stats["train_edges"] == {"dataset": 4, "knn": 4, "all": 8}
    assert stats["degree"]["max"] == 3 and stats["degree"]["min"] == 0
    assert stats["degree"]["mean"] == pytest.approx(12 / 7, abs=1e-3)

    only_knn_train = graph_stats(torch.tensor([[2, 3], [3, 2]]), torch.tensor([1, 1]), y, train)
    assert only_knn_train["homophily_train"] == {"dataset": None, "knn": 1.0, "all": 1.0}
