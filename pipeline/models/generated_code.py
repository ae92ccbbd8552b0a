"""Leave the temp folder as found after PyG generates its message-passing code.

The first time a process builds a layer of a :class:`~torch_geometric.nn.conv.MessagePassing`
class, PyG renders that class's ``propagate`` (and ``edge_updater``) from a Jinja template into
``tempfile.NamedTemporaryFile(delete=False)`` and imports it (``torch_geometric.template``); the
file is never removed, so every predict, stage or served process left one per class in /tmp.
Once imported, the module lives in memory and the file is no longer read (only a traceback
through it would have shown its lines), so the files are removed as soon as the modules exist,
with the bytecode Python's import compiled them to (``/tmp/__pycache__/*.pyc``, unless
PYTHONDONTWRITEBYTECODE is set) and that ``__pycache__`` folder once it is empty.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

#: What PyG's ``_set_jittable_templates`` appends to ``f"{cls.__module__}_{cls.__name__}"``.
GENERATED_SUFFIXES = ("_propagate", "_edge_updater")


def generated_files() -> list[Path]:
    """The temp files behind the generated modules this process has imported that still exist."""
    temp = Path(tempfile.gettempdir()).resolve()
    found = []
    # tuple() copies the names in one step: another thread (Prefect's workers) may import meanwhile,
    # and a Python-level loop over sys.modules then fails with 'dictionary changed size during iteration'.
    for name in [n for n in tuple(sys.modules) if n.endswith(GENERATED_SUFFIXES)]:
        source = getattr(sys.modules.get(name), "__file__", None)
        if not source:
            continue
        path = Path(source)
        if path.name.startswith(f"{name}_") and path.parent.resolve() == temp and path.is_file():
            found.append(path)
    return found


def remove_generated_files() -> None:
    """Delete :func:`generated_files` and their bytecode (cheap when there are none: one pass over
    ``sys.modules``)."""
    for path in generated_files():
        path.unlink(missing_ok=True)
        compiled = Path(importlib.util.cache_from_source(str(path)))
        compiled.unlink(missing_ok=True)
        try:
            compiled.parent.rmdir()  # only when empty; another process may be writing there
        except OSError:
            pass
