"""Ranking metrics of link prediction: MRR, Hits@K (torchmetrics) and ROC-AUC (scikit-learn).

Hits@K is named ``hits_at_K``: MLflow metric names take no ``@``.

Each held-out positive is a query ranked against its own fixed negatives (see
:mod:`pipeline.tasks.link.negatives`): its reciprocal rank is :math:`1 / (1 + \\#\\{k: s^-_k \\ge s^+\\})`
up to torchmetrics' tie order, Hits@K says whether it is among the top K of its 1 + K' candidates.
ROC-AUC pools every positive and every negative of the split.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import Tensor
from torchmetrics.retrieval import RetrievalHitRate, RetrievalMRR

HITS_AT = (1, 3, 10)
METRIC_NAMES = ("mrr", *(f"hits_at_{k}" for k in HITS_AT), "roc_auc")


def ranking_metrics(pos_scores: Tensor, neg_scores: Tensor) -> dict[str, float]:
    """``pos_scores`` :math:`(Q,)` and ``neg_scores`` :math:`(Q, K)` -> MRR, Hits@1/3/10, ROC-AUC, n."""
    q, k = neg_scores.shape
    if q == 0:
        return dict.fromkeys(METRIC_NAMES, float("nan")) | {"n": 0}
    preds = torch.cat([pos_scores.reshape(q, 1), neg_scores], dim=1).float()
    # torchmetrics' MRR drops a relevant item whose score is <= 0 (reciprocal rank 0) and logits are
    # often negative: shift every score above 0, which keeps each query's order and its ties.
    preds = preds - preds.min() + 1.0
    target = torch.zeros_like(preds, dtype=torch.bool)
    target[:, 0] = True
    indexes = torch.arange(q).unsqueeze(1).expand(q, k + 1)
    preds, target, indexes = preds.reshape(-1), target.reshape(-1), indexes.reshape(-1)
    out: dict[str, float] = {"mrr": float(RetrievalMRR()(preds, target, indexes=indexes))}
    for top in HITS_AT:
        out[f"hits_at_{top}"] = float(RetrievalHitRate(top_k=top)(preds, target, indexes=indexes))
    labels = np.concatenate([np.ones(q), np.zeros(q * k)])
    scores = np.concatenate([pos_scores.float().numpy(), neg_scores.float().reshape(-1).numpy()])
    out["roc_auc"] = float(roc_auc_score(labels, scores)) if k else float("nan")
    out["n"] = q
    return out
