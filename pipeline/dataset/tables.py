"""Reading a nodes or edges table (csv or parquet) as stripped strings, with located errors.

Cells stay strings here: "NA" is Namibia, not a missing value, and typing is the loader's job.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.dataset.dataset import NODES_CSV, NODES_PARQUET
from pipeline.errors import DatasetError
from pipeline.limits import MAX_CELL_BYTES, mib


def ensure_inside(path: Path, root: Path, blame: Path, what: str) -> None:
    """Refuse a file that (through ``..``, an absolute path or a symlink) leaves ``root``."""
    if not path.resolve().is_relative_to(root):
        raise DatasetError(blame, f"{what} resolves outside the dataset folder {root}")


def find_nodes_file(root: Path) -> Path:
    csv_path, parquet_path = root / NODES_CSV, root / NODES_PARQUET
    has_csv, has_parquet = csv_path.exists(), parquet_path.exists()
    if has_csv and has_parquet:
        raise DatasetError(
            root,
            f"both {NODES_CSV} and {NODES_PARQUET} exist; keep exactly one nodes file "
            "so it is clear which one is the data",
        )
    if not (has_csv or has_parquet):
        raise DatasetError(csv_path, f"file not found: a dataset folder needs {NODES_CSV} or {NODES_PARQUET}")
    path = csv_path if has_csv else parquet_path
    ensure_inside(path, root, path, path.name)
    if not path.is_file():
        raise DatasetError(path, "not a regular file")
    return path


def read_table(path: Path, *, sep: str = ",", na_values: list[str] | None = None) -> pd.DataFrame:
    """Read a csv (columns split on ``sep``) or parquet table as stripped strings, ``""`` for empty
    cells and for cells equal to one of ``na_values`` (``N/A``...), the format's one spelling of missing.

    Row ``i`` of the result is spreadsheet row ``i + 2``. Trailing blank lines are dropped;
    blank lines in the middle are kept as empty rows so row numbers stay true.
    """
    if path.suffix == ".parquet":
        header, body = _read_parquet_strings(path)
    else:
        header, body = _read_csv_strings(path, sep)
        if len(header) == 1:  # one column: most often the wrong separator, say which one
            hint = separator_hint(path, sep)
            if hint:
                raise DatasetError(path, f"the header is one column when split on {sep!r}; {hint}", row=1)
    names = [str(h).strip() for h in header]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name in seen:
            raise DatasetError(
                path,
                f"column '{name}' appears twice in the header (columns {seen[name] + 1} and {i + 1})",
                row=1,
                column=name,
            )
        seen[name] = i
    body = body.fillna("").astype(str)
    body.columns = names
    for col in range(body.shape[1]):
        body.isetitem(col, body.iloc[:, col].str.strip())
    if na_values:
        body = body.mask(body.isin([value.strip() for value in na_values]), "")
    nonblank = (body != "").any(axis=1).to_numpy()
    last = int(np.flatnonzero(nonblank)[-1]) + 1 if nonblank.any() else 0
    return body.iloc[:last].reset_index(drop=True)


_ROW_PATTERNS = ((re.compile(r"\bline (\d+)"), 0), (re.compile(r"\brow (\d+)"), 1))


#: No line of a csv file may be longer than the largest cell (pipeline/limits.py).
MAX_LINE_BYTES = MAX_CELL_BYTES
_SCAN_CHUNK = 1024 * 1024


def check_line_lengths(path: Path, limit: int = MAX_LINE_BYTES) -> None:
    """Stream ``path`` (bounded memory, a few C-speed calls a MiB) and refuse it at the first
    line longer than ``limit`` bytes. Lines inside one chunk are shorter than the chunk, and the
    chunk is smaller than ``limit``, so only the runs across chunk borders need counting."""
    assert _SCAN_CHUNK < limit
    line, run = 1, 0  # current line number, bytes of it seen so far
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_SCAN_CHUNK):
                first = chunk.find(b"\n")
                if first == -1:
                    run += len(chunk)
                elif run + first <= limit:
                    line += chunk.count(b"\n")
                    run = len(chunk) - chunk.rfind(b"\n") - 1
                    continue
                else:
                    run += first
                if run > limit:
                    raise DatasetError(
                        path,
                        f"line {line} is longer than {mib(limit)}: no cell may be that large "
                        "(a node's text is read as 256 tokens anyway); is this the right file?",
                        row=line,
                    )
    except OSError as exc:
        raise DatasetError(path, f"cannot read file: {exc}") from exc


#: Separators a CSV file may plausibly use; csv.Sniffer chooses among these only.
SEPARATORS = ",;\t|"


def sniff_separator(path: Path) -> str | None:
    """The separator csv.Sniffer finds in the first lines of ``path``, or None if it finds none."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            sample = handle.read(64 * 1024)
    except OSError:
        return None
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return None


