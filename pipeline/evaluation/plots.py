"""Plots people look at rather than read: the confusion matrix and the training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.atomic import write_with  # noqa: E402


def plot_confusion(matrix: np.ndarray, classes: list[str], title: str, out: str | Path) -> None:
    """Counts with row-normalised shading, so small classes are as readable as large ones."""
    totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    fig, ax = plt.subplots(figsize=(1.1 * len(classes) + 2.5, 1.0 * len(classes) + 2))
    ax.imshow(matrix / totals, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            share = matrix[i, j] / totals[i, 0]
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color="white" if share > 0.6 else "black")
    fig.tight_layout()
    write_with(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def plot_training_curves(history: list[dict[str, float]], best_epoch: int, out: str | Path) -> None:
    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    loss_ax.plot(epochs, [r["train_loss"] for r in history], label="train")
    loss_ax.plot(epochs, [r["val_loss"] for r in history], label="val")
    loss_ax.set_title("cross-entropy loss")
    acc_ax.plot(epochs, [r["train_accuracy"] for r in history], label="train accuracy")
    acc_ax.plot(epochs, [r["val_accuracy"] for r in history], label="val accuracy")
    acc_ax.plot(epochs, [r["val_macro_f1"] for r in history], label="val macro-F1")
    acc_ax.set_title("metrics")
    for ax in (loss_ax, acc_ax):
        ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    write_with(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Per equal-width confidence bin: mean confidence, accuracy and count (scikit-learn's curve)."""
    from sklearn.calibration import calibration_curve

    if len(confidence) == 0:
        return []
    accuracy, mean_conf = calibration_curve(correct.astype(int), confidence, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.histogram(confidence, bins=edges)[0]
    counts = counts[counts > 0]
    return [
        {"confidence": float(c), "accuracy": float(a), "count": int(k)}
        for c, a, k in zip(mean_conf, accuracy, counts, strict=True)
    ]


def plot_reliability(bins: list[dict[str, float]], ece: float, title: str, out: str | Path) -> None:
    """Accuracy against confidence per bin; the diagonal is perfect calibration."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    if bins:
        conf = [b["confidence"] for b in bins]
        ax.bar(conf, [b["accuracy"] for b in bins], width=0.08, alpha=0.7, label="accuracy per bin")
        for b in bins:
            ax.annotate(str(b["count"]), (b["confidence"], b["accuracy"]), ha="center", va="bottom", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE = {ece:.3f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    write_with(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def plot_embedding_map(
    coords: np.ndarray, labels: list[str], splits: list[str], classes: list[str], title: str, out: str | Path
) -> None:
    """The 2-D map coloured by class; test nodes drawn as crosses so held-out structure shows."""
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    labels_arr, splits_arr = np.array(labels), np.array(splits)
    for index, name in enumerate(classes + ["(unlabelled)"]):
        for split, marker in (("test", "x"), ("other", "o")):
            chosen = (labels_arr == name) & ((splits_arr == "test") == (split == "test"))
            if chosen.any():
                ax.scatter(
                    coords[chosen, 0],
                    coords[chosen, 1],
                    s=22,
                    marker=marker,
                    color=cmap(index % cmap.N) if name in classes else "lightgrey",
                    label=name if split == "other" or not (labels_arr == name).all() else None,
                )
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    write_with(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
