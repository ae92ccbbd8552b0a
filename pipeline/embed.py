"""Deprecated: moved to :mod:`pipeline.features.runner`; this name stays an alias of it."""

import sys

import pipeline.features.runner as _moved

sys.modules[__name__] = _moved
