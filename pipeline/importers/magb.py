"""MAGB (Multimodal Attributed Graph Benchmark, github.com/sktsherlock/MAGB) into format v1.

The layout of one dataset folder (``Movies``, ``Toys``, ``Grocery``, ``Reddit-S``, ``Reddit-M``):

- ``<Name>.csv``: one row per node: its ``id`` (the node index), its text (``text``; or ``title``
  and ``description``; ``caption`` for Reddit), its class ``label`` (an integer) and its
  neighbours (``neighbour``: a list of node ids such as ``[12, 40]``);
- ``<Name>Graph.pt``: the same graph (and labels) as a DGL graph, written by ``dgl.save_graphs``.
  That is DGL's own binary format, which GraphFuse does not read (it would need DGL); the edges
  come from the CSV's neighbour lists, or from ``--edges`` (a .csv of two id columns or an .npy
  [E, 2]) when the CSV has none;
- ``TextFeature/``, ``ImageFeature/`` (and ``MMFeature/``): ``.npy`` embeddings [N, d], row =
  node index (e.g. ``Movies_roberta_base_512_mean.npy``), each imported as a precomputed
  embedding modality ``text_<model>``/``image_<model>``/``mm_<model>``;
- ``<Name>Images.tar.gz`` (or the extracted folder): images named by node id (``<id>.jpg``).

MAGB draws its splits at training time (60/20/20 by default), so no split is imported:
GraphFuse draws its own seeded, stratified split (params.yaml ``validate``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DatasetError, GraphFuseError
from pipeline.importers.archives import DEFAULT_LIMITS, ArchiveLimits, image_column, is_archive
from pipeline.importers.node_ids import PLAIN_RULE, NotANode, index_or_reason, is_plain_index
from pipeline.importers.safe_torch import as_index_array
from pipeline.importers.writer import (
    DST,
    EMBEDDINGS_DIR,
    ID,
    IMAGE,
    IMAGES_DIR,
    LABEL,
    SRC,
    TEXT,
    ImportedDataset,
    ImportReport,
    label_cells,
    staged_output,
    write_dataset,
)

FEATURE_DIRS = {"TextFeature": "text", "ImageFeature": "image", "MMFeature": "mm"}
NEIGHBOUR_COLUMNS = ("neighbour", "neighbors", "neighbours", "neighbor")
TEXT_COLUMNS = (("text",), ("title", "description"), ("caption",))
FILE_ROWS = "file_rows"


def import_magb(
    src: Path,
    out: Path,
    *,
    name: str | None = None,
    features: list[str] | None = None,
    edges_file: Path | None = None,
    task: str = "node_classification",
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> ImportReport:
    """Read one MAGB dataset folder ``src`` and write it to ``out`` as format v1."""
    src = Path(src)
    if not src.is_dir():
        raise GraphFuseError(f"{src}: not a folder (give one MAGB dataset folder, e.g. Movies/)")
    report = ImportReport("MAGB", str(src))
    csv_path = _csv_file(src, name)
    name = name or csv_path.stem
    table = _read_csv(csv_path)
    num_nodes = len(table)
    report.counts["nodes"] = num_nodes
    nodes = pd.DataFrame({ID: [str(i) for i in range(num_nodes)]})
    labels = _labels(table, csv_path)
    nodes[LABEL] = label_cells(labels, report, csv_path.name)
    text = _text(table)
    if text is not None:
        nodes[TEXT] = text
        report.counts["nodes with text"] = int((nodes[TEXT] != "").sum())
    edges = _edges(src, table, csv_path, edges_file, num_nodes, report)
    feats = _feature_files(src, name, features)
    with staged_output(Path(out)) as staged:
        _images(src, name, staged, nodes, report, limits)
        embeddings = {}
        for feat_name, path in feats.items():
            embeddings[feat_name] = _copy_embedding(path, staged, feat_name, num_nodes, report)
        dataset = ImportedDataset(
            name=name,
            task=task,
            nodes=nodes,
            edges=edges,
            embeddings=embeddings,
            source={"benchmark": "MAGB", "folder": src.name, "url": "https://huggingface.co/datasets/Sherirto/MAGB"},
        )
        report.notes.append("MAGB has no fixed split: GraphFuse draws its seeded, stratified split (params.yaml)")
        write_dataset(staged, dataset, report)
    return report


def _csv_file(src: Path, name: str | None) -> Path:
    if name:
        path = src / f"{name}.csv"
        if not path.is_file():
            raise DatasetError(path, "file not found: MAGB keeps its node table in <Name>.csv")
        return path
    found = sorted(src.glob("*.csv"))
    if len(found) != 1:
        raise DatasetError(src, f"expected one <Name>.csv, found {[p.name for p in found]}; name it with --name")
    return found[0]


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise DatasetError(path, f"cannot read the node table: {exc}") from exc
    if "id" in table.columns:
        ids = pd.to_numeric(table["id"], errors="coerce")
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise DatasetError(path, f"id '{table['id'].iloc[row]}' is not a node index", row=row + 2, column="id")
        order = np.argsort(ids.to_numpy(), kind="stable")
        if not np.array_equal(ids.to_numpy()[order], np.arange(len(table))):
            raise DatasetError(path, "ids must be the node indices 0..N-1, each once", column="id")
        table = table.iloc[order].reset_index(drop=True)
        table.attrs[FILE_ROWS] = (order + 2).tolist()  # messages name the row as the file has it
    return table


def _labels(table: pd.DataFrame, path: Path) -> list[str]:
    """The ``label`` cells as given (class indices in the released files; names work too)."""
    if "label" not in table.columns:
        raise DatasetError(path, f"no 'label' column; its columns are: {', '.join(table.columns)}", column="label")
    return table["label"].astype(str).tolist()


def _text(table: pd.DataFrame) -> list[str] | None:
    for columns in TEXT_COLUMNS:
        if all(c in table.columns for c in columns):
            joined = table[list(columns)].apply(lambda row: " ".join(str(v) for v in row if str(v).strip()), axis=1)
            return [" ".join(t.split()) for t in joined.tolist()]  # one line per cell
    return None


def _neighbours(cell: str, path: Path, row: int | None, column: str, num_nodes: int) -> list[int]:
    """The node ids of one neighbour cell (``[12, 40]``, ``12;40``...); anything that is not a
    plain node index (``1.7``, ``True``, ``1e999``, ``1_0``, a 23-digit number) is an error naming the cell."""
    cell = cell.strip()
    if not cell:
        return []
    # Tokens, not ast.literal_eval: Python's literals read 1_0 as 10, +5 as 5 and 1e999 as inf.
    items = [t.strip("'\"") for t in re.split(r"[,;\s]+", cell.strip("[]()")) if t]
    ids = []
    for item in items:
        index = index_or_reason(item, num_nodes)
        if isinstance(index, str):
            raise DatasetError(path, f"neighbour {index} (cell {cell[:80]!r})", row=row, column=column)
        ids.append(index)
    return ids


def _edges(
    src: Path, table: pd.DataFrame, csv_path: Path, edges_file: Path | None, num_nodes: int, report: ImportReport
) -> pd.DataFrame:
    graph_files = sorted(src.glob("*Graph.pt"))
    if edges_file is not None:
        pairs = _edges_from_file(Path(edges_file), num_nodes)
        report.counts["edges from"] = str(edges_file)
    else:
        column = next((c for c in NEIGHBOUR_COLUMNS if c in table.columns), None)
        rows = table.attrs.get(FILE_ROWS) or [i + 2 for i in range(len(table))]
        if column is None:
            where = graph_files[0] if graph_files else csv_path
            raise DatasetError(
                where,
                "the edges are in DGL's graph format, which GraphFuse does not read, and the node table has "
                f"no neighbour column ({', '.join(NEIGHBOUR_COLUMNS)}); export the edges once (with DGL: "
                "src, dst = dgl.load_graphs(path)[0][0].edges()) as a csv of two id columns and pass --edges",
            )
        pairs = np.array(
            [
                (node, n)
                for node, (cell, row) in enumerate(zip(table[column], rows, strict=True))
                for n in _neighbours(cell, csv_path, row, column, num_nodes)
            ],
            dtype=np.int64,
        ).reshape(-1, 2)
        report.counts["edges from"] = f"{csv_path.name}, column '{column}'"
        if graph_files:
            report.notes.append(
                f"{graph_files[0].name} (a DGL graph) not read: the edges come from the neighbour lists"
            )
    report.counts["edges"] = int(pairs.shape[0])
    return pd.DataFrame({SRC: pairs[:, 0].astype(str), DST: pairs[:, 1].astype(str)})


def _edges_from_file(path: Path, num_nodes: int) -> np.ndarray:
    """[E, 2] node indices from an .npy array or a csv of two id columns; a NaN, a fraction or an
    index outside the graph is an error naming this file (and, for a csv, the row and column)."""
    if not path.is_file():
        raise DatasetError(path, "file not found")
    if path.suffix == ".npy":
        try:
            pairs = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DatasetError(path, f"not a readable NumPy array: {exc}") from exc
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if frame.shape[1] < 2:
            raise DatasetError(path, "expected two columns: source and target node ids")
        for column in frame.columns[:2]:
            cells = frame[column].str.strip()
            bad = np.flatnonzero(~cells.str.fullmatch(r"0|[1-9][0-9]{0,17}").to_numpy(dtype=bool))
            if bad.size:
                reason = index_or_reason(cells.iloc[bad[0]], num_nodes)
                raise DatasetError(path, f"edge cell {reason}", row=int(bad[0]) + 2, column=str(column))
        pairs = frame.iloc[:, :2].to_numpy(dtype=np.int64)
    if pairs.ndim != 2 or 2 not in pairs.shape:
        raise DatasetError(path, f"expected [E, 2] node pairs, got shape {list(pairs.shape)}")
    pairs = pairs if pairs.shape[1] == 2 else pairs.T
    return as_index_array(pairs, path, "edges", ndim=2, num_nodes=num_nodes)


def _feature_files(src: Path, name: str, wanted: list[str] | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, prefix in FEATURE_DIRS.items():
        for path in sorted((src / folder).glob("*.npy")) if (src / folder).is_dir() else []:
            model = path.stem.removeprefix(f"{name}_")
            found[re.sub(r"\W", "_", f"{prefix}_{model}")] = path
    if wanted is None:
        return found
    missing = [w for w in wanted if w not in found]
    if missing:
        raise GraphFuseError(f"{src}: no feature named {missing}; found {sorted(found)}")
    return {w: found[w] for w in wanted}


def _copy_embedding(path: Path, staged: Path, name: str, num_nodes: int, report: ImportReport) -> str:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DatasetError(path, f"not a readable NumPy array (object arrays are refused): {exc}") from exc
    if array.ndim != 2 or array.shape[0] != num_nodes:
        raise DatasetError(path, f"expected [{num_nodes} nodes, dims], got shape {list(array.shape)}")
    rel = f"{EMBEDDINGS_DIR}/{name}.npy"
    (staged / EMBEDDINGS_DIR).mkdir(exist_ok=True)
    np.save(staged / rel, array, allow_pickle=False)
    report.counts[f"embedding {name}"] = f"{array.shape[1]}-d ({array.dtype}) from {path.parent.name}/{path.name}"
    return rel


def _images(src: Path, name: str, staged: Path, nodes: pd.DataFrame, report: ImportReport, limits) -> None:
    sources = [p for p in sorted(src.iterdir()) if p.name.startswith(f"{name}Images") and (is_archive(p) or p.is_dir())]
    if not sources:
        report.notes.append(f"no {name}Images.tar.gz or {name}Images/ folder: the dataset has no image column")
        return

    def node_for(stem: str) -> str | NotANode | None:
        if not is_plain_index(stem):  # 1_0.jpg, +5.jpg, ٧.jpg: never node 10, 5, 7
            return NotANode(f"its name is not {PLAIN_RULE}")
        return stem if int(stem) < len(nodes) else None

    cells, counts, notes = image_column(sources[:1], staged / IMAGES_DIR, len(nodes), node_for, limits)
    nodes[IMAGE] = cells
    report.counts |= counts
    report.notes.extend(notes)
