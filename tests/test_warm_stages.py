"""`graphfuse repro`'s warm stage server: a stage command that a fork of one warm process runs in its
place must behave as the command itself would: same output and exit status, same reaction to Ctrl-C,
and a stage whose command is killed (even by SIGKILL) must die with it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.ops.prefect_server import STATE_FILE
from pipeline.ops.processes import alive
from pipeline.ops.warm_stages import ENV_VAR, LOG_NAME, PRELOAD_ENV_VAR, supported, wait_ready, warm_server
from tests.helpers import BIN, project_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not supported(), reason="warm stages need Linux (fork, SCM_RIGHTS, pidfd)"),
]


@pytest.fixture(scope="module")
def warm(prefect_api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """One real warm server for this module's tests. It preloads only the validate stage: the fork,
    descriptor, signal and exit-status paths are the same, and `graphfuse repro` in
    tests/test_dvc_pipeline.py runs every stage through the full preload."""
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("warm")
    env = project_env(PREFECT_API_URL=str(PREFECT_API_URL.value()), **{PRELOAD_ENV_VAR: "pipeline.stages.validate"})
    with warm_server(root, env, root) as pointer:
        assert set(pointer) == {ENV_VAR}
        assert wait_ready(pointer[ENV_VAR]), (root / LOG_NAME).read_text()
        yield env | pointer, root / LOG_NAME


def _project(tmp_path: Path, dataset: Path) -> Path:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"dataset": {"dir": str(dataset)}}))
    return tmp_path


def _child_pid(log: Path, cwd: Path, timeout: float = 120.0) -> int:
    """The pid of the fork that runs the command started in ``cwd``, from the server's log."""
    pattern = re.compile(rf"pid (\d+) runs stage validate in {re.escape(str(cwd))}$", re.MULTILINE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := pattern.search(log.read_text(errors="replace")):
            return int(found.group(1))
        time.sleep(0.1)
    raise AssertionError(f"no warm child for {cwd} in {log}:\n{log.read_text(errors='replace')}")


def _stage(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "graphfuse"), "stage", "validate"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_stage_runs_in_a_warm_fork_and_its_command_gets_the_output_and_status(
    warm: tuple[dict[str, str], Path], tmp_path: Path, small_countries: Path
) -> None:
    env, log = warm
    project = _project(tmp_path, small_countries)

    result = _stage(project, env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert _child_pid(log, project)  # a fork of the server ran it, not the command's own process
    assert any((project / "data" / "processed" / "dataset").iterdir())


def test_a_failing_stage_in_a_warm_fork_fails_its_command_with_the_located_error(
    warm: tuple[dict[str, str], Path], tmp_path: Path, editable_countries: Path
) -> None:
    env, log = warm
    nodes_file = editable_countries / "nodes.csv"
    nodes = pd.read_csv(nodes_file, dtype=str, keep_default_na=False)
    nodes.loc[0, "latitude"] = "north"  # spreadsheet row 2
    nodes.to_csv(nodes_file, index=False)
    (tmp_path / "project").mkdir()
    project = _project(tmp_path / "project", editable_countries)

    result = _stage(project, env)

    assert result.returncode == 1
    assert "nodes.csv, row 2, column 'latitude'" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / "data" / "processed").exists()
    assert _child_pid(log, project)


def _blocked_stage(tmp_path: Path, dataset: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """A stage command whose warm child blocks: without an API URL it reads the project's Prefect
    state file, which here is a FIFO nobody writes. Returns the command and its warm child's pid."""
    tmp_path.mkdir(exist_ok=True)
    project = _project(tmp_path, dataset)
    home = tmp_path / "prefect-home"
    home.mkdir()
    os.mkfifo(home / STATE_FILE)
    blocked_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    command = [str(BIN / "graphfuse"), "stage", "validate"]
    process = subprocess.Popen(command, cwd=project, env=blocked_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child = _child_pid(log, project)
    time.sleep(0.5)
    assert alive(child) and not _zombie(child), "the warm child should be blocked, still running"
    return process, child


def _gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid) or _zombie(pid):
            return True
        time.sleep(0.1)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def test_killing_a_stage_command_with_sigkill_kills_its_warm_child(
    warm: tuple[dict[str, str], Path], tmp_path: Path, small_countries: Path
) -> None:
    env, log = warm
    process, child = _blocked_stage(tmp_path, small_countries, env, log)

    process.kill()
    process.wait(timeout=30)

    assert _gone(child), f"warm child {child} outlived its killed command"


def test_ctrl_c_on_a_stage_command_reaches_its_warm_child(
    warm: tuple[dict[str, str], Path], tmp_path: Path, small_countries: Path
) -> None:
    env, log = warm
    process, child = _blocked_stage(tmp_path, small_countries, env, log)

    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)  # without the forwarded signal the child would block for ever

    # What the command run in its own process exits with on Ctrl-C there (it blocks looking for the
    # project's stage host, before any flow starts): the CLI's interrupt code, 128 + SIGINT.
    assert process.returncode == 130
    assert _gone(child)


def test_a_stage_still_running_when_the_server_stops_is_stopped_with_it(
    warm: tuple[dict[str, str], Path], tmp_path: Path, small_countries: Path
) -> None:
    """`graphfuse repro` or a deployment's timeout ends the server while a stage runs: the stage ends too."""
    env, _ = warm
    own = tmp_path / "own-server"
    own.mkdir()
    base = {k: v for k, v in env.items() if k != ENV_VAR}
    with warm_server(own, base, own) as pointer:
        assert wait_ready(pointer[ENV_VAR])
        process, child = _blocked_stage(tmp_path / "project", small_countries, base | pointer, own / LOG_NAME)

    assert _gone(child)
    process.kill()
    process.wait(timeout=30)
