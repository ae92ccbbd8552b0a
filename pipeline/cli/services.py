"""Command group *services*: a local Prefect server, the scheduled pipeline, the team stack."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.base import Root, sub_app


def prefect_start(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 0,
    root: Annotated[Path, typer.Option(help="project root (state goes in ROOT/.prefect)")] = Path("."),
) -> None:
    """Start the server in the background; stages and `dvc repro` then connect to it in a second.

    Example: graphfuse prefect start --port 4200
    """
    from pipeline.ops import prefect_server

    prefect_server.embedded_defaults(root)
    service, started = prefect_server.start(root, port or None)
    ui = service.url.removesuffix("/api")
    typer.echo(f"Prefect server {'started' if started else 'already running'} (pid {service.pid}): UI {ui}")
    typer.echo(f"stop it with `graphfuse prefect stop`; log: {service.log}")
    typer.echo("Prefect's own CLI run in this folder (deploy, worker, flow-run ls) uses it: no export needed")


def prefect_stop(root: Root = Path(".")) -> None:
    """Stop the background server started by `graphfuse prefect start`, and the stage host that lone
    stages (plain `dvc repro`) leave running for a while.

    Example: graphfuse prefect stop
    """
    from pipeline.ops import prefect_server, stage_host

    prefect_server.embedded_defaults(root)

    service = prefect_server.stop(root)
    typer.echo(f"stopped the Prefect server (pid {service.pid})" if service else "no Prefect server was running")
    if (host := stage_host.stop(root)) is not None:
        typer.echo(f"stopped the stage host (pid {host['pid']})")


def prefect_status(root: Root = Path(".")) -> None:
    """Say whether the background server is up, and where; exit 1 when it is not.

    Example: graphfuse prefect status
    """
    from pipeline.ops import prefect_server

    prefect_server.embedded_defaults(root)

    service = prefect_server.status(root)
    if service is None:
        typer.echo("no Prefect server is running for this project")
        raise typer.Exit(code=1)
    typer.echo(f"Prefect server up (pid {service.pid}): API {service.url}, UI {service.url.removesuffix('/api')}")


def schedule(
    cron: Annotated[str, typer.Option(help="when to run, as a cron string")] = "0 2 * * *",
    timezone: Annotated[str, typer.Option(help="the cron's timezone (IANA name)")] = "UTC",
    name: Annotated[str, typer.Option(help="deployment name")] = "nightly-serve",
    push: Annotated[bool, typer.Option(help="`dvc push` to the default remote after each run")] = False,
    root: Root = Path("."),
) -> None:
    """Run the pipeline on a schedule from this process (one box, no worker); Ctrl-C stops it.

    Example: graphfuse schedule --cron "0 2 * * *" --timezone Europe/Paris
    """
    from pipeline.ops.prefect_server import embedded_defaults, prefect_api

    embedded_defaults(root)
    with prefect_api(root, scheduler=True) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        from flows.deployment import serve_on_schedule

        typer.echo(f"serving {name!r} on cron {cron!r} ({timezone}); Prefect API {api_url}")
        serve_on_schedule(name, cron, timezone, push, root.resolve())


@functools.wraps(schedule)
def _serve(*args, **kwargs) -> None:
    typer.secho("warning: `graphfuse serve` is deprecated: use `graphfuse schedule`", err=True, fg=typer.colors.YELLOW)
    schedule(*args, **kwargs)


_serve.__doc__ = """The old name of `graphfuse schedule` (it starts scheduled runs; it serves no model).

Example: graphfuse schedule --cron "0 2 * * *"   (the new name, same options)
"""


def team_up(root: Annotated[Path, typer.Option(help="project root (state in ROOT/.team)")] = Path(".")) -> None:
    """Start the stack on 127.0.0.1; the database password comes from $GRAPHFUSE_DB_PASSWORD.

    Example: GRAPHFUSE_DB_PASSWORD=change-me graphfuse team up
    """
    from pipeline.ops import team

    settings = team.up(root)
    typer.echo("team stack up (PostgreSQL, MLflow server, Prefect server, worker on pool 'graphfuse', DVC remote)")
    typer.echo("point clients at it:")
    for key, value in settings.items():
        typer.echo(f"  export {key}={value}")


def team_down(root: Root = Path(".")) -> None:
    """Stop the worker, the servers and PostgreSQL (the data stays for the next `team up`).

    Example: graphfuse team down
    """
    from pipeline.ops import team

    stopped = team.down(root)
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def team_status(root: Root = Path(".")) -> None:
    """List the team services that are up; exit 1 when none is.

    Example: graphfuse team status
    """
    from pipeline.ops import team

    running = team.status(root)
    for name, service in running.items():
        typer.echo(f"{name:<9} pid {service.pid:<8} {service.url}")
    if not running:
        typer.echo("the team stack is down")
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    prefect_app = sub_app(
        "A persistent local Prefect server for this project (loopback only).\n\nExample: graphfuse prefect start"
    )
    prefect_app.command("start")(prefect_start)
    prefect_app.command("stop")(prefect_stop)
    prefect_app.command("status")(prefect_status)
    app.add_typer(prefect_app, name="prefect")
    app.command()(schedule)
    app.command("serve", deprecated=True)(_serve)
    team_app = sub_app(
        "Team mode on this machine: PostgreSQL, MLflow and Prefect servers, a worker, DVC remote."
        "\n\nExample: GRAPHFUSE_DB_PASSWORD=change-me graphfuse team up"
    )
    team_app.command("up")(team_up)
    team_app.command("down")(team_down)
    team_app.command("status")(team_status)
    app.add_typer(team_app, name="team")
