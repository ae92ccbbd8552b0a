"""The nightly deployment as a user runs it: `prefect deploy --all` from prefect.yaml, a process
worker, runs triggered with `run_deployment`; DVC, Prefect and MLflow real, nothing mocked.

Where PostgreSQL is installed the stack is team mode (`graphfuse team up`: PostgreSQL behind the
MLflow tracking server and the Prefect server, a worker, a DVC remote), and the last test looks
the champion up from another process; elsewhere it is the project's own Prefect server with MLflow
on SQLite, and the team-mode test is skipped. One pipeline run serves every test.

The project is a copy of the session's reproduced project (tests/shared_projects.py, whose own
test checks that a fresh project's repro runs every stage) in which new train params have landed:
the triggered run must retrain and re-evaluate, and the data stages stay as DVC cached them.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from pipeline.ops.processes import terminate
from pipeline.ops.team import TeamPaths, postgres_available
from tests.helpers import BIN, project_env, store_client
from tests.project_copy import copy_project
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e
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


def _ok(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _team_stack(root: Path) -> Iterator[Stack]:
    password = "pw-" + secrets.token_hex(8)
    env = project_env(GRAPHFUSE_DB_PASSWORD=password)
    output = _ok([str(BIN / "graphfuse"), "team", "up"], root, env)
    try:
        urls = dict(
            line.strip().removeprefix("export ").split("=", 1) for line in output.splitlines() if "export " in line
        )
        stack = Stack(root, urls["PREFECT_API_URL"], urls["MLFLOW_TRACKING_URI"], root / ".team" / "dvc-remote")
        stack.password, stack.team_output = password, output
        _ok([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], root, stack.client_env())
        yield stack
    finally:
        _ok([str(BIN / "graphfuse"), "team", "down"], root, env)
        shutil.rmtree(TeamPaths(root.resolve()).pgdata, ignore_errors=True)  # a test's cluster is not kept


def _embedded_stack(root: Path) -> Iterator[Stack]:
    _ok([str(BIN / "graphfuse"), "prefect", "start"], root, project_env())
    worker = None
    try:
        api_url = yaml.safe_load((root / ".prefect" / "graphfuse-server.json").read_text())["url"]
        stack = Stack(root, api_url, f"sqlite:///{root / 'mlflow.db'}", root.parent / "dvc-remote")
        env = project_env(PREFECT_API_URL=api_url, PREFECT_WORKER_QUERY_SECONDS="1")
        _ok([str(BIN / "dvc"), "remote", "add", "--local", "-d", "tmp", str(stack.remote)], root, env)
        _ok([str(BIN / "prefect"), "work-pool", "create", "graphfuse", "--type", "process"], root, env)
        _ok([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], root, env)
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
        _ok([str(BIN / "graphfuse"), "prefect", "stop"], root, project_env())


def _new_train_params_land(root: Path) -> None:
    """The reproduced project with another training seed, and an empty MLflow store as on the day
    the project was set up (team mode's tracking server is new anyway): the next run retrains."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["seed"] = params["train"]["seed"] + 1
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "mlflow.db").unlink(missing_ok=True)
    shutil.rmtree(root / "mlartifacts", ignore_errors=True)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, reproduced_project: Reproduced) -> Iterator[Stack]:
    """A project with the deployment applied and a worker polling, on the best stack here."""
    root = copy_project(reproduced_project.root, tmp_path_factory.mktemp("deployed") / "graphfuse")
    _new_train_params_land(root)
    yield from (_team_stack(root) if TEAM else _embedded_stack(root))


@pytest.fixture
def api(deployed: Stack) -> Iterator[None]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: deployed.api_url}):
        yield


def _trigger(parameters: dict | None = None, timeout: float = 900):
    from prefect.deployments import run_deployment

    return run_deployment(DEPLOYMENT, parameters=parameters or {}, timeout=timeout, poll_interval=1, as_subflow=False)


