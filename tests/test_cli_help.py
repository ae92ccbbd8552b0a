"""Every command's `--help` shows how to call it (issue 19): the typer app walked whole, so a
command added without an example fails here."""

from __future__ import annotations

import re

import click
import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import app

pytestmark = pytest.mark.unit


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    """(path, command) for the root, every group and every command under it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_the_walk_finds_the_groups_and_their_subcommands() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "repro", "predict", "metrics", "registry", "registry list", "prefect start", "import magb"} <= paths
    assert len(paths) >= 25


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "graphfuse" for p, _ in COMMANDS])
def test_every_help_shows_an_example_of_its_own_command(path: tuple[str, ...], command: click.Command) -> None:
    shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    examples = re.findall(r"Example: (.+)", shown.output)
    assert examples, f"`graphfuse {' '.join(path)} --help` shows no example:\n{shown.output}"
    # an example of this very command; a deprecated alias shows its new name instead
    called = "graphfuse schedule" if command.deprecated else " ".join(("graphfuse", *path))
    assert any(called in example for example in examples), examples
