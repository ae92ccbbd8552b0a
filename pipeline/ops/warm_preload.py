"""The warm server's preload, one module at a time, and which part of it a stage command waits for.

The server imports its preload one module at a time in the stages' order and forks waiting stages
between two imports. A stage forked before the modules it needs are in imports them itself, beside
the server importing the same ones: twice the work on a 2-core machine (the text stage took 0.5-1.3 s
longer under ``graphfuse repro``). So a stage waits for its own part, and no more: validate for
Prefect and pandas, the preprocess stages for torch (and transformers for text), the rest for all.
"""

from __future__ import annotations

import importlib
import json
import socket

from pipeline.ops.warm_protocol import CODE

#: The last preload module each stage needs; a stage not named here needs the whole preload.
NEEDS = {
    "validate": "pipeline.stages.validate",
    "preprocess_text": "transformers.models.bert.modeling_bert",
    "preprocess_image": "pipeline.stages.preprocess",
    "preprocess_tabular": "pipeline.stages.preprocess",
    "preprocess_embedding": "pipeline.stages.preprocess_embedding",
}
_PEEK_BYTES = 4096


def needed_imports(conn: socket.socket, preload: list[str]) -> int:
    """How many of ``preload`` must be imported before the command waiting on ``conn`` is forked
    (0: at once, as for a command this cannot read or a module the list does not have)."""
    stage = _stage_name(conn)
    if stage is None:
        return 0
    needed = NEEDS.get(stage)
    if needed is None:
        return len(preload)
    names = [name.partition(":")[0] for name in preload]
    return names.index(needed) + 1 if needed in names else 0


def _stage_name(conn: socket.socket) -> str | None:
    """The stage of a ``graphfuse stage NAME`` request, read without taking it off the socket (the
    forked supervisor receives it, descriptors and all); None for anything else."""
    try:
        conn.settimeout(1.0)
        data = conn.recv(_PEEK_BYTES, socket.MSG_PEEK)  # no control buffer: its descriptors stay queued
        conn.settimeout(None)
        text = data[CODE.size :].decode("utf-8", errors="replace")
        start = text.index('"argv":') + len('"argv":')
        argv, _ = json.JSONDecoder().raw_decode(text[start:].lstrip())
    except (OSError, ValueError):
        return None
    return argv[2] if isinstance(argv, list) and len(argv) == 3 and argv[1] == "stage" else None


def import_one(name: str) -> None:
    """Import ``module``; ``module:function`` also calls that function (once, before any fork)."""
    module, _, function = name.partition(":")
    try:
        imported = importlib.import_module(module)
        if function:
            getattr(imported, function)()
    except Exception as exc:  # a stage that needs it will say so itself
        print(f"warm stages: could not preload {name}: {type(exc).__name__}: {exc}", flush=True)
