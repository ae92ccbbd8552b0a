"""The stage command's side of a warm stage server: hand the command over, relay signals, exit as
the child did.

Apart from the server (:mod:`pipeline.ops.warm_stages`) and from the command-line layer so that
``graphfuse stage NAME`` can call it before typer, pydantic and the command groups load
(:mod:`pipeline.console`): importing them cost ~0.45 s of every stage's wall time, eight stages a
repro, for a process that only waits for its warm child.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.ops.warm_protocol import CODE, ENV_VAR, FORWARDED, STARTED, supported


def hand_over_stage(argv: Sequence[str]) -> int | None:
    """The exit code of ``graphfuse stage NAME`` (exactly that, as dvc.yaml runs it) run by a warm
    server that is ready now: ``graphfuse repro``'s, or the project's stage host under plain
    ``dvc repro``. None: the full command decides (any option, no server, the host turned off)."""
    if len(argv) != 3 or argv[1] != "stage" or argv[2].startswith("-") or not supported():
        return None
    if os.environ.get(ENV_VAR):  # under `graphfuse repro`
        from pipeline.ops.processes import die_with_parent_if_asked

        die_with_parent_if_asked()  # when dvc dies, so does this stage
        return run_in_server(argv)
    from pipeline.ops.prefect_server import embedded_defaults

    embedded_defaults(Path("."))
    return run_in_stage_host(Path("."), argv, start=False)


def run_in_stage_host(root: Path, argv: Sequence[str], *, start: bool) -> int | None:
    """Run this command in the project's stage host, one that runs now or, with ``start``, one
    started now, unless an API was chosen already (an exported ``PREFECT_API_URL``, ``graphfuse
    prefect start``); None: the command runs in its own process."""
    from pipeline.ops import prefect_server, stage_host

    if os.environ.get("PREFECT_API_URL") or prefect_server.status(root) is not None:
        return None
    if (pointer := (stage_host.ensure if start else stage_host.ready)(root)) is None:
        return None
    os.environ.update(pointer)
    if (code := run_in_server(argv)) is None:  # the host went away (it idled out as we came)
        for name in pointer:
            os.environ.pop(name, None)
    return code


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
