"""Predict every node of a format-v1 dataset folder with a trained bundle.

The new dataset goes through the same encoders and the training split's tabular statistics;
a modality the new dataset lacks is fed as missing (mask 0), which the model was built for.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from pipeline.config import default_model_name
from pipeline.dataset import LoadedDataset, load_dataset
from pipeline.dataset.embeddings import read_embedding
from pipeline.dataset.spec import EMBEDDING_PREFIX, SPEC_FILE
from pipeline.encoders.registry import rebuild_encoder
from pipeline.encoders.tabular import TabularEncoder
from pipeline.errors import GraphFuseError
from pipeline.features import PRECOMPUTED, ModalityFeatures, ids_fingerprint
from pipeline.features.encode import encode_image_modality, encode_text_modality, tabular_features
from pipeline.graph import build_edge_index, build_graph, dataset_and_knn_edges
from pipeline.inference.bundle import ModelBundle
from pipeline.inference.new_features import unseen_categories
from pipeline.training import predict_logits, resolve_device


def featurize_for_bundle(
    dataset: LoadedDataset, bundle: ModelBundle, *, device: str = "cpu", progress: bool = True
) -> tuple[dict[str, ModalityFeatures], list[str]]:
    """Features for each modality the model expects, plus notes on what had to be treated as missing."""
    ids, spec = dataset.ids, dataset.spec
    features: dict[str, ModalityFeatures] = {}
    notes: list[str] = []
    text_groups, image_groups = spec.modality_groups("text"), spec.modality_groups("image")
    for modality, dim in bundle.config.modality_dims.items():
        settings = bundle.encoders[modality]
        state = bundle.encoder_states.get(modality)
        if modality in text_groups:
            encoder = rebuild_encoder("text", settings, state, device=device, progress=progress)
            features[modality] = encode_text_modality(dataset, encoder, modality, text_groups[modality])[0]
        elif modality in image_groups:
            encoder = rebuild_encoder("image", settings, device=device, progress=progress)
            features[modality] = encode_image_modality(dataset, encoder, modality, image_groups[modality])[0]
        elif modality == "tabular" and (spec.numeric_columns or spec.categorical_columns):
            tabular = TabularEncoder.from_dict(settings["state"])
            nodes = dataset.nodes.copy()
            absent = [c for c in tabular.numeric + tabular.categorical if c not in nodes.columns]
            for column in absent:
                nodes[column] = float("nan") if column in tabular.numeric else pd.NA
            if absent:
                notes.append(f"tabular columns {absent} are not in this dataset: treated as missing values")
            unseen = unseen_categories(nodes, tabular)
            for column in sorted({c for _, c, _ in unseen}):
                cells = [(r, v) for r, c, v in unseen if c == column]
                shown = ", ".join(f"row {dataset.file_row(r)} {v!r}" for r, v in cells[:5])
                more = f" and {len(cells) - 5} more" if len(cells) > 5 else ""
                notes.append(
                    f"{dataset.nodes_file}: {len(cells)} value(s) of '{column}' never seen in training "
                    f"({shown}{more}): encoded as no category (all zeros)"
                )
            features[modality] = tabular_features(replace(dataset, nodes=nodes), tabular)
        elif settings.get("encoder") == PRECOMPUTED:
            features[modality] = _precomputed(dataset, modality, dim, notes)
        else:
            notes.append(f"this dataset has no {modality} columns: every node is treated as missing {modality}")
            features[modality] = ModalityFeatures.absent(modality, ids, dim)
        if features[modality].dim != dim:
            raise ValueError(f"{modality} features have dim {features[modality].dim}, the model expects {dim}")
    return features, notes


def _precomputed(dataset: LoadedDataset, modality: str, dim: int, notes: list[str]) -> ModalityFeatures:
    """A precomputed embedding comes from the new dataset's own file of the same name, else is missing."""
    name = modality.removeprefix(EMBEDDING_PREFIX)
    entry = dataset.spec.embedding_modalities.get(name)
    if entry is None:
        notes.append(
            f"the model was trained with the precomputed embedding '{name}' and this dataset's "
            f"embedding_modalities names none: every node is treated as missing {modality}"
        )
        return ModalityFeatures.absent(modality, dataset.ids, dim)
    matrix = read_embedding(
        dataset.root, dataset.root / SPEC_FILE, name, entry, dataset.ids, dataset.nodes_file_name, keep=True
    )
    if matrix.x.shape[1] != dim:
        raise GraphFuseError(f"{matrix.path}: {matrix.x.shape[1]} dims; the model was trained on {dim}-d '{name}'")
    x, mask = torch.from_numpy(matrix.x), torch.from_numpy(matrix.mask)
    return ModalityFeatures(modality, x, mask, ids_fingerprint(dataset.ids), {"encoder": PRECOMPUTED})


