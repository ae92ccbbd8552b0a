"""MM-GRAPH (Multimodal Graph Benchmark, github.com/mm-graph-benchmark) into format v1.

The layout, as its loaders (``nc_dataset.py``, ``lp_dataset.py``) and dataset card read it, one
folder per dataset (``books-nc``, ``ele-fashion``, ``sports-copurchase``, ...):

- node classification: ``nc_edges-nodeid.pt`` (edge list [E, 2] of node indices),
  ``labels-w-missing.pt`` (one class index per node, -1 = unlabelled), ``split.pt``
  (``{"train_idx", "val_idx", "test_idx"}``);
- link prediction: ``lp-edge-split-<type>.pt`` (``random``/``hard``; or ``lp-edge-split.pt``):
  ``{"train": {"source_node", "target_node"}, "valid": {..., "target_node_neg"}, "test": {...}}``
  (or ``{"edge": [E, 2]}`` per split);
- ``<feat>_feat.pt`` per feature set (``clip``, ``imagebind``, ``t5vit``, ``t5dino``): [N, d], row
  = node index; N is the number of nodes (as the benchmark's loaders take it);
- ``node_mapping.pt`` (raw id, e.g. an Amazon ASIN -> node index), ``<name>-raw-text.jsonl``
  (``{"asin", "raw_text"}`` per line in the released files; ``{"id", "text"}`` also read) and
  ``<name>-images.tar`` (``<raw id>.jpg``).

Node ids are the node indices (``0`` .. ``N-1``, as the features' rows); ``raw_id`` keeps the raw
id when ``node_mapping.pt`` gives one. Nothing the benchmark gives is dropped silently: unlabelled
nodes are kept (empty label), and the report counts every skipped text line, image and negative.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DatasetError, GraphFuseError
from pipeline.importers.archives import DEFAULT_LIMITS, ArchiveLimits, image_column, is_archive
from pipeline.importers.mm_graph_edges import LP_GLOB, NC_EDGES, lp_edges, nc_edges, pick_edge_split
from pipeline.importers.node_ids import PLAIN_RULE, NotANode, index_or_reason, is_plain_index
from pipeline.importers.safe_torch import as_index_array, as_mapping, as_matrix, load_pt
from pipeline.importers.writer import (
    ID,
    IMAGE,
    IMAGES_DIR,
    LABEL,
    SPLIT,
    TEXT,
    ImportedDataset,
    ImportReport,
    label_cells,
    save_embedding,
    staged_output,
    write_dataset,
)

LABELS, NODE_SPLIT, NODE_MAPPING = "labels-w-missing.pt", "split.pt", "node_mapping.pt"
FEAT_SUFFIX = "_feat.pt"
NODE_SPLIT_KEYS = {"train_idx": "train", "valid_idx": "val", "val_idx": "val", "test_idx": "test"}
RAW_ID = "raw_id"


def import_mm_graph(
    src: Path,
    out: Path,
    *,
    edge_split: str | None = None,
    features: list[str] | None = None,
    name: str | None = None,
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> ImportReport:
    """Read one MM-GRAPH dataset folder ``src`` and write it to ``out`` as format v1."""
    src = Path(src)
    if not src.is_dir():
        raise GraphFuseError(f"{src}: not a folder (give one MM-GRAPH dataset folder, e.g. books-nc/)")
    report = ImportReport("MM-GRAPH", str(src))
    lp_files = sorted(src.glob(LP_GLOB))
    task = "link_prediction" if lp_files else "node_classification"
    if not lp_files and not (src / NC_EDGES).is_file():
        raise DatasetError(src, f"neither {NC_EDGES} nor lp-edge-split*.pt: not an MM-GRAPH dataset folder")
    feats = _feature_files(src, features)
    mapping = _node_mapping(src)
    num_nodes = _num_nodes(src, feats, mapping)
    report.counts["nodes"] = num_nodes
    nodes = pd.DataFrame({ID: [str(i) for i in range(num_nodes)]})
    if mapping:
        by_index = {index: raw for raw, index in mapping.items()}
        nodes[RAW_ID] = [str(by_index.get(i, "")) for i in range(num_nodes)]
    if task == "node_classification":
        edges = nc_edges(src, num_nodes, report)
        _nc_labels_and_split(src, nodes, report)
    else:
        edges = lp_edges(pick_edge_split(lp_files, edge_split), num_nodes, report)
        if (src / LABELS).is_file():
            _nc_labels_and_split(src, nodes, report)
    with staged_output(Path(out)) as staged:
        _texts(src, nodes, mapping, report)
        _images(src, staged, nodes, mapping, report, limits)
        embeddings = {}
        for feat_name, path in feats.items():
            matrix = as_matrix(load_pt(path), path, "a feature tensor")
            if matrix.shape[0] != num_nodes:
                raise DatasetError(path, f"{matrix.shape[0]} rows for {num_nodes} nodes")
            embeddings[feat_name] = save_embedding(staged, feat_name, matrix)
            report.counts[f"embedding {feat_name}"] = f"{matrix.shape[1]}-d ({matrix.dtype})"
        dataset = ImportedDataset(
            name=name or src.name,
            task=task,
            nodes=nodes,
            edges=edges,
            embeddings=embeddings,
            source={
                "benchmark": "MM-GRAPH",
                "folder": src.name,
                "url": "https://huggingface.co/datasets/mm-graph-org/mm-graph",
            },
        )
        write_dataset(staged, dataset, report)
    return report


def _feature_files(src: Path, wanted: list[str] | None) -> dict[str, Path]:
    found = {p.name.removesuffix(FEAT_SUFFIX): p for p in sorted(src.glob(f"*{FEAT_SUFFIX}"))}
    bad = [n for n in found if not re.fullmatch(r"[A-Za-z0-9_]+", n)]
    for name in bad:
        found[re.sub(r"\W", "_", name)] = found.pop(name)
    if wanted is None:
        return found
    missing = [w for w in wanted if w not in found]
    if missing:
        raise GraphFuseError(f"{src}: no feature file for {missing}; found {sorted(found)} (*{FEAT_SUFFIX})")
    return {w: found[w] for w in wanted}


def _node_mapping(src: Path) -> dict[str, int]:
    path = src / NODE_MAPPING
    if not path.is_file():
        return {}
    raw = as_mapping(load_pt(path), path, "node_mapping (raw id -> node index)")
    mapping: dict[str, int] = {}
    for key, value in raw.items():
        index = int(as_index_array([value], path, f"node index of {key!r}", ndim=1)[0])
        mapping[str(key)] = index
    return mapping


def _num_nodes(src: Path, feats: dict[str, Path], mapping: dict[str, int]) -> int:
    """N from a feature tensor's rows (as the benchmark's loaders), else the labels, else the mapping."""
    if feats:
        path = next(iter(feats.values()))
        return int(as_matrix(load_pt(path), path, "a feature tensor").shape[0])
    if (src / LABELS).is_file():
        return int(as_index_array(load_pt(src / LABELS), src / LABELS, "labels", ndim=1).size)
    if mapping:
        return max(mapping.values()) + 1
    raise DatasetError(src, f"cannot tell the number of nodes: no *{FEAT_SUFFIX}, {LABELS} or {NODE_MAPPING}")


def _nc_labels_and_split(src: Path, nodes: pd.DataFrame, report: ImportReport) -> None:
    path = src / LABELS
    if not path.is_file():
        raise DatasetError(path, "file not found: a node-classification folder needs labels-w-missing.pt")
    labels = as_index_array(load_pt(path), path, "labels", ndim=1)
    if labels.size != len(nodes):
        raise DatasetError(path, f"{labels.size} labels for {len(nodes)} nodes")
    nodes[LABEL] = label_cells(labels, report, path.name)
    split_path = src / NODE_SPLIT
    if not split_path.is_file():
        report.notes.append(f"no {NODE_SPLIT}: GraphFuse draws its seeded, stratified split (params.yaml validate)")
        return
    raw = as_mapping(load_pt(split_path), split_path, "node split")
    cells = np.full(len(nodes), "", dtype=object)
    for key, value in raw.items():
        if key not in NODE_SPLIT_KEYS:
            raise DatasetError(split_path, f"unexpected key {key!r}; expected train_idx, val_idx, test_idx")
        index = as_index_array(value, split_path, key, ndim=1, num_nodes=len(nodes))
        if np.any(cells[index] != ""):
            raise DatasetError(split_path, f"{key}: some nodes are already in another split")
        cells[index] = NODE_SPLIT_KEYS[key]
        report.counts[f"{NODE_SPLIT_KEYS[key]} nodes"] = int(index.size)
    nodes[SPLIT] = cells
    in_split_unlabelled = int(((cells != "") & (labels < 0)).sum())
    outside = int((cells == "").sum())
    if in_split_unlabelled:
        report.notes.append(f"{in_split_unlabelled} nodes of {NODE_SPLIT} are unlabelled: not trained or scored on")
    if outside:
        report.notes.append(f"{outside} nodes are in no split of {NODE_SPLIT}: kept, predicted, never scored")


def _texts(src: Path, nodes: pd.DataFrame, mapping: dict[str, int], report: ImportReport) -> None:
    files = sorted(src.glob("*.jsonl"))
    if not files:
        report.notes.append("no raw-text .jsonl: the dataset has no text column")
        return
    texts = [""] * len(nodes)
    skipped = 0
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(path, f"not a JSON object: {exc.msg}", row=line_no) from exc
                if not isinstance(record, dict):
                    raise DatasetError(path, "each line must be a JSON object", row=line_no)
                raw_id = next((record[k] for k in ("id", "asin") if k in record), None)
                text = next((record[k] for k in ("text", "raw_text") if k in record), None)
                if raw_id is None or text is None:
                    raise DatasetError(
                        path, "a line needs an id (id or asin) and a text (text or raw_text)", row=line_no
                    )
                index = _index_of(raw_id, mapping, len(nodes))
                if index is None:
                    skipped += 1
                    continue
                if isinstance(text, list):
                    text = "\n".join(str(t) for t in text if t)
                texts[index] = " ".join(str(text).split())  # one line per cell: newlines and tabs become spaces
    nodes[TEXT] = texts
    report.counts["nodes with text"] = sum(1 for t in texts if t)
    if skipped:
        report.notes.append(f"{skipped} text line(s) name no node of the graph (not in {NODE_MAPPING}): skipped")


def _index_of(raw_id, mapping: dict[str, int], num_nodes: int) -> int | None:
    if mapping:
        return mapping.get(str(raw_id))
    index = index_or_reason(raw_id, num_nodes)
    return index if isinstance(index, int) else None


def _images(
    src: Path, staged: Path, nodes: pd.DataFrame, mapping: dict[str, int], report: ImportReport, limits: ArchiveLimits
) -> None:
    sources = [p for p in sorted(src.iterdir()) if "image" in p.name.lower() and (is_archive(p) or p.is_dir())]
    if not sources:
        report.notes.append("no image archive (*images*.tar/.zip) or folder: the dataset has no image column")
        return

    def node_for(stem: str) -> str | NotANode | None:
        if not mapping and not is_plain_index(stem):  # 1_0.jpg, +5.jpg, ٧.jpg: never node 10, 5, 7
            return NotANode(f"its name is not {PLAIN_RULE}")
        index = _index_of(stem, mapping, len(nodes))
        return None if index is None else str(index)

    cells, counts, notes = image_column(sources, staged / IMAGES_DIR, len(nodes), node_for, limits)
    nodes[IMAGE] = cells
    report.counts |= counts
    report.notes.extend(notes)
