"""Inductive prediction: score new nodes attached to the graph the model was trained on.

The caller gives a node table in the dataset's columns (any modality may be missing) and the
edges of the new nodes, among themselves and to known nodes. The new nodes are encoded exactly
as training encoded its nodes, appended to the known graph, and the model runs on the union.

Documented fallbacks, each reported in ``notes`` (and in the ``notes`` column of the output):
a modality column that is absent or empty is a missing modality; a category never seen in
training is encoded as "no category" (all zeros of its one-hot block), as a missing one is.
Everything else that is wrong is an error naming the row and column: an unknown column, an
empty or duplicate id or one that is already a known node, an image path that leaves the
images root or an image that is missing or cannot be decoded, an edge to an unknown node.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected

from pipeline.dataset.numbers import not_a_number, parse_numbers
from pipeline.encoders.registry import rebuild_encoder
from pipeline.encoders.tabular import TabularEncoder, _categorical
from pipeline.errors import DatasetError, GraphFuseError
from pipeline.features import PRECOMPUTED
from pipeline.images import load_rgb
from pipeline.inference.bundle import ModelBundle
from pipeline.inference.known_graph import KnownGraph
from pipeline.request_limits import check_request, note_cut_texts
from pipeline.training import predict_logits

#: Optional input column: the ids a new node is linked to, separated by ``;``.
NEIGHBORS = "neighbors"
#: Suffix of the optional column that carries image bytes (base64 in JSON) instead of a path.
IMAGE_BYTES_SUFFIX = "_bytes"
NEIGHBOR_SEPARATOR = ";"
#: Separators between the numbers of a precomputed-embedding cell.
VECTOR_SPLIT = re.compile(r"[,;\s]+")


@dataclass
class Request:
    """Where the input came from, for messages: a file (spreadsheet rows) or a request (0-based rows)."""

    source: str = "request"
    first_row: int = 0

    def error(self, message: str, *, row: int | None = None, column: str | None = None) -> DatasetError:
        return DatasetError(self.source, message, row=None if row is None else row + self.first_row, column=column)


@dataclass
class EncoderCache:
    """Pretrained encoders load once per process (a served model answers many requests)."""

    device: str = "cpu"
    progress: bool = False
    _loaded: dict[tuple, Any] = field(default_factory=dict)

    def text(self, settings: dict, state: dict | None = None) -> Any:
        key = ("text", settings["encoder"], settings.get("fitted_state"))
        if key not in self._loaded:
            self._loaded[key] = rebuild_encoder("text", settings, state, device=self.device, progress=self.progress)
        return self._loaded[key]

    def image(self, settings: dict) -> Any:
        key = ("image", settings["encoder"], settings.get("image_size", 224), settings.get("bins"))
        key += (settings.get("weights"),)
        if key not in self._loaded:
            self._loaded[key] = rebuild_encoder("image", settings, device=self.device, progress=self.progress)
        return self._loaded[key]


def input_columns(known: KnownGraph) -> dict[str, str]:
    """Every column a request may carry -> its type (``string``, ``double``, ``binary``)."""
    spec = known.spec
    columns = {spec.id_column: "string"}
    columns |= {c: "string" for c in spec.text_columns}
    if spec.image_column:
        columns[spec.image_column] = "string"
        columns[spec.image_column + IMAGE_BYTES_SUFFIX] = "binary"
    columns |= {c: "double" for c in spec.numeric_columns}
    columns |= {c: "string" for c in spec.categorical_columns}
    columns |= {modality: "string" for modality in spec.embedding_groups()}  # the vector, as text
    columns[NEIGHBORS] = "string"
    return columns


def _check_columns(nodes: pd.DataFrame, known: KnownGraph, where: Request, notes: list[str]) -> None:
    spec = known.spec
    allowed = set(input_columns(known)) | {spec.label_column} | ({spec.split_column} if spec.split_column else set())
    unknown = [c for c in nodes.columns if c not in allowed]
    if unknown:
        raise where.error(
            f"unknown column(s) {unknown}; this model (trained on dataset '{spec.name}') reads "
            f"{sorted(input_columns(known))}"
        )
    if spec.id_column not in nodes.columns:
        raise where.error(f"the id column '{spec.id_column}' is missing", column=spec.id_column)
    absent = [c for c in spec.modality_columns() + list(spec.embedding_groups()) if c not in nodes.columns]
    if absent:
        notes.append(f"column(s) {absent} not given: treated as missing values for every new node")


def _ids(nodes: pd.DataFrame, known: KnownGraph, where: Request) -> list[str]:
    column = known.spec.id_column
    known_ids = set(known.node_ids)
    ids: list[str] = []
    seen: set[str] = set()
    for row, value in enumerate(nodes[column]):
        text = "" if pd.isna(value) else str(value).strip()
        if not text:
            raise where.error("empty id", row=row, column=column)
        if text in seen:
            raise where.error(f"duplicate id {text!r}", row=row, column=column)
        if text in known_ids:
            raise where.error(f"id {text!r} is already a node of the training graph", row=row, column=column)
        seen.add(text)
        ids.append(text)
    return ids


def _texts(nodes: pd.DataFrame, columns: list[str]) -> dict[int, str]:
    """As the preprocess stage does: the non-empty text columns joined by a newline."""
    out = {}
    present = [c for c in columns if c in nodes.columns]
    for row in range(len(nodes)):
        parts = [str(v) for v in (nodes[c].iloc[row] for c in present) if not pd.isna(v) and str(v).strip()]
        if parts:
            out[row] = "\n".join(parts)
    return out


def _image_input(cell: Any, *, images_root: Path | None, where: Request, row: int, column: str) -> Any:
    if isinstance(cell, bytes | bytearray):
        return io.BytesIO(bytes(cell))
    if column.endswith(IMAGE_BYTES_SUFFIX):
        try:
            return io.BytesIO(base64.b64decode(str(cell), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise where.error(f"not base64-encoded image bytes ({exc})", row=row, column=column) from exc
    if images_root is None:
        raise where.error(
            "an image path was given but no images root is configured (set GRAPHFUSE_IMAGES_ROOT or the "
            "model config 'images_root', or send the image bytes)",
            row=row,
            column=column,
        )
    root = images_root.resolve()
    path = (root / str(cell)).resolve()
    if not path.is_relative_to(root):
        raise where.error(f"image path {str(cell)!r} leaves the images root", row=row, column=column)
    if not path.is_file():
        raise where.error(f"image file {str(cell)!r} not found under the images root", row=row, column=column)
    return path


def _images(nodes: pd.DataFrame, column: str | None, images_root: Path | None, where: Request) -> dict[int, Any]:
    if column is None:
        return {}
    out = {}
    for candidate in (column + IMAGE_BYTES_SUFFIX, column):  # bytes win over a path
        if candidate not in nodes.columns:
            continue
        for row, cell in enumerate(nodes[candidate]):
            if row in out or cell is None or (not isinstance(cell, bytes | bytearray) and pd.isna(cell)):
                continue
            if isinstance(cell, str) and not cell.strip():
                continue
            item = _image_input(cell, images_root=images_root, where=where, row=row, column=candidate)
            try:
                load_rgb(item)  # decode once here, so a broken image is named by its row
            except DatasetError as exc:
                raise where.error(exc.message, row=row, column=candidate) from exc
            if isinstance(item, io.BytesIO):
                item.seek(0)
            out[row] = item
    return out


def _encode(items: dict[int, Any], encoder: Any, n: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, mask = torch.zeros(n, dim), torch.zeros(n, dtype=torch.bool)
    if items:
        index = torch.tensor(list(items), dtype=torch.long)
        x[index] = encoder.encode(list(items.values())).to(torch.float32)
        mask[index] = True
    return x, mask


def _precomputed(nodes: pd.DataFrame, column: str, dim: int, where: Request) -> tuple[torch.Tensor, torch.Tensor]:
    """A precomputed embedding arrives as a cell of ``dim`` numbers (a JSON list, or separated by
    commas, semicolons or spaces); an absent column or an empty cell is a missing modality."""
    x, mask = torch.zeros(len(nodes), dim), torch.zeros(len(nodes), dtype=torch.bool)
    if column not in nodes.columns:
        return x, mask
    for row, cell in enumerate(nodes[column]):
        if cell is None or (not isinstance(cell, list | tuple) and pd.isna(cell)):
            continue
        parts = list(cell) if isinstance(cell, list | tuple) else VECTOR_SPLIT.split(str(cell).strip().strip("[]"))
        parts = [p for p in parts if str(p).strip() != ""]
        if not parts:
            continue
        try:
            values = torch.tensor([float(p) for p in parts], dtype=torch.float32)
        except ValueError as exc:
            raise where.error(f"not a vector of numbers ({exc})", row=row, column=column) from exc
        if values.numel() != dim:
            raise where.error(f"{values.numel()} numbers; this model's {column} has {dim}", row=row, column=column)
        if not bool(torch.isfinite(values).all()):
            raise where.error(
                "NaN or infinity in the vector; leave the cell empty for a missing one", row=row, column=column
            )
        x[row], mask[row] = values, True
    return x, mask


def unseen_categories(frame: pd.DataFrame, encoder: TabularEncoder) -> list[tuple[int, str, str]]:
    """(row, column, value) of every categorical cell whose value the training split never had."""
    found = []
    for column in encoder.categorical:
        if column not in frame.columns:
            continue
        known = set(encoder.categories[column])
        for row, value in enumerate(_categorical(frame, column)):
            if not pd.isna(value) and str(value) not in known:
                found.append((row, column, str(value)))
    return found


def _numbers(nodes: pd.DataFrame, columns: list[str], where: Request) -> pd.DataFrame:
    """Numeric columns as float64, by validate's rule (finite numbers or empty; ``inf`` refused)."""
    nodes = nodes.copy()
    for column in (c for c in columns if c in nodes.columns):
        values, bad, texts = parse_numbers(nodes[column])
        if bad.size:
            raise where.error(not_a_number(texts, bad), row=int(bad[0]), column=column)
        nodes[column] = values
    return nodes


