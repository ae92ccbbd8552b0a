"""The split-spread benchmark's summary: per-split means compared split by split, ties counted as ties."""

from __future__ import annotations

import pytest

from benchmarks.auto_rows import AUTO
from benchmarks.split_spread import summary

pytestmark = pytest.mark.unit


def test_summary_compares_auto_with_each_row_split_by_split():
    third = float(f"{1 / 3:.7f}")  # a float32-rounded accuracy against the float64 one: the same nodes
    splits = {
        "42": {
            AUTO: {"test": [0.8, 0.9]},
            "GNN on tabular alone": {"test": [0.9, 0.9]},
            "LR on text": {"test": [1 / 3]},
        },
        "1": {
            AUTO: {"test": [0.9, 0.9]},
            "GNN on tabular alone": {"test": [0.8, 0.8]},
            "LR on text": {"test": [third]},
        },
        "2": {AUTO: {"test": [1 / 3]}, "GNN on tabular alone": {"test": [0.5]}, "LR on text": {"test": [third]}},
    }
    lines = summary(splits).splitlines()
    assert lines[0].startswith("3 splits (seeds 42, 1, 2)")
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[4:]]
    rows = {row[0]: row[1:] for row in cells}
    tabular = rows["GNN on tabular alone"]
    assert tabular[0] == "73.3 ± 20.8"  # per-split means 90, 80, 50
    assert tabular[1] == "-3.9 ± 13.4"  # differences -5, +10, -16.7
    assert tabular[2] == "1 / 0 / 2"
    assert rows["LR on text"][2] == "2 / 1 / 0"  # split 2: a tie, not a win or loss from rounding
    assert rows[AUTO][1:] == ["", ""]
    assert list(rows) == ["GNN on tabular alone", AUTO, "LR on text"]  # by mean over splits, best first
