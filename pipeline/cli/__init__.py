"""The ``graphfuse`` command: one module per command group, all behind one error wrapper.

| group | module | commands |
| --- | --- | --- |
| pipeline | :mod:`.stages`, :mod:`.synth` | stage, run-all, repro, validate, dvc-deps, synth |
| data | :mod:`.data` | init, import mm-graph, import magb |
| predict | :mod:`.predict` | predict |
| models | :mod:`.registry` | registry list/promote/rollback |
| services | :mod:`.services` | prefect start/stop/status, serve, team up/down/status |
| maintenance | :mod:`.maintenance` | metrics, cache prune |

Each module imports its heavy libraries inside its commands, so ``graphfuse stage`` loads only what
the stage needs.
"""

from __future__ import annotations

import sys
import warnings

import typer

from pipeline.cli import data, maintenance, predict, registry, services, stages
from pipeline.cli.base import CleanErrors

# torch_geometric still calls torch.jit.script at import; the warning is not the user's to act on.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)

app = typer.Typer(
    cls=CleanErrors,
    help="GraphFuse: multimodal learning on graphs, as a reproducible pipeline.",
    no_args_is_help=True,
    add_completion=False,
)
for group in (stages, predict, maintenance, registry, services, data):
    group.register(app)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
