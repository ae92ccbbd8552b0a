"""What every command module shares: the one error wrapper, and the common options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer.core import TyperGroup

from pipeline.errors import GraphFuseError

Root = Annotated[Path, typer.Option(help="project root")]
ParamsFile = Annotated[Path, typer.Option(help="params file, relative to --root")]


def fail(exc: Exception) -> NoReturn:
    """The user's problem, said once on stderr, and exit code 1 (no traceback)."""
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=1)


class CleanErrors(TyperGroup):
    """The one error wrapper of every command and sub-command: a :class:`GraphFuseError` (a
    problem in the user's data, settings or environment, already located) ends the command with
    ``error: ...`` and exit code 1 instead of a traceback."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except GraphFuseError as exc:
            fail(exc)


def sub_app(help_text: str, *, no_args_is_help: bool = False) -> typer.Typer:
    """A command group (``graphfuse registry ...``)."""
    return typer.Typer(help=help_text, no_args_is_help=no_args_is_help)
