"""Guess the role of each column of a raw nodes table, with the reason, for ``graphfuse init``.

A guess a person can check beats a silent one: every role comes with the evidence it rests on
and the count of missing cells, and any role named by the caller (``--label COL``) wins over
the guess. Cells arrive as the loader reads them (stripped strings, ``""`` for empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from pipeline.errors import DatasetError

ROLES = ("id", "label", "text", "image", "numeric", "categorical", "ignored")
ID_NAMES = ("id", "node_id", "nodeid", "node", "key", "uid")
LABEL_NAMES = ("label", "labels", "class", "class_label", "target", "y", "category")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
BOOLEAN_CELLS = frozenset({"true", "false", "yes", "no", "t", "f", "y", "n"})
#: Cells that mean "missing" when a column is otherwise all numbers ("NA" is not one: it is Namibia).
NA_TOKENS = frozenset({"N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "none", "-", "?", "#N/A", "missing"})
SOURCE_NAMES = ("source", "src", "from", "u", "head", "node1", "source_id")
TARGET_NAMES = ("target", "dst", "to", "v", "tail", "node2", "target_id")


@dataclass(frozen=True)
class ColumnRole:
    column: str
    role: str
    reason: str
    missing: int


@dataclass(frozen=True)
class RoleOverrides:
    """Roles the caller names (CLI flags); each wins over any guess for its columns."""

    id: str | None = None
    label: str | None = None
    text: list[str] = field(default_factory=list)
    image: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)

    def given(self) -> dict[str, str]:
        """column -> role, for every column a flag names."""
        named = {c: "ignored" for c in self.ignore}
        for role in ("text", "image", "numeric", "categorical"):
            named |= {c: role for c in getattr(self, role)}
        named |= {c: r for c, r in ((self.id, "id"), (self.label, "label")) if c}
        return named


def na_tokens_in(nodes: pd.DataFrame) -> list[str]:
    """Missing-value spellings (``N/A``...) found in columns that are otherwise all numbers."""
    found: set[str] = set()
    for column in nodes.columns:
        cells = nodes[column][nodes[column] != ""]
        tokens = cells[cells.isin(NA_TOKENS)]
        rest = cells[~cells.isin(NA_TOKENS)]
        if len(tokens) and len(rest) and _all_numbers(rest):
            found |= set(tokens)
    return sorted(found)


def infer_roles(
    nodes: pd.DataFrame,
    *,
    images: Path | None = None,
    overrides: RoleOverrides | None = None,
    na_values: list[str] | None = None,
    needs_label: bool = True,
    where: Path | None = None,
) -> list[ColumnRole]:
    """One :class:`ColumnRole` per column of ``nodes``, in the file's order."""
    overrides = overrides or RoleOverrides()
    where = where or Path("nodes")
    given = overrides.given()
    unknown = [c for c in given if c not in nodes.columns]
    if unknown:
        raise DatasetError(
            where,
            f"column(s) {unknown} named by a flag are not in the file; its columns are: " + ", ".join(nodes.columns),
        )
    cells = nodes.mask(nodes.isin(na_values or []), "")
    missing = {c: int((cells[c] == "").sum()) for c in cells.columns}
    roles: dict[str, tuple[str, str]] = {c: (r, f"given by --{_flag(r)}") for c, r in given.items()}
    if "id" not in {r for r, _ in roles.values()}:
        column, reason = _guess_id(cells, set(roles), where)
        roles[column] = ("id", reason)
    if "label" not in {r for r, _ in roles.values()}:
        guess = _guess_label(cells, set(roles))
        if guess is None and needs_label:
            raise DatasetError(
                where,
                "no column looks like the label (named one of "
                + ", ".join(LABEL_NAMES)
                + "); name it with --label COL",
            )
        if guess is not None:
            roles[guess[0]] = ("label", guess[1])
    for column in cells.columns:
        if column not in roles:
            roles[column] = _guess_feature(cells[column], images)
    return [ColumnRole(c, roles[c][0], roles[c][1], missing[c]) for c in nodes.columns]


def _flag(role: str) -> str:
    return {"ignored": "ignore"}.get(role, role)


def _guess_id(cells: pd.DataFrame, taken: set[str], where: Path) -> tuple[str, str]:
    candidates = [c for c in cells.columns if c not in taken and _unique_and_full(cells[c])]
    for column in candidates:
        if column.lower() in ID_NAMES or column.lower().endswith("_id"):
            return column, f"named like an id; {len(cells)} unique, non-empty values"
    for column in candidates:
        if not _text_like(cells[column]):
            return column, "the first column whose values are all unique and non-empty"
    raise DatasetError(
        where, "no column has a unique, non-empty value on every row to be the node id; name it with --id"
    )


def _guess_label(cells: pd.DataFrame, taken: set[str]) -> tuple[str, str] | None:
    for column in cells.columns:
        if column not in taken and column.lower() in LABEL_NAMES:
            values = cells[column][cells[column] != ""]
            return column, f"named like a label; {values.nunique()} classes"
    return None


def _guess_feature(column: pd.Series, images: Path | None) -> tuple[str, str]:
    values = column[column != ""]
    n = len(values)
    if n == 0:
        return "ignored", "every cell is empty"
    suffixes = values.map(lambda v: PurePosixPath(v).suffix.lower())
    image_like = int(suffixes.isin(IMAGE_SUFFIXES).sum())
    if image_like >= 0.8 * n:
        found = "" if images is None else f"; {sum((images / v).is_file() for v in values)} found in {images.name}/"
        return "image", f"{image_like} of {n} cells are image file names{found}"
    if _all_numbers(values):
        return "numeric", f"all {n} filled cells are numbers"
    distinct = values.nunique()
    if set(values.str.lower()) <= BOOLEAN_CELLS:
        return "categorical", f"yes/no values ({distinct} distinct)"
    if _text_like(values):
        return "text", f"free text: {values.str.split().str.len().mean():.1f} words a cell on average"
    if distinct <= max(2, n // 2):
        return "categorical", f"{distinct} distinct values over {n} cells"
    return "text", f"short strings, mostly distinct ({distinct} of {n})"


def _all_numbers(values: pd.Series) -> bool:
    parsed = pd.to_numeric(values.to_numpy(dtype=object), errors="coerce").astype(np.float64)
    return bool(len(values)) and bool(np.isfinite(parsed).all())


def _unique_and_full(column: pd.Series) -> bool:
    return bool((column != "").all()) and column.is_unique


def _text_like(values: pd.Series) -> bool:
    values = values[values != ""]
    return bool(len(values)) and float(values.str.split().str.len().mean()) >= 3


def edge_endpoints(edges: pd.DataFrame, where: Path) -> tuple[str, str, str]:
    """(source column, target column, reason) of an edges table: by name, else its first two columns."""
    lower = {c.lower(): c for c in edges.columns}
    source = next((lower[n] for n in SOURCE_NAMES if n in lower), None)
    target = next((lower[n] for n in TARGET_NAMES if n in lower), None)
    if source and target and source != target:
        return source, target, "named like source and target"
    if len(edges.columns) < 2:
        raise DatasetError(where, "an edges file needs two columns (source and target node ids)")
    return edges.columns[0], edges.columns[1], "its first two columns"
