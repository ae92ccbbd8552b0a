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
- It listens at once and imports its preload one module at a time in the stages' order, forking
  a waiting stage between two imports: validate runs while torch loads.
- Anything that goes wrong before the child starts (no server, a refused hand-over) falls back to
  running in the command's own process: the server saves time, it is never needed.
  ``orchestration.warm_stages: false`` turns it off. Plain ``dvc repro`` uses the same server
  through the project's stage host (:mod:`pipeline.ops.stage_host`).
- The command's side is :mod:`pipeline.ops.warm_client`.
- Linux only (fork, ``SCM_RIGHTS``, pidfd); the socket lives in a private 0700 directory.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from pipeline.ops.processes import main_then_exit
from pipeline.ops.warm_child import supervise
from pipeline.ops.warm_preload import import_one, needed_imports
from pipeline.ops.warm_protocol import ENTRY_POINT, ENV_VAR, supported
from pipeline.stages.registry import stage_modules

PRELOAD_ENV_VAR = "GRAPHFUSE_WARM_PRELOAD"  # comma-separated modules instead of PRELOAD (e.g. your own encoder)
SOCKET_NAME = "stages.sock"
FOLDER_PREFIX = "graphfuse-stages-"
LOG_NAME = "warm-stages.log"

#: Imported once by the server, in the order the stages come (the server forks a waiting stage
#: between two imports, so validate runs while torch loads): each is what a stage process would
#: otherwise import on its own.
PRELOAD = (
    "prefect",
    "flows.stage_flows:warm_process_settings",  # imported, then called: what every fork inherits
    # What a flow run imports on its first call (~0.1 s in every child otherwise).
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.utilities.visualization",
    "anyio._backends._asyncio",
    "pyarrow.pandas_compat",
    *stage_modules()[:2],  # validate, then preprocess (torch)
    # The text encoder's model (MiniLM), in steps: a waiting stage is forked between two imports.
    "transformers",
    "transformers.modeling_utils",
    "transformers.models.bert.modeling_bert",
    *stage_modules()[2:],  # ... build_graph (PyG), train (MLflow), evaluate
    # MLflow's SQLite stores and its pyfunc flavour: train and evaluate import them (~1.2 s each).
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.pyfunc",
    "git",
)


