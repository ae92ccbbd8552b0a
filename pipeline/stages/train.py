"""Stage train: fit the fusion GNN, keep the best weights, hand the run and the model to tracking."""

from __future__ import annotations

import csv
import io

from tqdm.auto import tqdm

from pipeline.atomic import write_json, write_text
from pipeline.bundle import ModelBundle, save_bundle
from pipeline.config import Params
from pipeline.graph import load_graph
from pipeline.models import FusionModelConfig, build_model
from pipeline.paths import Paths
from pipeline.stages import show_progress
from pipeline.tracking import configure_tracking, training_run
from pipeline.training import resolve_device, seed_everything, train_node_classifier

RUN_FILE = "run.json"
HISTORY_FILE = "training_history.csv"


def _history_csv(history: list[dict[str, float]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in history)
    return buffer.getvalue()


def run(params: Params, paths: Paths) -> dict:
    settings = params.train
    data, meta = load_graph(paths.graph)
    config = FusionModelConfig(
        modality_dims=meta.modalities,
        num_classes=len(meta.classes),
        projection_dim=settings.projection_dim,
        hidden_dim=settings.hidden_dim,
        dropout=settings.dropout,
    )
    device = resolve_device(settings.device)
    seed_everything(settings.seed)
    model = build_model(config)

    configure_tracking(paths.root, params.tracking.experiment)
    with training_run(run_name=f"train-{meta.dataset}") as tracked:
        tracked.log_params({f"train.{k}": v for k, v in settings.model_dump().items()})
        tracked.log_params(
            {
                "dataset": meta.dataset,
                "dataset.dir": str(params.dataset.dir),
                "modalities": ",".join(sorted(meta.modalities)),
                "device": str(device),
                "nodes": len(meta.node_ids),
                "edges": int(data.edge_index.size(1)),
            }
        )
        for modality, settings_of in meta.encoders.items():
            if "encoder" in settings_of:
                tracked.log_params({f"encoder.{modality}": settings_of["encoder"]})

        with tqdm(total=settings.max_epochs, desc="train", unit="epoch", disable=not show_progress()) as bar:

            def log_epoch(epoch: int, row: dict[str, float]) -> None:
                tracked.log_epoch(epoch, row)
                bar.update(1)
                bar.set_postfix(val_loss=f"{row['val_loss']:.3f}", val_f1=f"{row['val_macro_f1']:.3f}")

            result = train_node_classifier(
                model,
                data,
                num_classes=len(meta.classes),
                lr=settings.lr,
                weight_decay=settings.weight_decay,
                max_epochs=settings.max_epochs,
                patience=settings.patience,
                device=device,
                monitor=settings.monitor,
                on_epoch=log_epoch,
            )
        best = result.history[result.best_epoch - 1]
        tracked.log_metrics({"best_epoch": result.best_epoch, "best_val_loss": best["val_loss"]})
        bundle = ModelBundle(
            config=config,
            classes=meta.classes,
            encoders=meta.encoders,  # as build_graph recorded them: what predict must redo
            dataset_name=meta.dataset,
            state_dict=result.state_dict,
            training={
                "best_epoch": result.best_epoch,
                "epochs_run": result.epochs_run,
                "seed": settings.seed,
                "monitor": result.monitor,
            },
        )
        save_bundle(paths.model, bundle)
        model_uri = tracked.log_model(paths.model, paths.graph, paths.dataset)
        run_id = tracked.run_id

    write_text(paths.metrics / HISTORY_FILE, _history_csv(result.history))
    write_json(paths.model / RUN_FILE, {"run_id": run_id, "model_uri": model_uri})
    return {
        "run_id": run_id,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "best_val_loss": round(best["val_loss"], 4),
        "device": str(device),
    }
