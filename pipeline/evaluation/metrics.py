"""Classification metrics over the labelled nodes of one split."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


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


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))
