"""Team mode end to end on real servers: PostgreSQL behind MLflow and Prefect, a process worker, a
DVC remote; deploy, trigger with `run_deployment`, then look the champion up from another process."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pandas as pd
import psutil
import pytest

from pipeline.ops.team import postgres_available
from tests.project_copy import BIN, make_project, project_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not postgres_available(), reason="PostgreSQL is not installed (`apt-get install postgresql`; .ci/run does)"
    ),
]


def _ok(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def test_deploy_trigger_and_look_up_the_champion_on_the_team_stack(tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    root = make_project(tmp_path / "graphfuse", per_class=4)
    password = "pw-" + secrets.token_hex(8)
    env = project_env(GRAPHFUSE_DB_PASSWORD=password)
    up = _ok([str(BIN / "graphfuse"), "team", "up"], root, env)
    try:
        settings = dict(
            line.strip().removeprefix("export ").split("=", 1) for line in up.stdout.splitlines() if "export " in line
        )
        assert settings["PREFECT_API_URL"].startswith("http://127.0.0.1:")
        assert settings["MLFLOW_TRACKING_URI"].startswith("http://127.0.0.1:")
        client = project_env(**settings)
        _ok([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], root, client)

        with temporary_settings({PREFECT_API_URL: settings["PREFECT_API_URL"]}):
            run = run_deployment(
                "graphfuse-repro/nightly", parameters={"push": True}, timeout=900, poll_interval=2, as_subflow=False
            )
        assert run.state.is_completed(), run.state.message
        assert any((root / ".team" / "dvc-remote").rglob("*")), "dvc push sent nothing to the remote"

        # Another process, elsewhere, knowing only the tracking server's URL.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        out = elsewhere / "preds.csv"
        predict = [str(BIN / "graphfuse"), "predict", "--model", "models:/graphfuse@champion"]
        _ok([*predict, "--dataset", str(root / "data/raw/small"), "--out", str(out)], elsewhere, client)
        predictions = pd.read_csv(out, keep_default_na=False)
        assert len(predictions) == 20 and set(predictions["predicted"]) <= {
            "Africa",
            "Americas",
            "Asia",
            "Europe",
            "Oceania",
        }
        assert not (elsewhere / "mlflow.db").exists()  # it used the server, not an embedded store

        logs = "".join(p.read_text(errors="replace") for p in (root / ".team").glob("*.log"))
        assert password not in logs + up.stdout + up.stderr  # the secret is never printed or logged
    finally:
        status = subprocess.run([str(BIN / "graphfuse"), "team", "status"], cwd=root, env=env, capture_output=True)
        pids = [int(line.split()[2]) for line in status.stdout.decode().splitlines() if " pid " in line]
        _ok([str(BIN / "graphfuse"), "team", "down"], root, env)
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
