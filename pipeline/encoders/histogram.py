"""A weight-free image encoder: the joint RGB colour histogram.

For flags, logos and product shots colour is much of the signal, and this needs no weights,
no download and little CPU: each image (upright RGB, reduced to at most ``thumb`` pixels a side)
gives a ``bins^3`` histogram, L1-normalised then square-rooted (the Hellinger map, so a dot
product compares distributions well). Decoding runs in the same DataLoader workers as the CNNs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.encoders.image_loading import StrictEncode, auto_workers, image_batches, tally

COLOR_HISTOGRAM = "color-histogram"
VERSION = "1"


class HistogramTransform:
    """PIL RGB image -> ``[bins^3]`` float32 (picklable, so DataLoader workers can run it)."""

    def __init__(self, bins: int, thumb: int) -> None:
        self.bins = bins
        self.thumb = thumb

    def __call__(self, image: Any) -> torch.Tensor:
        image = image.copy()
        image.thumbnail((self.thumb, self.thumb))
        pixels = np.asarray(image, dtype=np.uint16).reshape(-1, 3) * self.bins // 256
        index = (pixels[:, 0] * self.bins + pixels[:, 1]) * self.bins + pixels[:, 2]
        counts = np.bincount(index, minlength=self.bins**3).astype(np.float64)
        return torch.from_numpy(np.sqrt(counts / max(counts.sum(), 1.0)).astype(np.float32))


class ColorHistogramEncoder(StrictEncode):
    """Image paths -> float32 ``[n, bins^3]`` colour histograms (512-d with the default 8 bins)."""

    def __init__(
        self,
        model: str = COLOR_HISTOGRAM,
        *,
        bins: int = 8,
        thumb: int = 128,
        batch_size: int = 64,
        decode_workers: int | None = None,
        progress: bool = True,
        **_: Any,
    ) -> None:
        if not 2 <= bins <= 32:
            raise ValueError(f"histogram bins must be in [2, 32], got {bins}")
        self.name = model
        self.dim = bins**3
        self.version = VERSION
        self.settings = {"bins": bins, "thumb": thumb, "decode": "decode-v2"}
        self.batch_size = batch_size
        self.decode_workers = auto_workers(decode_workers)
        self.progress = progress
        self._transform = HistogramTransform(bins, thumb)

    def encode_checked(self, items: Sequence[str | Path]) -> tuple[torch.Tensor, dict[int, str], dict[str, int]]:
        paths = list(items)
        out = torch.zeros(len(paths), self.dim, dtype=torch.float32)
        failed: dict[int, str] = {}
        notes: dict[str, int] = {}
        batches = image_batches(
            paths,
            self._transform,
            (self.dim,),
            batch_size=self.batch_size,
            workers=self.decode_workers,
            pin_memory=False,
            draft=self.settings["thumb"],
        )
        for start, hist, errors, batch_notes in batches:
            out[start : start + len(errors)] = hist
            failed.update({start + i: error for i, error in enumerate(errors) if error})
            tally(batch_notes, notes)
        return out, failed, notes

    def __repr__(self) -> str:
        return f"ColorHistogramEncoder(dim={self.dim})"
