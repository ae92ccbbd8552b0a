"""Decoding an image file: one function, so what `graphfuse validate` accepts the image stage accepts.

Validation decodes every image exactly as the encoder will (full decode, same library, same
limits), so a truncated, empty, non-image or oversized file (more pixels than
``pipeline.limits.MAX_IMAGE_PIXELS``, read from the header before decoding) fails validation
with its row instead of failing the image stage later.

Every valid variant becomes an upright 8-bit RGB image, and :func:`decode_image` says what it
had to do (the image stage counts these in its summary):
- EXIF orientation applied (a phone photo shot sideways is upright);
- transparency (RGBA, LA, palette with a transparent index) composited on white;
- grayscale, palette, CMYK, YCbCr and 1-bit converted to RGB;
- 16-bit and 32-bit integer grayscale scaled down to 8 bits (not clipped to white);
- animated GIF/PNG/WebP: the first frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import DatasetError
from pipeline.limits import MAX_IMAGE_PIXELS

_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_WIDE_GRAY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _to_rgb(image: Any, notes: list[str]) -> Any:
    from PIL import Image

    if image.mode in _WIDE_GRAY:
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if image.mode == "F":
            top = max(float(values.max(initial=1.0)), 1.0)
        notes.append(f"{image.mode} grayscale scaled to 8 bits")
        gray = np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    has_alpha = image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        notes.append("transparency composited on white")
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        notes.append(f"{image.mode} converted to RGB")
    return image.convert("RGB")


def decode_image(path: str | Path, *, draft_size: int | None = None) -> tuple[Any, list[str]]:
    """Decode as upright RGB; also return notes on what was converted.

    ``draft_size`` lets JPEG decode at a reduced scale (DCT scaling, never below that size):
    a catalogue photo of 4000 px need not be decoded whole to become a 224 px input.
    Any decoding failure is a :class:`DatasetError` naming the file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    notes: list[str] = []
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:  # from the header: refused before any decoding
                limit = f"more than the {MAX_IMAGE_PIXELS} allowed"
                raise DatasetError(path, f"image of {width} x {height} pixels: {limit}")
            if getattr(image, "is_animated", False):
                notes.append("animated: first frame used")
                image.seek(0)
            if draft_size is not None and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            orientation = image.getexif().get(0x0112, 1)
            if orientation not in (1, None):
                notes.append("EXIF orientation applied")
                image = ImageOps.exif_transpose(image)
            return _to_rgb(image, notes), notes
    except FileNotFoundError as exc:
        raise DatasetError(path, "image file not found") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DatasetError(path, f"cannot decode image ({type(exc).__name__}: {exc})") from exc


def load_rgb(path: str | Path) -> Any:
    """Decode an image as upright RGB (see :func:`decode_image`), compositing transparency on white.

    Flags are often palette or RGBA PNGs whose transparent pixels have arbitrary (often black)
    colour underneath; a plain ``convert("RGB")`` would show that colour, white is what a
    viewer shows. Any decoding failure is a :class:`DatasetError` naming the file.
    """
    return decode_image(path)[0]
