"""``dvc repro`` killed mid-stage then rerun completes; two at once: the second is refused by
DVC's repository lock with a clear message and the first finishes unharmed.

A one-stage DVC project in a temporary git repo, whose stage sleeps and then writes its output
through :mod:`pipeline.atomic` as GraphFuse's stages do (the full pipeline under DVC is in
test_dvc_pipeline.py; stage-level kills of every GraphFuse stage are in test_reliability_kill.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.helpers import BIN, project_env

pytestmark = pytest.mark.integration

SLOW_STAGE = """
import sys, time
from pathlib import Path
from pipeline.atomic import write_text
Path("started").write_text("1")
time.sleep(float(Path("sleep_s").read_text()))
write_text("out.txt", "complete\\n" * 1000)
"""
DVC_YAML = """stages:
  slow:
    cmd: python slow.py
    deps:
      - slow.py
    outs:
      - out.txt
"""


def _env() -> dict[str, str]:
    return project_env(PYTHONPATH=str(REPO_ROOT), DVC_NO_ANALYTICS="1")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for args in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"]):
        assert _run(args, tmp_path).returncode == 0
    _run([str(BIN / "dvc"), "config", "core.analytics", "false"], tmp_path)
    (tmp_path / "slow.py").write_text(SLOW_STAGE)
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "sleep_s").write_text("3")
    return tmp_path


def _start(project: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(BIN / "dvc"), "repro"],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: kill -9 reaches the stage too
    )
    deadline = time.monotonic() + 60
    while not (project / "started").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the stage never started"
        time.sleep(0.1)
    return process


def test_a_second_repro_is_refused_while_the_first_runs(project: Path) -> None:
    first = _start(project)
    second = _run([str(BIN / "dvc"), "repro"], project)
    assert second.returncode != 0
    assert "is busy, it is being blocked by" in second.stderr and "dvc repro" in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert (project / "out.txt").read_text() == "complete\n" * 1000
    assert "up to date" in _run([str(BIN / "dvc"), "status"], project).stdout


def test_repro_killed_mid_stage_then_rerun_completes(project: Path) -> None:
    first = _start(project)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert not (project / "out.txt").exists()  # nothing half-written was left as the output
    (project / "sleep_s").write_text("0")
    again = _run([str(BIN / "dvc"), "repro"], project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (project / "out.txt").read_text() == "complete\n" * 1000
    assert not [p for p in project.iterdir() if p.name.startswith(".out.txt.")]  # temporaries cleaned
