"""Precomputed embeddings written directly, for scale tests that skip the encoders.

Layout of the folder (all numpy ``.npy``, memory-mappable, so a reader never needs the whole
matrix in RAM): ``x_<modality>.npy`` float16 [n, d], ``mask_<modality>.npy`` bool [n],
``y.npy`` int64 [n], ``split.npy`` int8 [n] (0 train, 1 val, 2 test), ``edge_index.npy`` int64
[2, 2m] (both directions of every undirected edge), and ``embeddings.json`` describing it.
Rows are generated and written in chunks, so peak memory stays near one chunk plus the edges.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from pipeline.atomic import read_json, write_json
from pipeline.errors import GraphFuseError
from pipeline.synth.config import SynthConfig
from pipeline.synth.content import class_centroids
from pipeline.synth.graph import draw_cues, draw_edges, draw_labels, draw_split
from pipeline.synth.write import _streams, build_in_place, class_names

MANIFEST = "embeddings.json"
FORMAT = "graphfuse-synth-embeddings/1"
DEFAULT_DIMS = {"text": 384, "image": 1280, "tabular": 32}
SPLIT_NAMES = ("train", "val", "test")


def write_synthetic_embeddings(
    config: SynthConfig, out: str | Path, *, dims: dict[str, int] | None = None, chunk_rows: int = 16384
) -> dict:
    """Write the embeddings folder for ``config``; returns the manifest."""
    dims = {m: (dims or DEFAULT_DIMS)[m] for m in config.modalities}
    manifest: dict = {}
    build_in_place(Path(out), lambda tmp: manifest.update(_fill(config, dims, tmp, chunk_rows)))
    return manifest


def _fill(config: SynthConfig, dims: dict[str, int], root: Path, chunk_rows: int) -> dict:
    rng = _streams(config.seed)
    n, classes = config.nodes, config.classes
    labels = draw_labels(rng["labels"], n, classes, config.imbalance)
    np.save(root / "y.npy", labels)
    np.save(root / "split.npy", draw_split(rng["split"], n))
    for m, dim in dims.items():
        # Class centres of norm 2 plus noise of norm ~1: classes are separable, so the signal knob alone
        # (how often a row uses its own centre) sets how much the modality says about the label.
        centres = class_centroids(rng["embed"], classes, dim, spread=1.0)
        centres = (centres * (2.0 / np.linalg.norm(centres, axis=1, keepdims=True))).astype(np.float32)
        cues = draw_cues(rng[m if m in rng else "embed"], labels, classes, config.signal(m))
        present = rng["missing"].random(n) >= config.missing(m)
        np.save(root / f"mask_{m}.npy", present)
        x = np.lib.format.open_memmap(root / f"x_{m}.npy", mode="w+", dtype=np.float16, shape=(n, dim))
        for start in range(0, n, chunk_rows):
            stop = min(start + chunk_rows, n)
            rows = rng["embed"].standard_normal((stop - start, dim), dtype=np.float32)
            rows *= 1.0 / np.sqrt(dim)
            rows += centres[cues[start:stop]]
            rows[~present[start:stop]] = 0.0
            x[start:stop] = rows.astype(np.float16)
        x.flush()
        del x
    pairs = draw_edges(
        rng["edges"], labels, avg_degree=config.avg_degree, homophily=config.homophily, isolated=config.isolated
    )
    edge_index = np.concatenate([pairs.T, pairs.T[::-1]], axis=1)
    np.save(root / "edge_index.npy", np.ascontiguousarray(edge_index))
    manifest = {
        "format": FORMAT,
        "nodes": n,
        "edges_undirected": int(pairs.shape[0]),
        "classes": class_names(classes),
        "dims": dims,
        "dtype": "float16",
        "config": config.model_dump(mode="json"),
    }
    write_json(root / MANIFEST, manifest)
    return manifest


def load_synthetic_embeddings(folder: str | Path, *, mmap: bool = True) -> tuple[Data, dict]:
    """The folder as a PyG ``Data`` shaped like the graph store's (``x_<m>``, ``mask_<m>``, ``y``,
    ``edge_index``, ``train_mask``...); features stay float16 and, with ``mmap``, on disk."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise GraphFuseError(f"{folder / MANIFEST}: not found; write the folder with `graphfuse synth --embeddings`")
    manifest = read_json(folder / MANIFEST)
    if manifest.get("format") != FORMAT:
        raise GraphFuseError(f"{folder / MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    mode = "r" if mmap else None

    def tensor(name: str) -> torch.Tensor:
        array = np.load(folder / f"{name}.npy", mmap_mode=mode, allow_pickle=False)
        with warnings.catch_warnings():  # read-only memory maps: torch warns, but nothing writes to them
            warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
            return torch.from_numpy(array)

    split = np.load(folder / "split.npy", allow_pickle=False)
    data = Data(num_nodes=manifest["nodes"], edge_index=tensor("edge_index"), y=tensor("y"))
    for m in manifest["dims"]:
        data[f"x_{m}"] = tensor(f"x_{m}")
        data[f"mask_{m}"] = tensor(f"mask_{m}")
    for code, name in enumerate(SPLIT_NAMES):
        data[f"{name}_mask"] = torch.from_numpy(split == code)
    return data, manifest
