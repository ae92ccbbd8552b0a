"""Deprecated: moved to :mod:`pipeline.training.refit` (training an ensemble is library work that
evaluation also calls); this name stays an alias of it."""

import sys

import pipeline.training.refit as _moved

sys.modules[__name__] = _moved
