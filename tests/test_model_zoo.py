"""Every fusion x backbone learns; missing modalities (even all of one) are handled; old bundles load."""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pipeline.errors import GraphFuseError
from pipeline.evaluation.embeddings import embedding_map, node_embeddings
from pipeline.inference.bundle import ModelBundle, load_bundle, save_bundle
from pipeline.models import BACKBONES, FUSIONS, build_model
from pipeline.models.modality_dropout import drop_modalities
from pipeline.training import TrainOptions, predict_logits, seed_everything, train_node_classifier
from tests.tiny_graphs import one_thread, tiny_config, two_community_graph  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def graph():
    return two_community_graph(40, image_missing=0.3)[0]


@pytest.mark.parametrize(("fusion", "backbone"), list(itertools.product(sorted(FUSIONS), sorted(BACKBONES))))
def test_every_fusion_and_backbone_trains_and_its_loss_falls(graph, fusion: str, backbone: str) -> None:
    seed_everything(0)
    options = dict(norm="layer", residual=True, jk="cat", num_layers=3) if backbone == "sage" else {}
    model = build_model(tiny_config(graph, fusion=fusion, backbone=backbone, missing_token=True, **options))
    result = train_node_classifier(
        model,
        graph,
        num_classes=2,
        device=CPU,
        options=TrainOptions(lr=0.02, max_epochs=12, patience=100, batch_size=8),
    )
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.batching == ("sign" if backbone == "sign" else "full")


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_a_modality_no_node_has_and_nodes_with_nothing_still_give_finite_predictions(fusion: str) -> None:
    data, _ = two_community_graph(30, image_missing=1.0)  # no node has an image
    data.mask_tabular[:5] = False  # and five nodes have nothing at all
    seed_everything(1)
    model = build_model(tiny_config(data, fusion=fusion, missing_token=True, modality_dropout=0.3))
    result = train_node_classifier(
        model, data, num_classes=2, device=CPU, options=TrainOptions(max_epochs=5, patience=100)
    )
    model.load_state_dict(result.state_dict)
    logits = predict_logits(model, data, CPU)
    assert logits.shape == (30, 2) and bool(torch.isfinite(logits).all())
    if fusion == "gated":
        xs = {m: data[f"x_{m}"] for m in model.modalities}
        masks = {m: data[f"mask_{m}"] for m in model.modalities}
        weights = model.eval().modality_weights(xs, masks, data.edge_index)  # [N, (image, tabular)]
        assert weights.shape == (30, 2)
        assert torch.allclose(weights.sum(-1), torch.ones(30))
        has_tabular = data.mask_tabular
        assert bool((weights[has_tabular, 0] == 0).all())  # never attend to the absent image
        assert bool((weights[~has_tabular] > 0).all())  # nothing present: attend over the tokens


def test_modality_dropout_hides_modalities_but_never_a_nodes_last_one() -> None:
    torch.manual_seed(0)
    masks = {"a": torch.ones(2000, dtype=torch.bool), "b": torch.arange(2000) % 2 == 0}
    dropped = drop_modalities(masks, 0.5, training=True)
    assert bool((dropped["a"] | dropped["b"]).all())  # every node keeps one
    assert not bool((dropped["b"] & ~masks["b"]).any())  # nothing missing comes back
    both = masks["b"]  # p(a hidden, b kept) = 0.25; both hidden would leave nothing, so neither is
    assert 0.15 < 1 - dropped["a"][both].float().mean() < 0.35
    assert bool(dropped["a"][~both].all())
    assert drop_modalities(masks, 0.5, training=False) == masks
    hops = {"a": torch.ones(10, 3, dtype=torch.bool), "b": torch.ones(10, 3, dtype=torch.bool)}
    dropped = drop_modalities(hops, 0.9, training=True)
    assert bool(dropped["a"][:, 1:].all())  # only a node's own (hop 0) modality is hidden


def _legacy_bundle(tmp_path: Path, data) -> tuple[Path, torch.nn.Module]:
    """A bundle as GraphFuse wrote it before the zoo: architecture early_fusion_sage, conv1/conv2."""
    seed_everything(0)
    model = build_model(tiny_config(data)).eval()
    renames = {"backbone.convs.0.": "conv1.", "backbone.convs.1.": "conv2."}
    weights = {}
    for key, value in model.state_dict().items():
        for new, old in renames.items():
            key = key.replace(new, old)
        weights[key] = value.contiguous()
    save_file(weights, str(tmp_path / "model.safetensors"))
    config = {"architecture": "early_fusion_sage", "modality_dims": {"tabular": 8}, "num_classes": 2,
              "projection_dim": 8, "hidden_dim": 16, "dropout": 0.0}  # fmt: skip
    meta = {"format": 1, "config": config, "classes": ["a", "b"], "encoders": {}, "dataset_name": "old"}
    (tmp_path / "model.json").write_text(json.dumps(meta))
    return tmp_path, model


