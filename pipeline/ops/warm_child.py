"""The warm server's side of one stage command: a supervisor fork, and the child that becomes the command.

Apart from :mod:`pipeline.ops.warm_stages` (the server's accept loop and the command's client side)
because this is what runs after a fork: the supervisor relays the command's signals in and the
child's exit status out, and kills the child's process group if the command goes away (even on
``kill -9``); the child takes over the command's descriptors, directory, environment and argv.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import select
import signal
import socket
import sys
import traceback
from collections.abc import Callable

from pipeline.ops.warm_protocol import CODE, ENTRY_POINT, ENV_VAR, STARTED


def supervise(conn: socket.socket, command: Callable[..., object]) -> None:
    """One command: fork the child that runs it, then relay signals in and the exit status out."""
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        request, fds = _receive(conn)
        child = os.fork()
        if child == 0:
            conn.close()
            _become(request, fds, command)  # never returns
        for fd in fds:
            os.close(fd)

        def stop_child(_signum: int, _frame: object) -> None:  # the server is stopping
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
            os._exit(1)

        signal.signal(signal.SIGTERM, stop_child)
        conn.sendall(STARTED)
        print(f"warm stages: pid {child} runs {' '.join(request['argv'][1:])} in {request['cwd']}", flush=True)
        _relay(conn, child)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    (size,) = CODE.unpack(message[: CODE.size])
    payload = message[CODE.size :]
    while len(payload) < size:
        chunk = conn.recv(size - len(payload))
        if not chunk:
            raise ConnectionError("the stage command hung up while sending its request")
        payload += chunk
    if len(fds) != 3:
        raise ConnectionError(f"expected stdin, stdout and stderr, got {len(fds)} descriptors")
    return json.loads(payload), fds


def _relay(conn: socket.socket, child: int) -> None:
    pidfd = os.pidfd_open(child)
    watched: list[socket.socket | int] = [conn, pidfd]  # a list of both, not of `object`, for select's types
    while True:
        readable, _, _ = select.select(watched, [], [])
        if pidfd in readable:
            _, status = os.waitpid(child, 0)
            with contextlib.suppress(OSError):
                conn.sendall(CODE.pack(os.waitstatus_to_exitcode(status)))
            return
        data = conn.recv(64)
        if not data:  # the command is gone (killed, even by SIGKILL): so is its stage
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
            os.waitpid(child, 0)
            return
        for signum in data:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signum)


def _become(request: dict, fds: list[int], command: Callable[..., object]) -> None:
    """Turn this fork into the stage command: its descriptors, directory, environment and argv."""
    code = 1
    try:
        os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.pop(ENV_VAR, None)
        sys.argv = list(request["argv"])
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=os.isatty(1))
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            command(args=sys.argv[1:], prog_name=ENTRY_POINT)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()  # Prefect's and MLflow's flushes, as at a normal exit
    except SystemExit as exc:  # an exit hook that ends the process itself
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
