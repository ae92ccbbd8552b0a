"""`graphfuse repro` waits for its Prefect server while DVC starts, but only as long as DVC still
needs it: a no-op `dvc repro` (nothing to reproduce) ends in ~2 s, and the command then ends too,
without the ~6 s a new server takes to answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import GraphFuseError
from pipeline.ops.processes import run_tied, wait_until

pytestmark = pytest.mark.unit


def _never_ready_server() -> subprocess.Popen:
    """Stands in for a server still starting: alive, never ready."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_command_that_ends_first_ends_the_wait_for_its_server(tmp_path: Path) -> None:
    server = _never_ready_server()
    try:

        def wait_for_server(command_done) -> None:
            wait_until(lambda: False, server, what="server", log=tmp_path / "log", timeout=60, unless=command_done)

        code = run_tied([sys.executable, "-c", "pass"], env=dict(os.environ), meanwhile=wait_for_server)

        assert code == 0
        assert server.poll() is None  # the command ended while the server was still starting
    finally:
        server.kill()
        server.wait()


def test_a_wait_nobody_gives_up_still_fails_when_the_server_dies(tmp_path: Path) -> None:
    server = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    (tmp_path / "log").write_text("the server's last words\n")

    with pytest.raises(GraphFuseError, match="exited with code 3"):
        wait_until(lambda: False, server, what="server", log=tmp_path / "log", timeout=60, unless=lambda: False)
