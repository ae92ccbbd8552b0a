"""Deprecated: moved to :mod:`pipeline.features.states`; this name stays an alias of it."""

import sys

import pipeline.features.states as _moved

sys.modules[__name__] = _moved
