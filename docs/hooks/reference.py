"""MkDocs hook: the params.yaml and CLI reference pages, generated from the code at build time.

Why generated: the settings models in ``pipeline/config.py`` and the typer app behind the
``graphfuse`` command are the truth; a hand-written copy drifts. Each page is added to the build as
a generated file (``File.generated``), so nothing is written into ``docs/``. The command is found
through ``[project.scripts]`` in ``pyproject.toml``, so the CLI may move (a module or a package).

Without MkDocs: ``python docs/hooks/reference.py OUT_DIR`` writes the same pages into OUT_DIR.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PAGES = {"reference/params.md": "params_page", "reference/cli.md": "cli_page"}
#: Placeholders in hand-written pages, replaced by a generated block at build time.
BLOCKS = {
    "<!-- reference:dataset-yaml -->": "dataset_yaml_block",
    "<!-- results:countries-metrics -->": "metrics_block",
    "<!-- reference:code-map -->": "code_map_block",
}


def on_files(files, config):  # MkDocs event: add the generated pages to the build
    from mkdocs.structure.files import File

    for src_uri, builder in PAGES.items():
        files.append(File.generated(config, src_uri, content=globals()[builder]()))
    return files


def on_page_markdown(markdown, page, config, files):  # MkDocs event: fill the placeholders
    for marker, builder in BLOCKS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, globals()[builder]())
    return markdown


# --- params.yaml -----------------------------------------------------------------------------------


def _type_text(annotation: Any) -> str:
    """A type as a reader of params.yaml thinks of it: `a` | `b`, int, path, null."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type_text(args[0]) + _constraints_text(args[1:])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_text(a) for a in args)
    if origin is list and args:
        return f"list of {_type_text(args[0])}"
    if origin is dict and len(args) == 2:
        return f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    if annotation is type(None):
        return "null"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "pattern": "matching"}


def _constraints_text(metadata: Any) -> str:
    found = []
    for item in metadata:
        for name, symbol in _BOUNDS.items():
            value = getattr(item, name, None)
            if value is not None:
                found.append(f"{symbol} `{value}`" if name == "pattern" else f"{symbol} {value}")
        if hasattr(item, "metadata"):  # pydantic's FieldInfo inside Annotated
            found += [_constraints_text(item.metadata).strip(" ()")]
    found = [f for f in found if f]
    return f" ({', '.join(found)})" if found else ""


def _value_text(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str) and value == "":
        return "`''`"
    return f"`{value}`"


def _own_doc(model: type) -> str:
    """A model's own docstring, not the one it inherits from pydantic's BaseModel."""
    from pydantic import BaseModel

    doc = model.__doc__
    return "" if not doc or doc == BaseModel.__doc__ else inspect.cleandoc(doc)


def _plain(value: Any) -> Any:
    """A default as params.yaml would write it (paths as text), to compare with the file's value."""
    return str(value) if isinstance(value, Path) else value


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell: no pipe splits it, no ``<name>`` turns into HTML."""
    parts = text.replace("``", "`").replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):  # outside code spans only: inside them an entity shows as typed
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _comments(model: type) -> dict[str, list[str]]:
    """Comment lines written just above each field in the class body: its description when the
    field has none, and ``# --- group ---`` headers, which start a group of rows."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in lines[1:]:
        text = line.strip()
        if text.startswith("#"):
            pending.append(text.lstrip("# ").rstrip())
            continue
        match = re.match(r"(\w+)\s*:", text)
        if match:
            trailing = re.search(r"\s#\s*(.+)$", text)  # `key: int = 0  # what it is` (no '#' in strings here)
            found[match.group(1)] = pending + ([trailing.group(1)] if trailing else [])
        pending = []
    return found


