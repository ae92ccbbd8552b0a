"""Pretrained encoders that turn node texts, images and table columns into feature vectors.

Heavy libraries (sentence-transformers, torchvision) load only when an encoder is built.
"""

from pipeline.encoders.base import Encoder, EncoderUnavailable
from pipeline.encoders.image import EfficientNetImageEncoder, load_rgb
from pipeline.encoders.registry import (
    KNOWN_IMAGE,
    KNOWN_TEXT,
    make_image_encoder,
    make_text_encoder,
    register_image,
    register_text,
)
from pipeline.encoders.tabular import TabularEncoder
from pipeline.encoders.text import SentenceTextEncoder

__all__ = [
    "KNOWN_IMAGE",
    "KNOWN_TEXT",
    "EfficientNetImageEncoder",
    "Encoder",
    "EncoderUnavailable",
    "SentenceTextEncoder",
    "TabularEncoder",
    "load_rgb",
    "make_image_encoder",
    "make_text_encoder",
    "register_image",
    "register_text",
]
