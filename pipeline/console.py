"""The ``graphfuse`` console script.

``graphfuse stage NAME`` under ``graphfuse repro`` or a lingering stage host only hands itself to a
warm server and waits: it does so before the command-line layer (typer, pydantic, every command
group: ~0.45 s, paid by each of a repro's eight stages) is imported. Everything else, and every
case the hand-over is unsure of, is :data:`pipeline.cli.app`, which checks it all again.
"""

from __future__ import annotations

import sys


def main(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """Run the command in ``sys.argv`` (or ``args``, as the warm server's child calls it)."""
    if args is None:
        from pipeline.ops.warm_client import hand_over_stage

        if (code := hand_over_stage(sys.argv)) is not None:
            raise SystemExit(code)
    from pipeline.cli import app

    app(args=args, prog_name=prog_name)
