"""Deprecated: moved to :mod:`pipeline.inference.links`; this name stays an alias of it."""

import sys

import pipeline.inference.links as _moved

sys.modules[__name__] = _moved
