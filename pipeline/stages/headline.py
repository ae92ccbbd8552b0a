"""The evaluation's headline (``metrics/metrics.json``), apart from its detail
(``metrics/metrics_detail.json``).

DVC prints every key of every metrics file as one column of one table, so the one DVC metric holds
only what a reader compares first: test mean and sd over the training seeds of the task's two
headline metrics, validation's mean of the metric the registry compares, and the number of seeds,
under short names (``dvc metrics show`` fits in about 100 columns). Every other figure (each split,
the registered model's own numbers, per class, the no-graph scorer) is in the detail file, which
``graphfuse metrics`` and ``graphfuse compare`` read. Plain dicts only: no torch, no MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.stages.outputs import DETAIL_FILE, METRICS_FILE

#: Column names in the headline: ``dvc metrics show`` prints ``test.f1_sd``, not
#: ``spread.test.macro_f1.sd`` (``f1`` is macro-F1; ``hits10`` Hits@10).
SHORT = {"accuracy": "acc", "macro_f1": "f1", "mrr": "mrr", "hits_at_10": "hits10"}
TEST_HEADLINE = {"node_classification": ("accuracy", "macro_f1"), "link_prediction": ("mrr", "hits_at_10")}


def headline(detail: dict[str, Any], val_metric: str) -> dict[str, Any]:
    """The few numbers of ``detail`` (the evaluate stage's figures) that ``dvc metrics show`` prints."""
    spread = detail["spread"]
    task = detail.get("task", "node_classification")
    test: dict[str, Any] = {}
    for name in TEST_HEADLINE[task]:
        stat = spread["test"].get(name, {})
        test |= {SHORT[name]: stat.get("mean"), f"{SHORT[name]}_sd": stat.get("sd")}
    val = {SHORT[val_metric]: spread["val"].get(val_metric, {}).get("mean")}
    return {"seeds": spread["n_seeds"], "test": test, "val": val}


def figures(detail: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """Every figure of an evaluation from its two files' contents: the detail, or else the
    ``metrics.json`` of a run from before the split (it held them all, under ``spread``)."""
    if detail:
        return detail
    return metrics if "spread" in metrics else {}


def read_figures(metrics_dir: Path) -> dict[str, Any]:
    """Every figure of the last evaluation in ``metrics_dir`` ({} when there is none)."""
    loaded = {}
    for name in (DETAIL_FILE, METRICS_FILE):
        path = metrics_dir / name
        loaded[name] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return figures(loaded[DETAIL_FILE], loaded[METRICS_FILE])