def wait_ready(path: str | Path, timeout: float = 120.0) -> bool:
    """Whether the server at ``path`` listens within ``timeout`` seconds (its imports done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(path).exists():
            return True
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------- the server


@contextlib.contextmanager
def warm_server(
    root: Path, env: Mapping[str, str], log_dir: Path | None = None, *, enabled: bool = True
) -> Iterator[dict[str, str]]:
    """Run the server for the length of the block; yields the variables that point stages at it
    (none when ``enabled`` is false, ``orchestration.warm_stages``, or off Linux). Its log goes to
    ``log_dir``, by default beside Prefect's (``.prefect/``).

    The server is tied to this process (it dies with it, even on ``kill -9``). It listens at once
    and imports between stages; a stage it cannot take runs in its own process, as without it."""
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
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # before listening: stop there
    try:
        _serve(path, announce=_prefect_api_answers)
    finally:
        folder = Path(path).parent
        if folder.name.startswith(FOLDER_PREFIX):
            shutil.rmtree(folder, ignore_errors=True)


def _prefect_api_answers() -> bool:
    """``graphfuse repro`` starts DVC while the Prefect server starts: no stage runs before its API
    answers (a stage command just waits in the listen queue)."""
    from pipeline.ops.prefect_server import healthy

    url = os.environ.get("PREFECT_API_URL")
    return url is None or healthy(url, timeout=0.2)


def serve_until_idle(path: str, *, idle_s: float, announce: Callable[[], bool]) -> None:
    """The lingering stage host's server (:mod:`pipeline.ops.stage_host`): stops after ``idle_s``
    seconds without a stage; ``announce`` is called between requests and imports until it says
    the host is up (its Prefect server answers): idle time counts from then."""
    _serve(path, idle_s=idle_s, announce=announce)


def _serve(path: str, *, idle_s: float | None = None, announce: Callable[[], bool] | None = None) -> None:
    """Listen at once, then import the preload one module at a time, forking a child for each
    stage command that waits between two imports; then serve until SIGTERM or, with ``idle_s``,
    until no stage has run for that long.

    The first stages need little (validate: Prefect and pandas): they run while the heavier
    imports for the later ones go on, on the machine's other core, instead of after all of them.
    A child forked early imports what it still lacks itself, as a cold process would."""
    try:
        command = _entry_point()
    except Exception as exc:  # not installed as a package: every stage runs cold, as without us
        print(f"warm stages: no {ENTRY_POINT!r} entry point ({type(exc).__name__}: {exc}); stages run cold")
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    server = _Server(listener, command, idle_s=idle_s, announce=announce)
    signal.signal(signal.SIGTERM, server.request_stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches each stage through its command
    print(f"warm stages: listening on {path} (pid {os.getpid()})", flush=True)
    for name in server.preload:
        server.poll(timeout=0.0)
        if server.stopping or server.cold:
            break
        import_one(name)
        server.imported += 1
    else:
        print("warm stages: ready, every preload imported", flush=True)
    while not (server.stopping or server.cold):
        server.poll(timeout=0.5)
    server.close()


class _Server:
    """The accept loop's state: the children running, when the last one ended, the stop flag."""

    def __init__(
        self,
        listener: socket.socket,
        command: Callable[..., object],
        *,
        idle_s: float | None,
        announce: Callable[[], bool] | None,
    ) -> None:
        self.listener, self.command, self.idle_s, self.announce = listener, command, idle_s, announce
        self.supervisors: set[int] = set()
        self.waiting: list[tuple[socket.socket, int]] = []  # (connection, preload imports it needs)
        self.preload, self.imported = _preload_names(), 0
        self.last_active = time.monotonic()
        self.stopping = self.cold = False

    def request_stop(self, _signum: int, _frame: object) -> None:
        """SIGTERM: leave at once when no stage runs (even mid-import), else after this round."""
        self.stopping = True
        self.supervisors -= _reap()  # the stage that just ended is not running any more
        if not self.supervisors:
            raise SystemExit(0)

    def poll(self, timeout: float) -> None:
        """Until ``announce`` says the Prefect API answers, only ask it again (stage commands wait in
        the listen queue); then fork a child for a waiting stage command, reap, check idleness."""
        if self.announce is not None:
            if not self.announce():
                time.sleep(min(timeout, 0.1))
                return
            self.announce, self.last_active = None, time.monotonic()  # idle time counts from here
        with contextlib.suppress(InterruptedError):
            if select.select([self.listener], [], [], timeout)[0]:
                conn = self.listener.accept()[0]
                self.waiting.append((conn, needed_imports(conn, self.preload)))
        for item in [item for item in self.waiting if item[1] <= self.imported]:
            self.waiting.remove(item)
            self._fork(item[0])
        self.supervisors -= _reap()
        if self.supervisors or self.waiting or self.announce is not None:  # busy or not announced: not idle
            self.last_active = time.monotonic()
        elif self.idle_s is not None and time.monotonic() - self.last_active > self.idle_s:
            print(f"warm stages: idle for {self.idle_s:g} s, stopping", flush=True)
            self.stopping = True

    def _fork(self, conn: socket.socket) -> None:
        if threading.active_count() > 1:  # forking a process with threads is not safe: stay cold
            print(f"warm stages: a preloaded library started threads {threading.enumerate()}; stages run cold")
            self.cold = True
            conn.close()  # its command sees no start and runs the stage itself
            return
        if (pid := os.fork()) == 0:
            self.listener.close()
            supervise(conn, self.command)  # never returns
        self.supervisors.add(pid)
        conn.close()

    def close(self) -> None:
        """Stop listening; the stages still running go too (the command that started us is ending)."""
        self.listener.close()
        for conn, _ in self.waiting:  # their commands see no start and run the stage themselves
            conn.close()
        for pid in self.supervisors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def _preload_names() -> list[str]:
    chosen = os.environ.get(PRELOAD_ENV_VAR)
    return [m.strip() for m in chosen.split(",") if m.strip()] if chosen is not None else list(PRELOAD)


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


if __name__ == "__main__":
    main_then_exit(lambda: serve(sys.argv[1]))