def test_a_bundle_from_before_the_zoo_still_predicts_the_same(tmp_path: Path) -> None:
    data, _ = two_community_graph(20)
    folder, model = _legacy_bundle(tmp_path, data)
    rebuilt = load_bundle(folder).build()
    assert torch.equal(predict_logits(rebuilt, data, CPU), predict_logits(model, data, CPU))


def test_a_bundle_saves_its_zoo_config_and_rebuilds_the_same_model(tmp_path: Path, graph) -> None:
    config = tiny_config(graph, fusion="gated", backbone="gatv2", norm="batch", jk="max", missing_token=True)
    model = build_model(config).eval()
    bundle = ModelBundle(config, ["a", "b"], {}, "toy", {k: v.clone() for k, v in model.state_dict().items()})
    save_bundle(tmp_path, bundle)
    loaded = load_bundle(tmp_path)
    assert loaded.config == config
    assert torch.equal(predict_logits(loaded.build(), graph, CPU), predict_logits(model, graph, CPU))
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["config"]["fusion"] = "quantum"
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(GraphFuseError, match="model.json"):
        load_bundle(tmp_path)


@pytest.mark.parametrize(("fusion", "backbone"), list(itertools.product(sorted(FUSIONS), sorted(BACKBONES))))
def test_every_model_gives_one_embedding_row_a_node_for_the_map(graph, fusion: str, backbone: str) -> None:
    """Issue 16 item 2: late fusion had no embedding (IndexError) and sign gave [N, K+1, F] (t-SNE refused)."""
    seed_everything(0)
    model = build_model(tiny_config(graph, fusion=fusion, backbone=backbone, jk="cat" if fusion == "gated" else "none"))
    z = node_embeddings(model, graph, CPU)
    assert z.ndim == 2 and z.shape[0] == graph.num_nodes and np.isfinite(z).all()
    assert embedding_map(z).shape == (graph.num_nodes, 2)
    link = build_model(tiny_config(graph, fusion=fusion, backbone=backbone, decoder="dot"))
    assert node_embeddings(link, graph, CPU).shape == (graph.num_nodes, 2)  # what the decoder scores


def test_pyg_code_generation_leaves_no_file_in_the_temp_folder(graph) -> None:
    """Issue 16 item 12: PyG renders each layer class's propagate() into a temp file it never deletes."""
    for backbone in sorted(BACKBONES):
        model = build_model(tiny_config(graph, backbone=backbone, smoothing_alpha=0.5))
        logits = predict_logits(model, graph, CPU)  # label smoothing builds PyG's LabelPropagation too
        assert logits.shape == (graph.num_nodes, 2)
    temp = Path(tempfile.gettempdir()).resolve()
    generated = [m for name, m in sys.modules.items() if name.endswith(("_propagate", "_edge_updater"))]
    sources = [Path(m.__file__) for m in generated if getattr(m, "__file__", None)]
    assert any(p.parent.resolve() == temp for p in sources)  # PyG did generate them there
    assert [p for p in sources if p.exists()] == []


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_the_skip_path_carries_a_nodes_own_features_to_the_output(graph, backbone: str) -> None:
    """Issue 17 item 5: with train.skip every backbone adds W_s x (hop 0 for sign) to its output, so
    with the graph layers silenced a node still gets a prediction from its own fused input."""
    seed_everything(0)
    options = {"jk": "cat"} if backbone == "gcn" else {}
    model = build_model(tiny_config(graph, backbone=backbone, skip=True, **options)).eval()
    skip = model.backbone.skip
    with torch.no_grad():
        for name, weight in model.backbone.named_parameters():
            if not name.startswith("skip."):
                weight.zero_()
    xs = {m: graph[f"x_{m}"] for m in model.modalities}
    masks = {m: graph[f"mask_{m}"] for m in model.modalities}
    with torch.inference_mode():
        fused = model.fuse(*model.prepare(xs, masks, graph.edge_index))
        own = skip(fused[:, 0] if fused.dim() == 3 else fused)
        assert torch.allclose(model(xs, masks, graph.edge_index), own, atol=1e-6)
        assert node_embeddings(model, graph, CPU).shape[0] == graph.num_nodes
    plain = build_model(tiny_config(graph, backbone=backbone, **options))
    assert not any("skip" in key for key in plain.state_dict())  # off by default: today's models unchanged
