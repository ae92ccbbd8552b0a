"""Images decoded and resized in DataLoader workers while the model runs on the previous batch.

A file that cannot be decoded does not stop the batch: its row comes back zero with the
reason, and the caller reports it (file, row, column) or, under ``preprocess.strict``, fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from pipeline.encoders.speed import usable_cores
from pipeline.errors import DatasetError
from pipeline.images import decode_image

Transform = Callable[[Any], torch.Tensor]


class ImageFiles(torch.utils.data.Dataset):
    """``(tensor, error, notes)`` per path: decode (JPEG at draft scale), then ``transform``."""

    def __init__(self, paths: Sequence[str | Path], transform: Transform, shape: tuple[int, ...], draft: int | None):
        self.paths = list(paths)
        self.transform = transform
        self.shape = shape
        self.draft = draft

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, str]:
        try:
            image, notes = decode_image(self.paths[index], draft_size=self.draft)
            return self.transform(image), "", "|".join(notes)
        except DatasetError as exc:
            return torch.zeros(self.shape), exc.message, ""


def auto_workers(requested: int | None) -> int:
    """Decoding processes: the param, or half the cores (1 on a 2-core machine)."""
    return max(0, requested) if requested is not None else max(1, usable_cores() // 2)


def image_batches(
    paths: Sequence[str | Path],
    transform: Transform,
    shape: tuple[int, ...],
    *,
    batch_size: int,
    workers: int,
    pin_memory: bool,
    draft: int | None,
) -> Iterator[tuple[int, torch.Tensor, list[str], list[str]]]:
    """``(start, pixels, errors, notes)`` per batch, in order; workers only when there is enough work."""
    dataset = ImageFiles(paths, transform, shape, draft)
    workers = workers if len(paths) > 2 * batch_size else 0  # forking costs more than a batch or two
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=2 if workers else None,
    )
    start = 0
    for pixels, errors, notes in loader:
        yield start, pixels, list(errors), list(notes)
        start += len(errors)


def tally(notes: list[str], into: dict[str, int]) -> None:
    for joined in notes:
        for note in filter(None, joined.split("|")):
            into[note] = into.get(note, 0) + 1
