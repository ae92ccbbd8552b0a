"""The ``graphfuse`` command: stages (as Prefect flows), dataset checks, predictions, metrics."""

from __future__ import annotations

import atexit
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from pipeline.errors import GraphFuseError
from pipeline.stages import STAGES

# torch_geometric still calls torch.jit.script at import; the warning is not the user's to act on.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)

app = typer.Typer(
    help="GraphFuse: multimodal learning on graphs, as a reproducible pipeline.",
    no_args_is_help=True,
    add_completion=False,
)


def _embedded_defaults(root: Path) -> None:
    """Prefect's state lives in the project (git-ignored) unless the user points elsewhere."""
    os.environ.setdefault("PREFECT_HOME", str((root / ".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


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


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=1)


@app.command()
def stage(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(STAGES)}")],
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Run one pipeline stage as a Prefect flow (this is what dvc.yaml calls)."""
    if name not in STAGES:
        _fail(GraphFuseError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}"))
    exit_code = _skip_teardown_at_exit()
    _embedded_defaults(root)
    from pipeline.ops.prefect_server import prefect_api

    try:
        # The running Prefect server when there is one (a second), else one that dies with us.
        with prefect_api(root) as api_url:
            os.environ["PREFECT_API_URL"] = api_url
            from flows.stage_flows import STAGE_FLOWS

            STAGE_FLOWS[name](params_file=str(params), root=str(root))
    except GraphFuseError as exc:
        _fail(exc)
    exit_code["code"] = 0


@app.command("run-all")
def run_all(
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Run every stage in one Prefect flow, without DVC's change detection."""
    _embedded_defaults(root)
    from pipeline.ops.prefect_server import prefect_api

    try:
        with prefect_api(root) as api_url:
            os.environ["PREFECT_API_URL"] = api_url
            from flows.pipeline_flow import pipeline_flow

            pipeline_flow(params_file=str(params), root=str(root))
    except GraphFuseError as exc:
        _fail(exc)


@app.command()
def validate(dataset: Annotated[Path, typer.Argument(help="a format-v1 dataset folder")]) -> None:
    """Check a dataset folder and print what it holds; writes nothing."""
    from pipeline.dataset import load_dataset

    try:
        ds = load_dataset(dataset)
    except GraphFuseError as exc:
        _fail(exc)
    labelled = int(ds.labels.notna().sum())
    typer.echo(
        f"{ds.spec.name}: {len(ds.nodes)} nodes ({labelled} labelled, {len(ds.classes)} classes), "
        f"{len(ds.edges)} edges, modalities: {', '.join(ds.spec.modalities) or 'none'}"
    )
    for note in ds.notes:
        typer.echo(f"note: {note}")


@app.command()
def predict(
    model: Annotated[str, typer.Option(help="a model URI, e.g. models:/graphfuse@champion, or a local model folder")],
    dataset: Annotated[Path, typer.Option(help="a format-v1 dataset folder")],
    out: Annotated[Path, typer.Option(help="where to write the predictions CSV")],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    root: Annotated[Path, typer.Option(help="project root holding mlflow.db")] = Path("."),
) -> None:
    """Predict a label for every node of a dataset folder."""
    from pipeline.atomic import write_with
    from pipeline.bundle import load_bundle
    from pipeline.predict import predict_dataset
    from pipeline.stages import show_progress

    try:
        if Path(model).is_dir():
            bundle = load_bundle(model)
        else:
            from pipeline.tracking import connect_tracking, load_bundle_from_registry

            connect_tracking(root)
            bundle = load_bundle_from_registry(model)
        predictions, notes = predict_dataset(bundle, dataset, device=device, progress=show_progress())
    except GraphFuseError as exc:
        _fail(exc)
    write_with(out, lambda tmp: predictions.to_csv(tmp, index=False))
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {len(predictions)} predictions to {out}")


@app.command()
def metrics(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Print the headline metrics of the last evaluate stage."""
    from pipeline.atomic import read_json
    from pipeline.paths import Paths
    from pipeline.stages.evaluate import METRICS_FILE, REGISTRY_FILE

    paths = Paths(root)
    path = paths.metrics / METRICS_FILE
    if not path.is_file():
        _fail(GraphFuseError(f"{path}: not found; run `dvc repro` first"))
    values = read_json(path)
    typer.echo(f"{'split':<6} {'n':>4} {'accuracy':>9} {'macro-F1':>9}")
    for split in ("train", "val", "test"):
        m = values.get(split, {})
        accuracy, macro_f1 = m.get("accuracy", float("nan")), m.get("macro_f1", float("nan"))
        typer.echo(f"{split:<6} {m.get('n', 0):>4} {accuracy:>9.4f} {macro_f1:>9.4f}")
    registry = paths.metrics / REGISTRY_FILE
    if registry.is_file():
        r = read_json(registry)
        state = "now champion" if r["promoted"] else f"champion stays v{r['previous_champion']}"
        typer.echo(f"registered {r['model_name']} v{r['version']} ({r['metric']}={r['value']:.4f}; {state})")


# --- orchestration: a local Prefect server, repro through it, schedules (issue 5) ---------------

prefect_app = typer.Typer(help="A persistent local Prefect server for this project (loopback only).")
app.add_typer(prefect_app, name="prefect")


@prefect_app.command("start")
def prefect_start(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 0,
    root: Annotated[Path, typer.Option(help="project root (state goes in ROOT/.prefect)")] = Path("."),
) -> None:
    """Start the server in the background; stages and `dvc repro` then connect to it in a second."""
    _embedded_defaults(root)
    from pipeline.ops import prefect_server

    try:
        service, started = prefect_server.start(root, port or None)
    except GraphFuseError as exc:
        _fail(exc)
    ui = service.url.removesuffix("/api")
    typer.echo(f"Prefect server {'started' if started else 'already running'} (pid {service.pid}): UI {ui}")
    typer.echo(f"stop it with `graphfuse prefect stop`; log: {service.log}")
    typer.echo(f"for Prefect's own CLI (deploy, worker): export PREFECT_API_URL={service.url}")


@prefect_app.command("stop")
def prefect_stop(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Stop the background server started by `graphfuse prefect start`."""
    _embedded_defaults(root)
    from pipeline.ops import prefect_server

    service = prefect_server.stop(root)
    typer.echo(f"stopped the Prefect server (pid {service.pid})" if service else "no Prefect server was running")


@prefect_app.command("status")
def prefect_status(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Say whether the background server is up, and where; exit 1 when it is not."""
    _embedded_defaults(root)
    from pipeline.ops import prefect_server

    service = prefect_server.status(root)
    if service is None:
        typer.echo("no Prefect server is running for this project")
        raise typer.Exit(code=1)
    typer.echo(f"Prefect server up (pid {service.pid}): API {service.url}, UI {service.url.removesuffix('/api')}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def repro(ctx: typer.Context, root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """`dvc repro [ARGS]` with every stage on one Prefect server: the running one, or one that
    lives exactly as long as this command."""
    import subprocess

    _embedded_defaults(root)
    from pipeline.ops.prefect_server import prefect_api

    try:
        with prefect_api(root) as api_url:
            env = {**os.environ, "PREFECT_API_URL": api_url}
            code = subprocess.run([_dvc(), "repro", *ctx.args], cwd=root, env=env).returncode
    except GraphFuseError as exc:
        _fail(exc)
    raise typer.Exit(code=code)


@app.command()
def serve(
    cron: Annotated[str, typer.Option(help="when to run, as a cron string")] = "0 2 * * *",
    timezone: Annotated[str, typer.Option(help="the cron's timezone (IANA name)")] = "UTC",
    name: Annotated[str, typer.Option(help="deployment name")] = "nightly-serve",
    push: Annotated[bool, typer.Option(help="`dvc push` to the default remote after each run")] = False,
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Serve the pipeline on a schedule from this process (one box, no worker); Ctrl-C stops it."""
    _embedded_defaults(root)
    from pipeline.ops.prefect_server import prefect_api

    try:
        with prefect_api(root, scheduler=True) as api_url:
            os.environ["PREFECT_API_URL"] = api_url
            from prefect.schedules import Cron

            from flows.deployment import repro_flow

            typer.echo(f"serving {name!r} on cron {cron!r} ({timezone}); Prefect API {api_url}")
            repro_flow.serve(
                name=name,
                schedules=[Cron(cron, timezone=timezone)],
                parameters={"push": push, "root": str(root.resolve())},
            )
    except GraphFuseError as exc:
        _fail(exc)


team_app = typer.Typer(help="Team mode on this machine: PostgreSQL, MLflow and Prefect servers, a worker, DVC remote.")
app.add_typer(team_app, name="team")


@team_app.command("up")
def team_up(root: Annotated[Path, typer.Option(help="project root (state in ROOT/.team)")] = Path(".")) -> None:
    """Start the stack on 127.0.0.1; the database password comes from $GRAPHFUSE_DB_PASSWORD."""
    from pipeline.ops import team

    try:
        settings = team.up(root)
    except GraphFuseError as exc:
        _fail(exc)
    typer.echo("team stack up (PostgreSQL, MLflow server, Prefect server, worker on pool 'graphfuse', DVC remote)")
    typer.echo("point clients at it:")
    for key, value in settings.items():
        typer.echo(f"  export {key}={value}")


@team_app.command("down")
def team_down(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Stop the worker, the servers and PostgreSQL (the data stays for the next `team up`)."""
    from pipeline.ops import team

    stopped = team.down(root)
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@team_app.command("status")
def team_status(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """List the team services that are up; exit 1 when none is."""
    from pipeline.ops import team

    running = team.status(root)
    for name, service in running.items():
        typer.echo(f"{name:<9} pid {service.pid:<8} {service.url}")
    if not running:
        typer.echo("the team stack is down")
        raise typer.Exit(code=1)


def _dvc() -> str:
    """The dvc next to this Python (the project's .venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.exists() else "dvc"


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
