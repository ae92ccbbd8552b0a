"""Write a synthetic dataset in format v1: dataset.yaml, nodes.csv, edges.csv and images/.

The folder is built next to its destination and renamed into place, so a failed or interrupted
run leaves nothing half-written, and an existing non-empty folder is never overwritten.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipeline.dataset.dataset import IMAGES_DIR, NODES_CSV
from pipeline.dataset.spec import SPEC_FILE, DatasetSpec, EdgesSpec
from pipeline.errors import GraphFuseError
from pipeline.synth.config import SynthConfig
from pipeline.synth.content import class_centroids, numeric_rows, sentence, write_images
from pipeline.synth.graph import draw_cues, draw_edges, draw_labels

EDGES_CSV = "edges.csv"


def node_ids(n: int) -> list[str]:
    width = len(str(max(n - 1, 0)))
    return [f"n{i:0{width}d}" for i in range(n)]


def class_names(classes: int) -> list[str]:
    return [f"class_{k:02d}" for k in range(classes)]


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One random stream per part, so turning one knob leaves the other parts unchanged."""
    parts = ("labels", "edges", "text", "image", "tabular", "missing", "numeric_centres", "split", "embed")
    children = np.random.SeedSequence(seed).spawn(len(parts))
    return {part: np.random.default_rng(child) for part, child in zip(parts, children, strict=True)}


def check_destination(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GraphFuseError(f"{out}: exists and is not an empty folder; choose a new --out")


def build_in_place(out: Path, fill: Callable[[Path], None]) -> None:
    """Run ``fill(tmp_dir)`` on a sibling temporary folder, then move it onto ``out``."""
    out = Path(out)
    check_destination(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fill(tmp)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_synthetic_dataset(config: SynthConfig, out: str | Path) -> dict:
    """Generate and write the dataset; returns a summary (nodes, edges, classes, isolated)."""
    summary: dict = {}
    build_in_place(Path(out), lambda tmp: summary.update(_fill(config, tmp)))
    return summary


def _fill(config: SynthConfig, root: Path) -> dict:
    rng = _streams(config.seed)
    n, classes = config.nodes, config.classes
    labels = draw_labels(rng["labels"], n, classes, config.imbalance)
    ids = node_ids(n)
    names = class_names(classes)
    columns: dict[str, object] = {"node_id": ids, "label": [names[k] for k in labels]}
    present = {m: rng["missing"].random(n) >= config.missing(m) for m in config.modalities}

    spec_keys: dict = {}
    if "text" in config.modalities:
        cues = draw_cues(rng["text"], labels, classes, config.text_signal)
        texts = [sentence(rng["text"], cue) for cue in cues.tolist()]
        columns["text"] = [t if keep else "" for t, keep in zip(texts, present["text"], strict=True)]
        spec_keys["text_columns"] = ["text"]
    if "image" in config.modalities:
        cues = draw_cues(rng["image"], labels, classes, config.image_signal)
        files = [f"{node}.png" if keep else None for node, keep in zip(ids, present["image"], strict=True)]
        write_images(rng["image"], cues, files, root / IMAGES_DIR, config.image_size)
        columns["image"] = [f or "" for f in files]
        spec_keys["image_column"] = "image"
    if "tabular" in config.modalities:
        cues = draw_cues(rng["tabular"], labels, classes, config.tabular_signal)
        centres = class_centroids(rng["numeric_centres"], classes, config.numeric_columns, spread=1.5)
        values = numeric_rows(rng["tabular"], cues, centres)
        keep = present["tabular"]
        numeric = [f"num_{j}" for j in range(config.numeric_columns)]
        for j, column in enumerate(numeric):
            columns[column] = [f"{v:.4f}" if k else "" for v, k in zip(values[:, j], keep, strict=True)]
        # A categorical column with no class signal: real tables have those too.
        grades = np.array(list("ABCD"))[rng["tabular"].integers(0, 4, size=n)]
        columns["grade"] = np.where(keep, grades, "").tolist()
        spec_keys["numeric_columns"] = numeric
        spec_keys["categorical_columns"] = ["grade"]

    pd.DataFrame(columns).to_csv(root / NODES_CSV, index=False)
    pairs = draw_edges(
        rng["edges"], labels, avg_degree=config.avg_degree, homophily=config.homophily, isolated=config.isolated
    )
    id_array = np.asarray(ids)
    pd.DataFrame({"source": id_array[pairs[:, 0]], "target": id_array[pairs[:, 1]]}).to_csv(
        root / EDGES_CSV, index=False
    )
    _write_spec(config, root, spec_keys)

    degree = np.bincount(pairs.ravel(), minlength=n)
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    return {
        "nodes": n,
        "edges": int(pairs.shape[0]),
        "classes": classes,
        "isolated_nodes": int((degree == 0).sum()),
        "edge_homophily": float(same.mean()) if same.size else float("nan"),
    }


def _write_spec(config: SynthConfig, root: Path, spec_keys: dict) -> None:
    """dataset.yaml naming the columns written, and the generator's settings (so the data can be remade)."""
    spec = DatasetSpec(
        name=config.name,
        task="node_classification",
        id_column="node_id",
        label_column="label",
        edges=EdgesSpec(file=EDGES_CSV, source="source", target="target", directed=False),
        **spec_keys,
    )
    document = spec.model_dump(exclude_none=True)
    document["source"] = "graphfuse synth (synthetic; generated, no third-party content)"
    document["synth"] = config.model_dump(mode="json")
    (root / SPEC_FILE).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
