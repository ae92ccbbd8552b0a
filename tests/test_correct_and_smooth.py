"""Correct & Smooth (PyG's Correct & Smooth over the training labels): what it propagates, what it
never reads (validation and test labels), how ``auto`` chooses, and that a rebuilt model and the
inductive package smooth exactly as the trained one did."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from pipeline.dataset import DatasetSpec
from pipeline.features import ModalityFeatures
from pipeline.graph import build_graph
from pipeline.inference.known_graph import KnownGraph, load_known_graph, save_known_graph
from pipeline.models import CorrectAndSmooth, build_model
from pipeline.training import TrainOptions, predict_logits, seed_everything, train_node_classifier
from tests.tiny_graphs import one_thread, tiny_config, two_community_graph  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.unit


def _path_graph() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """0 - 1 - 2, and 3 alone: node 0 is a class-1 training node, the model says class 0 everywhere."""
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    logits = torch.tensor([[2.0, 0.0]] * 4)
    y = torch.tensor([1, 0, 0, 0])
    train_mask = torch.tensor([True, False, False, False])
    return logits, y, train_mask, edge_index


def test_smoothing_spreads_training_labels_and_leaves_isolated_nodes_alone() -> None:
    logits, y, train_mask, edge_index = _path_graph()
    out = CorrectAndSmooth(alpha=0.9)(logits, y, train_mask, edge_index)
    probs = out.softmax(-1)
    assert torch.allclose(probs.sum(-1), torch.ones(4))
    base = logits.softmax(-1)[0, 1]
    assert probs[1, 1] > probs[2, 1] > base  # class 1 spreads from node 0, weaker further away
    assert torch.allclose(probs[3], logits[3].softmax(-1))  # no edge: the model's own prediction
    assert torch.equal(CorrectAndSmooth(alpha=0.0)(logits, y, train_mask, edge_index), logits)


def test_smoothing_never_reads_validation_or_test_labels() -> None:
    logits, y, train_mask, edge_index = _path_graph()
    other = y.clone()
    other[~train_mask] = torch.tensor([1, 1, 1])  # change every non-training label
    for smoothing in (CorrectAndSmooth(0.8), CorrectAndSmooth(0.8, correct=True)):
        assert torch.equal(
            smoothing(logits, y, train_mask, edge_index), smoothing(logits, other, train_mask, edge_index)
        )


def _train(data: Data, smoothing) -> tuple[torch.nn.Module, object]:
    seed_everything(0)
    model = build_model(tiny_config(data))
    result = train_node_classifier(
        model, data, num_classes=2, device=torch.device("cpu"), options=TrainOptions(max_epochs=30, smoothing=smoothing)
    )
    model.load_state_dict(result.state_dict)
    return model, result


def _labels_only_in_the_edges(n: int = 100) -> tuple[Data, torch.Tensor]:
    """Features of pure noise; each node linked to 3 nodes of its class: only labels can tell."""
    g = torch.Generator().manual_seed(3)
    y = torch.arange(n) % 2
    src = torch.arange(n).repeat_interleave(3)
    dst = (src + 2 * torch.randint(1, n // 2, (3 * n,), generator=g)) % n  # same parity: same class
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    split = torch.arange(n) % 5
    masks = {"train": split < 3, "val": split == 3, "test": split == 4}
    x = torch.randn(n, 8, generator=g)
    feats = {"tabular": ModalityFeatures("tabular", x, torch.ones(n, dtype=torch.bool), "")}
    return build_graph(feats, edge_index, y, masks), y


def test_auto_smooths_a_homophilous_graph_and_not_one_whose_edges_mislead() -> None:
    data, y = _labels_only_in_the_edges()
    _, result = _train(data, "auto")
    assert result.smoothing is not None and result.smoothing.alpha > 0
    assert set(result.smoothing_scores) == {"0", "0.5", "0.7", "0.8", "0.9"}
    assert result.smoothing_scores[f"{result.smoothing.alpha:g}"] > result.smoothing_scores["0"] + 0.2
    # Rewire every edge across the classes: spreading labels along them can only mislead.
    wrong = data.clone()
    wrong.edge_index = torch.stack([data.edge_index[0], (data.edge_index[1] + 1) % data.num_nodes])
    _, result = _train(wrong, "auto")
    assert result.smoothing is None
    assert result.smoothing_scores["0"] >= max(result.smoothing_scores.values())
    _, result = _train(data, "off")
    assert result.smoothing is None and result.smoothing_scores == {}


def test_a_rebuilt_model_and_the_inductive_package_smooth_as_the_trained_one(tmp_path) -> None:
    data, _ = two_community_graph(60)
    model, result = _train(data, 0.8)
    model.smoothing = result.smoothing
    config = tiny_config(data).model_copy(update=result.config_update())
    rebuilt = build_model(config)
    rebuilt.load_state_dict(result.state_dict)
    expected = predict_logits(model, data, torch.device("cpu"))
    assert torch.allclose(predict_logits(rebuilt, data, torch.device("cpu")), expected)
    assert not torch.allclose(expected, predict_logits(build_model(tiny_config(data)), data, torch.device("cpu")))

    class _Meta:
        node_ids = [str(i) for i in range(data.num_nodes)]
        modalities = {"tabular": 8}

    spec = DatasetSpec.model_validate(
        {
            "name": "tiny",
            "task": "node_classification",
            "id_column": "id",
            "label_column": "label",
            "numeric_columns": ["a"],
            "edges": {"file": "e.csv", "source": "s", "target": "t"},
        }
    )
    known = KnownGraph.from_graph(data, _Meta(), spec)
    assert torch.equal(known.train_labels >= 0, data.train_mask)  # training labels only, -1 elsewhere
    save_known_graph(tmp_path, known)
    loaded = load_known_graph(tmp_path)
    y, train_mask = loaded.labels_for(data.num_nodes + 2)
    assert torch.equal(train_mask[:-2], data.train_mask) and not train_mask[-2:].any()
    assert torch.equal(y[:-2][data.train_mask], data.y[data.train_mask])
