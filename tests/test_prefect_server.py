"""The project's own Prefect server: start/status/stop in the background, and a stage's server
that dies with the stage even under ``kill -9`` (issue 11 saw one serving 17 minutes later)."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import psutil
import pytest
import yaml

from pipeline.ops.prefect_server import healthy
from tests.conftest import REPO_ROOT
from tests.helpers import BIN, project_env

pytestmark = pytest.mark.integration


def _env() -> dict[str, str]:
    return project_env()


def _graphfuse(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "graphfuse"), *args], cwd=cwd, env=_env(), capture_output=True, text=True)


def _wait_for(predicate, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _create_flow_run(api_url: str, name: str) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    @flow(name="profile-check")
    def nothing() -> None: ...

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        client.create_flow_run(nothing, name=name)


@pytest.fixture(scope="module")
def project(small_countries: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project for the module, so that its Prefect database is created (13 s here) once."""
    root = tmp_path_factory.mktemp("prefect-server")
    shutil.copy(REPO_ROOT / "pyproject.toml", root)  # the project's [tool.prefect] profiles_path
    (root / "params.yaml").write_text(yaml.safe_dump({"dataset": {"dir": str(small_countries)}}))
    return root


def test_background_server_starts_answers_on_loopback_and_stops(project: Path) -> None:
    tmp_path = project
    started = _graphfuse(["prefect", "start"], tmp_path)
    assert started.returncode == 0, started.stderr
    try:
        status = _graphfuse(["prefect", "status"], tmp_path)
        assert status.returncode == 0 and "http://127.0.0.1:" in status.stdout
        state = yaml.safe_load((tmp_path / ".prefect" / "graphfuse-server.json").read_text())
        assert state["url"].startswith("http://127.0.0.1:") and healthy(state["url"])
        again = _graphfuse(["prefect", "start"], tmp_path)
        assert "already running" in again.stdout and str(state["pid"]) in again.stdout
        # Prefect's own CLI in the project finds the server with no export (issue 19): the profile.
        _create_flow_run(state["url"], "made-on-the-project-server")
        ls = [str(BIN / "prefect"), "flow-run", "ls"]
        listed = subprocess.run(ls, cwd=tmp_path, env=_env() | {"COLUMNS": "250"}, capture_output=True, text=True)
        assert listed.returncode == 0, listed.stderr
        assert "made-on-the-project-server" in listed.stdout and "temporary server" not in listed.stdout
    finally:
        stopped = _graphfuse(["prefect", "stop"], tmp_path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (tmp_path / ".prefect" / "profiles.toml").exists()  # nothing points at a stopped server
    assert not psutil.pid_exists(state["pid"]) or psutil.Process(state["pid"]).status() == psutil.STATUS_ZOMBIE
    assert not healthy(state["url"])
    assert _graphfuse(["prefect", "status"], tmp_path).returncode == 1
    # The server leaves without the interpreter's finalisation (os._exit after uvicorn's shutdown):
    # its database is whole and holds what was written to it.
    with closing(sqlite3.connect(tmp_path / ".prefect" / "prefect.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM flow_run WHERE name = 'made-on-the-project-server'").fetchone() == (1,)


def test_a_killed_stage_takes_its_prefect_server_with_it(project: Path) -> None:
    tmp_path = project
    stage = subprocess.Popen(
        [str(BIN / "graphfuse"), "stage", "validate"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(lambda: psutil.Process(stage.pid).children()), "the stage started no server"
        (server,) = psutil.Process(stage.pid).children()
        assert "prefect.server.api.server:create_app" in " ".join(server.cmdline())  # the Prefect server
    finally:
        stage.send_signal(signal.SIGKILL)
        stage.wait()
    assert _wait_for(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE, timeout=10)


def test_a_lone_stage_exits_as_soon_as_its_work_is_done(project: Path) -> None:
    """Issue 16.1: Prefect batches its logs every ~2 s; the last batch used to be sent at the
    interpreter's exit to the command's own server, already stopped, and retried for ~80 s. Plain
    `dvc repro` runs every stage this way. The bar is 2 s (~0.5 s measured on a loaded box)."""
    tmp_path = project
    stage = subprocess.Popen(
        [str(BIN / "graphfuse"), "stage", "validate"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert stage.stdout is not None
    lines, last_line_at = [], time.monotonic()
    for line in stage.stdout:
        lines.append(line)
        last_line_at = time.monotonic()
    stage.wait(timeout=300)
    gap = time.monotonic() - last_line_at
    output = "".join(lines)
    assert stage.returncode == 0, output
    assert "Finished in state Completed" in output
    assert "Error logging to API" not in output
    assert gap < 5.0, f"exited {gap:.1f} s after its last line:\n{output[-2000:]}"
    # GRAPHFUSE_STAGE_HOST_IDLE_S=0 (the suite's setting): no stage host was left behind.
    assert not (tmp_path / ".prefect" / "stage-host.json").exists()


def test_a_fresh_home_gets_a_server_of_its_own_whatever_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's prefect_api fixture: a server and database of its own even where a developer's
    PREFECT_API_URL or PREFECT_HOME point elsewhere, gone when the block ends."""
    from pipeline.ops.prefect_server import prefect_api

    elsewhere = "http://127.0.0.1:9/api"
    monkeypatch.setenv("PREFECT_API_URL", elsewhere)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "someone-elses"))
    home = tmp_path / "own"
    with prefect_api(tmp_path, fresh_home=home) as api_url:
        assert api_url != elsewhere and healthy(api_url)
        assert (home / "prefect.db").exists() and not (tmp_path / "someone-elses").exists()
    assert not healthy(api_url)
