"""The operations face of ``graphfuse`` (issue 19): --version, `schedule` with `serve` kept as a
deprecated alias, `metrics --json` with no torch import (issue 16 item 13), `compare`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.stages.headline import headline

pytestmark = pytest.mark.unit

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
METRICS = {
    "val": {"accuracy": 0.9, "macro_f1": 0.85, "n": 49, "per_class": {"Asia": {"f1": 0.8}}},
    "test": {"accuracy": 0.88, "macro_f1": 0.84, "n": 50, "per_class": {"Asia": {"f1": 0.7}}},
    "spread": {"n_seeds": 5, "test": {"macro_f1": {"mean": 0.83, "sd": 0.02}}, "val": {}},
}


def _project(root: Path) -> Path:
    (root / "metrics").mkdir(parents=True)
    (root / "metrics" / "metrics_detail.json").write_text(json.dumps(METRICS))
    (root / "metrics" / "metrics.json").write_text(json.dumps(headline(METRICS, "macro_f1")))
    registry = {"model_name": "graphfuse", "version": 3, "metric": "val_macro_f1", "value": 0.85, "promoted": False}
    registry |= {"previous_champion": 2, "alias": "challenger", "reason": "within noise", "test": {"p_value": 0.25}}
    (root / "metrics" / "registry.json").write_text(json.dumps(registry))
    return root


def test_version_and_the_schedule_command_with_its_deprecated_alias() -> None:
    runner = CliRunner()
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("graphfuse 0.")
    top = runner.invoke(app, ["--help"], terminal_width=200).output
    assert "schedule" in top and "(deprecated)" in top
    assert "Example: graphfuse schedule" in runner.invoke(app, ["schedule", "--help"], terminal_width=200).output
    old = runner.invoke(app, ["serve", "--help"], terminal_width=200).output
    assert "--cron" in old and "graphfuse schedule" in old  # the same options, pointing at the new name


def test_metrics_json_is_the_headline_and_the_registry_verdict(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["metrics", "--json", "--root", str(_project(tmp_path))])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["test"] == {"accuracy": 0.88, "macro_f1": 0.84, "n": 50}  # no per-class detail
    assert shown["spread"]["test"]["macro_f1"]["sd"] == 0.02 and shown["registry"]["test"]["p_value"] == 0.25


def test_metrics_loads_neither_torch_nor_mlflow(tmp_path: Path) -> None:
    """It read two file names from the evaluate stage, and so imported torch: 11-19 s."""
    code = (
        "import sys; from typer.testing import CliRunner; from pipeline.cli import app; "
        f"r = CliRunner().invoke(app, ['metrics', '--root', {str(_project(tmp_path))!r}]); "
        "assert r.exit_code == 0, r.output; print(sorted(m for m in ('torch', 'mlflow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_compare_prints_what_differs_between_the_workspace_and_a_revision(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": 0.005, "seed": 0}}))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "base"], cwd=root, check=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": 0.01, "seed": 0}}))

    result = CliRunner().invoke(app, ["compare", "workspace", "HEAD", "--root", str(root)], terminal_width=200)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["workspace", "HEAD"]
    assert "params that differ" in lines[1] and lines[2].split() == ["train.lr", "0.01", "0.005"]
    assert "train.seed" not in result.output  # the same in both: not shown
    assert any(line.split()[:4] == ["macro_f1", "0.830", "±", "0.020"] for line in lines)
    missing = CliRunner().invoke(app, ["compare", "nope", "--root", str(root)])
    assert missing.exit_code == 1 and "neither a DVC experiment" in missing.output
