"""A Prefect server for this project, so that a stage connects in a second instead of starting one.

``graphfuse prefect start`` runs it in the background (state in ``.prefect/``, loopback only) until
``graphfuse prefect stop``; :func:`prefect_api` gives a command the running one, or starts one that
lives exactly as long as the command (and dies with it even on ``kill -9``).

While it runs, ``.prefect/profiles.toml`` holds an active Prefect profile ``graphfuse`` with its
``PREFECT_API_URL``; pyproject.toml's ``[tool.prefect] profiles_path`` points Prefect's own CLI at
that file, so ``prefect flow-run ls``, ``prefect deploy`` or a worker started in the project talk
to the project's server with no export (an exported ``PREFECT_API_URL`` still wins).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from pipeline.atomic import write_text
from pipeline.errors import GraphFuseError
from pipeline.ops.processes import (
    Service,
    alive,
    free_port,
    http_ok,
    launch,
    read_state,
    terminate,
    wait_until,
    write_state,
)

STATE_FILE = "graphfuse-server.json"
LOG_FILE = "server.log"
PROFILES_FILE = "profiles.toml"
PROFILE_NAME = "graphfuse"
PORT_ENV = "GRAPHFUSE_PREFECT_PORT"


def embedded_defaults(root: str | Path) -> None:
    """Prefect's state lives in the project (git-ignored) unless the user points elsewhere."""
    os.environ.setdefault("PREFECT_HOME", str((Path(root) / ".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def prefect_home(root: str | Path) -> Path:
    """Prefect's state (its SQLite database, logs) lives in the project unless the user says otherwise."""
    return Path(os.environ.get("PREFECT_HOME") or Path(root).resolve() / ".prefect")


def healthy(api_url: str, timeout: float = 1.0) -> bool:
    return http_ok(f"{api_url.rstrip('/')}/health", timeout)


def _site_packages() -> Path:
    """Where prefect is installed, found without importing it (that costs a second)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        raise GraphFuseError("prefect is not installed in this environment")
    return Path(spec.origin).parent.parent


def _server_env(home: Path, port: int, *, ui: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_UI_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_UI_ENABLED="true" if ui else "false",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT__SERVER_FINAL="1",
        DO_NOT_TRACK="1",
    )
    return env


class WaitForServer(Protocol):
    """Waits until a starting server answers (and fails if it exits or times out first); ``unless``,
    polled meanwhile, ends the wait early once it holds: nobody needs the server any more."""

    def __call__(self, unless: Callable[[], bool] | None = None) -> None: ...


def launch_server(
    root: str | Path,
    port: int | None,
    *,
    tied: bool,
    ui: bool,
    services: bool = True,
    home: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Service:
    """Start a Prefect server and return it once it answers."""
    service, wait = spawn_server(root, port, tied=tied, ui=ui, services=services, home=home, extra_env=extra_env)
    wait()
    return service


def spawn_server(
    root: str | Path,
    port: int | None,
    *,
    tied: bool,
    ui: bool,
    services: bool = True,
    home: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[Service, WaitForServer]:
    """Start a Prefect server; return it (its URL is fixed already) and a function that waits until
    it answers, so that the caller can start other work while it migrates and imports."""
    home = home or prefect_home(root)
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "pipeline.ops.prefect_server_process",  # uvicorn, after a new project's database comes from the template
        "--app-dir",
        str(_site_packages()),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--lifespan",
        "on",
    ]
    log = home / LOG_FILE
    env = _server_env(home, port, ui=ui) | (extra_env or {})
    if not services:  # serves one command: no scheduler or other background services, faster
        env["PREFECT__SERVER_EPHEMERAL"] = "1"
    process = launch(command, env=env, log=log, tied=tied)
    api_url = f"http://127.0.0.1:{port}/api"

    def wait(unless: Callable[[], bool] | None = None) -> None:
        # Its imports alone took over 120 s on a 2-core box at load 12; a server that exits fails at once.
        what = f"Prefect server on port {port}"
        wait_until(lambda: healthy(api_url), process, what=what, log=log, timeout=300, unless=unless)

    return Service(name="prefect", pid=process.pid, url=api_url, log=str(log)), wait


def profiles_file(root: str | Path = ".") -> Path:
    return prefect_home(root) / PROFILES_FILE


def _write_profile(root: str | Path, api_url: str) -> None:
    """Make the running server the active profile of the project's Prefect home."""
    text = f'active = "{PROFILE_NAME}"\n\n[profiles.{PROFILE_NAME}]\nPREFECT_API_URL = "{api_url}"\n'
    write_text(profiles_file(root), text)


def _forget(root: str | Path) -> None:
    """The server is gone: neither graphfuse nor Prefect's CLI should look for it any more."""
    (prefect_home(root) / STATE_FILE).unlink(missing_ok=True)
    profiles_file(root).unlink(missing_ok=True)


def status(root: str | Path = ".") -> Service | None:
    """The project's background server if it is up and answering; a stale state file (and the
    profile that pointed at it) is removed."""
    service = read_state(prefect_home(root) / STATE_FILE)
    if service is None:
        return None
    if alive(service.pid) and healthy(service.url):
        return service
    if not alive(service.pid):
        _forget(root)
    return None


def start(root: str | Path = ".", port: int | None = None) -> tuple[Service, bool]:
    """Start the background server (with its UI) unless it runs; return it and whether we started it.

    The port: ``port``, else ``$GRAPHFUSE_PREFECT_PORT``, else a free one; the profile written
    beside the state makes the address stable for every command in the project either way."""
    running = status(root)
    if running is not None:
        _write_profile(root, running.url)
        return running, False
    state_file = prefect_home(root) / STATE_FILE
    if (stale := read_state(state_file)) is not None and alive(stale.pid):
        raise GraphFuseError(f"a Prefect server (pid {stale.pid}) is starting or not answering; try again or stop it")
    service = launch_server(root, port or _configured_port(), tied=False, ui=True)
    write_state(state_file, service)
    _write_profile(root, service.url)
    return service, True


def _configured_port() -> int | None:
    text = os.environ.get(PORT_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise GraphFuseError(f"${PORT_ENV}={text!r}: a port number (1-65535)")
    return int(text)


def stop(root: str | Path = ".") -> Service | None:
    """Stop the background server and everything it started; return what was stopped."""
    state_file = prefect_home(root) / STATE_FILE
    service = read_state(state_file)
    if service is None:
        return None
    if alive(service.pid):
        terminate(service.pid, group=True)
    _forget(root)
    return service


@contextmanager
def prefect_api(root: str | Path = ".", *, scheduler: bool = False, fresh_home: Path | None = None) -> Iterator[str]:
    """The API URL to use for one command: the user's, the background server's, or one of our own
    that lives only while the command does (no UI; background services such as the scheduler only
    when ``scheduler`` is asked for, as `graphfuse schedule` needs).

    ``fresh_home``: always one of our own, with its state in that folder, whatever
    ``$PREFECT_API_URL``, ``$PREFECT_HOME`` or a running background server say (the test suite's)."""
    with starting_prefect_api(root, scheduler=scheduler, fresh_home=fresh_home) as (api_url, wait):
        wait()
        yield api_url


@contextmanager
def starting_prefect_api(
    root: str | Path = ".", *, scheduler: bool = False, fresh_home: Path | None = None
) -> Iterator[tuple[str, WaitForServer]]:
    """As :func:`prefect_api`, but yields at once: the URL and a function that waits until the API
    answers. `graphfuse repro` starts its warm stage server meanwhile: on a new project the
    server's database migrations alone take ~10 s, as long as the warm server's imports."""
    if fresh_home is None and (url := os.environ.get("PREFECT_API_URL")):
        yield url, _ready
        return
    if fresh_home is None and (running := status(root)) is not None:
        yield running.url, _ready
        return
    service, wait = spawn_server(root, None, tied=True, ui=False, services=scheduler, home=fresh_home)
    try:
        yield service.url, wait
    finally:
        drain_prefect_workers()
        terminate(service.pid)


def _ready(unless: Callable[[], bool] | None = None) -> None:
    """The API already answers: nothing to wait for."""


def drain_prefect_workers(timeout: float = 10.0) -> None:
    """Send the logs and events Prefect still queues (it batches them every ~2 s) while the server
    is up. Left for the interpreter's exit, they meet a stopped server and Prefect's client retries
    them with backoff for ~80 s before the process can end. ``prefect_test_harness`` does the same
    before it stops its server."""
    if "prefect" not in sys.modules:  # nothing of Prefect's ran, so nothing is queued
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)