def check_model_fits(bundle: ModelBundle, dataset: LoadedDataset) -> None:
    """Refuse a model trained on another dataset whose columns this one lacks.

    On its own dataset (same name) a model treats an absent modality as missing, which it was
    trained for. A model of another dataset with none of the same columns would only ever answer
    from its bias (countries' model says "Asia" to every shape), so that is an error naming both.
    """
    spec = dataset.spec
    if bundle.dataset_name == spec.name:
        return
    present = spec.modality_groups("text") | spec.modality_groups("image") | spec.embedding_groups()
    lacking: list[str] = []
    for modality in bundle.config.modality_dims:
        if modality == "tabular":
            tabular = TabularEncoder.from_dict(bundle.encoders[modality]["state"])
            have = set(spec.numeric_columns) | set(spec.categorical_columns)
            lacking += [f"column '{c}'" for c in tabular.numeric + tabular.categorical if c not in have]
        elif modality not in present:
            lacking.append(f"the {modality} modality")
    if lacking:
        raise GraphFuseError(
            f"{dataset.root}: this model was trained on dataset '{bundle.dataset_name}' and dataset "
            f"'{spec.name}' does not fit it; it lacks " + ", ".join(lacking) + ". Predict with a model "
            f"trained on '{spec.name}' (models:/{default_model_name(spec.name)}@champion after "
            f"`graphfuse repro` with dataset.dir pointing at it)"
        )


def predict_dataset(
    bundle: ModelBundle, dataset_dir: str | Path, *, device: str = "auto", progress: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """One row per node: id, given label (may be empty), predicted label, confidence, class probabilities."""
    dataset = load_dataset(dataset_dir, require_labels=False)
    check_model_fits(bundle, dataset)
    torch_device = resolve_device(device)
    features, notes = featurize_for_bundle(dataset, bundle, device=str(torch_device), progress=progress)
    edge_index, report = build_edge_index(dataset.edges, dataset.ids, directed=dataset.spec.edges.directed)
    notes.extend(report.notes())
    if bundle.knn.get("enabled"):  # the graph the model was trained on had kNN edges: so does this one
        edge_index, edge_type, _, knn_notes = dataset_and_knn_edges(
            edge_index, features, len(dataset.ids), **bundle.knn
        )
        notes.extend(knn_notes)
    else:
        edge_type = torch.zeros(edge_index.size(1), dtype=torch.long)
    y = torch.full((len(dataset.ids),), -1, dtype=torch.long)
    data = build_graph(features, edge_index, y, {})
    data.edge_type = edge_type
    if bundle.config.smoothing_alpha > 0:  # no training labels on this graph: nothing to spread
        notes.append("Correct & Smooth needs the training graph's labels: not applied on another dataset")
    probs = torch.softmax(predict_logits(bundle.build(), data, torch_device), dim=-1)
    confidence, predicted = probs.max(dim=-1)
    out = pd.DataFrame(
        {
            "node_id": dataset.ids,
            "label": dataset.labels.astype("string").fillna("").tolist(),
            "predicted": [bundle.classes[i] for i in predicted.tolist()],
            "confidence": confidence.numpy().round(6),
        }
    )
    for i, name in enumerate(bundle.classes):
        out[f"p_{name}"] = probs[:, i].numpy().round(6)
    return out, notes
