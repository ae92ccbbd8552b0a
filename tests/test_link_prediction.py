"""Link prediction: the edge split and its leakage guarantees, negatives, decoders, metrics, scoring.

Fast tests on small hand-made datasets (format v1 written here) and toy tensors; the end-to-end
`dvc repro` of a link-prediction project is in tests/test_link_prediction_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.dataset import load_dataset
from pipeline.errors import DatasetError
from pipeline.models import FusionModelConfig, build_model
from pipeline.models.decoder_distmult import DistMultDecoder
from pipeline.models.decoder_dot import DotDecoder
from pipeline.models.decoder_mlp import MLPDecoder
from pipeline.tasks.link.graph import link_graph_tensors
from pipeline.tasks.link.metrics import ranking_metrics
from pipeline.tasks.link.negatives import eval_negatives, train_negatives
from pipeline.tasks.link.split import with_edge_splits

pytestmark = pytest.mark.unit

SPEC = """name: ring
task: link_prediction
id_column: node_id
numeric_columns: [x]
edges: {{file: edges.csv, source: src, target: dst, directed: {directed}{extra}}}
"""


def write_ring(root: Path, n: int = 60, *, directed: bool = False, split_column: bool = False) -> Path:
    """n nodes; each linked to the next two (a ring with chords): 2n edges, no labels at all."""
    root.mkdir(parents=True, exist_ok=True)
    extra = ", split_column: part" if split_column else ""
    (root / "dataset.yaml").write_text(SPEC.format(directed=str(directed).lower(), extra=extra))
    pd.DataFrame({"node_id": [f"n{i}" for i in range(n)], "x": np.arange(n, dtype=float)}).to_csv(
        root / "nodes.csv", index=False
    )
    src = [f"n{i}" for i in range(n)] * 2
    dst = [f"n{(i + 1) % n}" for i in range(n)] + [f"n{(i + 2) % n}" for i in range(n)]
    edges = pd.DataFrame({"src": src, "dst": dst})
    if split_column:
        edges["part"] = (["train"] * 8 + ["val", "test"]) * (len(edges) // 10)
    edges.to_csv(root / "edges.csv", index=False)
    return root


def pairs_of(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in edge_index.t().tolist()}


@pytest.mark.parametrize("mode", ["random", "inductive"])
def test_message_passing_never_sees_a_val_or_test_edge(tmp_path: Path, mode: str) -> None:
    dataset = with_edge_splits(
        load_dataset(write_ring(tmp_path / "ring")), seed=3, val_fraction=0.2, test_fraction=0.2, mode=mode
    )
    message, _, tensors, _ = link_graph_tensors(dataset, eval_negatives_per_positive=10, seed=0)
    seen = pairs_of(message)
    for split in ("val", "test"):
        held = tensors[f"lp_{split}_pos"]
        assert held.size(1) > 0
        for u, v in pairs_of(held):  # neither orientation of a held-out pair is in message passing
            assert (u, v) not in seen and (v, u) not in seen
    train = pairs_of(tensors["lp_train_pos"])
    assert {(min(u, v), max(u, v)) for u, v in seen} == train  # message passing is exactly the train pairs
    total = sum(tensors[f"lp_{s}_pos"].size(1) for s in ("train", "val", "test"))
    assert total == 120  # every pair in exactly one split


def test_inductive_test_edges_touch_nodes_unseen_in_training(tmp_path: Path) -> None:
    dataset = with_edge_splits(
        load_dataset(write_ring(tmp_path / "ring")), seed=1, val_fraction=0.1, test_fraction=0.2, mode="inductive"
    )
    message, _, tensors, _ = link_graph_tensors(dataset, eval_negatives_per_positive=10, seed=0)
    trained_nodes = set(message.flatten().tolist())
    for u, v in pairs_of(tensors["lp_test_pos"]):
        assert u not in trained_nodes or v not in trained_nodes
    test_nodes = set(np.flatnonzero((dataset.split == "test").to_numpy(dtype=bool)).tolist())
    assert test_nodes and not (test_nodes & trained_nodes)


def test_random_split_is_seeded_and_keeps_twin_pairs_together(tmp_path: Path) -> None:
    root = write_ring(tmp_path / "ring")
    edges = pd.read_csv(root / "edges.csv")
    pd.concat([edges, edges.rename(columns={"src": "dst", "dst": "src"})]).to_csv(root / "edges.csv", index=False)
    dataset = load_dataset(root)
    a = with_edge_splits(dataset, seed=5, val_fraction=0.2, test_fraction=0.2)
    b = with_edge_splits(dataset, seed=5, val_fraction=0.2, test_fraction=0.2)
    c = with_edge_splits(dataset, seed=6, val_fraction=0.2, test_fraction=0.2)
    assert a.edges["split"].equals(b.edges["split"]) and not a.edges["split"].equals(c.edges["split"])
    frame = a.edges.assign(u=a.edges[["source", "target"]].min(axis=1), v=a.edges[["source", "target"]].max(axis=1))
    assert (frame.groupby(["u", "v"])["split"].nunique() == 1).all()  # a-b and b-a share their split


def test_a_user_split_column_is_the_edge_split(tmp_path: Path) -> None:
    dataset = load_dataset(write_ring(tmp_path / "ring", split_column=True))
    split = with_edge_splits(dataset, seed=0, val_fraction=0.2, test_fraction=0.2).edges["split"]
    assert split.tolist() == (["train"] * 8 + ["val", "test"]) * 12


def test_a_bad_split_cell_names_its_row_and_column(tmp_path: Path) -> None:
    root = write_ring(tmp_path / "ring", split_column=True)
    edges = pd.read_csv(root / "edges.csv")
    edges.loc[4, "part"] = "holdout"
    edges.to_csv(root / "edges.csv", index=False)
    with pytest.raises(DatasetError) as err:
        load_dataset(root)
    assert err.value.row == 6 and err.value.column == "part" and "holdout" in str(err.value)


def test_node_classification_still_needs_a_label_column(tmp_path: Path) -> None:
    root = write_ring(tmp_path / "ring")
    (root / "dataset.yaml").write_text(
        (root / "dataset.yaml").read_text().replace("link_prediction", "node_classification")
    )
    with pytest.raises(DatasetError, match="label_column is required"):
        load_dataset(root)


def test_eval_negatives_are_fixed_filtered_and_distinct() -> None:
    known = torch.tensor([[0, 0, 1, 2], [1, 2, 3, 4]])
    positives = torch.tensor([[0, 2], [1, 4]])
    first, _ = eval_negatives(positives, known, 30, 8, directed=False, seed=7)
    again, _ = eval_negatives(positives, known, 30, 8, directed=False, seed=7)
    assert torch.equal(first, again) and first.shape == (2, 8)
    assert not set(first[0].tolist()) & {0, 1, 2}  # not the source, not a neighbour in any split
    assert not set(first[1].tolist()) & {2, 0, 4}
    assert all(len(set(row.tolist())) == 8 for row in first)


def test_train_negatives_avoid_training_edges_and_held_out_nodes() -> None:
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    train_nodes = torch.tensor([0, 1, 2, 3, 5])
    drawn = train_negatives(edges, train_nodes, 200, seed=0)
    pairs = pairs_of(drawn)
    assert not pairs & pairs_of(edges)
    assert set(drawn.flatten().tolist()) <= set(train_nodes.tolist())


def test_ranking_metrics_match_hand_computed_values() -> None:
    # query 0: positive 0.9 above its three negatives -> rank 1; query 1: 0.5 below 0.6 and 0.7 -> rank 3
    out = ranking_metrics(torch.tensor([0.9, 0.5]), torch.tensor([[0.1, 0.2, 0.3], [0.6, 0.7, 0.1]]))
    assert out["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert out["hits_at_1"] == pytest.approx(0.5)
    assert out["hits_at_3"] == pytest.approx(1.0) and out["hits_at_10"] == pytest.approx(1.0)
    # ROC-AUC: 0.9 beats all 6 negatives, 0.5 beats 4 of them -> 10 / 12
    assert out["roc_auc"] == pytest.approx(10 / 12)
    # 12 candidates, positive ranked 11th: hits@10 misses it
    late = ranking_metrics(torch.tensor([0.05]), torch.linspace(1, 0.1, 11)[:10].reshape(1, 10))
    assert late["hits_at_10"] == 0.0 and late["mrr"] == pytest.approx(1 / 11)


def test_decoders_score_pairs_as_their_formulas_say() -> None:
    z_u, z_v = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[4.0, -1.0, 0.5]])
    assert DotDecoder(3)(z_u, z_v).item() == pytest.approx(4 - 2 + 1.5)
    distmult = DistMultDecoder(3)
    with torch.no_grad():
        distmult.relation.copy_(torch.tensor([1.0, 0.0, 2.0]))
    assert distmult(z_u, z_v).item() == pytest.approx(4 + 0 + 3)
    distmult.reset_parameters()
    assert torch.equal(distmult.relation, torch.ones(3))
    mlp = MLPDecoder(3, 8).eval()
    assert mlp(z_u, z_v).item() == pytest.approx(mlp(z_v, z_u).item())  # symmetric: one score per undirected link
    assert mlp(z_u.repeat(4, 1), z_v.repeat(4, 1)).shape == (4,)


@pytest.mark.parametrize("decoder", ["dot", "mlp", "distmult"])
@pytest.mark.parametrize(
    ("fusion", "backbone"), [("early", "sage"), ("gated", "gcn"), ("late", "gat"), ("early", "sign")]
)
def test_every_fusion_and_backbone_encodes_for_every_decoder(decoder: str, fusion: str, backbone: str) -> None:
    config = FusionModelConfig(
        modality_dims={"text": 6, "tabular": 3},
        num_classes=8,
        projection_dim=4,
        hidden_dim=8,
        dropout=0.0,
        fusion=fusion,
        backbone=backbone,
        decoder=decoder,
    )
    model = build_model(config)
    xs = {"text": torch.randn(5, 6), "tabular": torch.randn(5, 3)}
    masks = {m: torch.ones(5, dtype=torch.bool) for m in xs}
    edges = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    assert model.encode(xs, masks, edges).shape == (5, 8)
    assert model(xs, masks, edges, torch.tensor([[0, 1], [3, 4]])).shape == (2,)


def test_params_turn_a_labelled_dataset_into_link_prediction(small_countries: Path) -> None:
    from pipeline.config import ValidateParams
    from pipeline.stages.validate import checked_dataset

    dataset = checked_dataset(small_countries, ValidateParams(), "link_prediction")
    assert dataset.spec.task == "link_prediction"
    counts = dataset.edges["split"].value_counts()
    assert set(counts.index) == {"train", "val", "test"} and counts["train"] > counts["test"]
    assert checked_dataset(small_countries, ValidateParams()).spec.task == "node_classification"


def toy_scorer():
    from pipeline.dataset import DatasetSpec
    from pipeline.inference.bundle import ModelBundle
    from pipeline.inference.known_graph import KnownGraph
    from pipeline.inference.links import LinkScorer

    config = FusionModelConfig(
        modality_dims={"tabular": 2}, num_classes=4, projection_dim=4, hidden_dim=4, dropout=0.0, decoder="dot"
    )
    torch.manual_seed(0)
    bundle = ModelBundle(config, [], {}, "toy", build_model(config).state_dict())
    spec = DatasetSpec.model_validate(
        {"name": "toy", "task": "link_prediction", "id_column": "id", "edges": {"source": "a", "target": "b"}}
    )
    known = KnownGraph(
        spec=spec,
        node_ids=["a", "b", "c", "d", "e"],
        features={"tabular": torch.randn(5, 2)},
        masks={"tabular": torch.ones(5, dtype=torch.bool)},
        edge_index=torch.tensor([[0, 1], [1, 0]]),
    )
    return LinkScorer(bundle, known)


def test_top_k_leaves_out_the_node_and_its_known_links_and_pairs_match() -> None:
    scorer = toy_scorer()
    out = scorer.predict(pd.DataFrame({"source": ["a", "a"], "target": ["c", None]}), k=2)
    assert out.iloc[0][["source", "target"]].tolist() == ["a", "c"] and pd.isna(out.iloc[0]["rank"])
    top = out.iloc[1:]
    assert top["rank"].tolist() == [1, 2] and not set(top["target"]) & {"a", "b"}
    assert top["probability"].is_monotonic_decreasing
    everyone = scorer.predict(pd.DataFrame({"source": ["a"] * 3, "target": ["c", "d", "e"]}))
    best = everyone.sort_values("probability", ascending=False)["target"].head(2).tolist()
    assert top["target"].tolist() == best  # top-k is the best of the scored candidates


def test_an_unknown_node_is_an_error_naming_row_and_column() -> None:
    from pipeline.errors import GraphFuseError

    with pytest.raises(GraphFuseError, match=r"pairs.csv, row 3, column 'target': unknown node 'zz'"):
        toy_scorer().predict(
            pd.DataFrame({"source": ["a", "b"], "target": ["c", "zz"]}), where="pairs.csv", first_row=2
        )


def test_mrr_of_negative_logits_is_their_rank() -> None:
    """Scores are logits; torchmetrics' MRR counted a positive scored <= 0 as absent (MRR 0 at rank 1)."""
    out = ranking_metrics(torch.tensor([-1.0, -3.0]), torch.tensor([[-5.0, -6.0], [-2.0, -4.0]]))
    assert out["mrr"] == pytest.approx((1 + 1 / 2) / 2) and out["hits_at_1"] == pytest.approx(0.5)
    tied = ranking_metrics(torch.zeros(3), torch.zeros(3, 10))  # a collapsed model: every score equal
    assert 1 / 11 <= tied["mrr"] <= 1
