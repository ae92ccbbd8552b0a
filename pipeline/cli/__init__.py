"""The ``graphfuse`` command: one module per command group, all behind one error wrapper.

| group | module | commands |
| --- | --- | --- |
| pipeline | :mod:`.stages`, :mod:`.synth` | stage, run-all, repro, validate, dvc-deps, synth |
| data | :mod:`.data` | init, import mm-graph, import magb |
| predict | :mod:`.predict` | predict |
| models | :mod:`.registry` | registry list/promote/rollback |
| services | :mod:`.services` | prefect start/stop/status, schedule (serve: deprecated), team up/down/status |
| maintenance | :mod:`.maintenance` | metrics, cache prune |
| comparisons | :mod:`.compare` | compare |

Each module imports its heavy libraries inside its commands, so ``graphfuse stage`` loads only what
the stage needs.
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated

import typer

from pipeline.cli import compare, data, maintenance, predict, registry, services, stages
from pipeline.cli.base import CleanErrors

# torch_geometric still calls torch.jit.script at import; the warning is not the user's to act on.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)

app = typer.Typer(
    cls=CleanErrors,
    help="GraphFuse: multimodal learning on graphs, as a reproducible pipeline.\n\nExample: graphfuse repro",
    no_args_is_help=True,
    add_completion=False,
)
for group in (stages, predict, maintenance, registry, services, data, compare):
    group.register(app)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"graphfuse {version('graphfuse')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """GraphFuse: multimodal learning on graphs, as a reproducible pipeline."""


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
