"""New nodes' features, encoded exactly as training encoded its nodes, modality by modality.

Text and images go through the same pretrained encoders (rebuilt from the model's recorded
settings, loaded once per process), tabular cells through the fitted tabular state, precomputed
embeddings arrive as vectors. A modality that is absent or empty is a missing modality (its mask
is false); a category never seen in training is encoded as no category and noted on its row.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pipeline.dataset.spec import DatasetSpec
from pipeline.encoders.registry import rebuild_encoder
from pipeline.encoders.tabular import TabularEncoder, _categorical
from pipeline.errors import DatasetError, GraphFuseError
from pipeline.features import PRECOMPUTED
from pipeline.images import load_rgb
from pipeline.inference.bundle import ModelBundle
from pipeline.inference.request import IMAGE_BYTES_SUFFIX, Request
from pipeline.request_limits import note_cut_texts

#: Separators between the numbers of a precomputed-embedding cell.
VECTOR_SPLIT = re.compile(r"[,;\s]+")


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


def encode_new_nodes(
    bundle: ModelBundle,
    spec: DatasetSpec,
    nodes: pd.DataFrame,
    *,
    encoders: EncoderCache,
    images_root: Path | None,
    where: Request,
    notes: list[str],
    row_notes: dict[int, list[str]],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(features, masks)`` per modality of the model for the ``len(nodes)`` new nodes."""
    n = len(nodes)
    xs: dict[str, torch.Tensor] = {}
    masks: dict[str, torch.Tensor] = {}
    for modality, dim in bundle.config.modality_dims.items():
        settings = bundle.encoders[modality]
        if modality == "text":
            items = _texts(nodes, list(spec.text_columns))
            encoder = encoders.text(settings, bundle.encoder_states.get(modality)) if items else None
            note_cut_texts(items, getattr(encoder, "max_chars", None), row_notes)
            xs[modality], masks[modality] = _encode(items, encoder, n, dim)
        elif modality == "image":
            items = _images(nodes, spec.image_column, images_root, where)
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
    return xs, masks


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


def _tabular(nodes: pd.DataFrame, state: dict, row_notes: dict[int, list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    encoder = TabularEncoder.from_dict(state)
    frame = nodes.copy()
    for column in encoder.numeric + encoder.categorical:
        if column not in frame.columns:
            frame[column] = float("nan") if column in encoder.numeric else pd.NA
    for row, column, value in unseen_categories(frame, encoder):
        row_notes[row].append(f"{column}={value!r} was never seen in training: encoded as no category (all zeros)")
    return encoder.transform(frame)
