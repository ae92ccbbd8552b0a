"""A node table to predict (``predict --nodes`` or a request to the served model), checked against
:mod:`pipeline.limits` before anything is encoded: rows, each cell's size, the whole request."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

import pandas as pd

from pipeline.errors import DatasetError
from pipeline.limits import MAX_CELL_BYTES, MAX_REQUEST_BYTES, MAX_REQUEST_ROWS, mib


class Where(Protocol):
    def error(self, message: str, *, row: int | None = None, column: str | None = None) -> DatasetError: ...


def _size(value: Any) -> int:
    """Bytes of a text or binary cell (UTF-8 counted exactly only where it could matter); 0 otherwise."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass")) if len(value) * 4 > MAX_CELL_BYTES else len(value)
    return 0


def check_request(nodes: pd.DataFrame, where: Where) -> None:
    """Refuse a table over the limits, naming the row and column of the first cell too large."""
    if len(nodes) > MAX_REQUEST_ROWS:
        raise where.error(f"{len(nodes)} rows: at most {MAX_REQUEST_ROWS} new nodes per request; split it")
    total = 0
    for column in nodes.columns:
        if nodes[column].dtype.kind not in "OSUa" and not isinstance(nodes[column].dtype, pd.StringDtype):
            continue  # numbers and booleans are a few bytes each
        sizes = nodes[column].map(_size).to_numpy()
        too_big = sizes > MAX_CELL_BYTES
        if too_big.any():
            row = int(too_big.nonzero()[0][0])
            raise where.error(
                f"a cell of {mib(int(sizes[row]))} is larger than the {mib(MAX_CELL_BYTES)} allowed for one cell "
                "(a text is read as 256 tokens anyway)",
                row=row,
                column=str(column),
            )
        total += int(sizes.sum())
        if total > MAX_REQUEST_BYTES:
            raise where.error(f"more than {mib(MAX_REQUEST_BYTES)} of cells in one request; split it")


def note_cut_texts(items: dict[int, str], max_chars: int | None, row_notes: defaultdict[int, list[str]]) -> None:
    """Say, in each row's notes, that its text was cut before tokenising (pipeline/limits.py)."""
    if not max_chars:
        return
    for row, text in items.items():
        if len(text) > max_chars:
            row_notes[row].append(
                f"text of {len(text)} characters: only the first {max_chars} were tokenised "
                "(the encoder reads fewer tokens than that)"
            )
