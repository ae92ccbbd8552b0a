"""Per-modality auxiliary heads and input dropout: part of the training loss, absent from predictions."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pipeline.config import TrainParams
from pipeline.inference.bundle import ModelBundle, load_bundle, save_bundle
from pipeline.models import build_model
from pipeline.stages.train import _model_config
from pipeline.training import TrainOptions, predict_logits, seed_everything, train_node_classifier
from tests.tiny_graphs import one_thread, tiny_config, two_community_graph  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def graph():
    return two_community_graph(40, image_missing=0.3)[0]


def _inputs(data):
    names = ("image", "tabular")
    return {m: data[f"x_{m}"] for m in names}, {m: data[f"mask_{m}"] for m in names}


def test_the_auxiliary_loss_reaches_every_projection_and_skips_nodes_without_the_modality(graph) -> None:
    seed_everything(0)
    model = build_model(tiny_config(graph, modality_aux_weight=1.0, missing_token=True)).train()
    xs, masks = _inputs(graph)
    rows = graph.train_mask.nonzero().flatten()
    y, weights = graph.y[rows], torch.ones(2)
    model(xs, masks, graph.edge_index)
    auxiliary = model.auxiliary_loss(rows, y, weights, float(rows.numel()))
    assert auxiliary is not None and float(auxiliary.detach()) > 0
    auxiliary.backward()
    for name, projection in model.projections.items():
        assert projection.lin.weight.grad is not None and projection.lin.weight.grad.abs().sum() > 0, name
    # Only nodes that have a modality train its head: rows lacking the image give no image-head loss.
    no_image = (~graph.mask_image).nonzero().flatten()
    model.zero_grad()
    model(xs, masks, graph.edge_index)
    model.auxiliary_loss(no_image, graph.y[no_image], weights, float(no_image.numel())).backward()
    assert model.modality_heads.heads["image"].weight.grad.abs().sum() == 0
    assert model.modality_heads.heads["tabular"].weight.grad.abs().sum() > 0


def test_the_trainer_minimises_the_auxiliary_loss_and_predictions_never_read_the_heads(graph, tmp_path: Path) -> None:
    seed_everything(0)
    config = tiny_config(graph, backbone="sign", modality_aux_weight=0.5, input_dropout=0.2, missing_token=True)
    model = build_model(config)
    before = {m: head.weight.detach().clone() for m, head in model.modality_heads.heads.items()}
    # No weight decay: the heads move only if the loop adds their loss to what it minimises.
    options = TrainOptions(max_epochs=8, patience=100, weight_decay=0.0, batch_size=8)
    result = train_node_classifier(model, graph, num_classes=2, device=CPU, options=options)
    model.load_state_dict(result.state_dict)
    for m, head in model.modality_heads.heads.items():
        assert not torch.equal(head.weight, before[m]), m
    logits = predict_logits(model, graph, CPU)
    with torch.no_grad():
        for head in model.modality_heads.heads.values():
            head.weight.add_(1.0)
    assert torch.equal(predict_logits(model, graph, CPU), logits)
    # The bundle (model.json + weights) rebuilds the heads, so a strict load works and predicts the same.
    bundle = ModelBundle(config, ["a", "b"], {}, "toy", {k: v.clone() for k, v in model.state_dict().items()})
    save_bundle(tmp_path, bundle)
    loaded = load_bundle(tmp_path)
    assert loaded.config.modality_aux_weight == 0.5 and loaded.config.input_dropout == 0.2
    assert torch.equal(predict_logits(loaded.build(), graph, CPU), logits)


def test_input_dropout_acts_in_training_and_only_on_embeddings_wider_than_the_projection(graph) -> None:
    model = build_model(tiny_config(graph, input_dropout=0.5, projection_dim=7))  # tabular 8 dims, image 6
    xs, masks = _inputs(graph)

    def twice(m: str) -> tuple[torch.Tensor, torch.Tensor]:
        return model.projections[m](xs[m], masks[m]), model.projections[m](xs[m], masks[m])

    model.train()
    assert not torch.equal(*twice("tabular"))
    assert torch.equal(*twice("image"))  # narrower than the projection: every dimension kept
    model.eval()
    assert torch.equal(*twice("tabular"))


def test_params_reach_the_saved_model_config_and_link_prediction_gets_no_heads() -> None:
    settings = TrainParams(modality_aux_weight=0.3, input_dropout=0.1)
    meta = SimpleNamespace(modalities={"text": 4, "image": 3}, classes=["a", "b"], task="node_classification")
    config = _model_config(settings, meta, 10)
    assert (config.modality_aux_weight, config.input_dropout) == (0.3, 0.1)
    assert build_model(config).modality_heads is not None
    link = _model_config(settings, SimpleNamespace(**{**vars(meta), "task": "link_prediction"}), 10)
    assert link.modality_aux_weight == 0.0 and link.input_dropout == 0.1
