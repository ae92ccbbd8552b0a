"""``kill -9`` of ``graphfuse repro`` during train: dvc, the stage and the warm and Prefect servers
die with it, nothing rewrites ``dvc.lock`` afterwards, no ``stages.sock`` folder is left in /tmp,
and the rerun gives the same model with no MLflow run left RUNNING (issue 16.4: the stage ran on
for 3.5 minutes and rewrote dvc.lock; the socket folders stayed)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import BIN, project_env, store_client
from tests.project_copy import copy_project, run_ok
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e


def _gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_for(predicate, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def _socket_folders(processes: list[psutil.Process]) -> list[Path]:
    """The warm server's private folder, from its command line (``-m pipeline.ops.warm_stages PATH``)."""
    folders = []
    for process in processes:
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if "pipeline.ops.warm_stages" in command:
            folders.append(Path(command[-1]).parent)
    return folders


def test_kill_9_of_graphfuse_repro_takes_its_children_with_it(reproduced_project: Reproduced, tmp_path: Path) -> None:
    root = copy_project(reproduced_project.root, tmp_path / "graphfuse")
    lock_before = (root / "dvc.lock").read_bytes()
    env = project_env()
    log = (tmp_path / "repro.log").open("w")
    repro = subprocess.Popen(
        [str(BIN / "graphfuse"), "repro", "--force", "--single-item", "train"],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    parent = psutil.Process(repro.pid)
    store = store_client(f"sqlite:///{root / 'mlflow.db'}")

    def statuses() -> list[str]:
        experiments = [e.experiment_id for e in store.search_experiments()]
        return [r.info.status for r in store.search_runs(experiments)]

    def training() -> bool:  # the train stage has opened its MLflow run (or repro ended: fail below)
        return repro.poll() is not None or "RUNNING" in statuses()

    try:
        # each look is two MLflow queries (~15 ms); the run stays RUNNING for seconds (training, then logging the model)
        found = _wait_for(training, timeout=600, every=0.5)
        assert found and repro.poll() is None, (tmp_path / "repro.log").read_text()[-3000:]
        tree = parent.children(recursive=True)
        folders = _socket_folders(tree)
    finally:
        repro.send_signal(signal.SIGKILL)
        repro.wait(timeout=30)
    survivors = [p for p in tree if not _wait_for(lambda p=p: _gone(p), timeout=20)]
    assert not survivors, [" ".join(p.cmdline()) for p in survivors if not _gone(p)]
    assert folders and not [f for f in folders if f.exists()], folders
    time.sleep(2)
    assert (root / "dvc.lock").read_bytes() == lock_before, "something rewrote dvc.lock after the kill"

    run_ok([str(BIN / "graphfuse"), "repro", "--force", "--single-item", "train"], root, env)
    model = "models/model.safetensors"
    assert (root / model).read_bytes() == (reproduced_project.root / model).read_bytes()
    assert "RUNNING" not in statuses() and "KILLED" in statuses(), statuses()
