"""Load a format-v1 dataset folder into typed frames, with errors a user can act on.

Every check names the file and, where known, the row (as a spreadsheet shows it: header is
row 1, first data row is row 2) and the column, because the person fixing the data has the
file open in a spreadsheet, not a debugger. Nothing outside the dataset folder is ever read.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.dataset.spec import SPEC_FILE, DatasetSpec, load_spec
from pipeline.errors import DatasetError

NODES_CSV = "nodes.csv"
NODES_PARQUET = "nodes.parquet"
IMAGES_DIR = "images"
STRING_DTYPE = "string"

#: Spreadsheet row of the first data row (the header is row 1).
FIRST_DATA_ROW = 2


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A validated dataset: nodes in file order, edges, and (once assigned) the split.

    Equality compares the frames by value and dtype (a dataclass' generated ``==`` cannot,
    since ``DataFrame == DataFrame`` is element-wise).
    """

    root: Path
    spec: DatasetSpec
    nodes: pd.DataFrame
    edges: pd.DataFrame
    split: pd.Series | None = None
    notes: tuple[str, ...] = ()
    #: Which nodes file the data came from (``nodes.csv`` or ``nodes.parquet``), for messages.
    nodes_file_name: str = field(default=NODES_CSV)

    # -- convenience -------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return self.nodes[self.spec.id_column].tolist()

    @property
    def labels(self) -> pd.Series:
        """Labels aligned with ``nodes``; ``pd.NA`` for unlabelled nodes."""
        return self.nodes[self.spec.label_column]

    @property
    def labelled(self) -> pd.Series:
        """Boolean mask of nodes that carry a label."""
        return self.labels.notna()

    @property
    def classes(self) -> list[str]:
        """Distinct labels, sorted, so class indices are stable across runs."""
        return sorted(str(v) for v in self.labels.dropna().unique())

    @property
    def nodes_file(self) -> Path:
        return self.root / self.nodes_file_name

    @property
    def edges_file(self) -> Path:
        return self.root / self.spec.edges.file

    @property
    def images_dir(self) -> Path:
        return self.root / IMAGES_DIR

    def image_path(self, cell: str) -> Path:
        """Absolute path of an image cell (cells are relative to ``images/``)."""
        return self.images_dir / cell

    @staticmethod
    def file_row(position: int) -> int:
        """Spreadsheet row of the node at ``position`` (0-based) in the nodes file."""
        return position + FIRST_DATA_ROW

    # -- dunder ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        if (self.split is None) != (other.split is None):
            return False
        return (
            self.root == other.root
            and self.spec == other.spec
            and self.notes == other.notes
            and self.nodes_file_name == other.nodes_file_name
            and _frames_equal(self.nodes, other.nodes)
            and _frames_equal(self.edges, other.edges)
            and (self.split is None or _series_equal(self.split, other.split))
        )

    __hash__ = None  # type: ignore[assignment]  # holds mutable frames

    def __repr__(self) -> str:
        split = "none" if self.split is None else "set"
        return (
            f"Dataset(name={self.spec.name!r}, root={str(self.root)!r}, "
            f"nodes={len(self.nodes)}, edges={len(self.edges)}, "
            f"classes={len(self.classes)}, split={split})"
        )


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return (
        list(a.columns) == list(b.columns)
        and list(a.dtypes) == list(b.dtypes)
        and a.index.equals(b.index)
        and a.equals(b)
    )


def _series_equal(a: pd.Series, b: pd.Series | None) -> bool:
    return b is not None and a.dtype == b.dtype and a.index.equals(b.index) and a.equals(b)


# ------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------


