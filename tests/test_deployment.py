"""The nightly deployment as a user runs it (tests/deployment_stack.py: `prefect deploy --all`, a
process worker, team mode where PostgreSQL is installed): a triggered run with new params, a run
with overrides as a DVC experiment, in team mode the champion looked up from another process, then
runs that go wrong and leave the project as they found it: a failing stage fails the flow run and
its MLflow run, and overlapping runs wait their turn on the project lock or are refused (the failing
run is one of the two that queue behind another holder of the lock, the other has nothing new).

One stack for all of them (a team stack costs a PostgreSQL cluster, an MLflow and a Prefect server
migrating their databases, and a worker), and the tests run in this order and build on each other:
one retraining serves them all, and leaves the project up to date for the runs that go wrong.
The project is a copy of the session's reproduced project (tests/shared_projects.py, whose own
test checks that a fresh project's repro runs every stage) in which new train params have landed:
the triggered run must retrain and re-evaluate, and the data stages stay as DVC cached them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
import yaml

from tests.deployment_stack import (
    DEPLOYMENT,
    TEAM,
    Stack,
    api,
    artifact,
    deployed_stack,
    logs,
    mlflow_runs,
    ok,
    trigger,
    wait_final,
    wait_for_log,
)
from tests.helpers import BIN, project_env, store_client
from tests.project_copy import copy_project
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e
# A waiting run asks the server for the lock again when it says to: by default after the slot's
# average occupancy, capped at 30 s. A 1 s cap keeps the wait honest (the runs still queue on the
# lock, one after the other) without two half-minute sleeps per test.
SLOT_WAIT = {"PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "1"}
# The runs here need the server's API only: its background services (the scheduler, which would
# fill the nightly cron's calendar; late runs, worker health, lease and cancellation clean-ups;
# automations; recording events and task runs from them) poll the database for the module's whole
# life, for nothing a test here checks (deployment, flow runs, logs, artifacts and the lock are API).
QUIET_SERVER = {
    f"PREFECT_SERVER_SERVICES_{service}_ENABLED": "false"
    for service in (
        "SCHEDULER",
        "LATE_RUNS",
        "FOREMAN",
        "CANCELLATION_CLEANUP",
        "PAUSE_EXPIRATIONS",
        "REPOSSESSOR",
        "CLEANUP_RECONCILER",
        "TRIGGERS",
        "EVENT_PERSISTER",
        "TASK_RUN_RECORDER",
    )
}


def _new_train_params_land(root: Path) -> None:
    """The reproduced project with a shorter training evaluated on one seed (no test reads a score,
    a spread or an epoch), and an empty MLflow store as on the day the project was set up (team
    mode's tracking server is new anyway): the next run retrains. Not the overrides run's values
    (max_epochs 5): its experiment must retrain again."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["max_epochs"], params["evaluate"]["seeds"] = 10, 1
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "mlflow.db").unlink(missing_ok=True)
    shutil.rmtree(root / "mlartifacts", ignore_errors=True)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, reproduced_project: Reproduced) -> Iterator[Stack]:
    """A project with new train params, the deployment applied and a worker polling."""
    root = copy_project(reproduced_project.root, tmp_path_factory.mktemp("deployed") / "graphfuse")
    _new_train_params_land(root)
    yield from deployed_stack(root, **SLOT_WAIT, **QUIET_SERVER)


@pytest.fixture
def client(deployed: Stack) -> Iterator[None]:
    with api(deployed):
        yield


def test_prefect_yaml_deploys_a_nightly_cron_on_a_process_pool(deployed: Stack, client: None) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as prefect:
        deployment = prefect.read_deployment_by_name(DEPLOYMENT)
        pool = prefect.read_work_pool("graphfuse")
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 2 * * *" and schedule.schedule.timezone == "UTC" and schedule.active
    assert deployment.work_pool_name == "graphfuse" and pool.type == "process"
    assert set(deployment.parameters) == {"overrides", "dataset_dir", "push", "root"}


