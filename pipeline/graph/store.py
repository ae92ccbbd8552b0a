"""The graph on disk: tensors in safetensors (no pickle), metadata in JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch_geometric.data import Data

from pipeline.atomic import atomic_dir, read_json, write_json, write_with
from pipeline.errors import GraphFuseError
from pipeline.features.states import STATES_FILE, EncoderStates, load_states, save_states
from pipeline.formats import GRAPH, check_format

TENSORS_FILE = "graph.safetensors"
META_FILE = "graph.json"


@dataclass(frozen=True)
class GraphMeta:
    """Everything about the graph that is not a tensor: what a node index and a class id mean."""

    dataset: str
    node_ids: list[str]
    classes: list[str]
    modalities: dict[str, int]  # modality -> feature dim
    encoders: dict[str, dict] = field(default_factory=dict)
    edge_report: dict = field(default_factory=dict)
    knn: dict = field(default_factory=dict)  # the kNN settings and report; empty when off
    notes: list[str] = field(default_factory=list)
    task: str = "node_classification"  # or link_prediction: the graph then holds lp_* tensors


def save_graph(out_dir: str | Path, data: Data, meta: GraphMeta, encoder_states: EncoderStates | None = None) -> None:
    """Tensors, metadata and the fitted encoder states (tfidf; for the model bundle), all or nothing."""
    tensors = {key: value.contiguous() for key, value in data.items() if torch.is_tensor(value)}
    with atomic_dir(out_dir) as staged:  # tensors and metadata are replaced together or not at all
        write_with(staged / TENSORS_FILE, lambda tmp: save_file(tensors, str(tmp)))
        write_json(staged / META_FILE, {"format": GRAPH, **asdict(meta)})
        save_states(staged / STATES_FILE, encoder_states or {})


def load_encoder_states(graph_dir: str | Path) -> EncoderStates:
    """The fitted encoder states build_graph kept (modality -> tensors); ``{}`` when none."""
    return load_states(Path(graph_dir) / STATES_FILE)


def load_graph(graph_dir: str | Path) -> tuple[Data, GraphMeta]:
    graph_dir = Path(graph_dir)
    tensors_path, meta_path = graph_dir / TENSORS_FILE, graph_dir / META_FILE
    for path in (tensors_path, meta_path):
        if not path.is_file():
            raise GraphFuseError(f"{path}: not found (run the build_graph stage first)")
    stored = read_json(meta_path)
    check_format(meta_path, stored.pop("format", None), GRAPH, "the build_graph stage")
    meta = GraphMeta(**stored)
    tensors = load_file(str(tensors_path))
    data = Data(num_nodes=len(meta.node_ids), **tensors)
    return data, meta


__all__ = ["GraphMeta", "load_encoder_states", "load_graph", "save_graph"]
