"""Classification metrics over the labelled nodes of one split, from scikit-learn and torchmetrics."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score
from torchmetrics.functional.classification import multiclass_calibration_error

ECE_BINS = 10
#: Headline metrics, each a float per split (what spread, ablation and the registry compare).
HEADLINE = ("accuracy", "macro_f1", "weighted_f1", "roc_auc_ovr", "ece")


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1; macro-F1 weighs every class alike, which matters for small regions.

    All classes count in the macro average, including ones absent from this split (their F1 is 0
    when predicted, and they are skipped by scikit-learn's zero_division only when never seen).
    """
    if len(y_true) == 0:
        return {"accuracy": float("nan"), "macro_f1": float("nan"), "n": 0}
    labels = np.arange(num_classes)
    present = np.union1d(np.unique(y_true), np.unique(y_pred))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels[np.isin(labels, present)], average="macro", zero_division=0)
        ),
        "n": int(len(y_true)),
    }


def roc_auc_ovr(y_true: np.ndarray, probs: np.ndarray) -> float:
    """One-vs-rest ROC-AUC, macro-averaged over the classes that have both positives and negatives
    in this split (AUC is undefined for the others); NaN when no class qualifies."""
    usable = [c for c in range(probs.shape[1]) if 0 < int((y_true == c).sum()) < len(y_true)]
    if not usable:
        return float("nan")
    return float(np.mean([roc_auc_score(y_true == c, probs[:, c]) for c in usable]))


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE (L1, equal-width confidence bins) of the top-class probability, by torchmetrics."""
    value = multiclass_calibration_error(
        torch.as_tensor(probs, dtype=torch.float32),
        torch.as_tensor(y_true, dtype=torch.long),
        num_classes=probs.shape[1],
        n_bins=n_bins,
        norm="l1",
    )
    return float(value)


def evaluate_probs(y_true: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    """Every metric of one split: headline floats, ``n`` and ``per_class`` precision/recall/F1/support.

    ``probs`` is ``[n, num_classes]`` (softmax output). Macro and weighted F1 run over every
    class that occurs in the split's truth or predictions (as :func:`classification_metrics`).
    """
    num_classes = len(classes)
    if len(y_true) == 0:
        return {name: float("nan") for name in HEADLINE} | {"n": 0, "per_class": {}}
    y_pred = probs.argmax(axis=1)
    base = classification_metrics(y_true, y_pred, num_classes)
    labels = np.arange(num_classes)
    present = labels[np.isin(labels, np.union1d(np.unique(y_true), np.unique(y_pred)))]
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": base["accuracy"],
        "macro_f1": base["macro_f1"],
        "weighted_f1": float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        "roc_auc_ovr": roc_auc_ovr(y_true, probs),
        "ece": expected_calibration_error(y_true, probs),
        "n": int(len(y_true)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
    }


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))