def separator_hint(path: Path, sep: str) -> str:
    """What to write when ``path`` looks split by another separator than ``sep``; "" when it does not."""
    found = sniff_separator(path)
    if found is None or found == sep:
        return ""
    yaml_value = "\\t" if found == "\t" else found  # YAML's "\t" is a tab
    return f'the file looks separated by {found!r}, not {sep!r}: add  sep: "{yaml_value}"  to dataset.yaml'


def _read_csv_strings(path: Path, sep: str = ",") -> tuple[list[str], pd.DataFrame]:
    check_line_lengths(path)
    try:
        # header=None: read the header ourselves so duplicate names are not silently
        # renamed ("a.1"); keep_default_na=False: "NA" (Namibia) is a value, not missing.
        raw = pd.read_csv(
            path,
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(path, "file is empty: expected a header row") from exc
    except UnicodeDecodeError as exc:
        row, byte = _first_bad_utf8(path)
        raise DatasetError(
            path, f"not UTF-8 text: {exc.reason} at byte {byte}; save the file as UTF-8", row=row
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        message = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        row = None
        for pattern, offset in _ROW_PATTERNS:
            match = pattern.search(message)
            if match:
                row = int(match.group(1)) + offset
                break
        hint = separator_hint(path, sep)
        raise DatasetError(
            path, f"not a readable CSV file: {message}" + (f"; {hint}" if hint else ""), row=row
        ) from exc
    except OSError as exc:
        raise DatasetError(path, f"cannot read file: {exc}") from exc
    if raw.empty:
        raise DatasetError(path, "file is empty: expected a header row")
    header = raw.iloc[0].fillna("").tolist()
    return header, raw.iloc[1:].reset_index(drop=True)


def _first_bad_utf8(path: Path) -> tuple[int | None, int | None]:
    """Line and byte offset of the first byte that is not UTF-8 (pandas reports chunk offsets)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, exc.start
    return None, None


def _read_parquet_strings(path: Path) -> tuple[list[str], pd.DataFrame]:
    try:
        frame = pq.read_table(path).to_pandas().reset_index(drop=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(path, f"not a readable parquet file: {exc}") from exc
    header = [str(c) for c in frame.columns]
    columns = {i: _as_cell_strings(frame.iloc[:, i]) for i in range(frame.shape[1])}
    body = pd.DataFrame(columns, index=frame.index)
    return header, body


def _as_cell_strings(col: pd.Series) -> pd.Series:
    """Render a typed parquet column the way the same data reads from csv."""
    if pd.api.types.is_bool_dtype(col):
        return col.map(lambda v: "" if _missing(v) else ("true" if v else "false")).astype(object)
    if pd.api.types.is_float_dtype(col):
        # repr of a float round-trips exactly through float().
        return col.map(lambda v: "" if _missing(v) else repr(float(v))).astype(object)
    return col.astype(object).map(lambda v: "" if _missing(v) else str(v))


def _missing(value: object) -> bool:
    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return isinstance(result, (bool, np.bool_)) and bool(result)
