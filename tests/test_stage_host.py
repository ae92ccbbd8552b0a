"""The stage host (issue 16, row 6): plain `dvc repro`'s lone stages share one Prefect server and
one warm process that the first stage starts, and that stops by itself once idle."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pipeline.ops.processes import alive
from pipeline.ops.warm_preload import NEEDS
from pipeline.ops.warm_stages import PRELOAD, PRELOAD_ENV_VAR
from tests.helpers import BIN, project_env

pytestmark = pytest.mark.integration


# How long the host waits for the next stage. Long enough for the next `graphfuse stage` to start on
# a loaded machine: at 4 s a suite run once saw the host stop between two stages (a new host took
# the second). The wait for it to stop is sleep, not CPU.
IDLE_S = 20
# The host's preload up to what its two stages need (validate: Prefect and pandas; the preprocess
# stages: torch). The rest (transformers, PyG, MLflow: ~6 s of CPU) is for stages this module never
# runs; the whole default preload is every `graphfuse repro`'s.
TWO_STAGES = {PRELOAD_ENV_VAR: ",".join(PRELOAD[: PRELOAD.index(NEEDS["preprocess_tabular"]) + 1])}


def _stage(name: str, root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "graphfuse"), "stage", name],
        cwd=root,
        env=project_env(**({"GRAPHFUSE_STAGE_HOST_IDLE_S": str(IDLE_S)} | env)),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def project(small_countries: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project for the module: its Prefect database is created (13 s of migrations here) once."""
    root = tmp_path_factory.mktemp("stage-host")
    (root / "params.yaml").write_text(yaml.safe_dump({"dataset": {"dir": str(small_countries)}}))
    (root / "pyproject.toml").write_text("")
    return root


def test_lone_stages_share_one_host_that_stops_when_idle(project: Path) -> None:
    state_file = project / ".prefect" / "stage-host.json"

    first = _stage("validate", project, **TWO_STAGES)
    assert first.returncode == 0, first.stdout + first.stderr
    host = json.loads(state_file.read_text())
    assert host["api_url"].startswith("http://127.0.0.1:") and alive(host["pid"]) and alive(host["prefect_pid"])

    second = _stage("preprocess_tabular", project, **TWO_STAGES)
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads(state_file.read_text())["pid"] == host["pid"]  # the same host served it ...
    log = (project / ".prefect" / "stage-host.log").read_text()
    assert "runs stage validate" in log and "runs stage preprocess_tabular" in log  # ... in warm forks
    assert "Still processing items" not in second.stdout + second.stderr
    assert (project / "data" / "processed" / "features" / "tabular").is_dir()

    # Idle for IDLE_S: the host, its Prefect server and its socket folder go, and so does the state.
    assert _gone(host["pid"], IDLE_S + 60) and _gone(host["prefect_pid"], 30)
    assert not state_file.exists() and not Path(host["socket"]).parent.exists()


def test_prefect_stop_stops_the_host(project: Path) -> None:
    state_file = project / ".prefect" / "stage-host.json"
    # A long idle time, and no preload: this test is about stopping, not speed.
    started = _stage("validate", project, GRAPHFUSE_STAGE_HOST_IDLE_S="600", GRAPHFUSE_WARM_PRELOAD="")
    assert started.returncode == 0, started.stdout + started.stderr
    host = json.loads(state_file.read_text())
    stopped = subprocess.run(
        [str(BIN / "graphfuse"), "prefect", "stop"], cwd=project, env=project_env(), capture_output=True, text=True
    )
    assert stopped.returncode == 0 and f"stopped the stage host (pid {host['pid']})" in stopped.stdout
    assert _gone(host["pid"], 30) and _gone(host["prefect_pid"], 30) and not state_file.exists()


def test_a_host_that_goes_away_as_a_stage_arrives_leaves_the_stage_to_run_alone(project: Path, tmp_path: Path) -> None:
    """The race at the end of the idle time: the state names a host that answers its health check,
    but its socket closes without running the stage. The stage runs on a server of its own instead
    of on the host's (going) API."""
    import http.server
    import os
    import socket
    import threading

    class Healthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None: ...

    api = http.server.HTTPServer(("127.0.0.1", 0), Healthy)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    socket_path = tmp_path / "going" / "stages.sock"
    socket_path.parent.mkdir()
    listener.bind(str(socket_path))
    listener.listen(4)

    def refuse() -> None:  # accept, then hang up without starting anything: a host on its way out
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    for target in (api.serve_forever, refuse):
        threading.Thread(target=target, daemon=True).start()
    (project / ".prefect").mkdir(exist_ok=True)
    going = {"pid": os.getpid(), "api_url": f"http://127.0.0.1:{api.server_port}/api", "socket": str(socket_path)}
    state_file = project / ".prefect" / "stage-host.json"
    state_file.write_text(json.dumps(going | {"prefect_pid": os.getpid()}))
    try:
        result = _stage("validate", project, GRAPHFUSE_STAGE_HOST_IDLE_S="600")
    finally:
        api.shutdown()
        listener.close()
        state_file.unlink(missing_ok=True)  # it names this process, which outlives the test
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Finished in state Completed" in result.stdout + result.stderr
    assert f"127.0.0.1:{api.server_port}" not in result.stdout + result.stderr  # not the going host's API
