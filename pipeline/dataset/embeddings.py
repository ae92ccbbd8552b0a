"""Precomputed embeddings named in ``dataset.yaml``: found inside the folder, checked, read.

Benchmarks ship their own CLIP or LLM features as one matrix per modality, one row per node in
the nodes file's order. GraphFuse takes them as given, beside or instead of its own encoders.
Checks, each an error naming the file: the file stays inside the dataset folder; it is an
``.npy`` (read without pickle) or a ``.safetensors`` file; the array is 2-D, floating point,
with one row per node; no NaN or infinity, except a row that is NaN throughout, which is a node
without this modality (counted and reported, never dropped). Arrays are read in chunks of rows,
so a matrix of millions of rows is checked without holding it twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.dataset.spec import EmbeddingSpec
from pipeline.errors import DatasetError

SUFFIXES = (".npy", ".safetensors")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
CHUNK_ROWS = 65536
FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
#: safetensors' dtype codes -> the names above (others are refused with their code)
_SAFETENSORS_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64", "BF16": "bfloat16"}


@dataclass(frozen=True)
class EmbeddingMatrix:
    """A checked embedding: ``x`` float32 with zeros for missing rows, ``mask`` who has it."""

    modality: str
    path: Path
    x: np.ndarray
    mask: np.ndarray
    source_dtype: str

    @property
    def missing(self) -> int:
        return int((~self.mask).sum())


def embedding_path(root: Path, spec_path: Path, name: str, entry: EmbeddingSpec) -> Path:
    """The file ``embedding_modalities.<name>.file`` names, refused unless it lies inside ``root``."""
    key = f"embedding_modalities.{name}"
    if not NAME_PATTERN.match(name):
        raise DatasetError(spec_path, f"{key}: a name may hold only letters, digits and '_' (it names a modality)")
    rel = Path(entry.file)
    if rel.is_absolute() or entry.file.startswith(("/", "\\")) or ".." in rel.parts:
        raise DatasetError(spec_path, f"{key}.file '{entry.file}' must be a path inside the dataset folder")
    path = root / rel
    if not path.resolve().is_relative_to(root.resolve()):
        raise DatasetError(spec_path, f"{key}.file '{entry.file}' resolves outside the dataset folder")
    if path.suffix not in SUFFIXES:
        raise DatasetError(path, f"{key}: an embedding file is .npy or .safetensors, not '{path.suffix}'")
    if not path.is_file():
        raise DatasetError(path, f"file not found: {key}.file in dataset.yaml names '{entry.file}'")
    return path


class _Reader:
    """Shape, dtype and row chunks of an ``.npy`` (memory-mapped) or a safetensors tensor."""

    def __init__(self, path: Path, tensor: str | None) -> None:
        self.path = path
        if path.suffix == ".npy":
            self._open_npy()
        else:
            self._open_safetensors(tensor)

    def _open_npy(self) -> None:
        try:
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DatasetError(self.path, f"not a readable NumPy array (object arrays are refused): {exc}") from exc
        if not isinstance(array, np.ndarray):
            raise DatasetError(self.path, "not a single NumPy array")
        self.shape, self.dtype = tuple(array.shape), array.dtype.name
        self._rows = lambda a, b: np.asarray(array[a:b])

    def _open_safetensors(self, tensor: str | None) -> None:
        from safetensors import SafetensorError, safe_open

        try:
            handle = safe_open(str(self.path), framework="numpy")
            keys = list(handle.keys())
        except (SafetensorError, OSError, ValueError) as exc:
            raise DatasetError(self.path, f"not a readable safetensors file: {exc}") from exc
        if tensor is None:
            if len(keys) != 1:
                raise DatasetError(self.path, f"holds tensors {keys}: name one with 'tensor:' in dataset.yaml")
            tensor = keys[0]
        if tensor not in keys:
            raise DatasetError(self.path, f"no tensor '{tensor}' in it; it holds {keys}")
        sliced = handle.get_slice(tensor)
        code = sliced.get_dtype()
        self.shape, self.dtype = tuple(sliced.get_shape()), _SAFETENSORS_DTYPES.get(code, code)
        if self.dtype == "bfloat16":  # numpy has no bfloat16: read it through torch
            self._rows = _bf16_rows(self.path, tensor)
        else:
            self._rows = lambda a, b: np.asarray(sliced[a:b])

    def chunks(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.shape[0], chunk_rows):
            stop = min(start + chunk_rows, self.shape[0])  # safetensors slices do not clamp
            yield start, np.array(self._rows(start, stop), dtype=np.float32)  # a copy: writable


def _bf16_rows(path: Path, tensor: str):
    from safetensors import safe_open

    handle = safe_open(str(path), framework="pt")
    sliced = handle.get_slice(tensor)
    return lambda a, b: sliced[a:b].float().numpy()


def read_embedding(
    root: Path,
    spec_path: Path,
    name: str,
    entry: EmbeddingSpec,
    ids: list[str],
    nodes_file: str,
    *,
    keep: bool = True,
) -> EmbeddingMatrix:
    """Read and check one embedding; NaN rows become zeros with ``mask`` False.

    ``keep=False`` only checks (``x`` is then empty), so validation holds one chunk at a time."""
    path = embedding_path(root, spec_path, name, entry)
    reader = _Reader(path, entry.tensor)
    key = f"embedding_modalities.{name}"
    if len(reader.shape) != 2:
        raise DatasetError(path, f"{key}: expected a 2-D array [nodes, dims], got shape {list(reader.shape)}")
    rows, dim = reader.shape
    if reader.dtype not in FLOAT_DTYPES:
        raise DatasetError(path, f"{key}: dtype {reader.dtype}; embeddings must be floating point ({FLOAT_DTYPES})")
    if rows != len(ids):
        raise DatasetError(
            path,
            f"{key}: {rows} rows for {len(ids)} nodes in {nodes_file}; row i must be the embedding of the "
            "node in data row i of the nodes file",
        )
    if dim == 0:
        raise DatasetError(path, f"{key}: the array has 0 columns")
    x = np.zeros((rows if keep else 0, dim), dtype=np.float32)
    mask = np.ones(rows, dtype=bool)
    for start, chunk in reader.chunks():
        finite = np.isfinite(chunk)
        all_nan = np.isnan(chunk).all(axis=1)
        bad = np.flatnonzero(~finite.all(axis=1) & ~all_nan)
        if bad.size:
            i = int(bad[0])
            column = int(np.flatnonzero(~finite[i])[0])
            node = start + i
            raise DatasetError(
                path,
                f"{key}: array row {node} (node '{ids[node]}', {nodes_file} row {node + 2}) has "
                f"{chunk[i, column]} in column {column}; a row is all numbers, or all NaN for a node "
                f"without this modality ({bad.size - 1} more such rows in this chunk)",
            )
        if keep:
            chunk[all_nan] = 0.0
            x[start : start + chunk.shape[0]] = chunk
        mask[start : start + chunk.shape[0]] = ~all_nan
    return EmbeddingMatrix(f"emb_{name}", path, x, mask, reader.dtype)


def check_embeddings(spec, root: Path, spec_path: Path, ids: list[str], nodes_file: str) -> list[str]:
    """Check every precomputed embedding the yaml names; return notes (missing rows) for the report."""
    notes = []
    for name, entry in spec.embedding_modalities.items():
        matrix = read_embedding(root, spec_path, name, entry, ids, nodes_file, keep=False)
        if matrix.missing:
            notes.append(
                f"{matrix.missing} of {len(ids)} nodes have no '{name}' embedding (an all-NaN row): "
                "treated as a missing modality, not an error"
            )
    return notes
