"""Warm stage processes for ``graphfuse repro``: pay for importing torch, PyG, Prefect and MLflow once.

DVC runs every stage as a fresh ``graphfuse stage NAME`` process, and on a small machine importing
the libraries a stage needs costs 5-15 s of its wall time, paid again by each of the eight stages.
``graphfuse repro`` therefore starts one *warm* server for the length of the command, which imports
them once. A stage command that finds the server (``GRAPHFUSE_WARM_STAGES`` names its socket) hands
over its arguments, working directory, environment and its own stdin/stdout/stderr; the server forks
a child from the warm interpreter that runs the command in its place. DVC still starts every stage
and sees its output, its exit status and its outputs exactly as before.

- A signal the command receives (Ctrl-C, SIGTERM, SIGHUP) goes on to the child's process group.
- If the command dies, even by ``kill -9``, its socket closes and the child's process group is
  killed, so a killed stage stays killed.
- Anything that goes wrong before the child starts (the server still importing, a refused
  hand-over) falls back to running in the command's own process: the server saves time, it is never needed. Plain
  ``dvc repro`` never uses it; ``orchestration.warm_stages: false`` turns it off.
- Linux only (fork, ``SCM_RIGHTS``, pidfd); the socket lives in a private 0700 directory.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from pipeline.ops.warm_child import supervise
from pipeline.ops.warm_protocol import CODE, ENTRY_POINT, ENV_VAR, FORWARDED, STARTED, supported
from pipeline.stages.registry import stage_modules

PRELOAD_ENV_VAR = "GRAPHFUSE_WARM_PRELOAD"  # comma-separated modules instead of PRELOAD (e.g. your own encoder)
SOCKET_NAME = "stages.sock"
FOLDER_PREFIX = "graphfuse-stages-"
LOG_NAME = "warm-stages.log"

#: Imported once by the server; each is what a stage process would otherwise import on its own
#: (the stages' modules from the one stage registry).
PRELOAD = ("torch", "torch_geometric", "prefect", "mlflow", "flows.stage_flows", *stage_modules())


def wait_ready(path: str | Path, timeout: float = 120.0) -> bool:
    """Whether the server at ``path`` listens within ``timeout`` seconds (its imports done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(path).exists():
            return True
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------- the command's side (the client)


def run_in_server(argv: Sequence[str]) -> int | None:
    """Run this command in the warm server's child and return its exit code; ``None``: run it here."""
    path = os.environ.get(ENV_VAR)
    if not path or not supported():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        request = {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}
        payload = json.dumps(request).encode()
        socket.send_fds(conn, [CODE.pack(len(payload)) + payload], [0, 1, 2])
        started = conn.recv(1)
    except OSError:
        conn.close()
        return None
    if started != STARTED:  # the server went away before running anything: run it here
        conn.close()
        return None
    return _wait_for_child(conn)


def _wait_for_child(conn: socket.socket) -> int:
    """Pass our signals on and wait for the child's exit status; die as it died."""
    previous = {sig: signal.getsignal(sig) for sig in FORWARDED}

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            conn.send(bytes([signum]))

    for sig in FORWARDED:
        signal.signal(sig, forward)
    try:
        data = b""
        while len(data) < CODE.size:
            chunk = conn.recv(CODE.size - len(data))
            if not chunk:
                sys.stderr.write("error: the warm stage server went away while the stage was running\n")
                return 1
            data += chunk
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        conn.close()
    (code,) = CODE.unpack(data)
    if code < 0:  # killed by a signal: end the same way, so DVC reports what it would have
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


# ---------------------------------------------------------------- the server


@contextlib.contextmanager
def warm_server(
    root: Path, env: Mapping[str, str], log_dir: Path | None = None, *, enabled: bool = True
) -> Iterator[dict[str, str]]:
    """Run the server for the length of the block; yields the variables that point stages at it
    (none when ``enabled`` is false, ``orchestration.warm_stages``, or off Linux). Its log goes to
    ``log_dir``, by default beside Prefect's (``.prefect/``).

    The server is tied to this process (it dies with it, even on ``kill -9``). It listens once its
    imports are done; a stage that starts before then runs in its own process, as without it."""
    if not (enabled and supported()):
        yield {}
        return
    from pipeline.ops.prefect_server import prefect_home
    from pipeline.ops.processes import launch, terminate

    log_dir = prefect_home(root) if log_dir is None else log_dir

    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))  # 0700: only this user can connect
    path = folder / SOCKET_NAME
    command = [sys.executable, "-m", "pipeline.ops.warm_stages", str(path)]
    log, last_words = log_dir / LOG_NAME, signal.SIGTERM  # when we die: it stops its stages, removes the folder
    process = launch(command, env=dict(env), log=log, tied=True, cwd=root, death_signal=last_words)
    try:
        yield {ENV_VAR: str(path)}
    finally:
        terminate(process.pid, grace=5.0)
        shutil.rmtree(folder, ignore_errors=True)


