"""Set a few keys of params.yaml in place, keeping its comments and order (``graphfuse init``).

params.yaml is a file people read: a plain ``yaml.safe_dump`` would strip every comment that explains
a setting. ruamel.yaml (DVC's own YAML library) edits it round-trip instead. The result is checked
with :func:`pipeline.config.load_params` before it replaces the file, atomically.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError

from pipeline.atomic import write_text
from pipeline.config import Params, load_params
from pipeline.errors import GraphFuseError


def set_params(path: Path, values: dict[str, Any]) -> Params:
    """Set dotted keys (``dataset.dir``) of the params file at ``path``; returns the checked params."""
    # Round-trip mode: comments, order and quoting survive; ruamel's "rt" loader builds only plain
    # YAML types (its safe constructor plus comment tracking), never arbitrary Python objects.
    round_trip = YAML(typ="rt")
    round_trip.preserve_quotes = True
    round_trip.representer.add_representer(type(None), _null)  # "null" stays "null", not an empty value
    try:
        document = round_trip.load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except YAMLError as exc:
        raise GraphFuseError(f"{path}: not valid YAML: {exc}") from exc
    if document is None:
        document = round_trip.load("{}")
    for dotted, value in values.items():
        section = document
        *parents, key = dotted.split(".")
        for part in parents:
            if part not in section or section[part] is None:
                section[part] = {}
            section = section[part]
        section[key] = value
    buffer = io.StringIO()
    round_trip.dump(document, buffer)
    staged = path.with_name(f".{path.name}.init-check")
    staged.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        params = load_params(staged)  # never leave a params.yaml the pipeline would refuse
    finally:
        staged.unlink(missing_ok=True)
    write_text(path, buffer.getvalue())
    return params


def _null(representer: Any, _data: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")
