"""Running the project the ways a user does, in fresh temporary copies, for ``orchestration.py``.

Kept apart from the benchmark's rows so each file stays small: copying a checkout into a new git
repo, the user's environment, and timing a repro stage by stage from DVC's own output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
#: The per-stage table's rows for a repro's own start and stop (see :func:`timed_repro`).
START, STOP = "(start)", "(stop)"


def env(root: Path) -> dict[str, str]:
    """A user's shell: no developer MLflow/Prefect settings, the venv on PATH, ``root``'s code first."""
    # PYTHONDONTWRITEBYTECODE (set on some CI and sandbox machines, not in a user's shell): each new
    # process of a repro way would compile the project's modules from source, the plain process once.
    dropped = ("MLFLOW_", "PREFECT_", "PYTHONDONTWRITEBYTECODE")
    out = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    out.update(PATH=f"{BIN}{os.pathsep}{out.get('PATH', '')}", CI="1", PYTHONPATH=str(root))
    out.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DO_NOT_TRACK="1")
    return out


def run(args: list[str], root: Path) -> tuple[float, str]:
    """Wall seconds of one command and its output; a failure ends the benchmark with its output."""
    start = time.perf_counter()
    result = subprocess.run(args, cwd=root, env=env(root), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {root}:\n{result.stdout}\n{result.stderr}")
    return seconds, result.stdout + result.stderr


def copy_project(source: Path, dest: Path, dataset: str | None, settings: dict[str, object] | None = None) -> Path:
    """``source``'s files as git sees them, in a new committed git repo (nothing shared, no outputs).

    ``settings`` (dotted params.yaml keys, e.g. ``{"train.search": "off"}``) are written into the
    copy's params.yaml before its first commit, so every way measures the same pipeline."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
    if changes := {**({"dataset.dir": dataset} if dataset else {}), **(settings or {})}:
        from pipeline.params_file import set_params  # as `graphfuse init` sets keys: comments kept, checked

        set_params(dest / "params.yaml", changes)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "copy"]):
        subprocess.run(args, cwd=dest, check=True, capture_output=True)
    return dest


def has_repro_command(root: Path) -> bool:
    """Whether the checkout has ``graphfuse repro`` (older ones only have plain ``dvc repro``)."""
    command = [str(BIN / "graphfuse"), "repro", "--help"]
    return subprocess.run(command, cwd=root, env=env(root), capture_output=True).returncode == 0


def timed_repro(root: Path, command: list[str]) -> tuple[float, dict[str, float]]:
    """Run a repro command, timing each stage from its 'Running stage' line to the next one."""
    start = time.perf_counter()
    marks: list[tuple[str, float]] = []
    with subprocess.Popen(
        command, cwd=root, env=env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        lines, last_line = [], start
        for line in process.stdout:
            lines.append(line)
            last_line = time.perf_counter()
            found = re.search(r"Running stage '([^']+)'", line)
            if found:
                marks.append((found.group(1), last_line))
    total = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{''.join(lines)}")
    ends = [t for _, t in marks[1:]] + [last_line]
    per_stage = {name: end - begin for (name, begin), end in zip(marks, ends, strict=True)}
    # What the command costs around DVC's stages: its start up to the first stage, its stop after
    # DVC's last line (a `graphfuse repro` stops its servers there; plain DVC leaves the host idling).
    return total, per_stage | {START: marks[0][1] - start if marks else 0.0, STOP: start + total - last_line}


def exit_gap(root: Path, stage: str) -> tuple[float, float]:
    """``graphfuse stage STAGE`` on its own (its own temporary Prefect server, as plain ``dvc repro``
    runs it): seconds from its last output line to its exit, and its whole wall time."""
    start = time.perf_counter()
    command = [str(BIN / "graphfuse"), "stage", stage]
    with subprocess.Popen(
        command, cwd=root, env=env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        lines, last_line_at = [], time.perf_counter()
        for line in process.stdout:
            lines.append(line)
            last_line_at = time.perf_counter()
        code = process.wait()
    end = time.perf_counter()
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed in {root}:\n{''.join(lines)}")
    return end - last_line_at, end - start
