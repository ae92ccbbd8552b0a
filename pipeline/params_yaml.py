"""Reading params.yaml's YAML: safe loading with the number rule people expect, and one-line errors.

Kept apart from :mod:`pipeline.config` (what the settings are) because this is how the file is read:
PyYAML's SafeLoader, taught that ``1e-3`` is a number, and its five-line error folded into one.
"""

from __future__ import annotations

import re

import yaml


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` (no dot) as text; params.yaml (and ``dvc exp run -S``) mean a number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def safe_load_params(text: str) -> object:
    """``yaml.safe_load`` with the float rule above (the loader is a SafeLoader: no Python objects)."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def yaml_where(exc: yaml.YAMLError) -> str:
    """`` at line L, column C: problem`` in one line (PyYAML's own message spans five)."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or problem is None:
        return f": {' '.join(str(exc).split())}"
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"
