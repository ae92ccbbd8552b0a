"""Node classification with early stopping on the validation split.

One loop for every batching method (see :mod:`pipeline.training.batching`): AdamW, an optional
LR schedule, class weights, gradient clipping, autocast on CUDA, DDP under torchrun, and
resumable checkpoints. The best weights by ``monitor`` are kept; training stops ``patience``
epochs after the last improvement.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from pipeline.device import threads_for_data
from pipeline.training.checkpoint import TrainState, clear_checkpoint, load_checkpoint, save_checkpoint
from pipeline.training.correct_and_smooth import choose_smoothing
from pipeline.training.distributed import DistContext, current
from pipeline.training.early_stopping import EarlyStopping
from pipeline.training.epoch_metrics import accuracy_macro_f1_tensor
from pipeline.training.objective import class_weights, monitor_score, weighted_loss
from pipeline.training.options import MONITORS, TrainOptions
from pipeline.training.result import TrainResult, has_train_labels, model_logits, predict_logits
from pipeline.training.setup import NodeRun, set_up

EpochCallback = Callable[[int, dict[str, float]], None]
#: The figures of an epoch's history row, after its ``epoch`` number.
EPOCH_FIGURES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1")

__all__ = [
    "MONITORS",
    "TrainResult",
    "class_weights",
    "has_train_labels",
    "model_logits",
    "predict_logits",
    "train_node_classifier",
]


def train_node_classifier(
    model: nn.Module,
    data: Data,
    *,
    num_classes: int,
    device: torch.device,
    options: TrainOptions | None = None,
    on_epoch: EpochCallback | None = None,
    checkpoint_dir: str | Path | None = None,
    fingerprint: str = "",
) -> TrainResult:
    """Train on ``train_mask``, monitor ``val_mask``; return the best weights (on CPU) and the
    Correct & Smooth ``options.smoothing`` chose (set it on the model: ``model.smoothing``).

    Under ``torchrun`` (a process group is initialised) the model is wrapped in DDP and each
    process trains on its share of the training nodes. With ``checkpoint_dir`` and
    ``options.checkpoint_every``, state is saved every that many epochs and a rerun with the
    same ``fingerprint`` resumes from it; the checkpoint is removed when training ends.
    """
    with threads_for_data(data, device):
        return _train(
            model, data, num_classes, device, options or TrainOptions(), on_epoch, checkpoint_dir, fingerprint
        )


def _train(
    model: nn.Module,
    data: Data,
    num_classes: int,
    device: torch.device,
    options: TrainOptions,
    on_epoch: EpochCallback | None,
    checkpoint_dir: str | Path | None,
    fingerprint: str,
) -> TrainResult:
    ctx = current()
    run = set_up(model, data, num_classes, device, options, ctx)
    checkpoints = Path(checkpoint_dir) if checkpoint_dir is not None and options.checkpoint_every > 0 else None
    fingerprint = f"{fingerprint}|world={ctx.world_size}|batching={run.batching}"
    stopper = EarlyStopping(options.patience)
    resumed = load_checkpoint(checkpoints, fingerprint) if checkpoints is not None else None
    history = _resume(run, resumed, stopper, on_epoch) if resumed is not None else []
    stopped = bool(history) and stopper.should_stop(history[-1]["epoch"])
    for epoch in range(resumed.epoch + 1 if resumed is not None else 1, options.max_epochs + 1):
        if stopped:
            break
        losses, correct, seen = _train_epoch(run, epoch)
        row = _score_epoch(run, epoch, losses, correct, seen)
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row)
        _step_scheduler(run.scheduler, row)
        stopper.update(epoch, monitor_score(row, options.monitor), run.model)
        stopped = stopper.should_stop(epoch)
        if checkpoints is not None and epoch % options.checkpoint_every == 0 and not stopped:
            _save_checkpoint(run, ctx, checkpoints, fingerprint, epoch, stopper, history)
    if checkpoints is not None and ctx.is_main:
        clear_checkpoint(checkpoints)
    return _result(run, stopper, history, resumed)


def _resume(run: NodeRun, resumed: TrainState, stopper: EarlyStopping, on_epoch: EpochCallback | None) -> list[dict]:
    """Load a checkpoint's state into the run; replay its history to ``on_epoch``."""
    run.model.load_state_dict(resumed.model)
    run.optimizer.load_state_dict(resumed.optimizer)
    if run.scheduler is not None and resumed.scheduler is not None:
        run.scheduler.load_state_dict(resumed.scheduler)
    if resumed.scaler:
        run.scaler.load_state_dict(resumed.scaler)
    stopper.best_state, stopper.best_score, stopper.best_epoch = (
        resumed.best_state,
        resumed.best_score,
        resumed.best_epoch,
    )
    for row in resumed.history:
        if on_epoch is not None:
            on_epoch(int(row["epoch"]), row)
    return resumed.history


