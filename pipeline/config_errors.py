"""One line per bad key of params.yaml: the key, the value given, and what is allowed.

Pydantic's own report is five lines and a URL per error, and a union (``smoothing: auto | off |
a number``) fails once per member; a person fixing params.yaml needs the key and the choices.
"""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

_WORDS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "model_type": "a section of keys",
    "model_attributes_type": "a section of keys",
    "dict_type": "a section of keys",
    "none_required": "null",
    "path_type": "a path",
}


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def _split_key(loc: tuple, root: type[BaseModel]) -> tuple[list[str], type[BaseModel] | None]:
    """The part of ``loc`` that names params.yaml keys, and the section model it ends in (if any)."""
    key: list[str] = []
    model: type[BaseModel] | None = root
    for item in loc:
        fields = _fields(model) if model is not None else {}
        if not isinstance(item, str) or item not in fields:
            break
        key.append(item)
        annotation = fields[item].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if model is None:
            break
    return key, model


def render_value(value: Any) -> str:
    """A value as it would be written in YAML (``true``, ``'x'``, ``[1, 2]``), cut to 60 characters."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return f"text matching {ctx.get('pattern', '')}"
    if kind in _WORDS:
        return _WORDS[kind]
    return str(error["msg"]).removeprefix("Value error, ").replace("Input should be ", "")


def error_lines(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One line per key in error (a union's members folded into one ``or``)."""
    grouped: dict[tuple[str, ...], tuple[Any, list[str]]] = {}
    lines: list[str] = []
    for error in exc.errors():
        key, section = _split_key(tuple(error["loc"]), root)
        if error["type"] == "extra_forbidden":
            unknown = str(error["loc"][len(key)])
            known = sorted(_fields(section)) if section is not None else []
            close = difflib.get_close_matches(unknown, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = ".".join(key) or "the top level"
            lines.append(f"{'.'.join([*key, unknown])}: unknown key{hint}; {where} has: {', '.join(known)}")
            continue
        if error["type"] == "value_error":  # a cross-field check: its message names the keys and values
            lines.append(f"{'.'.join(key) + ': ' if key else ''}{_allowed(error)}")
            continue
        value, allowed = grouped.setdefault(tuple(key), (error["input"], []))
        if (word := _allowed(error)) not in allowed:
            allowed.append(word)
    for key, (value, allowed) in grouped.items():
        if not key:
            lines.append(f"expected {' or '.join(allowed)} at the top level, got {render_value(value)}")
        else:
            lines.append(f"{'.'.join(key)} = {render_value(value)}: expected {' or '.join(allowed)}")
    return lines
