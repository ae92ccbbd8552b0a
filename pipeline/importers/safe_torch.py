"""Reading a benchmark's ``.pt`` files without running anything they might carry.

``torch.load(weights_only=True)`` rebuilds only tensors, numbers, strings, lists, tuples and
dicts, refusing every other object a pickle names (a crafted file that would run code is
refused, not executed). NumPy arrays are also allowed (some benchmarks save them), through an
explicit list of NumPy's array constructors; an array of Python objects is then refused here.
Everything else is turned into plain NumPy arrays of the shape each file is documented to hold,
and a file of another shape is an error naming the file and what was expected.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.errors import DatasetError

_NUMPY_DTYPES = (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64,
)  # fmt: skip
#: NumPy's own array and scalar constructors, and the dtype classes of plain numeric arrays.
NUMPY_SAFE_GLOBALS = [
    np._core.multiarray._reconstruct,
    np._core.multiarray.scalar,
    np.ndarray,
    np.dtype,
    *(type(np.dtype(t)) for t in _NUMPY_DTYPES),
]


#: What torch.load raises for a refused object (taken from torch: this code imports no pickle module).
_REFUSED = torch.serialization.pickle.UnpicklingError


def load_pt(path: Path) -> Any:
    """``torch.load(path, weights_only=True)``, with NumPy arrays allowed; errors name the file."""
    if not path.is_file():
        raise DatasetError(path, "file not found")
    try:
        with torch.serialization.safe_globals(NUMPY_SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except _REFUSED as exc:
        first = str(exc).strip().splitlines()
        detail = next((line for line in first if "GLOBAL" in line or "Unsupported" in line), first[0] if first else "")
        raise DatasetError(
            path,
            "refused: it holds objects other than tensors, arrays, numbers, strings, lists and dicts, "
            f"so it is not loaded (torch.load with weights_only=True: {detail.strip()})",
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(path, f"not a readable PyTorch file: {exc}") from exc


def as_array(value: Any, path: Path, what: str) -> np.ndarray:
    """A tensor, array or (nested) list of numbers as a NumPy array; anything else names the file."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, list | tuple):
        value = _plain(value)
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise DatasetError(path, f"{what}: expected numbers, got a list that is not ({exc})") from exc
        if array.dtype != np.bool_ and (flag := _first_boolean(value)) is not None:
            # NumPy reads [0, True] as [0, 1]: a boolean would silently become node (or class) 1
            raise DatasetError(path, f"{what}: {flag!r} is a boolean, not a number (in a list of numbers)")
    else:
        raise DatasetError(path, f"{what}: expected a tensor, array or list, got {type(value).__name__}")
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise DatasetError(path, f"{what}: expected numbers, got values of type {array.dtype}")
    return array


def _plain(value: Any) -> Any:
    """Nested lists and tuples with their 0-d tensors as Python numbers (``.item()``) and their
    boolean tensors as lists, so that :func:`_first_boolean` sees every boolean."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor) and (value.dim() == 0 or value.dtype == torch.bool):
        return value.tolist()
    return value


def _first_boolean(value: Any) -> bool | None:
    """The first ``True``/``False`` in a nested list, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, bool | np.bool_):
            return bool(item)
    return None


def as_index_array(value: Any, path: Path, what: str, *, ndim: int, num_nodes: int | None = None) -> np.ndarray:
    """Integer node indices (int64) of ``ndim`` dimensions, each in ``[0, num_nodes)`` when given."""
    array = as_array(value, path, what)
    if array.ndim != ndim:
        raise DatasetError(path, f"{what}: expected {ndim} dimension(s), got shape {list(array.shape)}")
    if array.dtype == np.bool_:
        raise DatasetError(path, f"{what}: expected node indices, got booleans")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(np.mod(array, 1) == 0):
            raise DatasetError(path, f"{what}: expected whole numbers (node indices), got {array.dtype} values")
    array = array.astype(np.int64)
    if num_nodes is not None and array.size:
        bad = np.flatnonzero((array < 0) | (array >= num_nodes))
        if bad.size:
            raise DatasetError(
                path,
                f"{what}: node index {array.reshape(-1)[bad[0]]} is outside 0..{num_nodes - 1} "
                f"({bad.size} such values)",
            )
    return array


def as_matrix(value: Any, path: Path, what: str) -> np.ndarray:
    """A 2-D floating-point feature matrix (float16/32/64 kept; bfloat16 as float32)."""
    array = as_array(value, path, what)
    if array.ndim != 2:
        raise DatasetError(path, f"{what}: expected a 2-D [nodes, dims] matrix, got shape {list(array.shape)}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return array


def as_mapping(value: Any, path: Path, what: str) -> dict:
    if not isinstance(value, dict):
        raise DatasetError(path, f"{what}: expected a dict, got {type(value).__name__}")
    return value
