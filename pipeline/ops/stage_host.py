"""A stage host that outlives one stage, so that plain ``dvc repro`` runs as fast as ``graphfuse repro``.

Plain ``dvc repro`` (and ``dvc exp run``) starts every stage as a fresh ``graphfuse stage NAME``
process. Alone, each would start its own Prefect server (5-8 s here) and import torch, PyG,
Prefect and MLflow (4-8 s), eight times over. Instead, the first lone stage starts a *host* in
the background: one Prefect server and one warm stage server (:mod:`pipeline.ops.warm_stages`)
that imported those libraries once. Every later stage of the project connects to that server and
runs in a warm fork, as under ``graphfuse repro``. The host stops itself once no stage has run
for ``orchestration.stage_host_idle_s`` seconds (``GRAPHFUSE_STAGE_HOST_IDLE_S`` overrides it;
0 turns the host off: each lone stage then starts and stops its own server, as before).

- State: ``.prefect/stage-host.json`` (pid, API URL, socket); a lock file serialises starting it.
  A state whose process is gone or does not answer is replaced.
- The Prefect server dies with the host (parent-death signal); the socket lives in a private
  0700 folder; both listen on loopback / a Unix socket only.
- ``graphfuse prefect stop`` stops it too. Killing a stage command still kills its stage (the
  warm server kills a child whose command went away); the host itself just idles out.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from pipeline.atomic import write_text
from pipeline.ops.processes import alive, launch, terminate

STATE_FILE = "stage-host.json"
LOCK_FILE = "stage-host.lock"
LOG_FILE = "stage-host.log"
IDLE_ENV = "GRAPHFUSE_STAGE_HOST_IDLE_S"
#: How long a stage waits for a new host (the Prefect server and the imports; over 120 s at load 12).
START_TIMEOUT_S = 300.0


def idle_seconds(root: Path) -> float:
    """How long the host waits for the next stage: ``$GRAPHFUSE_STAGE_HOST_IDLE_S``, else
    ``orchestration.stage_host_idle_s``; 0 when warm stages are off (the host is a warm server)."""
    if (text := os.environ.get(IDLE_ENV, "").strip()) != "":
        try:
            return max(float(text), 0.0)
        except ValueError:
            from pipeline.errors import GraphFuseError

            raise GraphFuseError(f"${IDLE_ENV}={text!r}: a number of seconds (0 turns the stage host off)") from None
    from pipeline.config import load_params

    params_file = root / "params.yaml"
    if not params_file.is_file():
        return 0.0
    orchestration = load_params(params_file).orchestration
    return orchestration.stage_host_idle_s if orchestration.warm_stages else 0.0


def _home(root: Path) -> Path:
    from pipeline.ops.prefect_server import prefect_home

    return prefect_home(root)


def _read_state(state_file: Path) -> dict | None:
    """The host's announcement, or None when there is none (or half of one)."""
    try:
        return json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None


def running(root: Path) -> dict | None:
    """The project's host if it runs and answers, else None (a stale state file is removed)."""
    from pipeline.ops.prefect_server import healthy

    state_file = _home(root) / STATE_FILE
    if (state := _read_state(state_file)) is None:
        return None
    if alive(state["pid"]) and Path(state["socket"]).exists() and healthy(state["api_url"]):
        return state
    if not alive(state["pid"]):
        state_file.unlink(missing_ok=True)
    return None


def ready(root: Path) -> dict[str, str] | None:
    """The variables that point a stage at a host that runs now, read without loading the
    params (pydantic): :mod:`pipeline.console` asks before the command-line layer loads. None
    when no host runs, or the host may be off (then :func:`ensure` reads the params and decides)."""
    from pipeline.errors import GraphFuseError
    from pipeline.ops.warm_protocol import ENV_VAR

    if os.environ.get(IDLE_ENV, "").strip() != "":  # it overrides the params; reading it needs none
        try:
            if idle_seconds(root) <= 0:
                return None
        except GraphFuseError:  # the full command says what is wrong with it
            return None
    elif _maybe_off_in_params(root / "params.yaml"):
        return None
    if (state := running(root)) is None:
        return None
    return {"PREFECT_API_URL": state["api_url"], ENV_VAR: state["socket"]}


