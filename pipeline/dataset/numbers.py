"""Numeric cells: one rule for ``graphfuse validate`` and for ``graphfuse predict``/the served model.

A cell is a finite number or empty (missing). ``inf``, ``nan``, ``1e999``, ``0x10`` and ``1,5``
are refused, whether they come from a csv (text), a parquet file or a JSON request (floats).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

NUMERIC_RULE = "numeric_columns cells must be finite numbers, or empty for a missing value"


def parse_numbers(cells: Iterable[object]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(values, bad, texts)``: float64 values (NaN where empty), the positions of cells that are
    not finite numbers, and each cell's text (for the message). None, NA and a float NaN are empty."""
    series = pd.Series(list(cells) if not isinstance(cells, pd.Series) else cells.to_numpy(), dtype=object)
    text = series.where(~series.isna(), "").astype(str).str.strip().to_numpy(dtype=object)
    values = pd.to_numeric(text, errors="coerce").astype(np.float64) if text.size else np.zeros(0)
    bad = np.flatnonzero((text != "") & ~np.isfinite(values))
    return values, bad, text.tolist()


def not_a_number(texts: list[str], bad: np.ndarray) -> str:
    """The message for the first bad cell, and how many more there are."""
    more = f" ({bad.size - 1} more cells in this column are not numbers)" if bad.size > 1 else ""
    return f"'{texts[int(bad[0])][:80]}' is not a number; {NUMERIC_RULE}{more}"
