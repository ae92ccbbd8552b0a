"""MM-GRAPH's edge files as format-v1 edge frames: node classification's edge list, link prediction's split.

Apart from :mod:`pipeline.importers.mm_graph` (nodes, labels, texts, images, features) because the
edges come in two layouts of their own (``nc_edges-nodeid.pt``; ``lp-edge-split*.pt`` with
``source_node``/``target_node`` or ``edge`` per split) and carry the link-prediction split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DatasetError, GraphFuseError
from pipeline.importers.safe_torch import as_index_array, as_mapping, load_pt
from pipeline.importers.writer import DST, SPLIT, SRC, ImportReport

NC_EDGES, LP_GLOB = "nc_edges-nodeid.pt", "lp-edge-split*.pt"
SPLIT_KEYS = {"train": "train", "valid": "val", "val": "val", "test": "test"}


def pick_edge_split(files: list[Path], wanted: str | None) -> Path:
    """The one ``lp-edge-split*.pt`` to import: ``--edge-split`` picks it when there are several."""
    if wanted is None:
        if len(files) > 1:
            kinds = ", ".join(f.name for f in files)
            raise GraphFuseError(f"{files[0].parent}: several edge splits ({kinds}); choose one with --edge-split")
        return files[0]
    for path in files:
        if path.stem in (f"lp-edge-split-{wanted}", wanted) or path.name == wanted:
            return path
    raise GraphFuseError(f"no lp-edge-split file for --edge-split {wanted!r}; found: {[f.name for f in files]}")


def _pairs(value, path: Path, what: str, num_nodes: int) -> np.ndarray:
    pairs = as_index_array(value, path, what, ndim=2, num_nodes=num_nodes)
    if pairs.shape[1] != 2 and pairs.shape[0] == 2:
        pairs = pairs.T
    if pairs.shape[1] != 2:
        raise DatasetError(path, f"{what}: expected [E, 2] node pairs, got shape {list(pairs.shape)}")
    return pairs


def _edge_frame(pairs: np.ndarray, split: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({SRC: pairs[:, 0].astype(str), DST: pairs[:, 1].astype(str)})
    if split is not None:
        frame[SPLIT] = split
    return frame


def nc_edges(src: Path, num_nodes: int, report: ImportReport) -> pd.DataFrame:
    """Node classification's edge list, one row per pair, no split."""
    path = src / NC_EDGES
    pairs = _pairs(load_pt(path), path, "edge list", num_nodes)
    report.counts["edges"] = int(pairs.shape[0])
    return _edge_frame(pairs)


def lp_edges(path: Path, num_nodes: int, report: ImportReport) -> pd.DataFrame:
    """Link prediction's positives with their train/val/test split; the benchmark's own negatives are
    counted, not imported (GraphFuse draws its own, fixed and seeded)."""
    raw = as_mapping(load_pt(path), path, "edge split")
    unknown = [k for k in raw if k not in SPLIT_KEYS]
    if unknown or "train" not in raw:
        raise DatasetError(path, f"expected keys train, valid, test; got {list(raw)}")
    parts, splits, negatives = [], [], 0
    for key, part in raw.items():
        part = as_mapping(part, path, f"split '{key}'")
        if "edge" in part:
            pairs = _pairs(part["edge"], path, f"{key}.edge", num_nodes)
        elif {"source_node", "target_node"} <= set(part):
            s = as_index_array(part["source_node"], path, f"{key}.source_node", ndim=1, num_nodes=num_nodes)
            t = as_index_array(part["target_node"], path, f"{key}.target_node", ndim=1, num_nodes=num_nodes)
            if s.shape != t.shape:
                raise DatasetError(path, f"{key}: {s.size} source nodes but {t.size} target nodes")
            pairs = np.stack([s, t], axis=1)
        else:
            raise DatasetError(path, f"split '{key}': expected source_node/target_node or edge; got {list(part)}")
        for neg_key in ("target_node_neg", "edge_neg"):
            if neg_key in part:
                negatives += int(np.asarray(part[neg_key]).size)
        parts.append(pairs)
        splits += [SPLIT_KEYS[key]] * pairs.shape[0]
        report.counts[f"{SPLIT_KEYS[key]} edges"] = int(pairs.shape[0])
    report.counts["edge split file"] = path.name
    if negatives:
        report.notes.append(
            f"{path.name} carries {negatives} negative candidates (target_node_neg): not imported; "
            "GraphFuse draws its own fixed, seeded negatives per positive, stored with the split"
        )
    return _edge_frame(np.concatenate(parts), splits)
