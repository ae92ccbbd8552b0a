"""Deployment runs that go wrong leave the project as they found it: a failing stage fails the flow
run and its MLflow run, and overlapping runs wait their turn on the project lock or are refused.
A stack of its own (tests/deployment_stack.py: team mode where PostgreSQL is installed) on a copy
of the session's reproduced project, up to date, so that test_deployment.py's retraining runs on
another worker meanwhile; the tests run in this order.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment_stack import (
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
from tests.helpers import BIN, project_env
from tests.project_copy import copy_project
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e
# A waiting run asks the server for the lock again when it says to: by default after the slot's
# average occupancy, capped at 30 s. A 1 s cap keeps the wait honest (the runs still queue on the
# lock, one after the other) without two half-minute sleeps per test.
SLOT_WAIT = {"PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "1"}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, reproduced_project: Reproduced) -> Iterator[Stack]:
    """The reproduced project (nothing to rerun) with the deployment applied and a worker polling."""
    root = copy_project(reproduced_project.root, tmp_path_factory.mktemp("deployed") / "graphfuse")
    yield from deployed_stack(root, **SLOT_WAIT)


@pytest.fixture
def client(deployed: Stack) -> Iterator[None]:
    with api(deployed):
        yield


def test_a_failing_stage_fails_the_flow_run_and_the_mlflow_run(deployed: Stack, client: None) -> None:
    root = deployed.root
    broken = Path(shutil.copytree(root / "data" / "raw" / "small", root / "data" / "raw" / "broken"))
    nodes = (broken / "nodes.csv").read_text().splitlines()
    nodes[3] = nodes[2]  # a duplicate id on spreadsheet row 4
    (broken / "nodes.csv").write_text("\n".join(nodes) + "\n")
    params_before = (root / "params.yaml").read_bytes()

    run = trigger({"dataset_dir": "data/raw/broken"})

    assert run.state.is_failed()
    assert "stage 'validate' failed" in run.state.message and "nodes.csv" in run.state.message
    (mlflow_run,) = mlflow_runs(deployed, run.id)
    assert mlflow_run.info.status == "FAILED"
    assert mlflow_run.data.tags["graphfuse.failed_stage"] == "validate"
    assert re.search(r"nodes\.csv.*row 4", mlflow_run.data.tags["graphfuse.error"])
    # The failed experiment's params are not left behind: a manual `dvc repro` still has nothing to do.
    assert (root / "params.yaml").read_bytes() == params_before
    assert "up to date" in ok([str(BIN / "dvc"), "status"], root, project_env())


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


def test_overlapping_runs_wait_their_turn_or_are_refused(deployed: Stack, client: None) -> None:
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
        first, second = trigger(timeout=0), trigger(timeout=0)
        # Both runs are told why they wait while the project is held.
        assert wait_for_log(first.id, "waits up to") and wait_for_log(second.id, "waits up to")
    finally:
        holder.communicate("\n", timeout=120)  # the other run ends: the lock is free
    runs = [wait_final(first.id), wait_final(second.id)]
    assert all(run.state.is_completed() for run in runs), [run.state.message for run in runs]
    spans = []
    for run in runs:
        assert wait_for_log(run.id, "released at", timeout=60)  # logs reach the API after the state
        messages = logs(run.id)
        acquired = [float(m.rsplit(" ", 1)[1]) for m in messages if "acquired at" in m]
        released = [float(m.rsplit(" ", 1)[1]) for m in messages if "released at" in m]
        spans.append((acquired[0], released[0]))
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start  # one after the other, never both inside the pipeline
    assert all("nothing (DVC found no change)" in artifact(run.id) for run in runs)
    assert (root / "dvc.lock").read_bytes() == lock_before
    assert "up to date" in ok([str(BIN / "dvc"), "status"], root, project_env())
