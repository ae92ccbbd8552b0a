"""Per-modality feature folders: ``x.npy`` [n, d], ``mask.npy`` [n] and ``manifest.json``.

``x.npy`` is a plain NumPy file, so a million-node matrix can be memory-mapped
(``np.load(path, mmap_mode="r")``) instead of read whole; it is float32, or float16 when
``preprocess.float16`` is on (half the disk, read back as float32). The mask says which nodes
really have the modality; masked rows of ``x`` are zeros, so the model can tell "no flag" from
"a black flag". The manifest names the encoder, its version and dims, the counts (present,
missing, from cache, encoded, skipped) and the node-id fingerprint of the table the features
were computed from, so a stale folder is caught instead of silently misaligned. An encoder
fitted on the train split (tfidf) adds ``encoder_states.safetensors``, its fitted tensors. The
folder is swapped in whole, so its files always belong together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.atomic import atomic_dir
from pipeline.errors import GraphFuseError
from pipeline.features.states import STATES_FILE, load_states, save_states
from pipeline.formats import FEATURES, check_format

#: The tabular encoder's fitted state, beside the feature folders (written by preprocess_tabular,
#: read by build_graph); here, so build_graph needs no encoder code to find it.
TABULAR_STATE_FILE = "tabular_state.json"

#: Feature folders under ``data/processed/features/``; ``embedding`` holds the dataset's own
#: precomputed embeddings (``emb_<name>`` subfolders), written by preprocess_embedding.
MODALITIES = ("text", "image", "tabular", "embedding")
#: ``encoder`` recorded for a precomputed embedding (the dataset's own file, no GraphFuse encoder).
PRECOMPUTED = "precomputed"
X_FILE = "x.npy"
MASK_FILE = "mask.npy"
MANIFEST_FILE = "manifest.json"


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
    info: dict[str, Any] = field(default_factory=dict)
    #: A fitted encoder's tensors (tfidf), kept so predict can rebuild it; empty for pretrained ones.
    state: dict[str, torch.Tensor] = field(default_factory=dict)

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


def save_features(
    folder: str | Path,
    features: ModalityFeatures,
    *,
    float16: bool = False,
    manifest: dict[str, Any] | None = None,
    extra_files: dict[str, str] | None = None,
) -> None:
    """Write the folder whole: ``x.npy``, ``mask.npy``, ``manifest.json`` (+ ``extra_files`` texts)."""
    with atomic_dir(folder) as staged:
        _write_into(staged, features, float16=float16, manifest=manifest)
        for name, text in (extra_files or {}).items():
            (staged / name).write_text(text, encoding="utf-8")


def _write_into(staged: Path, features: ModalityFeatures, *, float16: bool, manifest: dict[str, Any] | None) -> None:
    x = features.x.detach().to("cpu", torch.float32).numpy()
    dtype = np.float16 if float16 else np.float32
    mask = features.mask.detach().to("cpu", torch.bool).numpy()
    record = {
        "format": FEATURES,
        "modality": features.modality,
        "ids_fingerprint": features.ids_fingerprint,
        "nodes": int(mask.shape[0]),
        "dim": int(x.shape[1]),
        "dtype": np.dtype(dtype).name,
        "present": int(mask.sum()),
        "missing": int((~mask).sum()),
        "info": features.info,
        **(manifest or {}),
    }
    staged.mkdir(parents=True, exist_ok=True)
    np.save(staged / X_FILE, x.astype(dtype, copy=False), allow_pickle=False)
    np.save(staged / MASK_FILE, mask, allow_pickle=False)
    (staged / MANIFEST_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    save_states(staged / STATES_FILE, {features.modality: features.state} if features.state else {})


def save_feature_group(
    folder: str | Path,
    group: dict[str, tuple[ModalityFeatures, dict[str, Any]]],
    *,
    float16: bool = False,
) -> None:
    """One modality: the folder itself; several (``text_title``, ``text_body``): a subfolder each."""
    folder = Path(folder)
    if len(group) == 1 and next(iter(group)) == folder.name:
        features, manifest = next(iter(group.values()))
        save_features(folder, features, float16=float16, manifest=manifest)
        return
    with atomic_dir(folder) as staged:
        for name, (features, manifest) in group.items():
            _write_into(staged / name, features, float16=float16, manifest=manifest)


def load_feature_group(folder: str | Path) -> dict[str, ModalityFeatures]:
    """Modality name -> features, for a folder written by :func:`save_feature_group`."""
    folder = Path(folder)
    if (folder / MANIFEST_FILE).is_file() or not folder.is_dir():
        features = load_features(folder)
        return {features.modality: features}
    subs = sorted(p for p in folder.iterdir() if (p / MANIFEST_FILE).is_file())
    if not subs:
        raise GraphFuseError(f"{folder}: no feature manifest in it (rerun its preprocess stage)")
    return {f.modality: f for f in (load_features(p) for p in subs)}


def read_manifest(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise GraphFuseError(f"{folder}: feature folder not found or incomplete (run its preprocess stage first)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    stage = f"the preprocess_{manifest.get('modality', folder.name)} stage"
    check_format(path, manifest.get("format"), FEATURES, stage)
    return manifest


def load_features(folder: str | Path, *, mmap: bool = False) -> ModalityFeatures:
    """Read a feature folder; ``mmap=True`` keeps ``x`` memory-mapped (float16 stays float16)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    x = np.load(folder / X_FILE, mmap_mode="r" if mmap else None, allow_pickle=False)
    mask = np.load(folder / MASK_FILE, allow_pickle=False)
    tensor = torch.from_numpy(np.asarray(x)) if mmap else torch.from_numpy(x.astype(np.float32, copy=False))
    return ModalityFeatures(
        modality=manifest.get("modality", folder.name),
        x=tensor,
        mask=torch.from_numpy(mask.astype(bool, copy=False)),
        ids_fingerprint=manifest.get("ids_fingerprint", ""),
        info=dict(manifest.get("info", {})),
        state=load_states(folder / STATES_FILE).get(manifest.get("modality", folder.name), {}),
    )