def _maybe_off_in_params(params_file: Path) -> bool:
    """Whether params.yaml may turn the host off (``orchestration.warm_stages: false`` or
    ``stage_host_idle_s`` <= 0), or cannot be read plainly; validating it is the stage's job."""
    import yaml

    try:
        orchestration = (yaml.safe_load(params_file.read_text()) or {}).get("orchestration") or {}
        idle = orchestration.get("stage_host_idle_s", 1)
        return orchestration.get("warm_stages", True) is not True or not isinstance(idle, int | float) or idle <= 0
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return True


def ensure(root: Path) -> dict[str, str] | None:
    """The variables that point a stage at the project's host (started now if none runs), or
    None when the host is off or could not start (the stage then runs on its own)."""
    from pipeline.ops.warm_protocol import ENV_VAR, supported

    idle = idle_seconds(root)
    if idle <= 0 or not supported():
        return None
    home = _home(root)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one host per project, even when two stages start at once
        state = running(root) or _start(root, idle)
    if state is None:
        return None
    return {"PREFECT_API_URL": state["api_url"], ENV_VAR: state["socket"]}


def _start(root: Path, idle: float) -> dict | None:
    """Start a host in its own session and wait until it announces itself."""
    home = _home(root)
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "GRAPHFUSE_WARM_STAGES")}
    command = [sys.executable, "-m", "pipeline.ops.stage_host", str(Path(root).resolve()), str(idle)]
    process = launch(command, env=env, log=home / LOG_FILE, tied=False, cwd=root)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if (state := running(root)) is not None and state["pid"] == process.pid:
            return state
        if process.poll() is not None:
            sys.stderr.write(f"stage host exited ({process.returncode}); see {home / LOG_FILE}; running alone\n")
            return None
        time.sleep(0.1)
    terminate(process.pid)
    return None


def stop(root: Path) -> dict | None:
    """Stop the project's host if one runs; return its state."""
    state_file = _home(root) / STATE_FILE
    if (state := _read_state(state_file)) is None:
        return None
    if alive(state["pid"]):
        terminate(state["pid"], grace=10.0)
    state_file.unlink(missing_ok=True)
    return state


def host(root: Path, idle: float) -> None:
    """The host process: a Prefect server (tied to us) and a warm stage server that stops after
    ``idle`` seconds without a stage (counted once the Prefect server answers); announces itself
    in the state file as soon as it listens and imports while the first stages run."""
    from pipeline.ops import warm_stages
    from pipeline.ops.prefect_server import embedded_defaults, healthy, spawn_server

    embedded_defaults(root)
    folder = Path(tempfile.mkdtemp(prefix=warm_stages.FOLDER_PREFIX))  # 0700: only this user can connect
    socket_path = folder / warm_stages.SOCKET_NAME
    state_file = _home(root) / STATE_FILE
    server, _ = spawn_server(root, None, tied=True, ui=False, services=False)
    os.environ["PREFECT_API_URL"] = server.url  # before the preload imports Prefect, which reads it once
    state = {"pid": os.getpid(), "api_url": server.url, "socket": str(socket_path), "prefect_pid": server.pid}
    deadline = time.monotonic() + START_TIMEOUT_S

    def announce() -> bool:
        """Write the state file at once (a waiting stage checks the API itself: it connects as soon
        as the API answers, instead of at our next poll, which can come an import later); True once
        the Prefect server answers; leave if it died or never answers."""
        if not state_file.exists():
            write_text(state_file, json.dumps(state))
        if healthy(server.url, timeout=0.2):
            return True
        if not alive(server.pid) or time.monotonic() > deadline:
            print(f"stage host: the Prefect server did not start; see {_home(root)}", flush=True)
            raise SystemExit(1)
        return False

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # before listening: stop there
    try:
        warm_stages.serve_until_idle(str(socket_path), idle_s=idle, announce=announce)
    finally:
        if _owned_by_us(state_file):
            state_file.unlink(missing_ok=True)
        terminate(server.pid, grace=5.0)
        shutil.rmtree(folder, ignore_errors=True)


def _owned_by_us(state_file: Path) -> bool:
    state = _read_state(state_file)
    return state is not None and state.get("pid") == os.getpid()


if __name__ == "__main__":
    from pipeline.ops.processes import main_then_exit

    main_then_exit(lambda: host(Path(sys.argv[1]), float(sys.argv[2])))
