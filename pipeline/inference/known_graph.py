"""The graph a model was trained on, as the model package carries it for inductive prediction.

New nodes are scored attached to this graph by their edges, so the package keeps what the
forward pass needs of it and nothing more: node ids, each modality's features and mask, the
edges, the dataset's column layout, and the labels of the *training* nodes (what Correct & Smooth
propagates; every other node reads -1: no validation or test label is packaged).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch_geometric.data import Data

from pipeline.atomic import read_json, write_json, write_with
from pipeline.dataset import DatasetSpec
from pipeline.errors import GraphFuseError
from pipeline.graph import GraphMeta

KNOWN_GRAPH_FORMAT = 1
TENSORS_FILE = "known_graph.safetensors"
META_FILE = "known_graph.json"


@dataclass
class KnownGraph:
    spec: DatasetSpec
    node_ids: list[str]
    features: dict[str, torch.Tensor]  # modality -> [n, d] float32
    masks: dict[str, torch.Tensor]  # modality -> [n] bool
    edge_index: torch.Tensor  # [2, e], as the model saw it (undirected datasets: both ways)
    train_labels: torch.Tensor | None = None  # [n] class index of training nodes, -1 elsewhere

    def labels_for(self, total: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(y, train_mask) over the known nodes then ``total - n`` new ones, or None without labels."""
        if self.train_labels is None:
            return None
        y = torch.full((total,), -1, dtype=torch.long)
        y[: self.train_labels.numel()] = self.train_labels
        return y, y >= 0

    @classmethod
    def from_graph(cls, data: Data, meta: GraphMeta, spec: DatasetSpec) -> KnownGraph:
        return cls(
            spec=spec,
            node_ids=list(meta.node_ids),
            features={m: data[f"x_{m}"] for m in meta.modalities},
            masks={m: data[f"mask_{m}"] for m in meta.modalities},
            edge_index=data.edge_index,
            train_labels=torch.where(data.train_mask & (data.y >= 0), data.y, torch.full_like(data.y, -1)),
        )

    def without(self, drop: set[str]) -> KnownGraph:
        """The graph with the nodes ``drop`` and their edges removed (to test inductive prediction)."""
        keep = torch.tensor([i not in drop for i in self.node_ids])
        new_index = torch.cumsum(keep.long(), 0) - 1
        edges = self.edge_index[:, keep[self.edge_index[0]] & keep[self.edge_index[1]]]
        return KnownGraph(
            spec=self.spec,
            node_ids=[i for i in self.node_ids if i not in drop],
            features={m: x[keep] for m, x in self.features.items()},
            masks={m: x[keep] for m, x in self.masks.items()},
            edge_index=new_index[edges],
            train_labels=self.train_labels[keep] if self.train_labels is not None else None,
        )


def save_known_graph(out_dir: str | Path, graph: KnownGraph) -> None:
    out_dir = Path(out_dir)
    tensors = {f"x_{m}": x.contiguous() for m, x in graph.features.items()}
    tensors |= {f"mask_{m}": x.contiguous() for m, x in graph.masks.items()}
    tensors["edge_index"] = graph.edge_index.contiguous()
    if graph.train_labels is not None:
        tensors["train_labels"] = graph.train_labels.contiguous()
    write_with(out_dir / TENSORS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    write_json(
        out_dir / META_FILE,
        {
            "format": KNOWN_GRAPH_FORMAT,
            "spec": graph.spec.model_dump(mode="json"),
            "node_ids": graph.node_ids,
            "modalities": sorted(graph.features),
        },
    )


def load_known_graph(graph_dir: str | Path) -> KnownGraph:
    graph_dir = Path(graph_dir)
    meta_path, tensors_path = graph_dir / META_FILE, graph_dir / TENSORS_FILE
    for path in (meta_path, tensors_path):
        if not path.is_file():
            raise GraphFuseError(f"{path}: not found; the model package lacks its training graph")
    meta = read_json(meta_path)
    if meta.get("format") != KNOWN_GRAPH_FORMAT:
        raise GraphFuseError(
            f"{meta_path}: known-graph format {meta.get('format')!r}; this GraphFuse reads format "
            f"{KNOWN_GRAPH_FORMAT}: register the model again with this version"
        )
    tensors = load_file(str(tensors_path))
    return KnownGraph(
        spec=DatasetSpec.model_validate(meta["spec"]),
        node_ids=list(meta["node_ids"]),
        features={m: tensors[f"x_{m}"] for m in meta["modalities"]},
        masks={m: tensors[f"mask_{m}"] for m in meta["modalities"]},
        edge_index=tensors["edge_index"],
        train_labels=tensors.get("train_labels"),  # absent in packages from before Correct & Smooth
    )
