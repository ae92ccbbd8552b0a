"""Encoders by name, so params.yaml and the model bundle can name one and new encoders plug in.

A factory receives ``(name, **kw)`` (kw: device, batch_size, progress, and image_size for images).
``register_text``/``register_image`` add entries; a name not in the table falls back to the
family's default factory (any sentence-transformers name for text; ``torchvision/<arch>`` and
otherwise an EncoderUnavailable listing the known names for images).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.encoders.base import Encoder, EncoderUnavailable
from pipeline.encoders.histogram import COLOR_HISTOGRAM, ColorHistogramEncoder
from pipeline.encoders.image import EFFICIENTNET_LITE0, TIMM_PREFIX, TORCHVISION_PREFIX, EfficientNetImageEncoder
from pipeline.encoders.text import MINILM, MINILM_ALIASES, SentenceTextEncoder
from pipeline.encoders.tfidf import TFIDF, TfidfTextEncoder
from pipeline.errors import GraphFuseError

Factory = Callable[..., Encoder]

_TEXT: dict[str, Factory] = {alias: SentenceTextEncoder for alias in MINILM_ALIASES} | {TFIDF: TfidfTextEncoder}
_IMAGE: dict[str, Factory] = {EFFICIENTNET_LITE0: EfficientNetImageEncoder, COLOR_HISTOGRAM: ColorHistogramEncoder}

#: Names that work offline out of the box (weights in pip packages, or no weights at all).
KNOWN_TEXT: list[str] = [MINILM, TFIDF]
KNOWN_IMAGE: list[str] = [EFFICIENTNET_LITE0, COLOR_HISTOGRAM]


def register_text(name: str, factory: Factory) -> None:
    """Make ``make_text_encoder(name)`` call ``factory(name, **kw)``."""
    _TEXT[name] = factory
    if name not in KNOWN_TEXT:
        KNOWN_TEXT.append(name)


def register_image(name: str, factory: Factory) -> None:
    """Make ``make_image_encoder(name)`` call ``factory(name, **kw)``."""
    _IMAGE[name] = factory
    if name not in KNOWN_IMAGE:
        KNOWN_IMAGE.append(name)


def make_text_encoder(name: str = MINILM, **kw: Any) -> Encoder:
    """A text encoder; unregistered names go to sentence-transformers (EncoderUnavailable if it cannot load)."""
    return _TEXT.get(name, SentenceTextEncoder)(name, **kw)


def make_image_encoder(name: str = EFFICIENTNET_LITE0, **kw: Any) -> Encoder:
    """An image encoder by name.

    ``torchvision/<arch>`` and ``timm/<name>`` work when their weights can be had (a local file,
    the standard cache, or a download the params allow); unknown names raise EncoderUnavailable.
    """
    factory = _IMAGE.get(name)
    if factory is None:
        # EfficientNetImageEncoder handles torchvision/<arch> and raises EncoderUnavailable for the rest.
        factory = EfficientNetImageEncoder
    return factory(name, **kw)


def rebuild_encoder(
    kind: str,
    settings: dict[str, Any],
    state: dict[str, Any] | None = None,
    *,
    device: str = "cpu",
    progress: bool = False,
) -> Encoder:
    """The encoder a training run used, from what its features recorded (a bundle's ``encoders``).

    ``kind`` is ``"text"`` or ``"image"``; ``state`` the fitted tensors a tfidf encoder needs
    (the bundle's ``encoder_states``). Image encoders get back their size, histogram bins and
    local weights file; a weights file that is gone or differs from training's (its sha256 is in
    the recorded version; also for one found in a standard cache) is an error naming the file,
    never other embeddings.
    """
    name = settings["encoder"]
    if kind == "text":
        if name == TFIDF:
            if not state:
                raise GraphFuseError(
                    "the model's text encoder is tfidf, fitted on its train split, but the model carries no "
                    "fitted state (trained by an older GraphFuse); rerun preprocess_text and train"
                )
            return TfidfTextEncoder.from_state(state, expected=settings.get("fitted_state"))
        return make_text_encoder(name, device=device, progress=progress)
    kw = {key: settings[key] for key in ("image_size", "bins") if key in settings}
    if settings.get("weights"):
        kw["weights"] = settings["weights"]
    encoder = make_image_encoder(name, device=device, progress=progress, **kw)
    recorded, found = str(settings.get("version", "")), getattr(encoder, "version", None)
    if recorded.startswith("sha256:") and found != recorded:  # weights from a file: the very same file
        where = settings.get("weights") or "the standard cache"
        raise EncoderUnavailable(
            name,
            f"the weights file {where} is not the one the model was trained with (it is {found}, training used "
            f"{recorded})",
            "Put the training run's weights file back there, or retrain with the new one",
        )
    return encoder


__all__ = [
    "KNOWN_IMAGE",
    "KNOWN_TEXT",
    "TIMM_PREFIX",
    "TORCHVISION_PREFIX",
    "make_image_encoder",
    "make_text_encoder",
    "rebuild_encoder",
    "register_image",
    "register_text",
]
