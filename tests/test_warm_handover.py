"""Row 6 of the benchmark (issue 16): what a stage costs beyond its work under a warm server.

- ``graphfuse stage NAME`` hands itself over before typer, pydantic and the command groups load
  (they cost ~0.45 s of each of a repro's eight stages).
- The server listens at once and forks a waiting stage between two of its preload imports, so the
  first stage does not wait for imports only later stages need.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipeline.ops.warm_stages import ENV_VAR, LOG_NAME, PRELOAD_ENV_VAR, supported, wait_ready, warm_server
from tests.helpers import BIN, project_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not supported(), reason="warm stages need Linux (fork, SCM_RIGHTS, pidfd)"),
]

SLOW_IMPORT_S = 12
# The preload's first module: its import returns once a stage command is waiting on the server's
# socket (a listening socket reads as ready when a connection is pending). So the stage always
# arrives before the imports it does not need, however slowly a loaded machine starts it: without
# this gate the test raced the stage command's start against the first preload import.
GATE = """
import gc, select, socket, sys
path = sys.argv[-1]
(listener,) = [s for s in gc.get_objects() if isinstance(s, socket.socket) and s.family == socket.AF_UNIX
               and s.fileno() >= 0 and s.getsockname() == path]
select.select([listener], [], [], 120)
"""


@pytest.fixture(scope="module")
def slow_warm(prefect_api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """A warm server whose preload waits for a stage, then imports validate, then a module that
    takes 12 s to import."""
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("slow-warm")
    (root / "modules").mkdir()
    (root / "modules" / "slow_to_import.py").write_text(f"import time\ntime.sleep({SLOW_IMPORT_S})\n")
    (root / "modules" / "wait_for_a_stage.py").write_text(GATE)
    preload = "wait_for_a_stage,pipeline.stages.validate,slow_to_import"
    env = project_env(PREFECT_API_URL=str(PREFECT_API_URL.value()), **{PRELOAD_ENV_VAR: preload})
    env["PYTHONPATH"] = f"{root / 'modules'}:{env.get('PYTHONPATH', '')}"
    with warm_server(root, env, root) as pointer:
        assert wait_ready(pointer[ENV_VAR]), (root / LOG_NAME).read_text()
        yield env | pointer, root / LOG_NAME


def _stage(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "graphfuse"), "stage", "validate"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)


def _project(tmp_path: Path, dataset: Path) -> Path:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"dataset": {"dir": str(dataset)}}))
    return tmp_path


def test_a_stage_runs_while_the_server_still_imports_what_later_stages_need(
    slow_warm: tuple[dict[str, str], Path], tmp_path: Path, small_countries: Path
) -> None:
    env, log = slow_warm
    project = _project(tmp_path, small_countries)
    result = _stage(project, env)

    assert result.returncode == 0, result.stdout + result.stderr
    text = log.read_text()
    forked = re.search(rf"runs stage validate in {re.escape(str(project))}$", text, re.MULTILINE)
    assert forked, text
    # It ran in a warm fork before the slow import ended (the log's order, not a clock).
    assert "every preload imported" not in text[: forked.start()], text


def test_the_stage_command_hands_over_before_the_command_line_layer_loads(
    slow_warm: tuple[dict[str, str], Path], tmp_path: Path, small_countries: Path
) -> None:
    env, log = slow_warm
    project = _project(tmp_path, small_countries)

    # -X importtime prints every module the command's own process imports to its stderr; the
    # warm child shares that stderr but imports nothing new for the command line (its parent did).
    result = _stage(project, env | {"PYTHONPROFILEIMPORTTIME": "1"})

    assert result.returncode == 0, result.stdout + result.stderr
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", result.stderr, re.MULTILINE))
    assert "pipeline.ops.warm_client" in imported
    assert not imported & {"typer", "pydantic", "pipeline.cli", "pipeline.config", "prefect"}
