"""The JSON Schema of ``dataset.yaml``: shipped for editors, and the loader's first check.

One source of truth: the schema is generated from :class:`DatasetSpec` (its field descriptions
become the editor's hover text) and shipped as ``dataset.schema.json`` beside this module; a
test keeps the shipped file equal to the generated one. The loader validates a user's file
against the shipped schema itself, so an editor and ``graphfuse validate`` agree on every key.
Regenerate with ``python -m pipeline.dataset.schema``.
"""

from __future__ import annotations

import difflib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError

from pipeline.dataset.spec import SPEC_FILE, DatasetSpec
from pipeline.errors import DatasetError

SCHEMA_FILE = Path(__file__).with_name("dataset.schema.json")
#: The comment that points editors (yaml-language-server: VS Code, Neovim, ...) at the schema.
MODELINE_PREFIX = "# yaml-language-server: $schema="


def build_schema() -> dict[str, Any]:
    """The schema of dataset.yaml, from the pydantic models, with unknown keys refused."""
    schema = DatasetSpec.model_json_schema()
    for definition in [schema, *schema.get("$defs", {}).values()]:
        if definition.get("type") == "object" and "properties" in definition:
            definition["additionalProperties"] = False
    schema["allOf"] = [
        {
            "if": {"properties": {"task": {"const": "node_classification"}}, "required": ["task"]},
            "then": {"required": ["label_column"]},
        }
    ]
    header = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "GraphFuse dataset.yaml (format v1)",
    }
    return header | {key: value for key, value in schema.items() if key not in header}


@cache
def shipped_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def modeline(yaml_path: Path) -> str:
    """The schema comment for a dataset.yaml at ``yaml_path``: a path relative to the file when both
    live under one folder (a repository moves as a whole), else absolute."""
    schema, folder = SCHEMA_FILE.resolve(), yaml_path.resolve().parent
    try:
        shared = Path(os.path.commonpath([schema, folder]))
        target = Path(os.path.relpath(schema, folder)) if shared != Path(shared.anchor) else schema
    except ValueError:  # another drive (Windows)
        target = schema
    return f"{MODELINE_PREFIX}{target.as_posix()}"


def load_spec(root: str | Path) -> DatasetSpec:
    """Read and check ``DIR/dataset.yaml``; every failure names the file."""
    path = Path(root) / SPEC_FILE
    if not path.is_file():
        raise DatasetError(path, "file not found: a dataset folder needs a dataset.yaml")
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise DatasetError(path, f"not valid YAML: {exc}", row=row) from exc
    if not isinstance(raw, dict):
        raise DatasetError(path, "expected a mapping of keys (name, task, id_column, ...)")
    check_document(raw, text, path)
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if not key:  # a rule over several keys (label_column for node_classification)
            raise DatasetError(path, first["msg"].removeprefix("Value error, ")) from exc
        raise DatasetError(path, f"key '{key}': {first['msg']}") from exc


def check_document(raw: Any, text: str, path: Path) -> None:
    """Refuse ``raw`` (the parsed ``text`` of ``path``) where the shipped schema does; unknown keys first."""
    errors = list(Draft202012Validator(shipped_schema()).iter_errors(raw))
    if not errors:
        return
    errors.sort(key=lambda e: (e.validator != "additionalProperties", len(e.absolute_path), str(e.absolute_path)))
    error = errors[0]
    where = [str(p) for p in error.absolute_path]
    message, key_path = _message(error, where)
    raise DatasetError(path, message, row=_line_of(text, key_path))


def _message(error: SchemaError, where: list[str]) -> tuple[str, list[str]]:
    """The message, and the path of the key it is about (for the line number)."""
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        given = error.instance if isinstance(error.instance, dict) else {}
        unknown = [k for k in given if k not in allowed]
        key = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return (
            f"unknown key '{'.'.join([*where, key])}'{hint}; the keys allowed here are: {', '.join(allowed)} "
            f"(schema: {SCHEMA_FILE.name}; free text goes under 'description' or 'source')"
        ), [*where, key]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        key = ".".join([*where, missing])
        why = _description(missing, error.schema)
        rule = " when task is node_classification" if missing == "label_column" else ""
        return f"{key} is required{rule}" + (f": {why}" if why else ""), where
    key = ".".join(where) or "(top level)"
    return f"key '{key}': {error.message}", where


def _description(key: str, schema: dict[str, Any]) -> str:
    prop = shipped_schema().get("properties", {}).get(key) or schema.get("properties", {}).get(key, {})
    return str(prop.get("description", ""))


def _line_of(text: str, where: list[str]) -> int | None:
    """Spreadsheet-style line of the deepest key of ``where`` that the file has (1-based)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in where:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped file
    SCHEMA_FILE.write_text(json.dumps(build_schema(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