def _tabular(nodes: pd.DataFrame, state: dict, row_notes: dict[int, list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    encoder = TabularEncoder.from_dict(state)
    frame = nodes.copy()
    for column in encoder.numeric + encoder.categorical:
        if column not in frame.columns:
            frame[column] = float("nan") if column in encoder.numeric else pd.NA
    for row, column, value in unseen_categories(frame, encoder):
        row_notes[row].append(f"{column}={value!r} was never seen in training: encoded as no category (all zeros)")
    return encoder.transform(frame)


def _new_edges(
    nodes: pd.DataFrame, edges: pd.DataFrame | None, index: dict[str, int], spec, where: Request, edges_where: Request
) -> torch.Tensor:
    pairs: list[tuple[int, int]] = []
    id_column = spec.id_column
    if NEIGHBORS in nodes.columns:
        for row, (node, cell) in enumerate(zip(nodes[id_column], nodes[NEIGHBORS], strict=True)):
            if pd.isna(cell):
                continue
            for other in (s.strip() for s in str(cell).split(NEIGHBOR_SEPARATOR)):
                if not other:
                    continue
                if other not in index:
                    raise where.error(
                        f"neighbor {other!r} is neither a known nor a new node", row=row, column=NEIGHBORS
                    )
                pairs.append((index[other], index[str(node).strip()]))  # messages flow neighbour -> node
    if edges is not None:
        columns = [spec.edges.source, spec.edges.target]
        if not set(columns) <= set(edges.columns):
            raise edges_where.error(f"the edges table needs the columns {columns}, it has {list(edges.columns)}")
        for row, (src, dst) in enumerate(zip(edges[columns[0]], edges[columns[1]], strict=True)):
            for column, value in zip(columns, (src, dst), strict=True):
                if str(value).strip() not in index:
                    raise edges_where.error(f"unknown node {str(value)!r}", row=row, column=column)
            pairs.append((index[str(src).strip()], index[str(dst).strip()]))
    if not pairs:
        return torch.empty(2, 0, dtype=torch.long)
    edge_index = torch.tensor(pairs, dtype=torch.long).t()
    return edge_index[:, edge_index[0] != edge_index[1]]


def predict_new_nodes(
    bundle: ModelBundle,
    known: KnownGraph,
    nodes: pd.DataFrame,
    edges: pd.DataFrame | None = None,
    *,
    images_root: str | Path | None = None,
    encoders: EncoderCache | None = None,
    where: Request | None = None,
    edges_where: Request | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """One row per new node: id, predicted class, confidence, ``p_<class>``, notes."""
    where = where or Request()
    edges_where = edges_where or where
    encoders = encoders or EncoderCache()
    spec = known.spec
    notes: list[str] = []
    _check_columns(nodes, known, where, notes)
    nodes = nodes.reset_index(drop=True)
    check_request(nodes, where)  # before any encoding: a 50 MB cell never reaches a tokenizer
    nodes = _numbers(nodes, list(spec.numeric_columns), where)
    ids = _ids(nodes, known, where)
    n = len(ids)
    if n == 0:
        raise where.error("no nodes to predict")
    offset = len(known.node_ids)
    index = {node_id: i for i, node_id in enumerate(known.node_ids)}
    index |= {node_id: offset + i for i, node_id in enumerate(ids)}
    added = _new_edges(nodes.assign(**{spec.id_column: ids}), edges, index, spec, where, edges_where)
    row_notes: dict[int, list[str]] = defaultdict(list)
    xs: dict[str, torch.Tensor] = {}
    masks: dict[str, torch.Tensor] = {}
    root = Path(images_root) if images_root else None
    for modality, dim in bundle.config.modality_dims.items():
        settings = bundle.encoders[modality]
        if modality == "text":
            items = _texts(nodes, list(spec.text_columns))
            encoder = encoders.text(settings, bundle.encoder_states.get(modality)) if items else None
            note_cut_texts(items, getattr(encoder, "max_chars", None), row_notes)
            xs[modality], masks[modality] = _encode(items, encoder, n, dim)
        elif modality == "image":
            items = _images(nodes, spec.image_column, root, where)
            xs[modality], masks[modality] = _encode(items, encoders.image(settings) if items else None, n, dim)
        elif modality == "tabular":
            xs[modality], masks[modality] = _tabular(nodes, settings["state"], row_notes)
        elif settings.get("encoder") == PRECOMPUTED:
            xs[modality], masks[modality] = _precomputed(nodes, modality, dim, where)
        else:
            raise GraphFuseError(f"the model expects a modality {modality!r} this GraphFuse cannot encode")
        if xs[modality].shape[1] != dim:
            raise GraphFuseError(f"{modality} features have dim {xs[modality].shape[1]}, the model expects {dim}")
        missing = n - int(masks[modality].sum())
        if missing:
            notes.append(f"{missing} of {n} new node(s) have no {modality}: treated as a missing modality")

    total = offset + n
    if not spec.edges.directed:
        added = to_undirected(added, num_nodes=total)
    edge_index = coalesce(torch.cat([known.edge_index, added], dim=1), num_nodes=total)
    data = Data(edge_index=edge_index, num_nodes=total)
    for modality in bundle.config.modality_dims:
        data[f"x_{modality}"] = torch.cat([known.features[modality], xs[modality]])
        data[f"mask_{modality}"] = torch.cat([known.masks[modality], masks[modality]])
    labels = known.labels_for(total)
    if labels is not None:  # the training labels, for the model's Correct & Smooth (if it has one)
        data.y, data.train_mask = labels
    elif bundle.config.smoothing_alpha > 0:
        notes.append("the model package has no training labels: predictions are not label-smoothed")
    probs = torch.softmax(predict_logits(bundle.build(), data, torch.device(encoders.device)), dim=-1)[offset:]
    confidence, predicted = probs.max(dim=-1)
    out = pd.DataFrame(
        {
            "node_id": ids,
            "predicted": [bundle.classes[i] for i in predicted.tolist()],
            "confidence": confidence.double().numpy(),
        }
    )
    for i, name in enumerate(bundle.classes):
        out[f"p_{name}"] = probs[:, i].double().numpy()
    out["notes"] = ["; ".join(row_notes.get(row, [])) for row in range(n)]
    unseen = sum(1 for r in row_notes.values() if r)
    if unseen:
        notes.append(f"{unseen} new node(s) carry a category never seen in training (see their notes)")
    return out, notes
