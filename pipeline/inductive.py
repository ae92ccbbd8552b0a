"""Deprecated: moved to :mod:`pipeline.inference.inductive`; this name stays an alias of it."""

import sys

import pipeline.inference.inductive as _moved

sys.modules[__name__] = _moved
