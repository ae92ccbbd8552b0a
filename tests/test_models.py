"""The fusion model's contract: missing modalities are really missing, and it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.evaluation.metrics import classification_metrics
from pipeline.models import EarlyFusion, ModalityProjection, build_model
from pipeline.training import TrainOptions, predict_logits, seed_everything, train_node_classifier
from tests.tiny_graphs import one_thread, tiny_config, two_community_graph  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.unit


def test_projection_zeroes_nodes_without_the_modality() -> None:
    projection = ModalityProjection(5, 4)
    x = torch.randn(3, 5)
    out = projection(x, torch.tensor([True, False, True]))
    assert out.shape == (3, 4)
    assert torch.equal(out[1], torch.zeros(4))
    assert out[0].abs().sum() > 0


def test_projection_gives_missing_nodes_the_learned_token() -> None:
    projection = ModalityProjection(5, 4, missing_token=True)
    out = projection(torch.randn(3, 5), torch.tensor([True, False, False]))
    assert torch.equal(out[1], projection.token.detach()) and torch.equal(out[2], out[1])
    assert out[1].abs().sum() > 0


def test_a_missing_modality_value_cannot_change_the_fused_representation() -> None:
    data, _ = two_community_graph(10, image_missing=0.5)
    model = build_model(tiny_config(data, projection_dim=4, missing_token=True)).eval()
    assert isinstance(model, EarlyFusion)
    xs = {"tabular": torch.randn(2, 8), "image": torch.randn(2, 6)}
    masks = {"tabular": torch.tensor([True, True]), "image": torch.tensor([True, False])}
    before = model.fuse(xs, masks)
    xs["image"][1] = 100.0  # garbage in a missing cell
    after = model.fuse(xs, masks)
    assert torch.equal(before, after)
    assert before.shape == (2, 4 + 4 + 2)
    assert before[1, -2:].tolist() == [0.0, 1.0]  # mask features, modalities in sorted order (image, tabular)


def test_reset_parameters_reinitialises_weights() -> None:
    data, _ = two_community_graph(10)
    model = build_model(tiny_config(data))
    before = model.backbone.convs[0].lin_l.weight.clone()
    model.reset_parameters()
    assert not torch.equal(before, model.backbone.convs[0].lin_l.weight)


def _train(data, *, seed: int, max_epochs: int, patience: int, monitor: str = "val_loss"):
    seed_everything(seed)
    model = build_model(tiny_config(data, dropout=0.2))
    options = TrainOptions(lr=0.01, max_epochs=max_epochs, patience=patience, monitor=monitor, seed=seed)
    result = train_node_classifier(model, data, num_classes=2, device=torch.device("cpu"), options=options)
    return model, result


def test_training_learns_and_is_repeatable_for_a_seed() -> None:
    data, y = two_community_graph()
    results = []
    for _ in range(2):
        model, result = _train(data, seed=7, max_epochs=80, patience=20)
        model.load_state_dict(result.state_dict)
        pred = predict_logits(model, data, torch.device("cpu")).argmax(-1)
        results.append((result.best_epoch, pred, result.history))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]
    test = data.test_mask
    accuracy = classification_metrics(y[test].numpy(), results[0][1][test].numpy(), 2)["accuracy"]
    assert accuracy >= 0.9


def test_macro_f1_weighs_classes_equally() -> None:
    y_true = np.array([0] * 9 + [1])
    y_pred = np.array([0] * 10)
    metrics = classification_metrics(y_true, y_pred, 2)
    assert metrics["accuracy"] == 0.9
    assert abs(metrics["macro_f1"] - (18 / 19) / 2) < 1e-9


def test_monitor_chooses_the_best_epoch_by_the_named_validation_metric() -> None:
    data, _ = two_community_graph()
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
    with pytest.raises(ValueError, match="monitor"):
        TrainOptions(monitor="test_accuracy")
