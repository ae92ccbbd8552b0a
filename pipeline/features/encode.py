"""Turn a dataset's columns into per-modality features with a mask of who has what.

Shared by the preprocess stages and by ``graphfuse predict``, so a new dataset is encoded
exactly as the training data was. Texts and images go through the embedding cache
(:mod:`pipeline.features.runner`); what could not be used is reported with its file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.cache import content_digest
from pipeline.cache.keys import file_digest
from pipeline.cache.store import EmbeddingCache
from pipeline.dataset import LoadedDataset
from pipeline.encoders.base import Encoder
from pipeline.encoders.tabular import TabularEncoder
from pipeline.features import ModalityFeatures, ids_fingerprint
from pipeline.features.runner import EmbedResult, MapShards, embed

EMPTY_TEXT = "empty text: treated as missing"
BAD_UTF8 = "non-UTF-8 bytes in text: replaced by U+FFFD"


@dataclass(frozen=True)
class Skip:
    """One item left out (or repaired), located so the user can find it."""

    file: str
    row: int | None
    column: str | None
    reason: str

    def line(self) -> str:
        where = self.file + (f", row {self.row}" if self.row else "")
        where += f", column '{self.column}'" if self.column else ""
        return f"{where}: {self.reason}"


@dataclass
class EncodeReport:
    """What a modality's encoding did: skips (located), repairs, counted notes, cache use."""

    modality: str
    skipped: list[Skip] = field(default_factory=list)
    repaired: list[Skip] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)
    cache: dict[str, int] = field(default_factory=dict)
    encoded: int = 0

    def count(self, note: str, k: int = 1) -> None:
        if k:
            self.notes[note] = self.notes.get(note, 0) + k

    def summary(self) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for skip in self.skipped:
            reasons[skip.reason] = reasons.get(skip.reason, 0) + 1
        return {
            "skipped": len(self.skipped),
            "skipped_reasons": reasons,
            "repaired": len(self.repaired),
            "notes": dict(self.notes),
            "cache": dict(self.cache),
            "encoded": self.encoded,
        }

    def lines(self, limit: int = 20) -> list[str]:
        """The human summary a stage prints and logs at its end."""
        head = f"{self.modality}: encoded {self.encoded}"
        if self.cache:
            head += f", cache hits {self.cache.get('hits', 0)}, misses {self.cache.get('misses', 0)}"
            if self.cache.get("corrupt"):
                head += f", corrupt entries recomputed {self.cache['corrupt']}"
        out = [head + f", skipped {len(self.skipped)}"]
        out += [f"  {note}: {k}" for note, k in sorted(self.notes.items())]
        for label, items in (("skipped", self.skipped), ("repaired", self.repaired)):
            out += [f"  {label}: {s.line()}" for s in items[:limit]]
            if len(items) > limit:
                out.append(f"  ... and {len(items) - limit} more {label}")
        return out


@dataclass(frozen=True)
class EncodeOptions:
    cache: EmbeddingCache | None = None
    shard_size: int = 1024
    map_shards: MapShards | None = None
    progress: bool = False


def _cell_text(value: Any, where: tuple[str, int, str], report: EncodeReport) -> str | None:
    if value is None or (not isinstance(value, (bytes, str)) and pd.isna(value)):
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = value.decode("utf-8", errors="replace")
            report.repaired.append(Skip(*where, BAD_UTF8))
    text = str(value)
    if not text.strip():
        report.count(EMPTY_TEXT)
        return None
    return text


def node_texts(
    dataset: LoadedDataset, columns: list[str] | None = None, report: EncodeReport | None = None
) -> pd.Series:
    """One text per node: the non-empty text columns joined by a newline; None when none."""
    columns = dataset.spec.all_text_columns() if columns is None else columns
    report = report if report is not None else EncodeReport("text")
    file = str(dataset.nodes_file)
    texts: list[str | None] = []
    for position in range(len(dataset.nodes)):
        row = LoadedDataset.file_row(position)
        parts = [_cell_text(dataset.nodes[c].iat[position], (file, row, c), report) for c in columns]
        parts = [p for p in parts if p is not None]
        texts.append("\n".join(parts) if parts else None)
    return pd.Series(texts, dtype=object)


def _info(encoder: Encoder) -> dict[str, Any]:
    info: dict[str, Any] = {"encoder": encoder.name, "dim": encoder.dim}
    if hasattr(encoder, "image_size"):
        info["image_size"] = encoder.image_size
    if hasattr(encoder, "version"):
        info["version"] = encoder.version
    settings = getattr(encoder, "settings", {})
    if "bins" in settings:
        info["bins"] = settings["bins"]  # predict rebuilds the colour histogram with them
    if settings.get("state"):
        info["fitted_state"] = settings["state"]  # the hash predict checks the rebuilt tfidf against
    if getattr(encoder, "weights", None):
        info["weights"] = encoder.weights  # the local weights file predict loads again (sha in version)
    return info


def _fitted_state(encoder: Encoder) -> dict[str, torch.Tensor]:
    """A fitted encoder's tensors (tfidf), saved with the features; nothing for pretrained ones."""
    fitted_state = getattr(encoder, "fitted_state", None)
    return fitted_state() if callable(fitted_state) else {}