def test_a_triggered_run_reproduces_registers_and_links_both_ways(deployed: Stack, client: None) -> None:
    root = deployed.root
    run = trigger({"push": True})
    assert run.state.is_completed(), run.state.message
    assert any(deployed.remote.rglob("*")), "dvc push sent nothing to the DVC remote"
    registry = yaml.safe_load((root / "metrics" / "registry.json").read_text())
    assert registry["version"] == 1 and registry["promoted"]
    markdown = artifact(run.id)
    # DVC reran exactly what the new params touch, and the artifact says so.
    assert "**Reran:** `train`, `evaluate`" in markdown and "| test |" in markdown
    assert "version 1" in markdown
    (mlflow_run,) = mlflow_runs(deployed, run.id)  # the MLflow run names the Prefect flow run
    assert mlflow_run.data.tags["prefect.flow_run_url"].endswith(str(run.id))
    assert mlflow_run.info.run_id in markdown  # and the artifact names the MLflow run


def test_a_run_with_overrides_is_an_experiment_that_leaves_the_workspace_alone(deployed: Stack, client: None) -> None:
    """Issue 19: the overridden values stay in a DVC experiment (not in params.yaml, where the next
    nightly run would train with them, `null`s rewritten as empty), and its model is only a challenger
    (the triggered run's version 1 stays the champion)."""
    root = deployed.root
    kept = {name: (root / name).read_bytes() for name in ("params.yaml", "dvc.lock", "metrics/registry.json")}
    overrides = {"train.max_epochs": 5, "evaluate.seeds": 1}

    run = trigger({"overrides": overrides})

    assert run.state.is_completed(), run.state.message
    assert {name: (root / name).read_bytes() for name in kept} == kept  # byte for byte
    assert "up to date" in ok([str(BIN / "dvc"), "status"], root, project_env())
    name = f"graphfuse-{str(run.id)[:8]}"
    (ref,) = [r for r in ok(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], root, project_env()).split()
              if r.endswith("/" + name)]  # fmt: skip
    params = yaml.safe_load(ok(["git", "show", f"{ref}:params.yaml"], root, project_env()))
    assert params["train"]["max_epochs"] == 5 and params["registry"]["auto_promote"] is False
    assert params["dataset"]["task"] is None  # null stays null in the experiment too
    registry = yaml.safe_load(ok(["git", "show", f"{ref}:metrics/registry.json"], root, project_env()))
    assert registry["version"] == 2 and not registry["promoted"] and registry["alias"] == "challenger"
    champion = store_client(deployed.tracking_uri).get_model_version_by_alias("graphfuse", "champion")
    assert champion.version == "1"
    markdown = artifact(run.id)
    assert f"**DVC experiment:** `{name}`" in markdown and "**Reran:** `train`, `evaluate`" in markdown
    assert "version 2 (challenger" in markdown and "| val |" in markdown