def load_dataset(root: str | Path, *, require_labels: bool = True) -> Dataset:
    """Read and validate ``root``; raise :class:`DatasetError` on the first problem found.

    ``require_labels=False`` is for prediction on new data: the label column may then be
    absent or empty.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetError(root, "dataset folder not found")
    spec_path = root / SPEC_FILE
    if spec_path.exists():
        _ensure_inside(spec_path, root, spec_path, "dataset.yaml")
    spec = load_spec(root)
    _check_spec_columns(spec, spec_path)

    nodes_path = _find_nodes_file(root)
    raw = _read_table(nodes_path)
    _check_columns_present(spec, raw, nodes_path, require_labels=require_labels)
    nodes = _typed_nodes(spec, raw, nodes_path)
    notes: list[str] = []

    ignored = [c for c in raw.columns if c and c not in set(spec.declared_columns())]
    if ignored:
        notes.append(
            f"{nodes_path.name} has columns that dataset.yaml does not name, ignored: "
            + ", ".join(ignored)
        )
    _check_ids(spec, nodes, nodes_path)
    _check_labels(spec, nodes, nodes_path, require_labels=require_labels, notes=notes)
    _check_images(spec, nodes, root, nodes_path)
    _note_missing_modalities(spec, nodes, notes)

    edges = _load_edges(spec, root, spec_path, set(nodes[spec.id_column]), notes)
    _note_graph(spec, nodes, edges, notes)

    return Dataset(
        root=root,
        spec=spec,
        nodes=nodes,
        edges=edges,
        notes=tuple(notes),
        nodes_file_name=nodes_path.name,
    )


# -- files ---------------------------------------------------------------------------------


def _ensure_inside(path: Path, root: Path, blame: Path, what: str) -> None:
    """Refuse a file that (through ``..``, an absolute path or a symlink) leaves ``root``."""
    if not path.resolve().is_relative_to(root):
        raise DatasetError(blame, f"{what} resolves outside the dataset folder {root}")


def _find_nodes_file(root: Path) -> Path:
    csv_path, parquet_path = root / NODES_CSV, root / NODES_PARQUET
    has_csv, has_parquet = csv_path.exists(), parquet_path.exists()
    if has_csv and has_parquet:
        raise DatasetError(
            root,
            f"both {NODES_CSV} and {NODES_PARQUET} exist; keep exactly one nodes file "
            "so it is clear which one is the data",
        )
    if not (has_csv or has_parquet):
        raise DatasetError(
            csv_path, f"file not found: a dataset folder needs {NODES_CSV} or {NODES_PARQUET}"
        )
    path = csv_path if has_csv else parquet_path
    _ensure_inside(path, root, path, path.name)
    if not path.is_file():
        raise DatasetError(path, "not a regular file")
    return path


def _read_table(path: Path) -> pd.DataFrame:
    """Read a csv or parquet table as stripped strings, ``""`` for empty cells.

    Row ``i`` of the result is spreadsheet row ``i + 2``. Trailing blank lines are dropped;
    blank lines in the middle are kept as empty rows so row numbers stay true.
    """
    if path.suffix == ".parquet":
        header, body = _read_parquet_strings(path)
    else:
        header, body = _read_csv_strings(path)
    names = [str(h).strip() for h in header]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name in seen:
            raise DatasetError(
                path,
                f"column '{name}' appears twice in the header "
                f"(columns {seen[name] + 1} and {i + 1})",
                row=1,
                column=name,
            )
        seen[name] = i
    body = body.fillna("").astype(str)
    body.columns = names
    for col in range(body.shape[1]):
        body.isetitem(col, body.iloc[:, col].str.strip())
    nonblank = (body != "").any(axis=1).to_numpy()
    last = int(np.flatnonzero(nonblank)[-1]) + 1 if nonblank.any() else 0
    return body.iloc[:last].reset_index(drop=True)


_ROW_PATTERNS = ((re.compile(r"\bline (\d+)"), 0), (re.compile(r"\brow (\d+)"), 1))


def _read_csv_strings(path: Path) -> tuple[list[str], pd.DataFrame]:
    try:
        # header=None: read the header ourselves so duplicate names are not silently
        # renamed ("a.1"); keep_default_na=False: "NA" (Namibia) is a value, not missing.
        raw = pd.read_csv(
            path,
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
        raise DatasetError(path, f"not a readable CSV file: {message}", row=row) from exc
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


# -- columns -------------------------------------------------------------------------------


def _yaml_keys(spec: DatasetSpec) -> list[tuple[str, str]]:
    """(column, yaml key) for every nodes column the yaml names, in declared order."""
    pairs = [(spec.id_column, "id_column"), (spec.label_column, "label_column")]
    if spec.split_column:
        pairs.append((spec.split_column, "split_column"))
    pairs += [(c, "text_columns") for c in spec.text_columns]
    if spec.image_column:
        pairs.append((spec.image_column, "image_column"))
    pairs += [(c, "numeric_columns") for c in spec.numeric_columns]
    pairs += [(c, "categorical_columns") for c in spec.categorical_columns]
    return pairs


def _check_spec_columns(spec: DatasetSpec, spec_path: Path) -> None:
    """One role per column: a column named twice would be encoded twice or contradict."""
    seen: dict[str, str] = {}
    for column, key in _yaml_keys(spec):
        if column in seen:
            raise DatasetError(
                spec_path,
                f"column '{column}' is named by both {seen[column]} and {key}; "
                "each column has one role",
            )
        seen[column] = key
    if spec.edges.source == spec.edges.target:
        raise DatasetError(
            spec_path, f"edges.source and edges.target are both '{spec.edges.source}'"
        )


def _did_you_mean(name: str, available: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, [a for a in available if a], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_columns_present(
    spec: DatasetSpec, raw: pd.DataFrame, nodes_path: Path, *, require_labels: bool
) -> None:
    present = set(raw.columns)
    for column, key in _yaml_keys(spec):
        if column in present:
            continue
        if key == "label_column" and not require_labels:
            continue
        raise DatasetError(
            nodes_path,
            f"column '{column}' named by {key} in dataset.yaml is not in {nodes_path.name}"
            f"{_did_you_mean(column, present)}; its columns are: "
            + ", ".join(c for c in raw.columns if c),
            column=column,
        )


def _typed_nodes(spec: DatasetSpec, raw: pd.DataFrame, nodes_path: Path) -> pd.DataFrame:
    """Declared columns only: strings as ``string`` dtype, numbers as float64, NA if empty."""
    numeric = set(spec.numeric_columns)
    out: dict[str, pd.Series] = {}
    for column in spec.declared_columns():
        if column not in raw.columns:  # only the label, when labels are not required
            out[column] = pd.Series(pd.NA, index=raw.index, dtype=STRING_DTYPE)
        elif column in numeric:
            out[column] = _parse_numeric(raw[column], column, nodes_path)
        else:
            cells = raw[column].astype(STRING_DTYPE)
            out[column] = cells.mask(cells == "")
    return pd.DataFrame(out, index=pd.RangeIndex(len(raw)))


def _parse_numeric(cells: pd.Series, column: str, nodes_path: Path) -> pd.Series:
    text = cells.to_numpy(dtype=object)
    values = pd.to_numeric(text, errors="coerce").astype(np.float64)
    bad = np.flatnonzero((text != "") & ~np.isfinite(values))
    if bad.size:
        first = int(bad[0])
        more = ""
        if bad.size > 1:
            more = f" ({bad.size - 1} more cells in this column are not numbers)"
        raise DatasetError(
            nodes_path,
            f"'{text[first]}' is not a number; numeric_columns cells must be finite numbers, "
            f"or empty for a missing value{more}",
            row=Dataset.file_row(first),
            column=column,
        )
    return pd.Series(values, index=cells.index, dtype=np.float64)


# -- checks --------------------------------------------------------------------------------


def _check_ids(spec: DatasetSpec, nodes: pd.DataFrame, nodes_path: Path) -> None:
    if nodes.empty:
        raise DatasetError(nodes_path, "no nodes: the file has a header but no data rows")
    ids = nodes[spec.id_column]
    empty = np.flatnonzero(ids.isna().to_numpy())
    if empty.size:
        raise DatasetError(
            nodes_path,
            "empty id: every node needs an id (edges refer to nodes by id)",
            row=Dataset.file_row(int(empty[0])),
            column=spec.id_column,
        )
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        value = ids.iloc[first]
        positions = np.flatnonzero((ids == value).to_numpy())
        rows = [Dataset.file_row(int(p)) for p in positions]
        raise DatasetError(
            nodes_path,
            f"duplicate id '{value}' in rows " + " and ".join(str(r) for r in rows)
            + ": ids must be unique",
            row=rows[1],
            column=spec.id_column,
        )


def _check_labels(
    spec: DatasetSpec,
    nodes: pd.DataFrame,
    nodes_path: Path,
    *,
    require_labels: bool,
    notes: list[str],
) -> None:
    unlabelled = int(nodes[spec.label_column].isna().sum())
    if unlabelled == len(nodes) and require_labels:
        raise DatasetError(
            nodes_path,
            "no node has a label: training needs at least some labelled nodes",
            column=spec.label_column,
        )
    if unlabelled:
        nodes_word = "node has" if unlabelled == 1 else "nodes have"
        notes.append(
            f"{unlabelled} {nodes_word} no label: they are predicted but not trained on"
        )


def _check_images(spec: DatasetSpec, nodes: pd.DataFrame, root: Path, nodes_path: Path) -> None:
    """Each image cell must name an existing file inside ``images/``, symlinks resolved."""
    column = spec.image_column
    if not column:
        return
    images = root / IMAGES_DIR
    for position, cell in enumerate(nodes[column].tolist()):
        if cell is pd.NA:
            continue
        row = Dataset.file_row(position)
        rel = Path(cell)
        if rel.is_absolute() or cell.startswith(("/", "\\")):
            problem = "is an absolute path; image cells are paths relative to images/"
        elif ".." in rel.parts:
            problem = "contains '..'; image cells must stay inside images/"
        elif not (images / rel).resolve().is_relative_to(images):
            problem = "resolves outside images/ (through a symlink); images must live inside it"
        elif not (images / rel).is_file():
            problem = f"does not exist: no file {IMAGES_DIR}/{cell} in the dataset folder"
        else:
            continue
        raise DatasetError(nodes_path, f"image '{cell}' {problem}", row=row, column=column)


def _load_edges(
    spec: DatasetSpec, root: Path, spec_path: Path, ids: set[str], notes: list[str]
) -> pd.DataFrame:
    path = root / spec.edges.file
    if not path.resolve().is_relative_to(root):
        raise DatasetError(
            spec_path,
            f"edges.file '{spec.edges.file}' resolves outside the dataset folder",
        )
    if not path.is_file():
        raise DatasetError(
            path, f"file not found: edges.file in dataset.yaml names '{spec.edges.file}'"
        )
    raw = _read_table(path)
    for key, column in (("edges.source", spec.edges.source), ("edges.target", spec.edges.target)):
        if column not in raw.columns:
            raise DatasetError(
                path,
                f"column '{column}' named by {key} in dataset.yaml is not in {path.name}"
                f"{_did_you_mean(column, raw.columns)}; its columns are: "
                + ", ".join(c for c in raw.columns if c),
                column=column,
            )
    for column in (spec.edges.source, spec.edges.target):
        cells = raw[column].to_numpy(dtype=object)
        empty = np.flatnonzero(cells == "")
        if empty.size:
            raise DatasetError(
                path,
                "empty endpoint: every edge needs both a source and a target id",
                row=Dataset.file_row(int(empty[0])),
                column=column,
            )
        unknown = np.flatnonzero(~np.isin(cells, list(ids)))
        if unknown.size:
            first = int(unknown[0])
            more = ""
            if unknown.size > 1:
                more = f" ({unknown.size - 1} more rows in this column do too)"
            raise DatasetError(
                path,
                f"unknown id '{cells[first]}': no node in the nodes file has this id{more}",
                row=Dataset.file_row(first),
                column=column,
            )
    return pd.DataFrame(
        {
            "source": raw[spec.edges.source].astype(STRING_DTYPE),
            "target": raw[spec.edges.target].astype(STRING_DTYPE),
        },
        index=pd.RangeIndex(len(raw)),
    )


# -- notes ---------------------------------------------------------------------------------


def _note_missing_modalities(spec: DatasetSpec, nodes: pd.DataFrame, notes: list[str]) -> None:
    for column, key in _yaml_keys(spec):
        if key in ("id_column", "label_column", "split_column"):
            continue
        missing = int(nodes[column].isna().sum())
        if missing:
            notes.append(
                f"{missing} of {len(nodes)} nodes have no '{column}' ({key}): "
                "treated as a missing value, not an error"
            )


def _note_graph(
    spec: DatasetSpec, nodes: pd.DataFrame, edges: pd.DataFrame, notes: list[str]
) -> None:
    if edges.empty:
        notes.append("the edges file has no edges: every node is isolated")
        return
    loops = int((edges["source"] == edges["target"]).sum())
    if loops:
        notes.append(f"{loops} edges are self-loops (a node linked to itself)")
    pairs = edges[["source", "target"]]
    if not spec.edges.directed:
        a, b = pairs["source"], pairs["target"]
        pairs = pd.DataFrame({"u": a.where(a <= b, b), "v": b.where(a <= b, a)})
    dups = int(pairs.duplicated().sum())
    if dups:
        notes.append(f"{dups} edges repeat an earlier edge")
    linked = set(edges["source"]) | set(edges["target"])
    isolated = int((~nodes[spec.id_column].isin(linked)).sum())
    if isolated:
        notes.append(
            f"{isolated} of {len(nodes)} nodes have no edges: "
            "they are classified from their own features only"
        )
