"""Evaluation maths against values worked out by hand, and the spread over seeds."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import EvaluateParams
from pipeline.evaluation.metrics import evaluate_probs
from pipeline.evaluation.spread import seeds_for, summarise

pytestmark = pytest.mark.unit

# 7 nodes, 3 classes; predictions [0, 1, 1, 1, 2, 0, 2], so 4 of 7 right.
Y = np.array([0, 0, 1, 1, 2, 2, 1])
P = np.array(
    [
        [0.72, 0.18, 0.10],
        [0.35, 0.55, 0.10],
        [0.05, 0.85, 0.10],
        [0.15, 0.65, 0.20],
        [0.08, 0.30, 0.62],
        [0.48, 0.20, 0.32],
        [0.12, 0.10, 0.78],
    ]
)


def test_metrics_match_hand_computed_values() -> None:
    m = evaluate_probs(Y, P, ["a", "b", "c"])
    assert m["n"] == 7
    assert m["accuracy"] == pytest.approx(4 / 7)
    # class a: TP 1, FP 1, FN 1; class b: TP 2, FP 1, FN 1; class c: TP 1, FP 1, FN 1
    assert m["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert m["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.5) / 3)
    assert m["weighted_f1"] == pytest.approx((2 * 0.5 + 3 * 2 / 3 + 2 * 0.5) / 7)
    # one-vs-rest AUC by counting ranked pairs: a 9/10, b 8/12, c 8/10
    assert m["roc_auc_ovr"] == pytest.approx((0.9 + 8 / 12 + 0.8) / 3)
    # ECE, 10 equal bins of top-class confidence:
    # (0.4,0.5]: .48 wrong; (0.5,0.6]: .55 wrong; (0.6,0.7]: .62,.65 right; (0.7,0.8]: .72 right, .78 wrong;
    # (0.8,0.9]: .85 right  ->  (0.48 + 0.55 + 2*0.365 + 2*0.25 + 0.15) / 7
    assert m["ece"] == pytest.approx((0.48 + 0.55 + 0.73 + 0.5 + 0.15) / 7, abs=1e-5)


def test_auc_skips_classes_without_positives_and_empty_split_is_nan() -> None:
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.7, 0.2, 0.1]])
    m = evaluate_probs(y, probs, ["a", "b", "c"])
    # class c never occurs: AUC over a (pos .9,.6 vs neg .2,.7 -> 3/4) and b (pos .7,.2 vs .05,.3 -> 3/4)
    assert m["roc_auc_ovr"] == pytest.approx(0.75)
    empty = evaluate_probs(np.array([], dtype=int), np.zeros((0, 3)), ["a", "b", "c"])
    assert empty["n"] == 0 and np.isnan(empty["accuracy"])


def test_spread_is_mean_and_sample_sd_never_the_best_seed() -> None:
    per_seed = [
        {
            "seed": s,
            "val": dict.fromkeys(("accuracy", "macro_f1", "weighted_f1", "roc_auc_ovr", "ece"), v),
            "test": dict.fromkeys(("accuracy", "macro_f1", "weighted_f1", "roc_auc_ovr", "ece"), v),
        }
        for s, v in enumerate([0.8, 0.9, 1.0])
    ]
    summary = summarise(per_seed)
    assert summary["test"]["accuracy"]["mean"] == pytest.approx(0.9)
    assert summary["test"]["accuracy"]["sd"] == pytest.approx(0.1)  # sample sd (ddof=1)
    assert summarise(per_seed[:1])["val"]["macro_f1"] == {"mean": 0.8, "sd": None}


def test_fewer_seeds_above_the_node_limit() -> None:
    settings = EvaluateParams(seeds=5, seeds_node_limit=100, seeds_large=2)
    assert seeds_for(100, settings, 3) == ([3, 4, 5, 6, 7], None)
    seeds, note = seeds_for(101, settings, 3)
    assert seeds == [3, 4] and "seeds_node_limit" in note