def _artifact(flow_run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["graphfuse-run"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
        )
    return str(artifact.data)


def _mlflow_runs(stack: Stack, flow_run_id) -> list:
    client = store_client(stack.tracking_uri)
    experiment = client.get_experiment_by_name("graphfuse")
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`prefect.flow_run_id` = '{flow_run_id}'")


def test_prefect_yaml_deploys_a_nightly_cron_on_a_process_pool(deployed: Stack, api: None) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        pool = client.read_work_pool("graphfuse")
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 2 * * *" and schedule.schedule.timezone == "UTC" and schedule.active
    assert deployment.work_pool_name == "graphfuse" and pool.type == "process"
    assert set(deployment.parameters) == {"overrides", "dataset_dir", "push", "root"}


def test_a_triggered_run_reproduces_registers_and_links_both_ways(deployed: Stack, api: None) -> None:
    root = deployed.root
    run = _trigger({"push": True})
    assert run.state.is_completed(), run.state.message
    assert any(deployed.remote.rglob("*")), "dvc push sent nothing to the DVC remote"
    registry = yaml.safe_load((root / "metrics" / "registry.json").read_text())
    assert registry["version"] == 1 and registry["promoted"]
    markdown = _artifact(run.id)
    # DVC reran exactly what the new params touch, and the artifact says so.
    assert "**Reran:** `train`, `evaluate`" in markdown and "| test |" in markdown
    assert "version 1" in markdown
    (mlflow_run,) = _mlflow_runs(deployed, run.id)  # the MLflow run names the Prefect flow run
    assert mlflow_run.data.tags["prefect.flow_run_url"].endswith(str(run.id))
    assert mlflow_run.info.run_id in markdown  # and the artifact names the MLflow run


def test_a_run_with_overrides_is_an_experiment_that_leaves_the_workspace_alone(deployed: Stack, api: None) -> None:
    """Issue 19: the overridden values stay in a DVC experiment (not in params.yaml, where the next
    nightly run would train with them, `null`s rewritten as empty), and its model is only a challenger."""
    root = deployed.root
    kept = {name: (root / name).read_bytes() for name in ("params.yaml", "dvc.lock", "metrics/registry.json")}
    overrides = {"train.max_epochs": 5, "evaluate.seeds": 1}

    run = _trigger({"overrides": overrides})

    assert run.state.is_completed(), run.state.message
    assert {name: (root / name).read_bytes() for name in kept} == kept  # byte for byte
    assert "up to date" in _ok([str(BIN / "dvc"), "status"], root, project_env())
    name = f"graphfuse-{str(run.id)[:8]}"
    (ref,) = [r for r in _ok(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], root, project_env()).split()
              if r.endswith("/" + name)]  # fmt: skip
    params = yaml.safe_load(_ok(["git", "show", f"{ref}:params.yaml"], root, project_env()))
    assert params["train"]["max_epochs"] == 5 and params["registry"]["auto_promote"] is False
    assert params["dataset"]["task"] is None  # null stays null in the experiment too
    registry = yaml.safe_load(_ok(["git", "show", f"{ref}:metrics/registry.json"], root, project_env()))
    assert registry["version"] == 2 and not registry["promoted"] and registry["alias"] == "challenger"
    champion = store_client(deployed.tracking_uri).get_model_version_by_alias("graphfuse", "champion")
    assert champion.version == "1"
    markdown = _artifact(run.id)
    assert f"**DVC experiment:** `{name}`" in markdown and "**Reran:** `train`, `evaluate`" in markdown
    assert "version 2 (challenger" in markdown and "| val |" in markdown


def test_a_failing_stage_fails_the_flow_run_and_the_mlflow_run(deployed: Stack, api: None) -> None:
    root = deployed.root
    broken = Path(shutil.copytree(root / "data" / "raw" / "small", root / "data" / "raw" / "broken"))
    nodes = (broken / "nodes.csv").read_text().splitlines()
    nodes[3] = nodes[2]  # a duplicate id on spreadsheet row 4
    (broken / "nodes.csv").write_text("\n".join(nodes) + "\n")
    params_before = (root / "params.yaml").read_bytes()

    run = _trigger({"dataset_dir": "data/raw/broken"})

    assert run.state.is_failed()
    assert "stage 'validate' failed" in run.state.message and "nodes.csv" in run.state.message
    (mlflow_run,) = _mlflow_runs(deployed, run.id)
    assert mlflow_run.info.status == "FAILED"
    assert mlflow_run.data.tags["graphfuse.failed_stage"] == "validate"
    assert re.search(r"nodes\.csv.*row 4", mlflow_run.data.tags["graphfuse.error"])
    # The failed experiment's params are not left behind: a manual `dvc repro` still has nothing to do.
    assert (root / "params.yaml").read_bytes() == params_before
    assert "up to date" in _ok([str(BIN / "dvc"), "status"], root, project_env())


