"""Node classification with early stopping on the validation split.

One loop for every batching method (see :mod:`pipeline.training.batching`): AdamW, an optional
LR schedule, class weights, gradient clipping, autocast on CUDA, DDP under torchrun, and
resumable checkpoints. The best weights by ``monitor`` are kept; training stops ``patience``
epochs after the last improvement.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.data import Data

from pipeline.device import autocast_dtype, threads_for_data, to_device
from pipeline.models import CorrectAndSmooth
from pipeline.training.batching import FullBatch, NeighborBatches, SignBatches, resolve_batching
from pipeline.training.checkpoint import TrainState, clear_checkpoint, load_checkpoint, save_checkpoint
from pipeline.training.correct_and_smooth import choose_smoothing
from pipeline.training.distributed import current
from pipeline.training.epoch_metrics import accuracy_macro_f1_tensor
from pipeline.training.options import MONITORS, TrainOptions

EpochCallback = Callable[[int, dict[str, float]], None]
#: The figures of an epoch's history row, after its ``epoch`` number.
EPOCH_FIGURES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1")

__all__ = ["MONITORS", "TrainResult", "predict_logits", "train_node_classifier"]


def _score(row: dict[str, float], monitor: str) -> list[float]:
    """Higher is better. A metric breaks its ties by the lower loss, so among epochs with
    equally many validation nodes right, the most confident one is kept."""
    if monitor == "val_loss":
        return [-round(row["val_loss"], 6)]
    return [row[monitor], -round(row["val_loss"], 6)]


@dataclass
class TrainResult:
    state_dict: dict[str, Tensor]
    best_epoch: int
    epochs_run: int
    monitor: str
    history: list[dict[str, float]] = field(default_factory=list)
    batching: str = "full"
    resumed_from: int = 0
    trained_nodes: int = 0  # training nodes this process scored per epoch (a share under DDP)
    prepare_seconds: float = 0.0  # moving data to the device, and precomputing hops for sign
    smoothing: CorrectAndSmooth | None = None  # chosen after training (options.smoothing); None: none
    smoothing_scores: dict[str, float] = field(default_factory=dict)  # val accuracy per strength tried

    def config_update(self) -> dict:
        """What to write into the model's config so a rebuilt model smooths as this one does."""
        s = self.smoothing
        return {"smoothing_alpha": s.alpha, "smoothing_layers": s.layers, "smoothing_correct": s.correct} if s else {}


def predict_logits(model: nn.Module, data: Data, device: torch.device) -> Tensor:
    """Logits for every node, in eval mode, on CPU.

    A model with Correct & Smooth (``model.smoothing``) gets it applied when ``data`` carries
    training labels (``y`` and ``train_mask``); without them the model's own logits are returned.
    """
    logits = model_logits(model, data, device)
    smoothing = getattr(model, "smoothing", None)
    if smoothing is not None and has_train_labels(data):
        with torch.inference_mode():
            logits = smoothing(logits, data.y, data.train_mask, data.edge_index)
    return logits


def model_logits(model: nn.Module, data: Data, device: torch.device) -> Tensor:
    """The model's own logits for every node (no Correct & Smooth), in eval mode, on CPU."""
    model = model.to(device).eval()
    names = model.modalities
    xs = {m: data[f"x_{m}"].to(device) for m in names}
    masks = {m: data[f"mask_{m}"].to(device) for m in names}
    with torch.inference_mode():
        return model(xs, masks, data.edge_index.to(device)).float().cpu()


def has_train_labels(data: Data) -> bool:
    """Whether ``data`` names labelled training nodes (what Correct & Smooth propagates)."""
    train_mask = data.get("train_mask")
    y = data.get("y")
    return train_mask is not None and y is not None and bool((train_mask.bool() & (y >= 0)).any())


def class_weights(y: Tensor, train_idx: Tensor, num_classes: int, mode: str) -> Tensor:
    """``balanced``: :math:`n / (C \\cdot n_c)` from the training labels (scikit-learn's rule);
    ``none``: ones."""
    if mode == "none":
        return torch.ones(num_classes)
    counts = torch.bincount(y[train_idx], minlength=num_classes).to(torch.float32)
    present = counts > 0
    weights = torch.zeros(num_classes)
    weights[present] = train_idx.numel() / (int(present.sum()) * counts[present])
    return weights


def _scheduler(optimizer: torch.optim.Optimizer, options: TrainOptions):
    if options.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=max(options.patience // 4, 1)
        )
    if options.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.max_epochs)
    return None


