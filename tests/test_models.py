"""The fusion model's contract: missing modalities are really missing, and it learns."""

from __future__ import annotations

import pytest
import torch

from pipeline.evaluation.metrics import classification_metrics
from pipeline.features import ModalityFeatures
from pipeline.graph import build_graph
from pipeline.models import EarlyFusionSAGE, FusionModelConfig, ModalityProjection, build_model
from pipeline.training import predict_logits, seed_everything, train_node_classifier


def test_projection_zeroes_nodes_without_the_modality() -> None:
    projection = ModalityProjection(5, 4)
    x = torch.randn(3, 5)
    out = projection(x, torch.tensor([True, False, True]))
    assert out.shape == (3, 4)
    assert torch.equal(out[1], torch.zeros(4))
    assert out[0].abs().sum() > 0


def test_a_missing_modality_value_cannot_change_the_fused_representation() -> None:
    model = EarlyFusionSAGE({"text": 6, "image": 8}, num_classes=3, projection_dim=4, hidden_dim=8).eval()
    xs = {"text": torch.randn(2, 6), "image": torch.randn(2, 8)}
    masks = {"text": torch.tensor([True, True]), "image": torch.tensor([True, False])}
    before = model.fuse(xs, masks)
    xs["image"][1] = 100.0  # garbage in a missing cell
    after = model.fuse(xs, masks)
    assert torch.equal(before, after)
    assert before.shape == (2, 4 + 4 + 2)
    assert before[1, -2:].tolist() == [0.0, 1.0]  # mask features, modalities in sorted order (image, text)


def test_reset_parameters_reinitialises_weights() -> None:
    model = EarlyFusionSAGE({"text": 6}, num_classes=2)
    before = model.conv1.lin_l.weight.clone()
    model.reset_parameters()
    assert not torch.equal(before, model.conv1.lin_l.weight)


def test_build_model_rejects_unknown_architectures() -> None:
    config = FusionModelConfig(
        architecture="nope", modality_dims={"text": 2}, num_classes=2, projection_dim=2, hidden_dim=2, dropout=0.0
    )
    try:
        build_model(config)
    except ValueError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("an unknown architecture must be rejected")


def _two_community_graph(n: int = 60) -> tuple:
    """Two classes: noisy features, edges mostly within a class, some nodes missing features.

    A model that uses the graph (neighbours share labels) beats one that cannot.
    """
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.randn(n, 8, generator=g) + 1.5 * y.unsqueeze(1).float()
    mask = torch.rand(n, generator=g) > 0.2
    src, dst = [], []
    for i in range(n):
        for j in torch.randint(0, n, (4,), generator=g).tolist():
            if (y[i] == y[j]) or torch.rand(1, generator=g).item() < 0.1:
                src += [i, j]
                dst += [j, i]
    edge_index = torch.tensor([src, dst])
    split = torch.arange(n) % 5
    masks = {"train": split < 3, "val": split == 3, "test": split == 4}
    feats = ModalityFeatures("tabular", x * mask.unsqueeze(1), mask, "")
    return build_graph({"tabular": feats}, edge_index, y, masks), y


def _train(data, *, seed: int, max_epochs: int, patience: int, monitor: str = "val_loss"):
    seed_everything(seed)
    model = EarlyFusionSAGE({"tabular": 8}, num_classes=2, projection_dim=8, hidden_dim=16, dropout=0.2)
    result = train_node_classifier(
        model,
        data,
        num_classes=2,
        lr=0.01,
        weight_decay=5e-4,
        max_epochs=max_epochs,
        patience=patience,
        device=torch.device("cpu"),
        monitor=monitor,
    )
    return model, result


def test_training_learns_and_is_repeatable_for_a_seed() -> None:
    data, y = _two_community_graph()
    results = []
    for _ in range(2):
        model, result = _train(data, seed=7, max_epochs=80, patience=20)
        model.load_state_dict(result.state_dict)
        pred = predict_logits(model, data, torch.device("cpu")).argmax(-1)
        results.append((result.best_epoch, pred))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1])
    test = data.test_mask
    accuracy = classification_metrics(y[test].numpy(), results[0][1][test].numpy(), 2)["accuracy"]
    assert accuracy >= 0.9


def test_macro_f1_weighs_classes_equally() -> None:
    import numpy as np

    y_true = np.array([0] * 9 + [1])
    y_pred = np.array([0] * 10)
    metrics = classification_metrics(y_true, y_pred, 2)
    assert metrics["accuracy"] == 0.9
    assert abs(metrics["macro_f1"] - (18 / 19) / 2) < 1e-9


def test_monitor_chooses_the_best_epoch_by_the_named_validation_metric() -> None:
    data, _ = _two_community_graph()
    for monitor in ("val_loss", "val_macro_f1"):
        _, result = _train(data, seed=3, max_epochs=40, patience=40, monitor=monitor)
        rows = result.history
        best = rows[result.best_epoch - 1]
        if monitor == "val_loss":
            assert best["val_loss"] == min(r["val_loss"] for r in rows)
        else:
            top = max(r["val_macro_f1"] for r in rows)
            assert best["val_macro_f1"] == top
            assert best["val_loss"] == min(r["val_loss"] for r in rows if r["val_macro_f1"] == top)


def test_an_unknown_monitor_is_refused() -> None:
    data, _ = _two_community_graph()
    model = EarlyFusionSAGE({"tabular": 8}, num_classes=2)
    with pytest.raises(ValueError, match="monitor"):
        train_node_classifier(
            model,
            data,
            num_classes=2,
            lr=0.01,
            weight_decay=0.0,
            max_epochs=1,
            patience=1,
            device=torch.device("cpu"),
            monitor="test_accuracy",
        )
