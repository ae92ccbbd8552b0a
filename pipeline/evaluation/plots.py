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
