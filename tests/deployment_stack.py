"""The deployment's stack for its end-to-end module (test_deployment.py): `prefect deploy --all`
from prefect.yaml, a process worker, runs triggered with `run_deployment`; DVC, Prefect and MLflow
real, nothing mocked.

Where PostgreSQL is installed the stack is team mode (`graphfuse team up`: PostgreSQL behind the
MLflow tracking server and the Prefect server, a worker, a DVC remote); elsewhere it is the
project's own Prefect server with MLflow on SQLite. The module builds one stack, on its own copy
of the session's reproduced project (tests/shared_projects.py), so it repeats no reproduction, and
all its tests share it: a team stack costs ~40 s to bring up and ~30 s to take down.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.ops.processes import terminate
from pipeline.ops.team import TeamPaths, postgres_available
from tests.helpers import BIN, project_env, store_client

DEPLOYMENT = "graphfuse-repro/nightly"
TEAM = postgres_available()


@dataclass
class Stack:
    root: Path
    api_url: str
    tracking_uri: str
    remote: Path
    password: str | None = None
    team_output: str = ""

    def client_env(self) -> dict[str, str]:
        return project_env(PREFECT_API_URL=self.api_url, MLFLOW_TRACKING_URI=self.tracking_uri)


def ok(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run a command of the stack's user; a failure shows its whole output."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _team_stack(root: Path, server_env: dict[str, str]) -> Iterator[Stack]:
    password = "pw-" + secrets.token_hex(8)
    env = project_env(GRAPHFUSE_DB_PASSWORD=password, **server_env)
    output = ok([str(BIN / "graphfuse"), "team", "up"], root, env)
    try:
        urls = dict(
            line.strip().removeprefix("export ").split("=", 1) for line in output.splitlines() if "export " in line
        )
        stack = Stack(root, urls["PREFECT_API_URL"], urls["MLFLOW_TRACKING_URI"], root / ".team" / "dvc-remote")
        stack.password, stack.team_output = password, output
        ok([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], root, stack.client_env())
        yield stack
    finally:
        ok([str(BIN / "graphfuse"), "team", "down"], root, env)
        shutil.rmtree(TeamPaths(root.resolve()).pgdata, ignore_errors=True)  # a test's cluster is not kept


def _embedded_stack(root: Path, server_env: dict[str, str]) -> Iterator[Stack]:
    ok([str(BIN / "graphfuse"), "prefect", "start"], root, project_env(**server_env))
    worker = None
    try:
        api_url = yaml.safe_load((root / ".prefect" / "graphfuse-server.json").read_text())["url"]
        stack = Stack(root, api_url, f"sqlite:///{root / 'mlflow.db'}", root.parent / "dvc-remote")
        env = project_env(PREFECT_API_URL=api_url, PREFECT_WORKER_QUERY_SECONDS="1")
        ok([str(BIN / "dvc"), "remote", "add", "--local", "-d", "tmp", str(stack.remote)], root, env)
        ok([str(BIN / "prefect"), "work-pool", "create", "graphfuse", "--type", "process"], root, env)
        ok([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], root, env)
        with open(root / ".prefect" / "worker.log", "ab") as log:
            worker = subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", "graphfuse"],
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        yield stack
    finally:
        if worker is not None:
            terminate(worker.pid, group=True)
        ok([str(BIN / "graphfuse"), "prefect", "stop"], root, project_env())


def deployed_stack(root: Path, **server_env: str) -> Iterator[Stack]:
    """The deployment applied to the project at ``root`` and a worker polling, on the best stack
    here; ``server_env`` reaches the Prefect server's settings."""
    yield from (_team_stack(root, server_env) if TEAM else _embedded_stack(root, server_env))


@contextmanager
def api(stack: Stack) -> Iterator[None]:
    """This process's Prefect client talks to the stack's server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        yield


def trigger(parameters: dict | None = None, timeout: float = 900):
    from prefect.deployments import run_deployment

    return run_deployment(DEPLOYMENT, parameters=parameters or {}, timeout=timeout, poll_interval=1, as_subflow=False)


def artifact(flow_run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        (found,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["graphfuse-run"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
        )
    return str(found.data)


def mlflow_runs(stack: Stack, flow_run_id) -> list:
    client = store_client(stack.tracking_uri)
    experiment = client.get_experiment_by_name("graphfuse")
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`prefect.flow_run_id` = '{flow_run_id}'")


def logs(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        return [log.message for log in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))]


def wait_for_log(flow_run_id, text: str, timeout: float = 300) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in message for message in logs(flow_run_id)):
            return True
        time.sleep(1)
    return False


def wait_final(flow_run_id, timeout: float = 600):
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state.is_final() or time.monotonic() > deadline:
                return run
            time.sleep(1)
