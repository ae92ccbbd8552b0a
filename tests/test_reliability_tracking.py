"""The tracking store, checked before any work: a server that is down or a SQLite file another
writer holds fails in seconds with one line; runs a killed stage left RUNNING are closed."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.tracking.health import TrackingUnavailable, check_tracking_store

# Tiers per test: those that start and kill processes are integration tests.


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.unit
def test_a_server_that_is_down_fails_in_seconds_with_one_line() -> None:
    uri = f"http://bob:s3cr3t@127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingUnavailable) as error:
        check_tracking_store(uri)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert "\n" not in message and "s3cr3t" not in message and "bob:***@127.0.0.1" in message
    assert "Nothing was run" in message


@pytest.mark.unit
def test_a_server_that_accepts_but_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHFUSE_TRACKING_PROBE_TIMEOUT", "1")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        uri = f"http://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(TrackingUnavailable, match=r"not answering \(.*probe timeout 1 s\)"):
            check_tracking_store(uri)
        assert time.monotonic() - started < 4


@pytest.mark.unit
def test_a_live_server_passes_and_an_unhealthy_one_does_not(tmp_path: Path) -> None:
    """A real HTTP server answering /health (MLflow's server does the same): 200 passes, and the
    probe really went to /health without the URI's credentials; 503 from the same server fails."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer = {"status": 200}
    requests: list[tuple[str, str | None]] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            requests.append((self.path, self.headers.get("Authorization")))
            self.send_response(answer["status"] if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        check_tracking_store(f"http://127.0.0.1:{port}")
        check_tracking_store(f"http://user:pw@127.0.0.1:{port}/")  # credentials in the URI
        assert requests == [("/health", None), ("/health", None)]
        answer["status"] = 503
        with pytest.raises(TrackingUnavailable, match=r"/health answered HTTP 503") as error:
            check_tracking_store(f"http://user:pw@127.0.0.1:{port}")
        assert "pw" not in str(error.value) and "Nothing was run" in str(error.value)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.unit
def test_a_busy_sqlite_store_is_retried_with_backoff_then_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mlflow.db"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the store
    monkeypatch.setenv("GRAPHFUSE_SQLITE_BUSY_TIMEOUT", "1.5")
    started = time.monotonic()
    try:
        with pytest.raises(TrackingUnavailable, match=r"locked by another writer \(waited 1.5 s over \d+ tries\)"):
            check_tracking_store(f"sqlite:///{db}")
        assert 1.4 < time.monotonic() - started < 5
        # Released while we wait: the probe's retries get through.
        monkeypatch.setenv("GRAPHFUSE_SQLITE_BUSY_TIMEOUT", "10")
        threading.Timer(0.5, lambda: holder.execute("ROLLBACK")).start()
        check_tracking_store(f"sqlite:///{db}")
    finally:
        holder.close()


@pytest.mark.unit
def test_evaluate_with_the_server_down_overwrites_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config import Params
    from pipeline.paths import Paths
    from pipeline.stages import evaluate, train

    metrics = Paths(tmp_path).metrics / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text('{"before": 1}\n')
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    for stage in (evaluate, train):
        started = time.monotonic()
        with pytest.raises(TrackingUnavailable):
            stage.run(Params(), Paths(tmp_path))
        assert time.monotonic() - started < 5
    assert metrics.read_text() == '{"before": 1}\n'


_ORPHAN = """
import importlib.util, sys, time
import mlflow
# The owner tags every GraphFuse run carries; the module alone (the package would import torch).
spec = importlib.util.spec_from_file_location("recovery", sys.argv[2])
recovery = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recovery)
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("graphfuse-test")
with mlflow.start_run(run_name="doomed") as run:
    mlflow.set_tags(recovery.owner_tags())
    print(run.info.run_id, flush=True)
    time.sleep(600)
"""


@pytest.mark.integration
def test_a_run_left_running_by_kill_9_is_marked_killed_at_the_next_start(
    tmp_path: Path, clean_tracking_env: None
) -> None:
    import mlflow

    from pipeline.tracking import configure_tracking, recovery

    configure_tracking(tmp_path, "graphfuse-test")  # the store exists before the child starts
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    child = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN, f"sqlite:///{tmp_path / 'mlflow.db'}", recovery.__file__],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "child.err").open("w"),  # a file, so the child can never block on a full pipe
        text=True,
        env=env,
    )
    try:
        run_id = child.stdout.readline().strip()
        assert run_id, "the child never started its run:\n" + (tmp_path / "child.err").read_text()[-3000:]
        live = {"graphfuse-test"}
        configure_tracking(tmp_path, *live)  # the owner is alive: its run is left alone
        assert mlflow.get_run(run_id).info.status == "RUNNING"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    configure_tracking(tmp_path, "graphfuse-test")
    run = mlflow.get_run(run_id)
    assert run.info.status == "KILLED"
    assert "ended without closing the run" in run.data.tags["graphfuse.closed_because"]


