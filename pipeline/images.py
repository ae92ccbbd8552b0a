"""Decoding an image file: one function, so what `graphfuse validate` accepts the image stage accepts.

Validation decodes every image exactly as the encoder will (full decode, same library, same
limits), so a truncated, empty, non-image or oversized file (more pixels than Pillow's
decompression-bomb limit) fails validation with its row instead of failing the image stage later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import DatasetError


def load_rgb(path: str | Path) -> Any:
    """Decode an image as RGB, compositing transparency on white first.

    Flags are often palette or RGBA PNGs whose transparent pixels have arbitrary (often black)
    colour underneath; a plain ``convert("RGB")`` would show that colour, white is what a
    viewer shows. Any decoding failure is a :class:`DatasetError` naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
                image.mode == "P" and "transparency" in image.info
            )
            if has_alpha:
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(background, rgba).convert("RGB")
            return image.convert("RGB")
    except FileNotFoundError as exc:
        raise DatasetError(path, "image file not found") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DatasetError(path, f"cannot decode image ({type(exc).__name__}: {exc})") from exc