@pytest.mark.skipif(not TEAM, reason="PostgreSQL is not installed (`apt-get install postgresql`; .ci/run does)")
def test_team_mode_serves_the_champion_to_another_process(deployed: Stack, tmp_path: Path) -> None:
    """Runs after a triggered run registered a champion on the tracking server (PostgreSQL)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "preds.csv"
    predict = [str(BIN / "graphfuse"), "predict", "--model", "models:/graphfuse@champion"]
    dataset = str(deployed.root / "data/raw/small")
    ok([*predict, "--dataset", dataset, "--out", str(out)], elsewhere, deployed.client_env())
    predictions = pd.read_csv(out, keep_default_na=False)
    assert len(predictions) == len(pd.read_csv(Path(dataset) / "nodes.csv"))
    assert set(predictions["predicted"]) <= {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    assert not (elsewhere / "mlflow.db").exists()  # it used the server, not an embedded store
    logs = "".join(p.read_text(errors="replace") for p in (deployed.root / ".team").glob("*.log"))
    assert deployed.password and deployed.password not in logs + deployed.team_output  # never printed or logged
    status = ok([str(BIN / "graphfuse"), "team", "status"], deployed.root, project_env())
    assert all(name in status for name in ("postgres", "mlflow", "prefect", "worker"))
    assert all(psutil.pid_exists(int(line.split()[2])) for line in status.splitlines() if " pid " in line)


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


@dataclass
class Queued:
    """Two runs triggered while another process held the project lock, and what was around them."""

    holder_said: list[str]  # the holder's own run, refused while it held the lock
    told_why: list[bool]  # each queued run logged why it waits
    failing: Any  # on a dataset with a duplicate id: its validate stage fails
    nothing_new: Any  # a plain run after the triggered one: DVC has nothing to do
    params_before: bytes
    lock_before: bytes
    status_after: str  # `dvc status` once both ended: a manual `dvc repro` has nothing to do


def _broken_dataset(root: Path) -> str:
    broken = Path(shutil.copytree(root / "data" / "raw" / "small", root / "data" / "raw" / "broken"))
    nodes = (broken / "nodes.csv").read_text().splitlines()
    nodes[3] = nodes[2]  # a duplicate id on spreadsheet row 4
    (broken / "nodes.csv").write_text("\n".join(nodes) + "\n")
    return "data/raw/broken"


@pytest.fixture(scope="module")
def queued(deployed: Stack) -> Queued:
    """The runs that go wrong, in one queue (one flow run, warm server and DVC less than one each):
    while another process holds the project lock, a run on a broken dataset and a run with nothing
    new are triggered; both wait, then run one after the other, in either order."""
    root = deployed.root
    with api(deployed):
        broken = _broken_dataset(root)
        params_before, lock_before = (root / "params.yaml").read_bytes(), (root / "dvc.lock").read_bytes()
        holder = subprocess.Popen(
            [str(BIN / "python"), "-c", _HOLD_THE_LOCK, str(root)],
            cwd=root,
            env=deployed.client_env(),
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
            failing, nothing_new = trigger({"dataset_dir": broken}, timeout=0), trigger(timeout=0)
            told_why = [wait_for_log(run.id, "waits up to") for run in (failing, nothing_new)]
        finally:
            holder.communicate("\n", timeout=120)  # the other run ends: the lock is free
        failing, nothing_new = wait_final(failing.id), wait_final(nothing_new.id)
        status = ok([str(BIN / "dvc"), "status"], root, project_env())
    return Queued(said, told_why, failing, nothing_new, params_before, lock_before, status)


def test_a_failing_stage_fails_the_flow_run_and_the_mlflow_run(deployed: Stack, queued: Queued) -> None:
    run = queued.failing
    assert run.state.is_failed()
    assert "stage 'validate' failed" in run.state.message and "nodes.csv" in run.state.message
    (mlflow_run,) = mlflow_runs(deployed, run.id)
    assert mlflow_run.info.status == "FAILED"
    assert mlflow_run.data.tags["graphfuse.failed_stage"] == "validate"
    assert re.search(r"nodes\.csv.*row 4", mlflow_run.data.tags["graphfuse.error"])
    # The failed experiment's params are not left behind: a manual `dvc repro` still has nothing to do.
    assert (deployed.root / "params.yaml").read_bytes() == queued.params_before
    assert "up to date" in queued.status_after


def test_overlapping_runs_wait_their_turn_or_are_refused(deployed: Stack, queued: Queued, client: None) -> None:
    """Also a run with nothing new: it reruns no stage and does not touch dvc.lock."""
    root = deployed.root
    said = queued.holder_said
    assert any(line.startswith("REFUSED") and "held the project lock" in line for line in said), said
    assert all(queued.told_why)  # both runs are told why they wait while the project is held
    runs = [queued.failing, queued.nothing_new]
    assert queued.nothing_new.state.is_completed(), queued.nothing_new.state.message
    spans = []
    for run in runs:
        assert wait_for_log(run.id, "released at", timeout=60)  # logs reach the API after the state
        messages = logs(run.id)
        acquired = [float(m.rsplit(" ", 1)[1]) for m in messages if "acquired at" in m]
        released = [float(m.rsplit(" ", 1)[1]) for m in messages if "released at" in m]
        spans.append((acquired[0], released[0]))
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start  # one after the other, never both inside the pipeline
    assert "nothing (DVC found no change)" in artifact(queued.nothing_new.id)
    assert (root / "dvc.lock").read_bytes() == queued.lock_before
    assert "up to date" in queued.status_after