def _section_rows(prefix: str, model: type, defaults: Any, project: dict) -> list[str]:
    from pydantic import BaseModel

    rows: list[str] = []
    comments = _comments(model)
    for name, field in model.model_fields.items():
        key = field.alias or name
        above = comments.get(name, [])
        for header in (c for c in above if c.startswith("---")):
            rows.append(f"| **{header.strip('- ')}** | | | |")
        default = getattr(defaults, name)
        if isinstance(default, BaseModel):  # a nested section: build_graph.knn
            rows += _section_rows(f"{prefix}{key}.", type(default), default, project.get(key) or {})
            continue
        description = field.description or " ".join(c for c in above if not c.startswith("---"))
        type_text = _type_text(field.annotation) + _constraints_text(field.metadata)
        shown = _value_text(default)
        if key in project and project[key] != _plain(default):
            shown += f" (params.yaml: {_value_text(project[key])})"
        rows.append(f"| `{prefix}{key}` | {type_text} | {shown} | {_cell(description)} |")
    return rows


def params_page() -> str:
    import yaml

    from pipeline.config import Params

    project_file = REPO / "params.yaml"
    project = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {} if project_file.is_file() else {}
    out = [
        "# params.yaml reference",
        "",
        "Every key `params.yaml` may hold, one section per stage, generated from the settings models in",
        "`pipeline/config.py` when this site is built. A key missing from the file takes the default; an",
        "unknown key or a value of the wrong type is an error naming it when the file is loaded. Where this",
        "repository's `params.yaml` sets another value than the default, the default column says so.",
        "Change a value and run `dvc repro` (only the stages that read it run again), or try it as an",
        "experiment: `dvc exp run -S train.lr=0.01`.",
        "",
    ]
    defaults = Params()
    for name, field in Params.model_fields.items():
        key = field.alias or name
        section = type(getattr(defaults, name))
        out += [f"## `{key}`", ""]
        doc = _own_doc(section)
        if doc:
            out += [doc, ""]
        out += ["| key | type | default | what it does |", "| --- | --- | --- | --- |"]
        out += _section_rows(f"{key}.", section, getattr(defaults, name), project.get(key) or {})
        out.append("")
    return "\n".join(out)


# --- dataset.yaml ----------------------------------------------------------------------------------


def _spec_rows(prefix: str, model: type) -> list[str]:
    """One row per key of a dataset.yaml model; nested models (edges, embedding entries) expand."""
    from pydantic import BaseModel

    rows = []
    comments = _comments(model)
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        args = typing.get_args(annotation)
        nested = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        entries = args[1] if typing.get_origin(annotation) is dict and len(args) == 2 else None
        if isinstance(entries, type) and issubclass(entries, BaseModel):
            nested, key = entries, f"{key}.<name>"
        required = field.is_required()
        description = field.description or " ".join(c for c in comments.get(name, []) if not c.startswith("---"))
        if nested is not None:
            shown = "required" if required else _value_text(_plain(field.get_default(call_default_factory=True)))
            doc = _own_doc(nested)
            text = _cell(description or (doc or "").split("\n\n")[0].replace("\n", " "))
            rows.append(f"| `{key}` | mapping | {shown} | {text} |")
            rows += _spec_rows(f"{key}.", nested)
            continue
        type_text = _type_text(annotation) + _constraints_text(field.metadata)
        shown = "required" if required else _value_text(field.get_default(call_default_factory=True))
        rows.append(f"| `{key}` | {type_text} | {shown} | {_cell(description)} |")
    return rows


def _extra_policy(model: type) -> str:
    """What happens to a key the table does not list: the shipped JSON Schema decides when there is one."""
    try:
        from pipeline.dataset.schema import SCHEMA_FILE
    except ImportError:
        SCHEMA_FILE = None
    if SCHEMA_FILE is not None and SCHEMA_FILE.is_file():
        import json

        if json.loads(SCHEMA_FILE.read_text(encoding="utf-8")).get("additionalProperties") is False:
            return (
                "Any other key is an error naming it, with the closest known key: the loader checks the file "
                f"against the JSON Schema `{SCHEMA_FILE.relative_to(REPO).as_posix()}`, which is generated from "
                "the same model."
            )
    extra = model.model_config.get("extra")
    if extra == "forbid":
        return "Any other key is an error naming it."
    if extra == "allow":
        return "Keys not listed here are kept and ignored, so format v1 only ever grows compatibly."
    return "Keys not listed here are ignored."