def serve(path: str) -> None:
    """Accept stage commands on ``path`` and fork one warm child for each, until SIGTERM (also
    sent when the command that started us dies); the socket's folder goes with us either way."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # while importing: stop there
    try:
        _serve(path)
    finally:
        folder = Path(path).parent
        if folder.name.startswith(FOLDER_PREFIX):
            shutil.rmtree(folder, ignore_errors=True)


def serve_until_idle(path: str, *, idle_s: float, on_ready: Callable[[], None]) -> None:
    """The lingering stage host's server (:mod:`pipeline.ops.stage_host`): stops after ``idle_s``
    seconds without a stage; ``on_ready`` announces it once it listens."""
    _serve(path, idle_s=idle_s, on_ready=on_ready)


def _serve(path: str, *, idle_s: float | None = None, on_ready: Callable[[], None] | None = None) -> None:
    """Preload, then fork a child per stage command until SIGTERM or, with ``idle_s``, until no
    stage has run for that long; ``on_ready`` runs once the socket listens (the stage host's
    announcement)."""
    _preload()
    try:
        command = _entry_point()
    except Exception as exc:  # not installed as a package: every stage runs cold, as without us
        print(f"warm stages: no {ENTRY_POINT!r} entry point ({type(exc).__name__}: {exc}); stages run cold")
        return
    if threading.active_count() > 1:  # forking a process with threads is not safe: stay cold
        print(f"warm stages: a preloaded library started threads {threading.enumerate()}; stages run cold")
        return
    # Bound only now: a stage that starts while the imports run (validate, first) runs cold beside
    # them rather than waiting for them.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    stop = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches each stage through its command
    print(f"warm stages: ready on {path} (pid {os.getpid()})", flush=True)
    if on_ready is not None:
        on_ready()
    supervisors: set[int] = set()
    last_active = time.monotonic()
    while not stop:
        with contextlib.suppress(InterruptedError):
            readable, _, _ = select.select([listener], [], [], 0.5)
            if readable:
                conn, _ = listener.accept()
                if (pid := os.fork()) == 0:
                    listener.close()
                    supervise(conn, command)  # never returns
                supervisors.add(pid)
                conn.close()
        supervisors -= _reap()
        if supervisors:
            last_active = time.monotonic()
        elif idle_s is not None and time.monotonic() - last_active > idle_s:
            print(f"warm stages: idle for {idle_s:g} s, stopping", flush=True)
            stop = True
    listener.close()
    for pid in supervisors:  # the command that started us is ending: so do the stages still running
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _preload() -> None:
    chosen = os.environ.get(PRELOAD_ENV_VAR)
    for name in [m.strip() for m in chosen.split(",") if m.strip()] if chosen is not None else PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a stage that needs it will say so itself
            print(f"warm stages: could not preload {name}: {type(exc).__name__}: {exc}", flush=True)


def _entry_point() -> Callable[..., object]:
    """The ``graphfuse`` console script's callable, as installed: the server runs exactly what the
    command would, without this module importing the command-line layer above it."""
    from importlib.metadata import entry_points

    (found,) = entry_points(group="console_scripts", name=ENTRY_POINT)
    return found.load()


def _reap() -> set[int]:
    """Collect the supervisors that have ended; return their pids."""
    ended = set()
    with contextlib.suppress(ChildProcessError):
        while (pid := os.waitpid(-1, os.WNOHANG)[0]) != 0:
            ended.add(pid)
    return ended


def exit_now() -> None:
    """Leave without the interpreter's teardown once the server is done: with torch and PyG loaded
    it took 2.4 s here, added to the end of every `graphfuse repro`."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    serve(sys.argv[1])
    exit_now()
