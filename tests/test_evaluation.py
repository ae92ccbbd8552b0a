"""The evaluate stage's outputs on a real trained model: metrics with spread, ablation, plots,
report, registry tags; and the ablation's sanity on a graph built so one modality is the signal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from torch_geometric.data import Data

from pipeline.config import TrainParams
from pipeline.evaluation.ablation import inference_ablation, retrained_ablation
from pipeline.evaluation.retrain import retrain, threads_for
from pipeline.models import FusionModelConfig
from pipeline.paths import Paths
from pipeline.tracking import configure_tracking
from tests.evaluation_fixtures import run_stages, write_project_params
from tests.helpers import own_tracking_store

pytestmark = pytest.mark.integration


def test_metrics_json_has_every_metric_per_split_and_the_seed_spread(evaluated_project: Path) -> None:
    metrics = json.loads((Paths(evaluated_project).metrics / "metrics_detail.json").read_text())
    for split in ("val", "test"):
        m = metrics[split]
        assert {"accuracy", "macro_f1", "weighted_f1", "roc_auc_ovr", "ece", "n", "per_class"} <= set(m)
        assert set(m["per_class"]) == {"Africa", "Americas", "Asia", "Europe", "Oceania"}
        assert 0 <= m["ece"] <= 1 and 0 <= m["roc_auc_ovr"] <= 1
    spread = metrics["spread"]
    assert spread["n_seeds"] == 2
    for name in ("accuracy", "macro_f1"):
        stat = spread["test"][name]
        assert stat["sd"] is not None and stat["sd"] >= 0 and 0 <= stat["mean"] <= 1
    # the headline, the one DVC metric: test mean and sd over the seeds, validation's champion metric
    shown = json.loads((Paths(evaluated_project).metrics / "metrics.json").read_text())
    assert shown == {
        "seeds": 2,
        "test": {
            "acc": spread["test"]["accuracy"]["mean"],
            "acc_sd": spread["test"]["accuracy"]["sd"],
            "f1": spread["test"]["macro_f1"]["mean"],
            "f1_sd": spread["test"]["macro_f1"]["sd"],
        },
        "val": {"f1": spread["val"]["macro_f1"]["mean"]},
    }


def test_ablation_table_plots_and_report(evaluated_project: Path) -> None:
    paths = Paths(evaluated_project)
    ablation = json.loads((paths.metrics / "ablation.json").read_text())
    conditions = {"full", "no_image", "no_tabular", "no_text", "no_graph"}
    assert set(ablation["inference"]) == conditions and set(ablation["retrained"]) == conditions
    metrics = json.loads((paths.metrics / "metrics_detail.json").read_text())
    assert ablation["n_seeds"] == 2  # every ablation is the mean over the spread's seeds
    assert ablation["inference"]["full"]["accuracy"] == metrics["spread"]["test"]["accuracy"]["mean"]
    assert ablation["retrained"]["no_graph"]["accuracy_sd"] is not None
    for plot in ("confusion_test", "training_curves", "reliability_test", "embeddings"):
        assert (paths.plots / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
    report = (evaluated_project / "reports" / "evaluation.html").read_text()
    assert "Modality ablation" in report and "no_graph" in report and "data:image/png;base64," in report
    assert "mean ± sd over training seeds 0, 1" in report
    assert "has no per-node modality weights" in report  # early fusion: said, not silently skipped


def test_registered_version_carries_provenance_and_evaluation_artifacts(evaluated_project: Path) -> None:
    configure_tracking(evaluated_project, "graphfuse")
    client = MlflowClient()
    version = client.get_model_version_by_alias("graphfuse", "champion")
    for tag in ("git_commit", "data_hash", "dataset", "split_fingerprint", "params", "model_hash", "val_macro_f1"):
        assert version.tags.get(tag), tag
    assert version.tags["prefect_flow_run_id"] == "flow-run-for-test"
    assert version.tags["dataset"] == "countries"
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "plots")}
    assert "plots/embeddings.png" in artifacts
    assert client.list_artifacts(version.run_id, "report")
    run = client.get_run(version.run_id)
    assert "spread_test_accuracy_mean" in run.data.metrics and "ablation_no_graph_accuracy" in run.data.metrics


def test_evaluating_the_same_model_again_registers_nothing(evaluated_project: Path, small_countries: Path) -> None:
    write_project_params(evaluated_project, small_countries, seeds=1, retrain_ablation=False, embedding_map=False)
    embeddings = Paths(evaluated_project).plots / "embeddings.csv"
    rows = len(embeddings.read_text().splitlines())  # the t-SNE map's: a header and one row a node
    embeddings.unlink()
    with own_tracking_store():
        summary = run_stages(evaluated_project, ("evaluate",))["evaluate"]
    assert summary["registry"]["duplicate"] and summary["registry"]["version"] == 1
    # without the t-SNE the map's files (dvc.yaml outputs) are still written: a repro needs them
    assert len(embeddings.read_text().splitlines()) == rows > 1
    assert "nothing registered" in summary["registry"]["reason"]
    assert len(MlflowClient().search_model_versions("name='graphfuse'")) == 1


def _signal_in_tabular(n: int = 150, classes: int = 3, seed: int = 0) -> Data:
    """Tabular features are the class (one-hot plus small noise); text and image are pure noise;
    edges are random, so neither the graph nor the other modalities say anything."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    tabular = torch.nn.functional.one_hot(y, classes).float() + 0.1 * torch.randn(n, classes, generator=g)
    data = Data(y=y, num_nodes=n, edge_index=torch.randint(0, n, (2, 2 * n), generator=g))
    for modality, x in (
        ("tabular", tabular),
        ("text", torch.randn(n, 8, generator=g)),
        ("image", torch.randn(n, 8, generator=g)),
    ):
        data[f"x_{modality}"] = x
        data[f"mask_{modality}"] = torch.ones(n, dtype=torch.bool)
    split = torch.arange(n) % 5
    data.train_mask, data.val_mask, data.test_mask = split < 3, split == 3, split == 4
    return data