def dataset_yaml_block() -> str:
    from pipeline.dataset.spec import DatasetSpec

    rows = ["| key | type | default | what it is |", "| --- | --- | --- | --- |", *_spec_rows("", DatasetSpec)]
    return "\n".join([*rows, "", _extra_policy(DatasetSpec), ""])


# --- the committed run's metrics ---------------------------------------------------------------------


def _spread_cell(spread: dict, split: str, metric: str, registered: dict, bracket: bool) -> str:
    stat = spread.get(split, {}).get(metric)
    if not stat or stat.get("mean") is None:
        return ""
    text = f"{stat['mean']:.3f} ± {stat['sd']:.3f}" if stat.get("sd") is not None else f"{stat['mean']:.3f}"
    mine = registered.get(metric)
    return f"{text} [{mine:.3f}]" if bracket and mine is not None else text


def metrics_block() -> str:
    """The headline table of ``metrics/metrics_detail.json`` as committed (the last full run), so the
    quick start shows the numbers the repository's own run produced, not a copy."""
    import json

    path = REPO / "metrics" / "metrics_detail.json"
    if not path.is_file():
        return "*`metrics/metrics_detail.json` is not in this checkout: `make run` writes it.*\n"
    metrics = json.loads(path.read_text(encoding="utf-8"))
    spread = metrics.get("spread", {})
    if "accuracy" not in spread.get("test", {}):
        return "*The committed `metrics/metrics_detail.json` is not a node-classification run.*\n"
    rows = [
        "| split | nodes | accuracy | macro-F1 | weighted F1 | ROC-AUC (OvR) | ECE |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split in ("val", "test"):
        mine = metrics.get(split, {})
        cells = [_spread_cell(spread, split, m, mine, m in ("accuracy", "macro_f1")) for m in _HEADLINE]
        rows.append(f"| {split} | {mine.get('n', '')} | " + " | ".join(cells) + " |")
    seeds = spread.get("n_seeds")
    note = f"Mean ± sd over {seeds} training seeds" if seeds else "Mean ± sd over training seeds"
    return "\n".join([*rows, "", f"{note}, the registered model in brackets (`metrics/metrics_detail.json`).", ""])


_HEADLINE = ("accuracy", "macro_f1", "weighted_f1", "roc_auc_ovr", "ece")


# --- the code map ----------------------------------------------------------------------------------


def _summary(path: Path) -> str:
    """The first paragraph of a module's docstring, read without importing it."""
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""
    return " ".join(doc.split("\n\n")[0].split())


def code_map_block() -> str:
    """One row per package and module of ``pipeline/`` and ``flows/``, from its own docstring, so the
    map follows the code as files move."""
    rows = ["| place | what it is for |", "| --- | --- |"]
    for root in ("pipeline", "flows"):
        for entry in sorted((REPO / root).iterdir()):
            source = entry / "__init__.py" if entry.is_dir() else entry
            if entry.name.startswith("_") and entry.name != "__init__.py" or source.suffix != ".py":
                continue
            if not source.is_file():
                continue
            name = f"{root}/" if entry.name == "__init__.py" else f"{root}/{entry.name}{'/' if entry.is_dir() else ''}"
            rows.append(f"| `{name}` | {_cell(_summary(source).replace('``', '`'))} |")
    return "\n".join(rows) + "\n"


# --- the graphfuse command -------------------------------------------------------------------------


def _entry_point() -> tuple[str, Any]:
    """The console script's name and object, as pyproject.toml declares it."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    name, target = next(iter(scripts.items()))
    if target == "pipeline.console:main":  # hands stage commands over, then runs this typer app
        target = "pipeline.cli:app"
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return name, obj


def _command(app: Any):
    """The click-style command behind the entry point (typer vendors its own click, so duck typing)."""
    if hasattr(app, "get_params"):
        return app
    import typer.main

    return typer.main.get_command(app)


def _context(command, name: str, parent=None):
    return command.context_class(command, info_name=name, parent=parent)


def _help_text(text: str | None) -> str:
    lines = [line for line in inspect.cleandoc(text or "").splitlines() if line.strip() != "\b"]
    return "\n".join(lines).strip()


_TYPE_NAMES = {str: "text", int: "integer", float: "number", bool: "flag", Path: "path"}


def _param_type(param) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:  # plain click
        return param.type.name
    annotation = descriptor.annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list and args:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal or getattr(annotation, "__members__", None):
        choices = args if typing.get_origin(annotation) is typing.Literal else [m.value for m in annotation]
        return "one of " + ", ".join(f"`{c}`" for c in choices)
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _param_row(param, ctx) -> str:
    if param.param_type_name == "argument":
        names = f"`{param.name.upper()}`"
    else:
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    kind = _param_type(param)
    if param.multiple or param.nargs == -1:
        kind += ", repeatable"
    default = None if param.required else param.get_default(ctx, call=False)
    if getattr(param, "is_flag", False) and param.secondary_opts:  # --write/--check: the default's own name
        default = param.opts[0] if default else param.secondary_opts[0]
    elif getattr(param, "is_flag", False):
        default = None
    shown = "required" if param.required else ("" if default in (None, (), []) else f"`{default}`")
    help_text = _cell(_help_text(param.help or "").replace("\n", " "))
    return f"| {names} | {kind} | {shown} | {help_text} |"


def _visible(group, ctx) -> list[tuple[str, Any]]:
    found = [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]
    return [(name, command) for name, command in found if command is not None and not command.hidden]


def _command_section(command, path: list[str], parent) -> list[str]:
    ctx = _context(command, path[-1], parent)
    out = [f"## `{' '.join(path)}`", ""]
    if getattr(command, "deprecated", False):
        out += ["*Deprecated.*", ""]
    help_text = _help_text(command.help or command.short_help)
    if help_text:
        out += ["```text", help_text, "```", ""]
    out += ["```text", command.get_usage(ctx), "```", ""]
    params = [p for p in command.get_params(ctx) if not p.hidden and "--help" not in p.opts]
    if params:
        out += ["| argument or option | type | default | what it does |", "| --- | --- | --- | --- |"]
        out += [_param_row(p, ctx) for p in params] + [""]
    if hasattr(command, "list_commands"):
        for name, sub in _visible(command, ctx):
            out += _command_section(sub, [*path, name], ctx)
    return out


def cli_page() -> str:
    name, app = _entry_point()
    root = _command(app)
    ctx = _context(root, name)
    out = [
        "# CLI reference",
        "",
        f"Every `{name}` command and option, generated from the command itself when this site is built",
        f"(`{name} COMMAND --help` prints the same). Run it from the project root with the virtual",
        "environment active (`source .venv/bin/activate`).",
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    commands = _visible(root, ctx)
    for sub_name, sub in commands:
        summary = _cell(sub.get_short_help_str(limit=120))
        anchor = re.sub(r"[^a-z0-9]+", "-", f"{name} {sub_name}".lower()).strip("-")
        out.append(f"| [`{name} {sub_name}`](#{anchor}) | {summary} |")
    out.append("")
    for sub_name, sub in commands:
        out += _command_section(sub, [name, sub_name], ctx)
    return "\n".join(out)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "site-reference")
    for src_uri, builder in PAGES.items():
        path = target / src_uri
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(globals()[builder](), encoding="utf-8")
        print(f"wrote {path}")
