"""Deprecated: moved to :mod:`pipeline.inference.predict`; this name stays an alias of it."""

import sys

import pipeline.inference.predict as _moved

sys.modules[__name__] = _moved
