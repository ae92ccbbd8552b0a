"""Deprecated: moved to :mod:`pipeline.inference.known_graph`; this name stays an alias of it."""

import sys

import pipeline.inference.known_graph as _moved

sys.modules[__name__] = _moved
