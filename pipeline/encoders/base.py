"""The small interface every pretrained encoder meets, so stages and predict can swap them by name."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from pipeline.errors import GraphFuseError


@runtime_checkable
class Encoder(Protocol):
    """Maps a batch of raw items (texts, image paths) to one fixed-size vector each.

    ``name`` is recorded with the features and in the model bundle, so predict can rebuild the
    very same encoder; ``dim`` lets callers allocate zero rows for nodes lacking the modality.
    """

    name: str
    dim: int

    def encode(self, items: Sequence[Any]) -> torch.Tensor:
        """Float32 ``[len(items), dim]`` on the CPU, row ``i`` for ``items[i]``."""
        ...


class EncoderUnavailable(GraphFuseError):
    """The weights of an encoder cannot be had: unknown name, or offline without a local copy.

    A user error rather than a bug: the fix is another name or installing an offline package,
    so the message says which name, what was tried and which package provides offline weights.
    """

    def __init__(self, name: str, tried: str, hint: str) -> None:
        self.name = name
        self.tried = tried
        self.hint = hint
        super().__init__(f"encoder {name!r} is unavailable: {tried}. {hint}")


def progress_enabled(progress: bool) -> bool:
    """Bars only when asked for and not under CI (non-empty ``CI``), so logs stay readable."""
    return bool(progress) and not os.environ.get("CI")


def batches(n: int, batch_size: int, *, progress: bool, desc: str) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of each batch, with a tqdm bar over batches when ``progress`` is on."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    starts = range(0, n, batch_size)
    if progress_enabled(progress) and n > 0:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, unit="batch", total=len(starts))
    for start in starts:
        yield start, min(start + batch_size, n)


@contextlib.contextmanager
def env_vars(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of a block (model loading), then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
