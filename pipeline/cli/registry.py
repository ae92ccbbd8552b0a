"""Command group *models*: the model registry (list versions, promote one, roll the champion back)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.base import ParamsFile, Root, sub_app


def _tracking_params(params: Path, root: Path):
    from pipeline.config import load_params, project_model_name

    settings = load_params(root / params)  # model_name resolved: null derives it from the dataset's name
    return settings.tracking.model_copy(update={"model_name": project_model_name(settings, root)})


def _registry_params(params: Path, root: Path):
    from pipeline.tracking import connect_tracking

    connect_tracking(root)
    return _tracking_params(params, root)


def registry_list(
    params: ParamsFile = Path("params.yaml"),
    root: Root = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="print the versions as a JSON list")] = False,
) -> None:
    """Every version, newest first, with aliases, dataset, split and validation metrics.

    Example: graphfuse registry list --json
    """
    from pipeline.tracking import local_versions

    tracking = _tracking_params(params, root)
    # the project's own SQLite registry is read directly (no MLflow import: ~0.5 s, not ~10 s)
    rows = local_versions(tracking.model_name, root)
    if rows is None:  # a tracking server, another registry, a store not created yet: MLflow answers
        from pipeline.tracking import connect_tracking, list_versions

        connect_tracking(root)
        rows = list_versions(tracking.model_name)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no versions of {tracking.model_name!r} registered")
    for row in rows:
        typer.echo("  ".join(f"{k}={v}" for k, v in row.items() if v))


def registry_promote(
    version: Annotated[int, typer.Argument(help="the version to make champion")],
    params: ParamsFile = Path("params.yaml"),
    root: Root = Path("."),
) -> None:
    """Make VERSION the champion (e.g. a challenger you reviewed).

    Example: graphfuse registry promote 7
    """
    from pipeline.tracking import promote

    tracking = _registry_params(params, root)
    typer.echo(promote(tracking.model_name, version, tracking.champion_alias))


def registry_rollback(
    params: ParamsFile = Path("params.yaml"),
    root: Root = Path("."),
) -> None:
    """Give the champion alias back to the version that held it before.

    Example: graphfuse registry rollback
    """
    from pipeline.tracking import rollback

    tracking = _registry_params(params, root)
    typer.echo(rollback(tracking.model_name, tracking.champion_alias))


def register(app: typer.Typer) -> None:
    registry_app = sub_app(
        "The model registry: list versions, promote one, roll the champion back.\n\nExample: graphfuse registry list"
    )
    registry_app.command("list")(registry_list)
    registry_app.command("promote")(registry_promote)
    registry_app.command("rollback")(registry_rollback)
    app.add_typer(registry_app, name="registry")
