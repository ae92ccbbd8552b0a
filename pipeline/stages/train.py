"""Stage train: fit the fusion GNN, keep the best weights, hand the run and the model to tracking.

Under ``torchrun`` (``torchrun --nproc_per_node=K -m pipeline.stages.train``) every process
trains its share of the nodes; only rank 0 logs, saves and registers.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json

from tqdm.auto import tqdm

from pipeline.atomic import atomic_dir, write_json, write_text
from pipeline.config import Params, TrainParams, load_params
from pipeline.errors import GraphFuseError
from pipeline.graph import load_graph
from pipeline.graph.store import META_FILE, TENSORS_FILE, load_encoder_states
from pipeline.inference.bundle import ModelBundle, save_bundle
from pipeline.models import FusionModelConfig, build_model
from pipeline.paths import Paths
from pipeline.stages import show_progress
from pipeline.tracking import TrainingRun, configure_tracking, training_run
from pipeline.tracking.health import ensure_tracking_reachable
from pipeline.training import (
    TrainOptions,
    options_from,
    process_group,
    resolve_device,
    seed_everything,
    train_node_classifier,
)
from pipeline.training.batching import resolve_batching

RUN_FILE = "run.json"
HISTORY_FILE = "training_history.csv"
SEARCH_FILE = "search.json"  # the search's choice and selection scores (a DVC metric); {"search": "off"} without


def _history_csv(history: list[dict[str, float]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in history)
    return buffer.getvalue()


MODEL_KEYS = (
    "fusion",
    "num_layers",
    "norm",
    "residual",
    "jk",
    "skip",
    "heads",
    "hops",
    "missing_token",
    "modality_dropout",
    "modality_aux_weight",
    "input_dropout",
)


def _model_config(settings: TrainParams, meta, num_nodes: int) -> FusionModelConfig:
    """The model params.yaml asks for; a graph trained with precomputed hops gets the sign backbone."""
    try:
        batching = resolve_batching(settings.batching, num_nodes, settings.minibatch_threshold, settings.backbone)
    except ValueError as exc:
        raise GraphFuseError(f"params.yaml train: {exc}") from exc
    link = meta.task == "link_prediction"  # the fusion model's output is then the node embedding
    return FusionModelConfig(
        modality_dims=meta.modalities,
        num_classes=settings.embedding_dim if link else len(meta.classes),
        decoder=settings.decoder if link else None,
        projection_dim=settings.projection_dim,
        hidden_dim=settings.hidden_dim,
        dropout=settings.dropout,
        backbone="sign" if batching == "sign" else settings.backbone,
        # link prediction has no classes for the per-modality heads to predict
        **{k: getattr(settings, k) for k in MODEL_KEYS} | ({"modality_aux_weight": 0.0} if link else {}),
    )


def _fingerprint(config: FusionModelConfig, options: TrainOptions, paths: Paths) -> str:
    """What a checkpoint must match to be resumed: the model, the options and the graph's bytes."""
    digest = hashlib.sha256(json.dumps([config.model_dump(), repr(options)], sort_keys=True).encode())
    for name in (META_FILE, TENSORS_FILE):
        with open(paths.graph / name, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def run(params: Params, paths: Paths) -> dict:
    ensure_tracking_reachable(paths.root)  # seconds, before any work: a server that is down fails here
    settings = params.train
    data, meta = load_graph(paths.graph)
    config = _model_config(settings, meta, len(meta.node_ids))
    options = options_from(settings)
    with process_group(resolve_device(settings.device)) as (ctx, device):
        seed_everything(settings.seed)
        model = build_model(config)
        link = meta.task == "link_prediction"
        search = searches(settings, link=link, world_size=ctx.world_size, rank=ctx.rank, num_nodes=len(meta.node_ids))
        if link:
            # Imported here: the link task's metrics (torchmetrics retrieval) cost seconds a node task never needs.
            from pipeline.tasks.link.train import train_link_predictor

            if ctx.world_size > 1:
                raise GraphFuseError("link prediction trains full batch on one process; run it without torchrun")
            fit = functools.partial(
                train_link_predictor,
                model,
                data,
                device=device,
                options=options,
                negatives_per_positive=settings.train_negatives,
            )
            return _train_and_log(params, paths, data, meta, config, device, fit)
        fit = functools.partial(
            train_node_classifier,
            model,
            data,
            num_classes=len(meta.classes),
            device=device,
            options=options,
            checkpoint_dir=paths.checkpoints,
            fingerprint=_fingerprint(config, options, paths),
        )
        if search:
            fit = _searched_fit(config, settings, data, device, fit.keywords["fingerprint"])
        if not ctx.is_main:
            fit()
            return {"rank": ctx.rank}
        return _train_and_log(params, paths, data, meta, config, device, fit)


def searches(settings: TrainParams, *, link: bool, world_size: int, rank: int = 0, num_nodes: int = 0) -> bool:
    """Whether this train runs the search: ``train.search: auto`` (the default) on node
    classification in one process, on a graph that trains full batch. Where it cannot (link
    prediction, torchrun's several processes) or should not (above ``train.minibatch_threshold``
    nodes its enqueued baselines alone, 5 x ``search_folds`` trainings that the seconds budget does
    not stop, would take hours on a CPU), the stage trains ``train``'s own recipe and says so in
    one line (rank 0 only)."""
    if settings.search != "auto":
        return False
    if link:
        why = "covers node classification; link prediction trains train's own recipe"
    elif world_size > 1:
        why = f"runs on one process; under torchrun ({world_size} processes) train trains train's own recipe"
    elif num_nodes > settings.minibatch_threshold:
        why = (
            f"is sized for graphs that train full batch; above train.minibatch_threshold "
            f"({settings.minibatch_threshold:,} nodes, this graph has {num_nodes:,}) train trains train's own recipe"
        )
    else:
        return True
    if rank == 0:
        print(f'train.search: auto {why} (set train.search: "off" to drop this note)')
    return False


def _searched_fit(config: FusionModelConfig, settings: TrainParams, data, device, graph_digest: str):
    """``train.search: auto``: the search, then the chosen ensemble (pipeline/search). Imported
    here: Optuna is an import a plain train never needs."""
    from pipeline.search.train_entry import search_and_fit
    from pipeline.tracking.search_runs import log_search_report, log_trial_run

    bar = tqdm(total=settings.search_trials, desc="search", unit="trial", disable=not show_progress())

    def on_trial(number: int, params: dict, metrics: dict, state: str) -> None:
        log_trial_run(number, params, metrics, state)
        bar.set_postfix({"last": f"{metrics.get('selection_score', float('nan')):.3f} {state.lower()}"}, refresh=False)
        bar.update(1)

    return functools.partial(
        search_and_fit,
        config,
        settings,
        data,
        device=device,
        graph_digest=graph_digest,
        on_trial=on_trial,
        on_report=lambda report: (bar.close(), log_search_report(report)),
    )


def _write_metrics(paths: Paths, result) -> None:
    """The training curve, and the search's report (or that there was none)."""
    write_text(paths.metrics / HISTORY_FILE, _history_csv(result.history))
    write_json(paths.metrics / SEARCH_FILE, getattr(result, "report", None) or {"search": "off"})


def _train_and_log(params: Params, paths: Paths, data, meta, config, device, fit) -> dict:
    settings = params.train
    configure_tracking(paths.root, params.tracking.experiment)
    with training_run(run_name=f"train-{meta.dataset}") as tracked:
        _log_inputs(tracked, params, meta, data, device)
        with tqdm(total=settings.max_epochs, desc="train", unit="epoch", disable=not show_progress()) as bar:

            def log_epoch(epoch: int, row: dict[str, float]) -> None:
                tracked.log_epoch(epoch, row)
                headline = "val_mrr" if "val_mrr" in row else "val_macro_f1"
                # No redraw per epoch: update() redraws at most every 0.1 s (tqdm's mininterval).
                postfix = {"val_loss": f"{row['val_loss']:.3f}", headline: f"{row[headline]:.3f}"}
                bar.set_postfix(postfix, refresh=False)
                bar.update(1)

            result = fit(on_epoch=log_epoch)
        best = result.history[result.best_epoch - 1]
        tracked.log_metrics({"best_epoch": result.best_epoch, "best_val_loss": best["val_loss"]})
        tracked.log_metrics({f"smoothing_val_accuracy_{a}": v for a, v in result.smoothing_scores.items()})
        config = config.model_copy(update=result.config_update())  # the Correct & Smooth chosen on val
        bundle = _bundle(config, meta, result, settings.seed, paths)
        run_id = tracked.run_id
        with atomic_dir(paths.model) as model_dir:  # weights, config and run id: all new or all old
            save_bundle(model_dir, bundle)
            model_uri = tracked.log_model(model_dir, paths.graph, paths.dataset)
            write_json(model_dir / RUN_FILE, {"run_id": run_id, "model_uri": model_uri})

    _write_metrics(paths, result)
    return {
        "run_id": run_id,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "best_val_loss": round(best["val_loss"], 4),
        "device": str(device),
        "model": f"ensemble of {len(config.members)}" if config.members else f"{config.fusion}/{config.backbone}",
        "batching": result.batching,
        "smoothing_alpha": config.smoothing_alpha,
    }


def _log_inputs(tracked: TrainingRun, params: Params, meta, data, device) -> None:
    """The run's params: every train setting, what was trained on, and each modality's encoder."""
    tracked.log_params({f"train.{k}": v for k, v in params.train.model_dump().items()})
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


def _bundle(config: FusionModelConfig, meta, result, seed: int, paths: Paths) -> ModelBundle:
    """The model package: weights, config, classes, and the encoders predict must redo."""
    return ModelBundle(
        config=config,
        classes=meta.classes,
        encoders=meta.encoders,  # as build_graph recorded them: what predict must redo
        dataset_name=meta.dataset,
        state_dict=result.state_dict,
        training={
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "seed": seed,
            "monitor": result.monitor,
            "batching": result.batching,
            "resumed_from_epoch": result.resumed_from,
        },
        knn=meta.knn.get("settings", {}),
        encoder_states=load_encoder_states(paths.graph),  # a fitted tfidf: predict rebuilds it
    )


if __name__ == "__main__":  # torchrun --nproc_per_node=K -m pipeline.stages.train
    run(load_params(), Paths())
