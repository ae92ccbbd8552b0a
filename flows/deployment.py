"""The deployable pipeline: DVC decides what reruns, Prefect schedules it, and each side links
to the other.

``prefect.yaml`` deploys :func:`repro_flow` on a nightly cron; ``graphfuse schedule`` runs it on
one box. A run takes the project lock (a Prefect global concurrency limit), runs ``dvc repro``
(or, given overrides, ``dvc exp run --temp -S key=value ...``: a DVC experiment in a temporary
workspace, so the project's params.yaml, dvc.lock and outputs stay as they were and the next
nightly run does not inherit a one-off value), optionally pushes to the DVC remote, and leaves a
markdown artifact saying what reran, the metrics, and the MLflow run and model version.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from flows.run_report import markdown, read_json, results
from pipeline.config import load_params
from pipeline.errors import GraphFuseError
from pipeline.ops import dvc_experiment
from pipeline.ops.repro import dvc_command, dvc_environment
from pipeline.run_context import ENV_FLOW_RUN_ID, ENV_FLOW_RUN_URL
from pipeline.stages import STAGES

LOCK_NAME = "graphfuse-pipeline"
ARTIFACT_KEY = "graphfuse-run"
_RUNNING = re.compile(r"Running stage '([^']+)'")
_FAILED = re.compile(r"failed to reproduce '([^']+)'", re.IGNORECASE)


class ProjectBusy(GraphFuseError):
    """Another run holds the project lock for longer than this run may wait."""


class StageFailed(GraphFuseError):
    """A DVC stage failed; the message names the stage and its located error."""


@dataclass
class ReproOutcome:
    reran: list[str] = field(default_factory=list)
    failed_stage: str | None = None
    error: str | None = None


@contextmanager
def project_lock(wait_s: float) -> Iterator[None]:
    """Hold the project's one slot; a second run waits up to ``wait_s``, then is refused cleanly."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    logger = get_run_logger()
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(LOCK_NAME, 1)
        busy = client.read_global_concurrency_limit_by_name(LOCK_NAME).active_slots >= 1
    if busy:
        logger.warning(
            "another GraphFuse run holds the project lock %r; this run waits up to %.0f s for it", LOCK_NAME, wait_s
        )
    lock = concurrency(LOCK_NAME, occupy=1, timeout_seconds=wait_s, strict=True)
    try:
        lock.__enter__()
    except TimeoutError as exc:
        raise ProjectBusy(
            f"another GraphFuse run held the project lock {LOCK_NAME!r} for more than {wait_s:.0f} s "
            "(orchestration.lock_wait_s); this run was refused and changed nothing"
        ) from exc
    logger.info("project lock %r acquired at %.3f", LOCK_NAME, time.time())
    try:
        yield
    finally:
        logger.info("project lock %r released at %.3f", LOCK_NAME, time.time())
        lock.__exit__(None, None, None)


def _flow_env() -> dict[str, str]:
    """The stage processes talk to this run's Prefect API and tag their MLflow runs with it."""
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    if api_url := PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = api_url
    env[ENV_FLOW_RUN_ID] = str(flow_run.get_id() or "")
    env[ENV_FLOW_RUN_URL] = str(flow_run.get_flow_run_ui_url() or "")
    # `dvc exp run` commits experiment refs; a fresh machine may have no git identity.
    for key, value in (("GIT_AUTHOR_NAME", "graphfuse"), ("GIT_AUTHOR_EMAIL", "graphfuse@localhost")):
        env.setdefault(key, value)
        env.setdefault(key.replace("AUTHOR", "COMMITTER"), value)
    return env


def _dvc_command(root: Path, overrides: dict[str, Any], experiment: str | None) -> list[str]:
    if experiment is None:
        return dvc_command("repro")
    dataset_dir = overrides.get("dataset.dir") or load_params(root / "params.yaml").dataset.dir
    copy = dvc_experiment.untracked_inputs(root, dataset_dir)  # the temp workspace has git's files only
    return dvc_experiment.exp_run_command(dvc_command()[0], overrides, experiment, copy)


