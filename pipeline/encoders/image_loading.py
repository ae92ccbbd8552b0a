"""Images decoded and resized in DataLoader workers while the model runs on the previous batch.

A file that cannot be decoded does not stop the batch: its row comes back zero with the
reason, and the caller reports it (file, row, column) or, under ``preprocess.strict``, fails.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.encoders.speed import usable_cores
from pipeline.errors import DatasetError
from pipeline.images import decode_image

Transform = Callable[[Any], torch.Tensor]


class ImageFiles(torch.utils.data.Dataset):
    """``(tensor, error, notes)`` per path: decode (JPEG at draft scale), then ``transform``."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        transform: Transform,
        shape: tuple[int, ...],
        draft: int | None,
        dtype: torch.dtype = torch.float32,
    ):
        self.paths = list(paths)
        self.transform = transform
        self.shape = shape
        self.draft = draft
        self.dtype = dtype

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, str]:
        try:
            image, notes = decode_image(self.paths[index], draft_size=self.draft)
            return self.transform(image), "", "|".join(notes)
        except DatasetError as exc:
            return torch.zeros(self.shape, dtype=self.dtype), exc.message, ""


class ResizeCropUint8:
    """Resize the short side to ``size`` (bilinear, antialiased), centre-crop, uint8 CHW.

    The same pixels as torchvision's Resize + CenterCrop + ToTensor, a third of the CPU, and a
    quarter of the bytes to send from the decoding worker; scaling to float and normalising
    happen once per batch on the model's device.
    """

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, image: Any) -> torch.Tensor:
        from PIL import Image

        size, (w, h) = self.size, image.size
        new = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
        image = image.resize(new, Image.BILINEAR)
        left, top = int(round((new[0] - size) / 2.0)), int(round((new[1] - size) / 2.0))
        image = image.crop((left, top, left + size, top + size))
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


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
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[int, torch.Tensor, list[str], list[str]]]:
    """``(start, pixels, errors, notes)`` per batch, in order; workers only when there is enough work."""
    dataset = ImageFiles(paths, transform, shape, draft, dtype)
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


class StrictEncode(ABC):
    """``encode`` for image encoders: ``encode_checked``, but an unreadable file is an error naming it."""

    @abstractmethod
    def encode_checked(self, items: Sequence[str | Path]) -> tuple[torch.Tensor, dict[int, str], dict[str, int]]:
        """Embeddings, the rows that failed (row -> reason), and counted notes."""

    def encode(self, items: Sequence[str | Path]) -> torch.Tensor:
        paths = list(items)
        out, failed, _ = self.encode_checked(paths)
        if failed:
            first = min(failed)
            raise DatasetError(paths[first], failed[first])
        return out
