"""Pretrained encoders that turn node texts, images and table columns into feature vectors.

Heavy libraries (sentence-transformers, torchvision) load only when an encoder is built.
"""

from pipeline.encoders.base import Encoder, EncoderUnavailable
from pipeline.encoders.histogram import ColorHistogramEncoder
from pipeline.encoders.image import EfficientNetImageEncoder
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
from pipeline.encoders.tfidf import TfidfTextEncoder
from pipeline.images import load_rgb

__all__ = [
    "KNOWN_IMAGE",
    "KNOWN_TEXT",
    "ColorHistogramEncoder",
    "EfficientNetImageEncoder",
    "Encoder",
    "EncoderUnavailable",
    "SentenceTextEncoder",
    "TabularEncoder",
    "TfidfTextEncoder",
    "load_rgb",
    "make_image_encoder",
    "make_text_encoder",
    "register_image",
    "register_text",
]