def _train_epoch(run: NodeRun, epoch: int) -> tuple[list[Tensor], Tensor, int]:
    """One pass over the training batches: (losses, right answers, nodes seen; mini-batches only)."""
    run.net.train()
    losses, correct, seen = [], torch.zeros((), dtype=torch.long, device=run.device), 0
    auxiliary_loss = getattr(run.model, "auxiliary_loss", None)
    for batch in run.runner.train_batches(epoch):
        run.optimizer.zero_grad(set_to_none=True)
        with run.autocast():
            logits = run.net(batch.xs, batch.masks, batch.edge_index)
        if batch.rows is not None:
            logits = logits[batch.rows]
        loss = weighted_loss(logits, batch.y, run.weights, batch.weight_sum)
        objective = loss  # what is minimised; train_loss stays the main loss, comparable to val_loss
        if auxiliary_loss is not None:  # per-modality heads (train.modality_aux_weight), or None
            auxiliary = auxiliary_loss(batch.rows, batch.y, run.weights, batch.weight_sum)
            objective = loss if auxiliary is None else loss + auxiliary
        run.scaler.scale(objective).backward()
        if run.options.grad_clip > 0:
            run.scaler.unscale_(run.optimizer)
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.options.grad_clip)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        losses.append(loss.detach())
        if run.batching != "full":
            correct += (logits.detach().argmax(-1) == batch.y).sum()
            seen += batch.y.numel()
    return losses, correct, seen


def _score_epoch(run: NodeRun, epoch: int, losses: list[Tensor], correct: Tensor, seen: int) -> dict[str, float]:
    """The epoch's history row: train loss and accuracy, validation loss, accuracy and macro-F1."""
    run.model.eval()
    full = run.batching == "full"
    with torch.no_grad(), run.autocast():
        # Full batch: one eval forward scores every node. Mini-batches: the training nodes'
        # accuracy is the running one over the epoch's batches (a second pass over a
        # million nodes would cost a third of the epoch).
        wanted = [run.val_idx, run.train_idx] if full else [run.val_idx]
        logits_of = [out.float() for out in run.runner.logits(run.model, wanted)]
    val_logits = logits_of[0]
    val_loss = weighted_loss(val_logits, run.y_val, run.weights, run.val_weight_sum)
    if full:
        train_accuracy = accuracy_macro_f1_tensor(run.y_train, logits_of[1].argmax(-1), run.num_classes)[0]
    else:
        train_accuracy = correct.double() / max(seen, 1)
    val_scores = accuracy_macro_f1_tensor(run.y_val, val_logits.argmax(-1), run.num_classes)
    train_loss = torch.stack(losses).mean() if losses else torch.tensor(float("nan"), device=run.device)
    figures = torch.stack([train_loss.double(), train_accuracy, val_loss.double(), *val_scores]).tolist()
    return {"epoch": epoch, **dict(zip(EPOCH_FIGURES, figures, strict=True))}


def _step_scheduler(scheduler: Any, row: dict[str, float]) -> None:
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(row["val_loss"])
    elif scheduler is not None:
        scheduler.step()


def _save_checkpoint(
    run: NodeRun, ctx: DistContext, folder: Path, fingerprint: str, epoch: int, stopper: EarlyStopping, history: list
) -> None:
    if ctx.is_main:
        state = TrainState(
            epoch=epoch,
            model=run.model.state_dict(),
            optimizer=run.optimizer.state_dict(),
            scheduler=run.scheduler.state_dict() if run.scheduler is not None else None,
            scaler=run.scaler.state_dict() if run.scaler.is_enabled() else None,
            best_state=stopper.best_state,
            best_score=stopper.best_score,
            best_epoch=stopper.best_epoch,
            history=history,
        )
        save_checkpoint(folder, state, fingerprint)
    if ctx.world_size > 1:
        torch.distributed.barrier()


def _result(run: NodeRun, stopper: EarlyStopping, history: list, resumed: TrainState | None) -> TrainResult:
    """The best weights and, on the best epoch's predictions, the Correct & Smooth ``options.smoothing`` chose."""
    assert stopper.best_state is not None  # the first epoch always counts as an improvement
    smoothing, smoothing_scores = None, {}
    if run.options.smoothing != "off":  # in a copy (the caller loads the best weights itself)
        scorer = copy.deepcopy(run.model)
        scorer.load_state_dict(stopper.best_state)
        smoothing, smoothing_scores = choose_smoothing(
            model_logits(scorer, run.data, run.device), run.data, run.options
        )
    return TrainResult(
        smoothing=smoothing,
        smoothing_scores=smoothing_scores,
        state_dict=stopper.best_weights(),
        best_epoch=stopper.best_epoch,
        epochs_run=len(history),
        monitor=run.options.monitor,
        history=history,
        batching=run.batching,
        resumed_from=resumed.epoch if resumed is not None else 0,
        trained_nodes=run.runner.num_train,
        prepare_seconds=run.prepare_seconds,
    )