def test_ablation_finds_the_one_modality_that_carries_the_signal() -> None:
    data = _signal_in_tabular()
    config = FusionModelConfig(
        modality_dims={"tabular": 3, "text": 8, "image": 8},
        num_classes=3,
        projection_dim=8,
        hidden_dim=16,
        dropout=0.0,
    )
    recipe = TrainParams(max_epochs=60, patience=60, lr=0.02, hidden_dim=16, projection_dim=8, dropout=0.0)
    device = torch.device("cpu")
    classes = ["a", "b", "c"]
    with threads_for(data):
        model = retrain(config, data, recipe, seed=0, device=device).model
        table = inference_ablation(model, data, classes, device)
        retrained = retrained_ablation(config, data, classes, recipe, device, model)
    assert table["full"]["accuracy"] >= 0.9
    assert table["no_tabular"]["delta_accuracy"] <= -0.3  # masking the signal hurts
    for other in ("no_text", "no_image"):
        assert table[other]["delta_accuracy"] >= -0.1  # masking noise does not
    assert retrained["no_tabular"]["accuracy"] <= 0.6 and retrained["no_text"]["accuracy"] >= 0.85


def test_mean_modality_weights_per_class_for_models_that_expose_them() -> None:
    from pipeline.evaluation.ablation import modality_weights_by_class
    from pipeline.models import FusionModelConfig, build_model

    def early(dims: dict[str, int]) -> torch.nn.Module:
        return build_model(
            FusionModelConfig(
                modality_dims=dims, num_classes=3, projection_dim=8, hidden_dim=8, dropout=0.0, fusion="early"
            )
        )

    def mask_weights(xs, masks, edge_index):
        """Weights that are simply each node's mask, normalised: known values to average."""
        stacked = torch.stack([masks[m].float() for m in model.modalities], dim=-1)
        return stacked / stacked.sum(dim=-1, keepdim=True)

    data = _signal_in_tabular(n=6)
    data["mask_text"] = torch.tensor([True, True, True, False, False, False])
    model = early({"tabular": 3, "text": 8, "image": 8})
    model.modality_weights = mask_weights
    table, note = modality_weights_by_class(model, data, ["a", "b", "c"], torch.device("cpu"))
    assert note is None
    # class a = nodes 0 and 3: node 0 has all three modalities, node 3 lacks text
    assert table["a"] == pytest.approx({"image": (1 / 3 + 1 / 2) / 2, "tabular": (1 / 3 + 1 / 2) / 2, "text": 1 / 6})
    plain, note = modality_weights_by_class(early({"tabular": 3}), data, ["a", "b", "c"], "cpu")
    assert plain is None and "no per-node modality weights" in note
