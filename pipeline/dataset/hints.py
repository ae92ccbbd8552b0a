"""The hints the loading errors share: the column you probably meant, and how many more rows are bad."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np


def did_you_mean(name: str, available: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``available`` to a misspelt column name, or nothing."""
    close = difflib.get_close_matches(name, [a for a in available if a], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def more_rows(positions: np.ndarray, what: str) -> str:
    """The error names the first bad row; this says how many more there are, if any."""
    return f" ({positions.size - 1} more {what})" if positions.size > 1 else ""