# Holds the project lock as another run would, in its own process: Prefect's event workers bound to
# this stack's server must not live in the test process, which outlives the server.
_HOLD_THE_LOCK = """
import sys
from prefect.concurrency.sync import concurrency
from flows.deployment import LOCK_NAME, ProjectBusy, repro_flow
with concurrency(LOCK_NAME, occupy=1, strict=True):
    try:
        repro_flow(root=sys.argv[1], lock_wait_s=1)
    except ProjectBusy as exc:
        print("REFUSED", exc, flush=True)
    print("HOLDING", flush=True)
    sys.stdin.readline()
"""


def test_overlapping_runs_wait_their_turn_or_are_refused(deployed: Stack, api: None) -> None:
    """Also a second run with nothing new, twice: neither reruns a stage nor touches dvc.lock."""
    root = deployed.root
    env = deployed.client_env()
    lock_before = (root / "dvc.lock").read_bytes()
    holder = subprocess.Popen(
        [str(BIN / "python"), "-c", _HOLD_THE_LOCK, str(root)],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        said = []
        for line in iter(holder.stdout.readline, ""):
            if line.startswith("HOLDING"):
                break
            said.append(line)
        assert any(line.startswith("REFUSED") and "held the project lock" in line for line in said), said
        first, second = _trigger(timeout=0), _trigger(timeout=0)
        # Both runs are told why they wait while the project is held.
        assert _wait_for_log(first.id, "waits up to") and _wait_for_log(second.id, "waits up to")
    finally:
        holder.communicate("\n", timeout=120)  # the other run ends: the lock is free
    runs = [_wait(first.id), _wait(second.id)]
    assert all(run.state.is_completed() for run in runs), [run.state.message for run in runs]
    spans = []
    for run in runs:
        assert _wait_for_log(run.id, "released at", timeout=60)  # logs reach the API after the state
        logs = _logs(run.id)
        acquired = [float(m.rsplit(" ", 1)[1]) for m in logs if "acquired at" in m]
        released = [float(m.rsplit(" ", 1)[1]) for m in logs if "released at" in m]
        spans.append((acquired[0], released[0]))
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start  # one after the other, never both inside the pipeline
    assert all("nothing (DVC found no change)" in _artifact(run.id) for run in runs)
    assert (root / "dvc.lock").read_bytes() == lock_before
    assert "up to date" in _ok([str(BIN / "dvc"), "status"], root, project_env())


def _logs(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        return [log.message for log in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))]


def _wait_for_log(flow_run_id, text: str, timeout: float = 300) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in message for message in _logs(flow_run_id)):
            return True
        time.sleep(1)
    return False


def _wait(flow_run_id, timeout: float = 600):
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state.is_final() or time.monotonic() > deadline:
                return run
            time.sleep(1)


@pytest.mark.skipif(not TEAM, reason="PostgreSQL is not installed (`apt-get install postgresql`; .ci/run does)")
def test_team_mode_serves_the_champion_to_another_process(deployed: Stack, tmp_path: Path) -> None:
    """Runs after a triggered run registered a champion on the tracking server (PostgreSQL)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "preds.csv"
    predict = [str(BIN / "graphfuse"), "predict", "--model", "models:/graphfuse@champion"]
    dataset = str(deployed.root / "data/raw/small")
    _ok([*predict, "--dataset", dataset, "--out", str(out)], elsewhere, deployed.client_env())
    predictions = pd.read_csv(out, keep_default_na=False)
    assert len(predictions) == len(pd.read_csv(Path(dataset) / "nodes.csv"))
    assert set(predictions["predicted"]) <= {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    assert not (elsewhere / "mlflow.db").exists()  # it used the server, not an embedded store
    logs = "".join(p.read_text(errors="replace") for p in (deployed.root / ".team").glob("*.log"))
    assert deployed.password and deployed.password not in logs + deployed.team_output  # never printed or logged
    status = _ok([str(BIN / "graphfuse"), "team", "status"], deployed.root, project_env())
    assert all(name in status for name in ("postgres", "mlflow", "prefect", "worker"))
    assert all(psutil.pid_exists(int(line.split()[2])) for line in status.splitlines() if " pid " in line)
