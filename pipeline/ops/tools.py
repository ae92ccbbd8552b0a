"""The one place that finds the programs GraphFuse starts (dvc, prefect, mlflow, uvicorn, graphfuse)
and gives every child process a PATH that finds them too.

The project's programs live beside its Python (``.venv/bin``). A user may run ``.venv/bin/graphfuse``
from a shell whose PATH lacks that folder; DVC then runs each stage as a bare ``graphfuse stage``,
which must still resolve to the same install, so every child gets this folder first on its PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path


def bin_dir() -> Path:
    """The folder of this interpreter's console scripts (not resolved: a venv's python is a link)."""
    return Path(sys.executable).parent


def tool(name: str) -> str:
    """The program ``name`` beside this Python (the project's venv), else the one on PATH, else the
    bare name (the child's PATH, see :func:`child_env`, then decides)."""
    beside = bin_dir() / name
    if beside.exists():
        return str(beside)
    return shutil.which(name) or name


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) with this interpreter's bin folder first on PATH, once."""
    result = dict(os.environ if env is None else env)
    first = str(bin_dir())
    rest = [p for p in result.get("PATH", "").split(os.pathsep) if p and p != first]
    result["PATH"] = os.pathsep.join([first, *rest])
    return result
