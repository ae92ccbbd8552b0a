"""Evaluate's progress (seed 2/5 done...) reaches a pipe or a log as it happens, not when the
stage ends; under CI it is quiet."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pipeline.stages import progress_lines

pytestmark = pytest.mark.unit

_SAY_THEN_WORK = (
    "from pipeline.stages import progress_lines; import time; progress_lines()('seed 1 done (1/5)'); time.sleep(60)"
)


def test_progress_lines_reach_a_pipe_while_the_stage_still_works() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", _SAY_THEN_WORK], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()  # a block-buffered print would only arrive at exit, 60 s later
        assert line == "seed 1 done (1/5)\n" and time.monotonic() - started < 50
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


def test_progress_is_quiet_under_ci(monkeypatch) -> None:
    monkeypatch.setenv("CI", "1")
    assert progress_lines() is None
