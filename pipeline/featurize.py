"""Turn a dataset's columns into per-modality features with a mask of who has what.

Shared by the preprocess stages and by ``graphfuse predict``, so a new dataset is encoded
exactly as the training data was.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from pipeline.dataset import Dataset
from pipeline.encoders.base import Encoder
from pipeline.encoders.tabular import TabularEncoder
from pipeline.features import ModalityFeatures, ids_fingerprint


def node_texts(dataset: Dataset) -> pd.Series:
    """One text per node: the non-empty text columns joined by a newline; NA when none."""
    columns = dataset.spec.text_columns
    frame = dataset.nodes[columns].astype("string")

    def join(row: pd.Series) -> str | None:
        parts = [str(v) for v in row if not pd.isna(v) and str(v).strip()]
        return "\n".join(parts) if parts else None

    # Not DataFrame.apply: it turns the None of a node without text into NaN, a float.
    texts = [join(row) for _, row in frame.iterrows()] if columns else [None] * len(frame)
    return pd.Series(texts, index=frame.index, dtype=object)


def _encode_present(modality: str, dataset: Dataset, encoder: Encoder, items: dict[int, Any]) -> ModalityFeatures:
    """Encode only the nodes that have the modality (``items``: row -> input); the rest are zero
    rows with mask False. The encoder's name and settings travel with the features."""
    n = len(dataset.nodes)
    x = torch.zeros(n, encoder.dim, dtype=torch.float32)
    mask = torch.zeros(n, dtype=torch.bool)
    if items:
        index = torch.tensor(list(items), dtype=torch.long)
        x[index] = encoder.encode(list(items.values())).to(torch.float32)
        mask[index] = True
    info = {"encoder": encoder.name, "dim": encoder.dim}
    if hasattr(encoder, "image_size"):
        info["image_size"] = encoder.image_size
    return ModalityFeatures(modality, x, mask, ids_fingerprint(dataset.ids), info)


def text_features(dataset: Dataset, encoder: Encoder) -> ModalityFeatures:
    texts = node_texts(dataset)
    return _encode_present("text", dataset, encoder, {i: t for i, t in enumerate(texts) if t is not None})


def image_features(dataset: Dataset, encoder: Encoder) -> ModalityFeatures:
    column = dataset.spec.image_column
    if column is None:
        raise ValueError(f"dataset {dataset.spec.name!r} has no image_column")
    cells = dataset.nodes[column]
    paths = {i: dataset.image_path(str(cell)) for i, cell in enumerate(cells) if not pd.isna(cell)}
    return _encode_present("image", dataset, encoder, paths)


def tabular_features(dataset: Dataset, encoder: TabularEncoder) -> ModalityFeatures:
    x, mask = encoder.transform(dataset.nodes)
    return ModalityFeatures(
        "tabular", x, mask, ids_fingerprint(dataset.ids), {"encoder": "tabular", "dim": encoder.dim}
    )


def fit_tabular(dataset: Dataset, clip: float) -> TabularEncoder:
    """Fit imputation, scaling and categories on the train split only: no test leakage."""
    if dataset.split is None:
        raise ValueError("fit_tabular needs a dataset with its split assigned")
    train_rows = (dataset.split == "train").fillna(False).to_numpy(dtype=bool)
    encoder = TabularEncoder(list(dataset.spec.numeric_columns), list(dataset.spec.categorical_columns), clip=clip)
    return encoder.fit(dataset.nodes, train_rows)
