"""Load a format-v1 dataset folder into typed frames, with errors a user can act on.

Every check names the file and, where known, the row (as a spreadsheet shows it: header is
row 1, first data row is row 2) and the column, because the person fixing the data has the
file open in a spreadsheet, not a debugger. Nothing outside the dataset folder is ever read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.dataset.dataset import IMAGES_DIR, STRING_DTYPE, Dataset
from pipeline.dataset.edges import load_edges, note_graph
from pipeline.dataset.embeddings import check_embeddings
from pipeline.dataset.hints import did_you_mean
from pipeline.dataset.numbers import not_a_number, parse_numbers
from pipeline.dataset.schema import load_spec
from pipeline.dataset.spec import SPEC_FILE, DatasetSpec
from pipeline.dataset.tables import ensure_inside, find_nodes_file, read_table
from pipeline.errors import DatasetError
from pipeline.images import load_rgb


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
        ensure_inside(spec_path, root, spec_path, "dataset.yaml")
    spec = load_spec(root)
    _check_spec_columns(spec, spec_path)

    nodes_path = find_nodes_file(root)
    raw = read_table(nodes_path, sep=spec.sep, na_values=spec.na_values)
    _check_columns_present(spec, raw, nodes_path, require_labels=require_labels)
    nodes = _typed_nodes(spec, raw, nodes_path)
    notes: list[str] = []

    ignored = [c for c in raw.columns if c and c not in set(spec.declared_columns())]
    if ignored:
        notes.append(f"{nodes_path.name} has columns that dataset.yaml does not name, ignored: " + ", ".join(ignored))
    _check_ids(spec, nodes, nodes_path)
    if spec.label_column:  # link prediction may have none; it trains on edges, not labels
        _check_labels(
            spec, nodes, nodes_path, require_labels=require_labels and not spec.is_link_prediction, notes=notes
        )
    _check_images(spec, nodes, root, nodes_path)
    _note_missing_modalities(spec, nodes, notes)
    notes.extend(check_embeddings(spec, root, spec_path, nodes[spec.id_column].tolist(), nodes_path.name))

    edges = load_edges(spec, root, spec_path, set(nodes[spec.id_column]))
    note_graph(spec, nodes, edges, notes)

    return Dataset(
        root=root,
        spec=spec,
        nodes=nodes,
        edges=edges,
        notes=tuple(notes),
        nodes_file_name=nodes_path.name,
    )


# -- columns -------------------------------------------------------------------------------


def _yaml_keys(spec: DatasetSpec) -> list[tuple[str, str]]:
    """(column, yaml key) for every nodes column the yaml names, in declared order."""
    pairs = [(spec.id_column, "id_column")]
    if spec.label_column:
        pairs.append((spec.label_column, "label_column"))
    if spec.split_column:
        pairs.append((spec.split_column, "split_column"))
    pairs += [(c, "text_columns") for c in spec.text_columns]
    if spec.image_column:
        pairs.append((spec.image_column, "image_column"))
    pairs += [(c, "image_columns") for c in spec.image_columns]
    pairs += [(c, f"text_modalities.{name}") for name, cols in spec.text_modalities.items() for c in cols]
    pairs += [(c, f"image_modalities.{name}") for name, cols in spec.image_modalities.items() for c in cols]
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
                f"column '{column}' is named by both {seen[column]} and {key}; each column has one role",
            )
        seen[column] = key
    if spec.edges.source == spec.edges.target:
        raise DatasetError(spec_path, f"edges.source and edges.target are both '{spec.edges.source}'")


def _check_columns_present(spec: DatasetSpec, raw: pd.DataFrame, nodes_path: Path, *, require_labels: bool) -> None:
    present = set(raw.columns)
    for column, key in _yaml_keys(spec):
        if column in present:
            continue
        if key == "label_column" and not require_labels:
            continue
        raise DatasetError(
            nodes_path,
            f"column '{column}' named by {key} in dataset.yaml is not in {nodes_path.name}"
            f"{did_you_mean(column, present)}; its columns are: " + ", ".join(c for c in raw.columns if c),
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
    values, bad, texts = parse_numbers(cells)
    if bad.size:
        raise DatasetError(nodes_path, not_a_number(texts, bad), row=Dataset.file_row(int(bad[0])), column=column)
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
            f"duplicate id '{value}' in rows " + " and ".join(str(r) for r in rows) + ": ids must be unique",
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
        notes.append(f"{unlabelled} {nodes_word} no label: they are predicted but not trained on")


def _check_images(spec: DatasetSpec, nodes: pd.DataFrame, root: Path, nodes_path: Path) -> None:
    """Each image cell must name an existing file inside ``images/``, symlinks resolved."""
    for column in spec.all_image_columns():
        _check_image_column(column, nodes, root, nodes_path)


def _check_image_column(column: str, nodes: pd.DataFrame, root: Path, nodes_path: Path) -> None:
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
            try:
                load_rgb(images / rel)  # decoded as the image stage will: truncated or bombs fail here
            except DatasetError as exc:
                problem = exc.message
            else:
                continue
        raise DatasetError(nodes_path, f"image '{cell}' {problem}", row=row, column=column)


# -- notes ---------------------------------------------------------------------------------


def _note_missing_modalities(spec: DatasetSpec, nodes: pd.DataFrame, notes: list[str]) -> None:
    for column, key in _yaml_keys(spec):
        if key in ("id_column", "label_column", "split_column"):
            continue
        missing = int(nodes[column].isna().sum())
        if missing:
            notes.append(
                f"{missing} of {len(nodes)} nodes have no '{column}' ({key}): treated as a missing value, not an error"
            )