def _locate_error(lines: list[str], failed_at: int) -> str:
    """The stage's own located message (`error: ...` from graphfuse), else the lines before DVC's."""
    before = lines[:failed_at]
    starts = [i for i, line in enumerate(before) if line.startswith("error: ")]
    if starts:
        return "\n".join(before[starts[-1] :]).removeprefix("error: ").strip()
    return "\n".join(line for line in before[-8:] if line.strip())


def run_dvc(
    root: Path,
    overrides: dict[str, Any],
    timeout_s: float,
    warm: bool = True,
    experiment: str | None = None,
    store_env: dict[str, str] | None = None,
) -> ReproOutcome:
    """Run DVC (``dvc exp run --temp`` named ``experiment`` when one is given, else ``dvc repro``),
    streaming its output to the flow run's log, and say what reran or what failed.

    The environment and the warm stage server are set up as for ``graphfuse repro``
    (:func:`pipeline.ops.repro.dvc_environment`); ``store_env`` points stages that run in a
    temporary workspace at the project's own MLflow store."""
    with dvc_environment(root, _flow_env() | (store_env or {}), warm=warm) as env:
        return _stream_dvc(root, _dvc_command(root, overrides, experiment), env, timeout_s)


def _stream_dvc(root: Path, command: list[str], env: dict[str, str], timeout_s: float) -> ReproOutcome:
    logger = get_run_logger()
    logger.info("running `dvc %s` in %s", " ".join(command[1:]), root)
    outcome, lines = ReproOutcome(), []
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.rstrip("\n")
        lines.append(line)
        logger.info("%s", line)
        if found := _RUNNING.search(line):
            outcome.reran.append(found.group(1))
        if found := _FAILED.search(line):
            outcome.failed_stage = found.group(1)
            outcome.error = _locate_error(lines, len(lines) - 1)
        if time.monotonic() > deadline:
            process.kill()
            outcome.failed_stage = outcome.reran[-1] if outcome.reran else "dvc"
            outcome.error = f"the run took longer than {timeout_s:.0f} s and was stopped"
            break
    code = process.wait()
    if code != 0 and outcome.failed_stage is None:
        outcome.failed_stage = outcome.reran[-1] if outcome.reran else "dvc"
        outcome.error = _locate_error(lines, len(lines))
    return outcome


def _snapshot(root: Path) -> dict[Path, bytes]:
    """params.yaml and dvc.lock as they were before the run."""
    return {path: path.read_bytes() for path in (root / "params.yaml", root / "dvc.lock") if path.is_file()}


def _restore_workspace(root: Path, snapshot: dict[Path, bytes]) -> None:
    """After a failed run, put params.yaml, dvc.lock and the outputs back as they were (DVC deletes
    a stage's outputs before running it), so the next manual `dvc repro` starts where it left off."""
    for path, content in snapshot.items():
        if path.read_bytes() != content:
            path.write_bytes(content)
    if root / "dvc.lock" in snapshot:
        result = subprocess.run(dvc_command("checkout", "--force"), cwd=root, capture_output=True, text=True)
        get_run_logger().info("restored the outputs of the last good run: %s", (result.stdout + result.stderr).strip())