def _weighted_loss(logits: Tensor, y: Tensor, weights: Tensor, denominator: float) -> Tensor:
    per_node = F.cross_entropy(logits.float(), y, reduction="none")
    return (weights[y] * per_node).sum() / max(denominator, 1e-12)


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
    y = data.y
    train_idx = data.train_mask.nonzero().flatten()
    val_idx = data.val_mask.nonzero().flatten()
    if train_idx.numel() == 0 or val_idx.numel() == 0:
        raise ValueError("training needs labelled nodes in both the train and the val split")
    backbone = "sign" if getattr(model, "hops", None) is not None else "graph"
    batching = resolve_batching(options.batching, data.num_nodes, options.minibatch_threshold, backbone)
    if batching == "sign" and backbone != "sign":
        raise ValueError("sign batching needs a model built with backbone=sign (precomputed hops)")

    model = model.to(device)
    net: nn.Module = model
    if ctx.world_size > 1:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    weights = class_weights(y, train_idx, num_classes, options.class_weights)
    started = time.perf_counter()
    common = (model, data, device, train_idx, weights, ctx)
    if batching == "full":
        runner = FullBatch(*common)
    elif batching == "sign":
        runner = SignBatches(*common, hops=model.hops, batch_size=options.batch_size, seed=options.seed)
    else:
        layers = getattr(getattr(model, "backbone", None), "num_layers", 2)
        runner = NeighborBatches(*common, num_layers=layers, fanout=options.fanout, batch_size=options.batch_size)
    prepare_seconds = time.perf_counter() - started
    weights_dev = weights.to(device)
    # The epoch's figures are computed where the logits are and read back in one transfer.
    y_val, y_train = to_device(y[val_idx], device), to_device(y[train_idx], device)
    val_weight_sum = float(weights[y[val_idx]].sum())

    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    scheduler = _scheduler(optimizer, options)
    amp = autocast_dtype(options.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)

    checkpoints = Path(checkpoint_dir) if checkpoint_dir is not None and options.checkpoint_every > 0 else None
    fingerprint = f"{fingerprint}|world={ctx.world_size}|batching={batching}"
    resumed = load_checkpoint(checkpoints, fingerprint) if checkpoints is not None else None
    best_state: dict[str, Tensor] | None = None
    best_score: list[float] | None = None
    best_epoch, start, history = 0, 1, []
    if resumed is not None:
        model.load_state_dict(resumed.model)
        optimizer.load_state_dict(resumed.optimizer)
        if scheduler is not None and resumed.scheduler is not None:
            scheduler.load_state_dict(resumed.scheduler)
        if resumed.scaler:
            scaler.load_state_dict(resumed.scaler)
        best_state, best_score, best_epoch = resumed.best_state, resumed.best_score, resumed.best_epoch
        history, start = resumed.history, resumed.epoch + 1
        for row in history:
            if on_epoch is not None:
                on_epoch(int(row["epoch"]), row)

    stopped = bool(history) and history[-1]["epoch"] - best_epoch >= options.patience
    auxiliary_loss = getattr(model, "auxiliary_loss", None)
    for epoch in range(start, options.max_epochs + 1):
        if stopped:
            break
        net.train()
        losses, correct, seen = [], torch.zeros((), dtype=torch.long, device=device), 0
        for batch in runner.train_batches(epoch):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                logits = net(batch.xs, batch.masks, batch.edge_index)
            if batch.rows is not None:
                logits = logits[batch.rows]
            loss = _weighted_loss(logits, batch.y, weights_dev, batch.weight_sum)
            objective = loss  # what is minimised; train_loss stays the main loss, comparable to val_loss
            if auxiliary_loss is not None:  # per-modality heads (train.modality_aux_weight), or None
                auxiliary = auxiliary_loss(batch.rows, batch.y, weights_dev, batch.weight_sum)
                objective = loss if auxiliary is None else loss + auxiliary
            scaler.scale(objective).backward()
            if options.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())
            if batching != "full":
                correct += (logits.detach().argmax(-1) == batch.y).sum()
                seen += batch.y.numel()

        model.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            # Full batch: one eval forward scores every node. Mini-batches: the training nodes'
            # accuracy is the running one over the epoch's batches (a second pass over a
            # million nodes would cost a third of the epoch).
            wanted = [val_idx, train_idx] if batching == "full" else [val_idx]
            logits_of = [out.float() for out in runner.logits(model, wanted)]
        val_logits = logits_of[0]
        val_loss = _weighted_loss(val_logits, y_val, weights_dev, val_weight_sum)
        if batching == "full":
            train_accuracy = accuracy_macro_f1_tensor(y_train, logits_of[1].argmax(-1), num_classes)[0]
        else:
            train_accuracy = correct.double() / max(seen, 1)
        val_scores = accuracy_macro_f1_tensor(y_val, val_logits.argmax(-1), num_classes)
        train_loss = torch.stack(losses).mean() if losses else torch.tensor(float("nan"), device=device)
        figures = torch.stack([train_loss.double(), train_accuracy, val_loss.double(), *val_scores]).tolist()
        row = {"epoch": epoch, **dict(zip(EPOCH_FIGURES, figures, strict=True))}
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row)
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(row["val_loss"])
        elif scheduler is not None:
            scheduler.step()
        score = _score(row, options.monitor)
        if best_score is None or score > best_score:
            best_score, best_epoch = score, epoch
            # Kept on the device (a copy, no host transfer); moved to the CPU once, at the end.
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        stopped = epoch - best_epoch >= options.patience
        if checkpoints is not None and epoch % options.checkpoint_every == 0 and not stopped:
            if ctx.is_main:
                state = TrainState(
                    epoch=epoch,
                    model=model.state_dict(),
                    optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict() if scheduler is not None else None,
                    scaler=scaler.state_dict() if scaler.is_enabled() else None,
                    best_state=best_state,
                    best_score=best_score,
                    best_epoch=best_epoch,
                    history=history,
                )
                save_checkpoint(checkpoints, state, fingerprint)
            if ctx.world_size > 1:
                torch.distributed.barrier()

    if checkpoints is not None and ctx.is_main:
        clear_checkpoint(checkpoints)
    assert best_state is not None  # the first epoch always counts as an improvement
    smoothing, smoothing_scores = None, {}
    if options.smoothing != "off":  # on the best epoch's predictions, in a copy (the caller loads them)
        scorer = copy.deepcopy(model)
        scorer.load_state_dict(best_state)
        smoothing, smoothing_scores = choose_smoothing(model_logits(scorer, data, device), data, options)
    return TrainResult(
        smoothing=smoothing,
        smoothing_scores=smoothing_scores,
        state_dict={k: v.cpu() for k, v in best_state.items()},
        best_epoch=best_epoch,
        epochs_run=len(history),
        monitor=options.monitor,
        history=history,
        batching=batching,
        resumed_from=resumed.epoch if resumed is not None else 0,
        trained_nodes=runner.num_train,
        prepare_seconds=prepare_seconds,
    )
