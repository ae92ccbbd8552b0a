"""The link-prediction evaluation as files: JSON-ready tables, plots, the HTML report.

The evaluate stage declares the same outputs for every task (dvc.yaml), so each has a
link-prediction meaning here: the "confusion" is link / no link at probability 0.5 over the test
candidates, the reliability diagram is that probability's calibration, the embedding map is the
t-SNE of the node embeddings the decoder scores.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from pipeline.evaluation.plots import plot_confusion, plot_reliability, reliability_bins
from pipeline.evaluation.report import _fmt, _image, _table, html_page
from pipeline.tasks.link.evaluate import LinkEvaluation
from pipeline.tasks.link.metrics import METRIC_NAMES

LINK_CLASSES = ["no link", "link"]


def confusion_rows(result: LinkEvaluation) -> tuple[list[dict], np.ndarray]:
    """(rows for the DVC confusion plot, the 2 x 2 matrix) at probability 0.5 on the test candidates."""
    pos, neg = result.test_scores
    actual = np.concatenate([np.ones(pos.size, dtype=int), np.zeros(neg.size, dtype=int)])
    predicted = (np.concatenate([pos, neg]) >= 0.5).astype(int)
    matrix = np.zeros((2, 2), dtype=int)
    np.add.at(matrix, (actual, predicted), 1)
    rows = [{"actual": LINK_CLASSES[a], "predicted": LINK_CLASSES[p]} for a, p in zip(actual, predicted, strict=True)]
    return rows, matrix


def calibration(result: LinkEvaluation) -> tuple[list[dict[str, float]], float]:
    """Reliability bins of "link" vs "no link" confidence, and the expected calibration error."""
    pos, neg = result.test_scores
    probs = np.concatenate([pos, neg])
    actual = np.concatenate([np.ones(pos.size, dtype=bool), np.zeros(neg.size, dtype=bool)])
    confidence = np.maximum(probs, 1 - probs)
    correct = (probs >= 0.5) == actual
    bins = reliability_bins(confidence, correct)
    total = max(sum(b["count"] for b in bins), 1)
    ece = sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins) / total
    return bins, float(ece)


def plot_link_outputs(result: LinkEvaluation, title: str, confusion_png: Path, reliability_png: Path) -> list[dict]:
    """Write the two plots; return the reliability rows (for their CSV)."""
    _, matrix = confusion_rows(result)
    plot_confusion(matrix, LINK_CLASSES, f"{title} (p >= 0.5)", confusion_png)
    bins, ece = calibration(result)
    plot_reliability(bins, ece, title, reliability_png)
    return bins


def link_report(*, title: str, facts: dict[str, str], result: LinkEvaluation, plots: list[Path]) -> str:
    """The run's HTML report: metrics with spread, the no-graph baseline, ablation, plots."""
    parts = [f"<h1>{html.escape(title)}</h1>", _table(["", ""], [[k, v] for k, v in facts.items()])]
    seeds = ", ".join(str(s) for s in result.spread["seeds"])
    parts.append(
        "<h2>Link prediction</h2><p>Each held-out positive ranked against its fixed candidates; "
        f"registered model, and mean ± sd over training seeds {seeds}; the no-graph scorer is the same "
        "recipe with an MLP encoder, same seeds and candidates.</p>"
    )
    rows = []
    for split in ("val", "test"):
        for name in METRIC_NAMES:
            ours = result.spread["summary"][split][name]
            base = result.baseline["summary"][split][name]
            rows.append(
                [
                    split,
                    name,
                    _fmt(result.metrics[split][name]),
                    f"{_fmt(ours['mean'])} ± {_fmt(ours['sd'])}",
                    f"{_fmt(base['mean'])} ± {_fmt(base['sd'])}",
                ]
            )
    header = ["split", "metric", "registered model", "mean ± sd over seeds", "no-graph MLP scorer"]
    parts.append(_table(header, rows))
    ablation = [
        [name, f"{_fmt(r['mrr'])} ± {_fmt(r.get('mrr_sd'))}", _fmt(r["hits_at_10"]), _fmt(r["delta_mrr"])]
        for name, r in result.ablation["inference"].items()
    ]
    parts.append("<h2>Ablation at inference (test)</h2>" + _table(["condition", "MRR", "Hits@10", "Δ MRR"], ablation))
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes) + "</ul>")
    parts.append("<h2>Plots</h2>" + "".join(_image(p) for p in plots if p.is_file()))
    return html_page(title, parts)


def plot_link_curves(history: list[dict[str, float]], best_epoch: int, out: Path) -> None:
    """Training and validation loss, and validation MRR / Hits@10, by epoch."""
    import matplotlib.pyplot as plt

    from pipeline.atomic import write_with

    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, rank_ax) = plt.subplots(1, 2, figsize=(9, 3.6))
    loss_ax.plot(epochs, [r["train_loss"] for r in history], label="train")
    loss_ax.plot(epochs, [r["val_loss"] for r in history], label="val (fixed candidates)")
    loss_ax.set_title("BCE loss")
    rank_ax.plot(epochs, [r["val_mrr"] for r in history], label="val MRR")
    rank_ax.plot(epochs, [r["val_hits_at_10"] for r in history], label="val Hits@10")
    rank_ax.set_title("validation ranking")
    for ax in (loss_ax, rank_ax):
        ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_with(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
