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

The request's checks live in :mod:`pipeline.inference.request`, the encoding in
:mod:`pipeline.inference.new_features`; this module joins them to the known graph and runs the model.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected

from pipeline.inference.bundle import ModelBundle
from pipeline.inference.known_graph import KnownGraph
from pipeline.inference.new_features import EncoderCache, encode_new_nodes, unseen_categories
from pipeline.inference.request import (
    IMAGE_BYTES_SUFFIX,
    NEIGHBORS,
    Request,
    check_columns,
    input_columns,
    new_edges,
    new_ids,
    parse_number_columns,
)
from pipeline.request_limits import check_request
from pipeline.training import predict_logits

# The request's and the encoding's names, importable from here as before the split.
__all__ = [
    "IMAGE_BYTES_SUFFIX",
    "NEIGHBORS",
    "EncoderCache",
    "Request",
    "input_columns",
    "predict_new_nodes",
    "unseen_categories",
]


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
    check_columns(nodes, known, where, notes)
    nodes = nodes.reset_index(drop=True)
    check_request(nodes, where)  # before any encoding: a 50 MB cell never reaches a tokenizer
    nodes = parse_number_columns(nodes, list(spec.numeric_columns), where)
    ids = new_ids(nodes, known, where)
    if not ids:
        raise where.error("no nodes to predict")
    offset = len(known.node_ids)
    index = {node_id: i for i, node_id in enumerate(known.node_ids)}
    index |= {node_id: offset + i for i, node_id in enumerate(ids)}
    added = new_edges(nodes.assign(**{spec.id_column: ids}), edges, index, spec, where, edges_where)
    row_notes: dict[int, list[str]] = defaultdict(list)
    root = Path(images_root) if images_root else None
    xs, masks = encode_new_nodes(
        bundle, spec, nodes, encoders=encoders, images_root=root, where=where, notes=notes, row_notes=row_notes
    )
    data = _union_graph(bundle, known, offset + len(ids), added, xs, masks, notes)
    probs = torch.softmax(predict_logits(bundle.build(), data, torch.device(encoders.device)), dim=-1)[offset:]
    unseen = sum(1 for r in row_notes.values() if r)
    if unseen:
        notes.append(f"{unseen} new node(s) carry a category never seen in training (see their notes)")
    return _prediction_frame(bundle.classes, ids, probs, row_notes), notes


def _union_graph(
    bundle: ModelBundle,
    known: KnownGraph,
    total: int,
    added: torch.Tensor,
    xs: dict[str, torch.Tensor],
    masks: dict[str, torch.Tensor],
    notes: list[str],
) -> Data:
    """The known graph with the new nodes appended (``total`` nodes, the new ones last) and their edges added."""
    if not known.spec.edges.directed:
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
    return data


def _prediction_frame(
    classes: list[str], ids: list[str], probs: torch.Tensor, row_notes: dict[int, list[str]]
) -> pd.DataFrame:
    """node_id, predicted, confidence, one ``p_<class>`` column per class, and each row's notes."""
    confidence, predicted = probs.max(dim=-1)
    out = pd.DataFrame(
        {
            "node_id": ids,
            "predicted": [classes[i] for i in predicted.tolist()],
            "confidence": confidence.double().numpy(),
        }
    )
    for i, name in enumerate(classes):
        out[f"p_{name}"] = probs[:, i].double().numpy()
    out["notes"] = ["; ".join(row_notes.get(row, [])) for row in range(len(ids))]
    return out
