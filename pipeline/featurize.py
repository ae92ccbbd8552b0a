"""Deprecated: moved to :mod:`pipeline.features.encode`; this name stays an alias of it."""

import sys

import pipeline.features.encode as _moved

sys.modules[__name__] = _moved