@flow(name="graphfuse-repro", log_prints=True)
def repro_flow(
    overrides: dict[str, Any] | None = None,
    dataset_dir: str | None = None,
    push: bool = False,
    root: str = ".",
    lock_wait_s: float | None = None,
    promote: bool = False,
) -> dict[str, Any]:
    """Reproduce the DVC pipeline under the project lock; fail naming the stage and its error.

    ``overrides`` maps ``section.key`` to a value (``{"train.lr": 0.01}``), applied the DVC way
    (``dvc exp run --temp -S``) and kept as an experiment, never in the workspace; such a run's
    model is registered but takes the champion alias only with ``promote``; ``dataset_dir`` is
    ``dataset.dir`` (an override too); ``push`` sends outputs to the DVC remote afterwards;
    ``lock_wait_s`` overrides how long this run waits for another one (``orchestration.lock_wait_s``).
    """
    project = Path(root).resolve()
    params = load_params(project / "params.yaml")
    settings = params.orchestration
    overrides = dict(overrides or {})
    if dataset_dir:
        overrides["dataset.dir"] = dataset_dir
    if overrides and not promote:
        overrides["registry.auto_promote"] = False  # a one-off run never moves the champion by itself
    experiment = dvc_experiment.experiment_name(str(flow_run.get_id() or "")) if overrides else None
    before = _snapshot(project)

    with project_lock(settings.lock_wait_s if lock_wait_s is None else lock_wait_s):
        tracking_experiment = str(overrides.get("tracking.experiment", params.tracking.experiment))
        store = dvc_experiment.store_env(project, tracking_experiment) if experiment else None
        timeout_s = settings.stage_timeout_s * len(STAGES)
        outcome = run_dvc(project, overrides, timeout_s, settings.warm_stages, experiment, store)
        if outcome.failed_stage:
            if experiment is None:
                _restore_workspace(project, before)  # a failed run leaves the work tree as it found it
            _record_failure(project, params.tracking.experiment, outcome, settings.retries)
            create_markdown_artifact(markdown(outcome, overrides, {}, {}, {}, experiment), key=ARTIFACT_KEY)
            raise StageFailed(f"stage {outcome.failed_stage!r} failed: {outcome.error}")
        if push:
            task(name="dvc-push", cache_policy=NO_CACHE, retries=settings.retries, **_backoff())(_dvc_push)(project)
    metrics, registry = results(project, experiment)
    links = _links(project, params.tracking.experiment, registry, experiment is not None, settings.retries)
    create_markdown_artifact(markdown(outcome, overrides, metrics, registry, links, experiment), key=ARTIFACT_KEY)
    return {"reran": outcome.reran, "overrides": overrides, "experiment": experiment, **links}


def _backoff() -> dict[str, Any]:
    return {"retry_delay_seconds": exponential_backoff(backoff_factor=2), "retry_jitter_factor": 0.5}


def _dvc_push(root: Path) -> None:
    """Send the outputs to the DVC remote (network I/O: safe to retry)."""
    result = subprocess.run(dvc_command("push"), cwd=root, capture_output=True, text=True)
    get_run_logger().info("%s", result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"dvc push failed: {result.stderr.strip()}")


def _links(root: Path, experiment: str, registry: dict, from_registry: bool, retries: int) -> dict[str, str]:
    """Where to look in MLflow for this run's model (a registry read: safe to retry)."""

    def look_up() -> dict[str, str]:
        from pipeline.tracking import connect_tracking
        from pipeline.tracking.orchestrator_tags import run_link
        from pipeline.tracking.registry import version_run_id

        uri = connect_tracking(root)
        if from_registry:  # an experiment's model: its run, from the registry
            run_id = version_run_id(registry["model_name"], int(registry["version"])) if registry else ""
        else:
            run_id = read_json(root / "models" / "run.json").get("run_id", "")
        if not run_id:
            return {}
        links = {"MLflow run": run_link(run_id, experiment, uri)}
        if registry:
            links["registered model"] = f"models:/{registry['model_name']}/{registry['version']}"
        return links

    return task(name="mlflow-links", cache_policy=NO_CACHE, retries=retries, **_backoff())(look_up)()


def _record_failure(root: Path, experiment: str, outcome: ReproOutcome, retries: int) -> None:
    def record() -> str:
        from pipeline.tracking import configure_tracking
        from pipeline.tracking.orchestrator_tags import record_failure

        configure_tracking(root, experiment)
        return record_failure(
            str(flow_run.get_id()),
            flow_run.get_flow_run_ui_url(),
            experiment,
            outcome.failed_stage or "dvc",
            outcome.error or "",
        )

    run_id = task(name="mlflow-record-failure", cache_policy=NO_CACHE, retries=retries, **_backoff())(record)()
    get_run_logger().error("MLflow run %s marked FAILED (stage %s)", run_id, outcome.failed_stage)


def serve_on_schedule(name: str, cron: str, timezone: str, push: bool, root: Path) -> None:
    """Serve :func:`repro_flow` on ``cron`` from this process (one box, no worker) until Ctrl-C;
    the caller provides the Prefect API (with its scheduler)."""
    from prefect.schedules import Cron

    repro_flow.serve(name=name, schedules=[Cron(cron, timezone=timezone)], parameters={"push": push, "root": str(root)})
