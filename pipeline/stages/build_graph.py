"""Stage build_graph: the dataset's edges plus every present modality as one PyG graph."""

from __future__ import annotations

from dataclasses import asdict

import torch

from pipeline.atomic import read_json, write_json
from pipeline.config import Params
from pipeline.dataset import SPLITS, LoadedDataset, read_processed
from pipeline.errors import GraphFuseError
from pipeline.features import (
    MODALITIES,
    TABULAR_STATE_FILE,
    ModalityFeatures,
    ids_fingerprint,
    load_feature_group,
    state_fingerprint,
)
from pipeline.graph import GraphMeta, build_edge_index, build_graph, dataset_and_knn_edges, graph_stats, save_graph
from pipeline.paths import Paths

GRAPH_METRICS_FILE = "graph.json"


def run(params: Params, paths: Paths) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    notes = list(dataset.notes)
    features = _present_features(dataset, paths, notes)
    link_tensors: dict = {}
    if dataset.spec.is_link_prediction:  # message passing over training edges only
        from pipeline.tasks.link.graph import link_graph_tensors

        edge_index, report, link_tensors, link_notes = link_graph_tensors(
            dataset,
            eval_negatives_per_positive=params.build_graph.eval_negatives,
            seed=params.build_graph.negatives_seed,
        )
        notes.extend(link_notes)
    else:
        edge_index, report = build_edge_index(dataset.edges, dataset.ids, directed=dataset.spec.edges.directed)
    notes.extend(report.notes())
    classes = dataset.classes
    y = torch.from_numpy(dataset.label_codes())
    masks = {name: torch.from_numpy(dataset.in_split(name)) for name in SPLITS}
    knn = params.build_graph.knn
    edge_index, edge_type, knn_report, knn_notes = dataset_and_knn_edges(
        edge_index, features, len(dataset.ids), **knn.model_dump()
    )  # kNN edges come from features alone: no held-out edge can leak through them
    notes.extend(knn_notes)
    data = build_graph(features, edge_index, y, masks)
    data.edge_type = edge_type
    for key, tensor in link_tensors.items():
        data[key] = tensor

    encoders = _encoder_settings(features, paths)
    meta = GraphMeta(
        dataset=dataset.spec.name,
        node_ids=dataset.ids,
        classes=classes,
        modalities={m: f.dim for m, f in features.items()},
        encoders=encoders,
        edge_report=asdict(report),
        knn={"settings": knn.model_dump(), "report": asdict(knn_report)} if knn_report else {},
        notes=notes,
        task=dataset.spec.task,
    )
    stats = graph_stats(edge_index, edge_type, y, masks["train"])
    save_graph(paths.graph, data, meta, encoder_states={m: f.state for m, f in features.items() if f.state})
    write_json(paths.metrics / GRAPH_METRICS_FILE, stats)
    return {
        "nodes": stats["nodes"],
        "edges": stats["edges"],
        "isolated_nodes": stats["isolated_nodes"]["all"],
        "homophily_train": stats["homophily_train"],
        "modalities": meta.modalities,
        "notes": notes,
    }


def _present_features(dataset: LoadedDataset, paths: Paths, notes: list[str]) -> dict[str, ModalityFeatures]:
    """Every modality some node has, from the preprocess stages' outputs, each checked to be
    computed for this node table; a modality no node has is left out with a note."""
    fingerprint = ids_fingerprint(dataset.ids)
    features: dict[str, ModalityFeatures] = {}
    for kind in MODALITIES:
        if kind == "embedding" and not dataset.spec.embedding_modalities and not paths.feature_file(kind).exists():
            continue  # no precomputed embedding named, and no folder from a run before the stage existed
        for modality, feats in load_feature_group(paths.feature_file(kind)).items():
            if feats.ids_fingerprint != fingerprint:
                raise GraphFuseError(
                    f"{paths.feature_file(kind)}: computed for another node table; rerun preprocess_{kind}"
                )
            if feats.dim == 0 or not bool(feats.mask.any()):
                if kind != "embedding" or "absent" not in feats.info:  # no precomputed one: nothing to say
                    notes.append(f"modality {modality} left out: no node has it")
                continue
            features[modality] = feats
    if not features:
        raise GraphFuseError(
            f"{paths.dataset}: no node has any text, image, tabular or precomputed embedding feature to learn from"
        )
    return features


def _encoder_settings(features: dict[str, ModalityFeatures], paths: Paths) -> dict[str, dict]:
    """Each modality's encoder settings, as predict must redo them; the tabular encoder's fitted
    state goes in whole, checked to be the one its features were computed with."""
    encoders = {m: dict(f.info) for m, f in features.items()}
    if "tabular" in encoders:
        state = read_json(paths.features / TABULAR_STATE_FILE)
        if encoders["tabular"].pop("state_sha", None) != state_fingerprint(state):
            raise GraphFuseError(
                f"{paths.features}: tabular/ and {TABULAR_STATE_FILE} come from different runs "
                "(an interrupted write); rerun preprocess_tabular"
            )
        encoders["tabular"]["state"] = state
    return encoders