@pytest.mark.unit
def test_a_tracking_error_ends_a_command_with_one_line_and_exit_1() -> None:
    """The commands' one error wrapper turns GraphFuse's errors into ``error: ...``; a tracking
    store that is down must be one of them, not a traceback."""
    import typer
    from typer.testing import CliRunner

    from pipeline.cli.base import CleanErrors

    app = typer.Typer(cls=CleanErrors)

    @app.command()
    def probe() -> None:
        check_tracking_store(f"http://bob:s3cr3t@127.0.0.1:{_closed_port()}")

    @app.command()
    def other() -> None:  # two commands: a group, as `graphfuse` is
        pass

    result = CliRunner().invoke(app, ["probe"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: MLflow tracking store http://bob:***@127.0.0.1")
    assert "Traceback" not in result.output and "s3cr3t" not in result.output


_KILLED_AT_CREATE = """
import os, signal, sys
import mlflow
from mlflow import MlflowClient
from pipeline.tracking.runs import start_run
real_create = MlflowClient.create_run

def create_then_die(self, *args, **kwargs):  # kill -9 the moment the run exists in the store
    run = real_create(self, *args, **kwargs)
    print(run.info.run_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

MlflowClient.create_run = create_then_die
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("graphfuse-test")
with start_run(run_name="doomed"):
    pass
"""


@pytest.mark.integration
def test_a_kill_right_after_the_run_is_created_leaves_a_run_the_sweep_closes(
    tmp_path: Path, clean_tracking_env: None
) -> None:
    """Issue 16.5: the owner tags were set in a second call, so a kill between the two left a
    RUNNING run without an owner, which the sweep skips as not its own, forever."""
    import mlflow

    from pipeline.tracking import configure_tracking

    configure_tracking(tmp_path, "graphfuse-test")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_AT_CREATE, f"sqlite:///{tmp_path / 'mlflow.db'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    run_id = child.stdout.strip()
    assert mlflow.get_run(run_id).info.status == "RUNNING"
    configure_tracking(tmp_path, "graphfuse-test")
    run = mlflow.get_run(run_id)
    assert run.info.status == "KILLED", run.data.tags
    assert "ended without closing the run" in run.data.tags["graphfuse.closed_because"]


_KILLED_WHILE_CREATING_THE_STORE = """
import os, signal, sys
import mlflow
import mlflow.store.db.utils as db_utils
from pipeline.tracking.runs import connect_tracking

def die(engine):  # kill -9 half-way: the tables exist, MLflow's migrations have not run
    os.kill(os.getpid(), signal.SIGKILL)

db_utils._upgrade_db = die
connect_tracking(sys.argv[1])
mlflow.search_experiments()
"""


@pytest.mark.integration
def test_a_kill_while_the_sqlite_store_is_created_leaves_no_broken_store(
    tmp_path: Path, clean_tracking_env: None
) -> None:
    """A kill during MLflow's first migrations (the first train of a project) left a half-built
    mlflow.db on which every later command failed with "table ... already exists" (found by the kill loop)."""
    import mlflow

    from pipeline.tracking import configure_tracking

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_CREATING_THE_STORE, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    configure_tracking(tmp_path, "graphfuse-test")
    assert mlflow.get_experiment_by_name("graphfuse-test") is not None