def _embed_reported(
    items: list[tuple[str, Any]], encoder: Encoder, options: EncodeOptions, report: EncodeReport
) -> EmbedResult:
    """Embed through the cache and record its hits, misses and the encoder's notes in ``report``."""
    result = embed(
        items,
        encoder,
        options.cache,
        shard_size=options.shard_size,
        map_shards=options.map_shards,
        progress=options.progress,
    )
    report.cache, report.encoded = result.stats.as_dict(), result.encoded
    for note, k in result.notes.items():
        report.count(note, k)
    return result


def encode_text_modality(
    dataset: LoadedDataset,
    encoder: Encoder,
    modality: str = "text",
    columns: list[str] | None = None,
    options: EncodeOptions = EncodeOptions(),
) -> tuple[ModalityFeatures, EncodeReport]:
    """Embed each node's (joined) text through the cache; empty texts are missing, not zeros."""
    report = EncodeReport(modality)
    texts = node_texts(dataset, columns, report)
    rows = [i for i, t in enumerate(texts) if t is not None]
    items = [(content_digest(texts[i]), texts[i]) for i in rows]
    n = len(dataset.nodes)
    x = torch.zeros(n, encoder.dim, dtype=torch.float32)
    mask = torch.zeros(n, dtype=torch.bool)
    if items:
        result = _embed_reported(items, encoder, options, report)
        index = torch.tensor(rows, dtype=torch.long)
        x[index] = torch.from_numpy(result.x)
        mask[index] = True
    features = ModalityFeatures(
        modality, x, mask, ids_fingerprint(dataset.ids), _info(encoder), state=_fitted_state(encoder)
    )
    return features, report


def encode_image_modality(
    dataset: LoadedDataset,
    encoder: Encoder,
    modality: str = "image",
    columns: list[str] | None = None,
    options: EncodeOptions = EncodeOptions(),
) -> tuple[ModalityFeatures, EncodeReport]:
    """Embed every image cell through the cache; a node with several images gets their mean.

    An image that cannot be read is skipped (reported with file, row and column); a node whose
    every image was skipped counts as lacking the modality.
    """
    columns = dataset.spec.all_image_columns() if columns is None else columns
    report = EncodeReport(modality)
    file = str(dataset.nodes_file)
    cells: list[tuple[int, str, Path]] = []
    for column in columns:
        for position, cell in enumerate(dataset.nodes[column].tolist()):
            if cell is not None and not pd.isna(cell):
                cells.append((position, column, dataset.image_path(str(cell))))
    items: list[tuple[str, Any]] = []
    usable: list[tuple[int, str, Path]] = []
    for position, column, path in cells:
        try:
            items.append((file_digest(path), path))
            usable.append((position, column, path))
        except OSError as exc:
            report.skipped.append(Skip(file, LoadedDataset.file_row(position), column, f"image unreadable ({exc})"))
    n = len(dataset.nodes)
    sums = np.zeros((n, encoder.dim), dtype=np.float64)
    counts = np.zeros(n, dtype=np.int64)
    if items:
        result = _embed_reported(items, encoder, options, report)
        for k, (position, column, path) in enumerate(usable):
            if result.ok[k]:
                sums[position] += result.x[k]
                counts[position] += 1
            else:
                reason = result.failed[k].replace(str(path), path.name)
                report.skipped.append(Skip(file, LoadedDataset.file_row(position), column, f"{path.name}: {reason}"))
    mask = counts > 0
    x = np.where(mask[:, None], sums / np.maximum(counts, 1)[:, None], 0.0).astype(np.float32)
    features = ModalityFeatures(
        modality, torch.from_numpy(x), torch.from_numpy(mask), ids_fingerprint(dataset.ids), _info(encoder)
    )
    return features, report


def text_features(dataset: LoadedDataset, encoder: Encoder) -> ModalityFeatures:
    """All text columns joined, no cache (what predict uses)."""
    return encode_text_modality(dataset, encoder)[0]


def image_features(dataset: LoadedDataset, encoder: Encoder) -> ModalityFeatures:
    """All image columns (mean per node), no cache (what predict uses)."""
    if not dataset.spec.all_image_columns():
        raise ValueError(f"dataset {dataset.spec.name!r} has no image_column")
    return encode_image_modality(dataset, encoder)[0]


def tabular_features(dataset: LoadedDataset, encoder: TabularEncoder) -> ModalityFeatures:
    x, mask = encoder.transform(dataset.nodes)
    return ModalityFeatures(
        "tabular", x, mask, ids_fingerprint(dataset.ids), {"encoder": "tabular", "dim": encoder.dim}
    )


def fit_tabular(
    dataset: LoadedDataset, clip: float, max_onehot: int | None = None, embedding_dim: int = 8
) -> TabularEncoder:
    """Fit imputation, scaling and categories on the train split only: no test leakage."""
    if dataset.split is None:
        raise ValueError("fit_tabular needs a dataset with its split assigned")
    train_rows = dataset.in_split("train")
    encoder = TabularEncoder(
        list(dataset.spec.numeric_columns),
        list(dataset.spec.categorical_columns),
        clip=clip,
        max_onehot=max_onehot,
        embedding_dim=embedding_dim,
    )
    return encoder.fit(dataset.nodes, train_rows)
