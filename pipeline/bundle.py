"""Deprecated: moved to :mod:`pipeline.inference.bundle`; this name stays an alias of it."""

import sys

import pipeline.inference.bundle as _moved

sys.modules[__name__] = _moved
