"""The one place that finds GraphFuse's programs: children find the project's venv first on PATH,
even when the user's shell does not have it (``.venv/bin/graphfuse repro`` from a plain shell)."""

from __future__ import annotations

import os
import subprocess

import pytest

from pipeline.ops.tools import bin_dir, child_env, tool
from tests.helpers import BIN

pytestmark = pytest.mark.unit


def test_children_get_the_venv_first_on_path_once() -> None:
    env = child_env({"PATH": os.pathsep.join(["/usr/bin", str(BIN), "/bin"])})

    assert env["PATH"].split(os.pathsep) == [str(BIN), "/usr/bin", "/bin"]
    assert child_env({})["PATH"] == str(BIN)


def test_tools_are_found_beside_this_python_not_on_the_shells_path() -> None:
    assert bin_dir() == BIN
    assert tool("dvc") == str(BIN / "dvc")
    assert tool("no-such-program-graphfuse") == "no-such-program-graphfuse"


def test_a_bare_graphfuse_in_a_child_resolves_to_this_install_from_a_shell_without_the_venv() -> None:
    shell = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    found = subprocess.run(["sh", "-c", "command -v graphfuse"], env=child_env(shell), capture_output=True, text=True)

    assert found.stdout.strip() == str(BIN / "graphfuse")
