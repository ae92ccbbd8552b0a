"""Per-modality feature files: ``x`` [n, d] float32 and ``mask`` [n] bool in one safetensors file.

The mask says which nodes really have the modality; masked rows of ``x`` are zeros, so the
model can tell "no flag" from "a black flag". Files carry the node-id fingerprint of the table
they were computed from, so a stale file is caught instead of silently misaligned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from pipeline.atomic import write_with
from pipeline.errors import GraphFuseError
from pipeline.formats import FEATURES, check_format

MODALITIES = ("text", "image", "tabular")


def ids_fingerprint(ids: list[str]) -> str:
    """A short hash of the node order, stored with every per-node file."""
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()[:16]


def state_fingerprint(state: dict) -> str:
    """A short hash of a fitted encoder state, stored with the features computed from it."""
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ModalityFeatures:
    modality: str
    x: torch.Tensor
    mask: torch.Tensor
    ids_fingerprint: str
    info: dict[str, str | int | float] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    @classmethod
    def absent(cls, modality: str, ids: list[str], dim: int = 0) -> ModalityFeatures:
        """No node has this modality: zero rows, empty mask."""
        n = len(ids)
        return cls(modality, torch.zeros(n, dim), torch.zeros(n, dtype=torch.bool), ids_fingerprint(ids), {"absent": 1})

    def __post_init__(self) -> None:
        if self.x.dim() != 2 or self.mask.shape != (self.x.shape[0],):
            raise ValueError(f"{self.modality}: x must be [n, d] and mask [n]")


def save_features(path: str | Path, features: ModalityFeatures) -> None:
    tensors = {
        "x": features.x.to(torch.float32).contiguous(),
        "mask": features.mask.to(torch.bool).contiguous(),
    }
    metadata = {
        "format": str(FEATURES),
        "modality": features.modality,
        "ids_fingerprint": features.ids_fingerprint,
        "info": json.dumps(features.info, sort_keys=True),
    }
    write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_features(path: str | Path) -> ModalityFeatures:
    path = Path(path)
    if not path.is_file():
        raise GraphFuseError(f"{path}: feature file not found (run its preprocess stage first)")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    check_format(path, metadata.get("format"), FEATURES, f"the preprocess_{metadata.get('modality', path.stem)} stage")
    tensors = load_file(str(path))
    return ModalityFeatures(
        modality=metadata.get("modality", path.stem),
        x=tensors["x"],
        mask=tensors["mask"],
        ids_fingerprint=metadata.get("ids_fingerprint", ""),
        info=json.loads(metadata.get("info", "{}")),
    )
