"""Command group *pipeline*: run a stage, all stages, or ``dvc repro``; check a dataset; keep
dvc.yaml's code deps true; write a synthetic dataset."""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.base import ParamsFile, Root
from pipeline.errors import GraphFuseError
from pipeline.stages import STAGES


def _skip_teardown_at_exit() -> dict[str, int]:
    """Once every exit hook has run (Prefect and MLflow flush theirs), leave without the
    interpreter's teardown, which costs 5-10 s of a stage's wall time once torch is loaded on a
    busy machine. Only for the console script: never inside a test runner's process.

    Returns the exit code holder; it stays 1 unless the command marks itself done.
    """
    outcome = {"code": 1}
    if Path(sys.argv[0]).name != "graphfuse":
        return outcome

    def leave() -> None:
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(outcome["code"])

    atexit.register(leave)  # registered before Prefect's and MLflow's, so it runs after them
    return outcome


def stage(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(STAGES)}")],
    params: ParamsFile = Path("params.yaml"),
    root: Root = Path("."),
) -> None:
    """Run one pipeline stage as a Prefect flow (this is what dvc.yaml calls).

    Example: graphfuse stage train   (one stage by hand; `graphfuse repro` runs them all)
    """
    if name not in STAGES:
        raise GraphFuseError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    from pipeline.ops.processes import die_with_parent_if_asked
    from pipeline.ops.warm_client import run_in_server, run_in_stage_host

    die_with_parent_if_asked()  # under `graphfuse repro`: when dvc dies, so does this stage
    if (code := run_in_server(sys.argv)) is not None:  # under `graphfuse repro`: a warm fork runs it
        raise typer.Exit(code=code)
    from pipeline.ops.prefect_server import embedded_defaults, prefect_api

    embedded_defaults(root)
    if (code := run_in_stage_host(root, sys.argv, start=True)) is not None:  # plain `dvc repro`: the host
        raise typer.Exit(code=code)
    exit_code = _skip_teardown_at_exit()
    # The running Prefect server when there is one (a second), else one that dies with us.
    with prefect_api(root) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        from flows.stage_flows import STAGE_FLOWS, stage_heartbeats

        with stage_heartbeats():
            STAGE_FLOWS[name](params_file=str(params), root=str(root))
    exit_code["code"] = 0


def run_all(params: ParamsFile = Path("params.yaml"), root: Root = Path(".")) -> None:
    """Run every stage in one Prefect flow, without DVC's change detection.

    Example: graphfuse run-all --params params.yaml
    """
    from pipeline.ops.prefect_server import embedded_defaults, prefect_api

    embedded_defaults(root)
    with prefect_api(root) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        from flows.pipeline_flow import pipeline_flow

        pipeline_flow(params_file=str(params), root=str(root))


def repro(ctx: typer.Context, root: Root = Path(".")) -> None:
    """`dvc repro [ARGS]` with every stage on one Prefect server: the running one, or one that
    lives exactly as long as this command.

    Example: graphfuse repro
    Example: graphfuse repro --force evaluate   (DVC's own arguments pass through)
    """
    from pipeline.ops.repro import repro as run_repro

    raise typer.Exit(code=run_repro(root, ctx.args))


def validate(
    dataset: Annotated[Path, typer.Argument(help="a format-v1 dataset folder")],
    params: Annotated[
        Path | None, typer.Option(help="params file for the split settings [default: ./params.yaml if present]")
    ] = None,
) -> None:
    """Check a dataset folder exactly as the validate stage does (images decoded, split drawn); writes nothing.

    Example: graphfuse validate data/raw/countries
    """
    from pipeline.config import Params, load_params
    from pipeline.stages.validate import checked_dataset

    if params is None and Path("params.yaml").is_file():
        params = Path("params.yaml")
    settings = load_params(params) if params is not None else Params()
    ds = checked_dataset(dataset, settings.validate_, settings.dataset.task)
    labelled = int(ds.labels.notna().sum())
    typer.echo(
        f"{ds.spec.name}: {len(ds.nodes)} nodes ({labelled} labelled, {len(ds.classes)} classes), "
        f"{len(ds.edges)} edges, modalities: {', '.join(ds.spec.modalities) or 'none'}"
    )
    for note in ds.notes:
        typer.echo(f"note: {note}")


def dvc_deps(
    write: Annotated[bool, typer.Option("--write/--check", help="rewrite dvc.yaml, or only check it")] = False,
    root: Annotated[Path, typer.Option(help="project root holding dvc.yaml")] = Path("."),
) -> None:
    """Make (or check) each stage's code deps in dvc.yaml equal to the modules it imports.

    Example: graphfuse dvc-deps --write   (after adding a module to a stage)
    """
    from pipeline import dvc_deps as deps

    root = root.resolve()
    if write:
        changed = deps.write(root)
        typer.echo("dvc.yaml: code dependencies rewritten" if changed else "dvc.yaml: already complete")
        return
    problems = deps.check(root)
    for line in problems:
        typer.secho(f"error: {line}", err=True, fg=typer.colors.RED)
    if problems:
        typer.echo("run `graphfuse dvc-deps --write` to fix", err=True)
        raise typer.Exit(code=1)
    typer.echo("dvc.yaml: every stage depends on all the code it imports")


def register(app: typer.Typer) -> None:
    from pipeline.cli.synth import synth

    app.command()(stage)
    app.command("run-all")(run_all)
    app.command()(validate)
    app.command()(synth)
    app.command("dvc-deps")(dvc_deps)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(repro)
