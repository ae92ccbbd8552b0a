"""The user's path end to end: ``dvc repro`` in a fresh git copy of this repo, a registry lookup
by alias, a prediction, and a second ``dvc repro`` that reruns nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT, write_countries_subset
from tests.project_copy import run_ok as _run
from tests.project_copy import tracked_files

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The repo's files in a new git repo, with params pointing at a 30-country slice."""
    root = tmp_path_factory.mktemp("repo") / "graphfuse"
    for name in tracked_files(leave_out="data/raw/countries/images/"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, root / name)
    shutil.rmtree(root / "data" / "raw" / "countries")
    write_countries_subset(root / "data" / "raw" / "small", per_class=6)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["dataset"]["dir"] = "data/raw/small"
    params["train"].update(max_epochs=60, patience=20)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["CI"] = "1"
    # Users' Pythons write __pycache__ next to the code that stages depend on; that must not
    # count as a change (see .dvcignore), so the test lets bytecode be written.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    _run(["git", "init", "-q"], root, env)
    _run(git + ["add", "-A"], root, env)
    _run(git + ["commit", "-qm", "copy"], root, env)
    # What `make run` does: `dvc repro` with every stage on one Prefect server (`graphfuse repro`).
    _run([str(BIN / "graphfuse"), "repro"], root, env)
    return root, env


def test_repro_produces_metrics_and_a_champion(repo_copy: tuple[Path, dict[str, str]]) -> None:
    root, env = repo_copy
    shown = _run([str(BIN / "dvc"), "metrics", "show"], root, env).stdout
    assert "metrics/metrics.json" in shown and "test.accuracy" in shown
    assert "metrics/graph.json" in shown and "homophily_train.all" in shown
    summary = _run([str(BIN / "graphfuse"), "metrics"], root, env).stdout
    assert "test" in summary and "now champion" in summary


def test_predict_from_the_registry_by_alias(repo_copy: tuple[Path, dict[str, str]]) -> None:
    root, env = repo_copy
    out = root / "preds.csv"
    _run(
        [
            str(BIN / "graphfuse"),
            "predict",
            "--model",
            "models:/graphfuse@champion",
            "--dataset",
            "data/raw/small",
            "--out",
            str(out),
        ],
        root,
        env,
    )
    predictions = pd.read_csv(out, keep_default_na=False)
    nodes = pd.read_csv(root / "data/raw/small/nodes.csv", keep_default_na=False)
    assert list(predictions["node_id"]) == list(nodes["node_id"])
    assert set(predictions["predicted"]) <= {"Africa", "Americas", "Asia", "Europe", "Oceania"}

    # The registered model, fed the raw folder again, reproduces evaluate's numbers exactly.
    split = pd.read_parquet(root / "data/processed/dataset/nodes.parquet")["__graphfuse_split__"]
    metrics = json.loads((root / "metrics/metrics.json").read_text())
    for name in ("val", "test"):
        rows = (split == name).to_numpy()
        accuracy = float((predictions["label"][rows] == predictions["predicted"][rows]).mean())
        assert round(accuracy, 4) == metrics[name]["accuracy"]


def test_second_repro_reruns_nothing(repo_copy: tuple[Path, dict[str, str]]) -> None:
    root, env = repo_copy
    result = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage" not in result.stdout
    assert "Data and pipelines are up to date" in result.stdout
    status = _run([str(BIN / "dvc"), "status"], root, env).stdout
    assert "up to date" in status


def test_a_bad_dataset_fails_the_stage_with_its_location(
    repo_copy: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = repo_copy
    bad = write_countries_subset(tmp_path / "bad", per_class=3)
    edges = (bad / "edges.csv").read_text() + "XXX,FRA\n"
    (bad / "edges.csv").write_text(edges)
    result = subprocess.run(
        [str(BIN / "graphfuse"), "validate", str(bad)], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "edges.csv" in result.stderr and "XXX" in result.stderr
