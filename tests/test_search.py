"""The search library on a tiny graph: folds, greedy ensemble, the ensemble model, the study."""

from __future__ import annotations

import pytest
import torch

from pipeline.inference.bundle import ModelBundle, load_bundle, save_bundle
from pipeline.models import build_model
from pipeline.search.ensemble import greedy_ensemble, mixture, selection_score
from pipeline.search.folds import scored_nodes, selection_folds, without_test_labels
from pipeline.search.run import search_ensemble
from pipeline.training import predict_logits
from tests.tiny_graphs import one_thread, tiny_config, tiny_search_params, two_community_graph  # noqa: F401

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")


def test_small_val_gives_stratified_folds_over_train_and_val_only():
    data, y = two_community_graph(60)
    folds, mode = selection_folds(without_test_labels(data), folds=3, cv_below=100, seed=0)
    assert mode == "cv" and len(folds) == 3
    pool = data.train_mask | data.val_mask
    assert torch.equal(scored_nodes(folds), pool)  # every train/val node scored once, no test node
    counts = torch.stack([f.score_mask.long() for f in folds]).sum(0)
    assert int(counts.max()) == 1
    for fold in folds:
        assert not (fold.train_mask & fold.score_mask).any()
        assert not (fold.train_mask & data.test_mask).any()
        assert abs(float(y[fold.score_mask].float().mean()) - 0.5) < 0.15  # stratified
    folds, mode = selection_folds(data, folds=3, cv_below=5, seed=0)
    assert mode == "val" and torch.equal(folds[0].score_mask, data.val_mask)


def test_greedy_ensemble_never_scores_below_its_best_candidate():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (200,), generator=g)
    noisy = [torch.softmax(torch.randn(200, 3, generator=g) + 2.0 * torch.nn.functional.one_hot(y, 3), -1)]
    noisy += [torch.softmax(torch.randn(200, 3, generator=g) * 3, -1) for _ in range(3)]
    weights = greedy_ensemble(noisy, y, rounds=10)
    assert abs(sum(weights.values()) - 1) < 1e-9
    best_single = max(selection_score(c, y) for c in noisy)
    assert selection_score(mixture(noisy, weights), y) >= best_single
    assert greedy_ensemble(noisy, y, rounds=10) == weights  # deterministic


def _search(data, tmp_path, **overrides):
    base = tiny_config(data, hidden_dim=16, dropout=0.5, modality_dropout=0.1)
    return search_ensemble(base, tiny_search_params(tmp_path, **overrides), data, device=CPU, graph_digest="tiny")


def test_search_is_reproducible_never_reads_test_labels_resumes_and_bundles(tmp_path):
    data, _ = two_community_graph(60, image_missing=0.3)
    logged = []
    base = tiny_config(data, hidden_dim=16, dropout=0.5, modality_dropout=0.1)
    first = search_ensemble(
        base,
        tiny_search_params(tmp_path),
        data,
        device=CPU,
        graph_digest="tiny",
        on_trial=lambda number, params, metrics, state: logged.append((number, state)),
    )
    assert [n for n, _ in logged] == [0, 1, 2, 3, 4]
    report = first.report
    assert report["selection"] == "cv" and report["trials_completed"] >= 4
    assert report["best_single_modality"]["modalities"].startswith("only:")
    assert report["best_no_graph"]["backbone"] == "mlp"
    assert report["final_score"] >= report["ensemble_score"] >= report["best_candidate"]["score"]
    # the same params and seed: the same choice; scrambled test labels: still the same choice
    scrambled = data.clone()
    scrambled.y = torch.where(data.test_mask, 1 - data.y, data.y)
    second = _search(scrambled, tmp_path, search_storage="")  # in memory, a study of its own
    assert second.config == first.config
    without_time = {k: v for k, v in first.report.items() if k != "search_seconds"}
    assert {k: v for k, v in second.report.items() if k != "search_seconds"} == without_time
    resumed = _search(data, tmp_path)  # the stored study: no trial runs again
    assert resumed.config == first.config and resumed.report["trials_completed"] == report["trials_completed"]
    # the ensemble is one model in one bundle, and predicts as it was saved
    config = first.config
    assert config.architecture == "ensemble" and config.members
    model = build_model(config)
    bundle = ModelBundle(
        config=config, classes=["a", "b"], encoders={}, dataset_name="t", state_dict=model.state_dict()
    )
    save_bundle(tmp_path / "model", bundle)
    loaded = load_bundle(tmp_path / "model").build()
    assert torch.allclose(predict_logits(loaded, data, CPU), predict_logits(model, data, CPU))
    assert torch.allclose(predict_logits(loaded, data, CPU).exp().sum(-1), torch.ones(60), atol=1e-4)
    # retrained ablation: without a modality, each member loses it, and members left with none go
    no_image = config.without("image")
    assert no_image is not None and "image" not in no_image.modality_dims
    assert all("image" not in m.config.modality_dims for m in no_image.members)
    assert len(no_image.members) == sum(set(m.config.modality_dims) != {"image"} for m in config.members)


def test_auto_is_the_default_and_falls_back_in_one_line_where_the_stage_cannot_search(capsys):
    """The shipped default searches node classification in one process; link prediction and
    torchrun's several processes train train's own recipe, saying so once (rank 0) in one line."""
    from pipeline.config import Params, TrainParams
    from pipeline.stages.train import searches

    assert Params().train.search == "auto"
    auto = TrainParams()
    assert searches(auto, link=False, world_size=1)
    assert capsys.readouterr().out == ""
    assert not searches(auto, link=True, world_size=1)
    assert "link prediction trains train's own recipe" in capsys.readouterr().out
    assert not searches(auto, link=False, world_size=2, rank=1)
    assert capsys.readouterr().out == ""  # the other ranks stay quiet
    assert not searches(auto, link=False, world_size=2, rank=0)
    note = capsys.readouterr().out
    assert note.count("\n") == 1 and "torchrun (2 processes)" in note and 'train.search: "off"' in note
    assert not searches(TrainParams(search="off"), link=True, world_size=2)
    assert capsys.readouterr().out == ""
    # A graph in the mini-batch regime: its baselines alone would run for hours on a CPU.
    assert searches(auto, link=False, world_size=1, num_nodes=auto.minibatch_threshold)
    assert not searches(auto, link=False, world_size=1, num_nodes=auto.minibatch_threshold + 1)
    note = capsys.readouterr().out
    assert note.count("\n") == 1 and "minibatch_threshold (200,000 nodes, this graph has 200,001)" in note
