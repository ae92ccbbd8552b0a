"""The user's path end to end: ``graphfuse repro`` (``dvc repro`` on one Prefect server, as
``make run``) in a fresh git copy of this repo, a registry lookup by alias, a prediction, and a
second ``dvc repro`` that reruns nothing. The reproduced project is the session's shared one
(tests/shared_projects.py), which the deployment tests copy."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pipeline.stages import STAGES
from tests.conftest import write_countries_subset
from tests.helpers import BIN, project_env
from tests.project_copy import copy_project
from tests.project_copy import run_ok as _run
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo_copy(reproduced_project: Reproduced) -> tuple[Path, dict[str, str]]:
    """The repo's files in a new git repo on a 30-country slice, after `graphfuse repro`."""
    return reproduced_project.root, project_env()


def test_repro_runs_every_stage_of_a_fresh_project(reproduced_project: Reproduced) -> None:
    ran = [line.split("'")[1] for line in reproduced_project.output.splitlines() if "Running stage '" in line]
    assert sorted(ran) == sorted(STAGES)
    assert ran[0] == "validate" and ran[-1] == "evaluate"
    # ... from a shell whose PATH lacks the venv: DVC's bare `graphfuse stage` still found it
    assert str(BIN) not in reproduced_project.shell_path.split(os.pathsep)
    # `graphfuse repro` ran the stages after its warm process's imports in forks of it
    # (pipeline/ops/warm_stages.py); the first ones may run on their own while it imports.
    warm_log = (reproduced_project.root / ".prefect" / "warm-stages.log").read_text()
    assert "runs stage train in" in warm_log and "runs stage evaluate in" in warm_log, warm_log


def test_repro_produces_metrics_and_a_champion(repo_copy: tuple[Path, dict[str, str]]) -> None:
    root, env = repo_copy
    shown = _run([str(BIN / "dvc"), "metrics", "show"], root, env).stdout
    # the headline alone, in one table a terminal shows whole (issue 19: it was ~180 columns wide);
    # the per-class figures, the graph's and the ablation's are in their own files
    assert "metrics/metrics.json" in shown and "test.f1_sd" in shown and "per_class" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 100, shown
    assert "Africa" in (root / "metrics/metrics_detail.json").read_text()
    summary = _run([str(BIN / "graphfuse"), "metrics"], root, env).stdout
    assert "test" in summary and "now champion" in summary


def test_plots_render_offline_and_diff_across_revisions(repo_copy: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """`dvc plots show` used DVC's page, which loads Vega from a CDN: blank plots offline (issue 19)."""
    root, env = repo_copy
    _run([str(BIN / "dvc"), "plots", "show", "-o", str(tmp_path / "show")], root, env)
    page = (tmp_path / "show" / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>", page, flags=re.IGNORECASE)
    assert scripts and not [tag for tag in scripts if re.search(r"src\s*=\s*[\"']?\s*(https?:)?//", tag, re.I)]
    assert not re.search(r"<link\b[^>]*href\s*=\s*[\"']?(https?:)?//", page, flags=re.IGNORECASE)
    assert "vegaEmbed" in page and 'var e="5.20.2"' in page  # the Vega plots, with Vega inlined ...
    assert 'src="static/workspace_plots_confusion_test.png"' in page  # ... and the images beside them
    assert (tmp_path / "show" / "static" / "workspace_plots_confusion_test.png").is_file()
    # `dvc plots diff` draws the committed training history against this run's on the same page
    _run([str(BIN / "dvc"), "plots", "diff", "HEAD", "-o", str(tmp_path / "diff")], root, env)
    diff = (tmp_path / "diff" / "index.html").read_text()
    assert '"rev": "HEAD"' in diff and '"rev": "workspace"' in diff and "<script src" not in diff


def test_predict_from_the_registry_by_alias(repo_copy: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = repo_copy
    out = tmp_path / "preds.csv"  # the shared project stays as `graphfuse repro` left it
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
    metrics = json.loads((root / "metrics/metrics_detail.json").read_text())
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


def test_a_second_graphfuse_repro_reruns_nothing_and_leaves_no_server(repo_copy: tuple[Path, dict[str, str]]) -> None:
    """Nothing to reproduce: DVC ends before the Prefect server answers, and the command stops the
    server mid-start instead of waiting for it, leaving no process and no half-copied database."""
    root, env = repo_copy
    result = _run([str(BIN / "graphfuse"), "repro"], root, env)
    assert "Running stage" not in result.stdout
    assert "Data and pipelines are up to date" in result.stdout
    assert not list((root / ".prefect").glob(".prefect-db-*"))
    assert not _prefect_servers_of(root)


def _prefect_servers_of(root: Path) -> list[int]:
    """The Prefect server processes still running with ``root``'s Prefect home."""
    home = f"PREFECT_HOME={root / '.prefect'}".encode()
    found = []
    for pid in subprocess.run(["pgrep", "-f", "prefect_server_process"], capture_output=True, text=True).stdout.split():
        try:
            if home in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(int(pid))
        except OSError:  # ended meanwhile
            pass
    return found


def test_editing_a_model_layer_reruns_only_train_and_evaluate(reproduced_project: Reproduced, tmp_path: Path) -> None:
    """dvc.yaml's code deps come from the imports (`graphfuse dvc-deps`): a GNN layer is code of
    train and evaluate only, so editing one must not re-encode every text and image."""
    root = copy_project(reproduced_project.root, tmp_path / "copy")
    layer = root / "pipeline" / "models" / "backbone_gcn.py"
    layer.write_text(layer.read_text() + "\n# an edit\n")

    status = json.loads(_run([str(BIN / "dvc"), "status", "--json"], root, project_env()).stdout)

    assert sorted(status) == ["evaluate", "train"], status


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
