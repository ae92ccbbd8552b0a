"""Background processes that are started, found again through a state file, and stopped cleanly.

Two lifetimes: *detached* (the user asked for a background server; a stop command ends it) and
*tied* (it serves one command and dies with it, even when that command is killed with ``kill -9``,
through Linux's parent-death signal).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.atomic import write_text
from pipeline.errors import GraphFuseError
from pipeline.ops.tools import child_env

_PR_SET_PDEATHSIG = 1
TIED_ENV_VAR = "GRAPHFUSE_TIED"


@dataclass(frozen=True)
class Service:
    """What the state file records about a running background process."""

    name: str
    pid: int
    url: str
    log: str

    def as_dict(self) -> dict:
        return asdict(self)


def free_port() -> int:
    """A port that is free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL we built
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as dead.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _die_with_parent(parent: int, signum: int = signal.SIGKILL) -> Callable[[], None]:
    """A pre-exec hook: the child gets ``signum`` when the process that started it dies (Linux)."""

    def hook() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def run_tied(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    meanwhile: Callable[[Callable[[], bool]], None] | None = None,
) -> int:
    """Run ``command`` in the foreground, tied to this process: if we die, even by ``kill -9``, it
    gets SIGKILL, and so does every ``graphfuse stage`` it starts (:func:`die_with_parent_if_asked`),
    so nothing runs on to rewrite outputs after the command that owned it is gone.

    ``meanwhile`` runs once the command started (waiting for a server it will need, while it
    starts up), given a function that says whether the command has ended already (a no-op
    ``dvc repro`` needs no server); if it raises, the command is stopped and the error goes on."""
    hook = _die_with_parent(os.getpid())
    tied_env = {**env, TIED_ENV_VAR: str(os.getpid())}
    with subprocess.Popen(list(command), env=tied_env, cwd=cwd, preexec_fn=hook) as process:  # noqa: PLW1509
        try:
            if meanwhile is not None:
                meanwhile(lambda: process.poll() is not None)
            return process.wait()
        except KeyboardInterrupt:  # Ctrl-C reached the whole foreground group: let it finish its own way
            return process.wait()
        except BaseException:
            terminate(process.pid, grace=5.0)
            raise


def die_with_parent_if_asked() -> None:
    """Under :func:`run_tied` (``GRAPHFUSE_TIED`` names its pid), end this process when that owner ends.

    The parent-death signal alone is not enough: DVC starts a stage through ``/bin/sh -c``, and when
    DVC is killed the shell lives on, so the stage also watches the owner itself (a pidfd, no polling).
    Only under ``run_tied``: a stage a user starts by hand (``nohup graphfuse stage train &``) must
    outlive its shell."""
    owner = os.environ.get(TIED_ENV_VAR, "")
    if not owner or not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent == 1 or os.getppid() != parent:  # the parent is already gone
        os._exit(1)
    if owner.isdigit() and int(owner) != parent:
        _die_with(int(owner))


def _die_with(owner: int) -> None:
    """SIGKILL this process (and so free its shell) as soon as process ``owner`` exits."""
    try:
        handle = os.pidfd_open(owner)
    except ProcessLookupError:  # the owner is already gone
        os._exit(1)
    except OSError:  # no pidfd (old kernel): the parent-death signal still covers a direct parent
        return

    def watch() -> None:
        select.select([handle], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="graphfuse-owner-watch", daemon=True).start()


def launch(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    tied: bool,
    cwd: Path | None = None,
    death_signal: int = signal.SIGKILL,
) -> subprocess.Popen:
    """Start ``command`` with its output in ``log``; tied to this process (it gets ``death_signal``
    when we die), or in its own session. The child finds the project's programs first on its PATH
    (:func:`pipeline.ops.tools.child_env`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(command),
            env=child_env(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=not tied,
            preexec_fn=_die_with_parent(os.getpid(), death_signal) if tied else None,  # noqa: PLW1509 - only sets a signal
        )


def wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen,
    *,
    what: str,
    log: Path,
    timeout: float = 120.0,
    unless: Callable[[], bool] | None = None,
) -> None:
    """Poll ``ready`` until it holds (or ``unless`` does: nobody needs it any more); fail with the
    log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready() or (unless is not None and unless()):
            return
        if process.poll() is not None:
            raise GraphFuseError(f"{what} exited with code {process.returncode}; see {log}:\n{tail(log)}")
        time.sleep(0.2)
    terminate(process.pid)
    raise GraphFuseError(f"{what} did not become ready within {timeout:.0f} s; see {log}:\n{tail(log)}")


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def terminate(pid: int, *, group: bool = False, grace: float = 15.0) -> None:
    """SIGTERM (the whole process group when asked), then SIGKILL after ``grace`` seconds."""
    send = (lambda sig: os.killpg(pid, sig)) if group else (lambda sig: os.kill(pid, sig))
    try:
        send(signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.1)
    try:
        send(signal.SIGKILL)
    except ProcessLookupError:
        return
    while alive(pid):
        time.sleep(0.05)


def write_state(path: Path, service: Service) -> None:
    write_text(path, json.dumps(service.as_dict(), indent=2) + "\n")
    path.chmod(0o600)


def read_state(path: Path) -> Service | None:
    try:
        return Service(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def exit_now(code: int = 0) -> None:
    """Leave without the interpreter's teardown once a server is done. What is left to do there is a
    garbage collection of the server's heap: 2.4 s for the warm server with torch and PyG loaded,
    1-2 s for a Prefect server (faulthandler: "Garbage-collecting"), at the end of every `graphfuse
    repro`, which waits for its servers to stop."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main_then_exit(run: Callable[[], object]) -> None:
    """Run a server's main function, then leave through :func:`exit_now` however it ended (a
    SIGTERM raises SystemExit from anywhere), with its exit status as ``sys.exit`` gives it."""
    code = 0
    try:
        run()
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    exit_now(code)
