"""Train a link predictor: full batch, fresh uniform negatives each epoch, early stopping on val MRR.

Message passing uses ``data.edge_index``, which build_graph made of training edges only; the
loss is binary cross-entropy over the training pairs and as many uniform non-edges (times
``negatives_per_positive``) among training nodes. Each epoch ranks the validation positives
against their fixed candidates; the weights of the best validation MRR are kept (ties: lower
validation loss), and training stops ``patience`` epochs after the last improvement.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from pipeline.device import threads_for_data
from pipeline.models import LinkPredictor
from pipeline.tasks.link.metrics import ranking_metrics
from pipeline.tasks.link.negatives import train_negatives
from pipeline.training import TrainOptions, TrainResult
from pipeline.training.early_stopping import EarlyStopping

EpochCallback = Callable[[int, dict[str, float]], None]
MONITOR = "val_mrr"


def node_inputs(model: LinkPredictor, data: Data, device: torch.device) -> tuple[dict, dict, Tensor]:
    """(features, masks, message-passing edges) of every node, on ``device``."""
    xs = {m: data[f"x_{m}"].to(device) for m in model.modalities}
    masks = {m: data[f"mask_{m}"].to(device) for m in model.modalities}
    return xs, masks, data.edge_index.to(device)


def embed_nodes(model: LinkPredictor, data: Data, device: torch.device) -> Tensor:
    """Node embeddings in eval mode, on CPU."""
    model = model.to(device).eval()
    with torch.inference_mode():
        return model.encode(*node_inputs(model, data, device)).float().cpu()


def candidate_scores(model: LinkPredictor, z: Tensor, pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor]:
    """Logits of the ``(2, Q)`` positives and of their ``(Q, K)`` candidates ``(u, v'_k)``."""
    with torch.inference_mode():
        model = model.eval().to(z.device)
        pos_scores = model.decode(z, pos)
        q, k = neg.shape
        pairs = torch.stack([pos[0].repeat_interleave(k), neg.reshape(-1)])
        return pos_scores, model.decode(z, pairs).reshape(q, k)


def _bce(pos: Tensor, neg: Tensor) -> Tensor:
    logits = torch.cat([pos.reshape(-1), neg.reshape(-1)]).float()
    labels = torch.cat([torch.ones(pos.numel()), torch.zeros(neg.numel())]).to(logits.device)
    return F.binary_cross_entropy_with_logits(logits, labels)


def train_link_predictor(
    model: LinkPredictor,
    data: Data,
    *,
    device: torch.device,
    options: TrainOptions | None = None,
    negatives_per_positive: int = 1,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Fit on ``data.lp_train_pos``; monitor ``lp_val_pos`` against ``lp_val_neg``; best weights on CPU."""
    options = options or TrainOptions()
    with threads_for_data(data, device):
        return _train(model, data, device, options, negatives_per_positive, on_epoch)


def _train(
    model: LinkPredictor,
    data: Data,
    device: torch.device,
    options: TrainOptions,
    negatives_per_positive: int,
    on_epoch: EpochCallback | None,
) -> TrainResult:
    train_pos = data.lp_train_pos
    val_pos, val_neg = data.lp_val_pos, data.lp_val_neg
    if train_pos.size(1) == 0 or val_pos.size(1) == 0:
        raise ValueError("link prediction needs training and validation edges")
    train_nodes = data.train_mask.nonzero().flatten()
    model = model.to(device)
    xs, masks, edge_index = node_inputs(model, data, device)
    train_pos_dev = train_pos.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    stopper = EarlyStopping(options.patience, keep_on_cpu=True)
    history = []
    for epoch in range(1, options.max_epochs + 1):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        negatives = train_negatives(
            data.edge_index,
            train_nodes,
            negatives_per_positive * train_pos.size(1),
            seed=options.seed * 100_003 + epoch,
        ).to(device)
        z = model.encode(xs, masks, edge_index)
        loss = _bce(model.decode(z, train_pos_dev), model.decode(z, negatives))
        loss.backward()
        if options.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
        optimizer.step()

        row = {"epoch": epoch, "train_loss": float(loss.detach())} | _validation(
            model, (xs, masks, edge_index), val_pos.to(device), val_neg.to(device)
        )
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row)
        stopper.update(epoch, (round(row["val_mrr"], 6), -round(row["val_loss"], 6)), model)
        if stopper.should_stop(epoch):
            break
    return TrainResult(
        state_dict=stopper.best_weights(),
        best_epoch=stopper.best_epoch,
        epochs_run=len(history),
        monitor=MONITOR,
        history=history,
        batching="full",
        trained_nodes=int(train_nodes.numel()),
    )


def _validation(model: LinkPredictor, inputs: tuple, val_pos: Tensor, val_neg: Tensor) -> dict[str, float]:
    """The epoch's validation figures: loss, MRR and Hits@10 of the positives among their candidates."""
    model.eval()
    with torch.inference_mode():
        z = model.encode(*inputs)
        pos_scores, neg_scores = candidate_scores(model, z, val_pos, val_neg)
    pos_scores, neg_scores = pos_scores.float().cpu(), neg_scores.float().cpu()
    val = ranking_metrics(pos_scores, neg_scores)
    return {"val_loss": float(_bce(pos_scores, neg_scores)), "val_mrr": val["mrr"], "val_hits_at_10": val["hits_at_10"]}
