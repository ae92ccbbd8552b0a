"""Errors a user can act on: each names the file, and where known the row and column."""

from __future__ import annotations

from pathlib import Path


class GraphFuseError(Exception):
    """Base class for errors caused by user input rather than by a bug."""


class DatasetError(GraphFuseError):
    """Bad input in a dataset folder.

    ``row`` is the 1-based line number in the file as a spreadsheet shows it (the header is
    line 1, so the first data row is line 2), which is what a user can jump to.
    """

    def __init__(
        self,
        file: str | Path,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file)
        self.row = row
        self.column = column
        self.message = message
        where = self.file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")
