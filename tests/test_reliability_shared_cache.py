"""A second clone that shares the DVC cache (what `dvc pull` gives a teammate) reproduces and
predicts without errors (issue 16.3). Its tracking store does not hold the run that
``models/run.json`` names, so evaluate logs the model here anew, says so, and registers it from
that run; before, it failed at its very end, after overwriting metrics, plots and the report."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ops import stage_host
from tests.helpers import BIN, project_env, store_client
from tests.project_copy import GIT, copy_project, run_ok
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e

#: What the first machine commits after `dvc repro` (cache: false outputs git carries, and the lock).
COMMITTED = ("dvc.lock", "metrics/metrics.json", "metrics/metrics_detail.json", "metrics/training_history.csv")


def _teammate_clone(first: Path, dest: Path) -> Path:
    """A `git clone` of the first machine's project at its reproduced commit, using its DVC cache."""
    subprocess.run(["git", "clone", "-q", str(first), str(dest)], check=True, capture_output=True)
    for name in COMMITTED:
        shutil.copy2(first / name, dest / name)
    subprocess.run([*GIT, "add", "-f", *COMMITTED], cwd=dest, check=True, capture_output=True)
    subprocess.run([*GIT, "commit", "-qm", "reproduced on the first machine"], cwd=dest, check=True)
    cache = str((first / ".dvc" / "cache").resolve())
    run_ok([str(BIN / "dvc"), "cache", "dir", "--local", cache], dest, project_env())
    return dest


@pytest.fixture
def clones(reproduced_project: Reproduced, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The first machine's project (a copy: the clone writes to its cache) and the teammate's clone."""
    first = copy_project(reproduced_project.root, tmp_path / "first")
    clone = _teammate_clone(first, tmp_path / "teammate")
    yield first, clone
    stage_host.stop(clone)  # the stage host its first stage left (HOST_ENV)


#: The teammate's plain `dvc repro` as it runs by default: its first lone stage leaves a stage host
#: (params.yaml's orchestration.stage_host_idle_s, which the suite turns off: tests/conftest.py), so
#: the forced evaluate forks from it instead of starting a Prefect server and importing torch again.
HOST_ENV = {stage_host.IDLE_ENV: "30"}


def test_a_clone_sharing_the_dvc_cache_reproduces_and_predicts(clones: tuple[Path, Path], tmp_path: Path) -> None:
    first, clone = clones
    env = project_env(**HOST_ENV)
    repro = run_ok([str(BIN / "dvc"), "repro"], clone, env)
    output = repro.stdout + repro.stderr
    assert "Running stage 'evaluate'" in output  # its cache: false outputs are not in the cache
    assert "Running stage 'train'" not in output  # the model came from the shared cache
    assert "is not in this tracking store" in output and "registered from it" in output

    registry = json.loads((clone / "metrics" / "registry.json").read_text())
    assert registry["version"] == 1 and registry["promoted"] and "came through the DVC cache" in registry["lineage"]
    trained_by = json.loads((clone / "models" / "run.json").read_text())["run_id"]
    store = store_client(f"sqlite:///{clone / 'mlflow.db'}")
    champion = store.get_model_version_by_alias("graphfuse", "champion")
    adopted = store.get_run(champion.run_id)
    assert adopted.data.tags["graphfuse.adopted_from_run"] == trained_by and adopted.info.status == "FINISHED"
    assert json.loads((clone / "metrics" / "metrics.json").read_text()) == json.loads(
        (first / "metrics" / "metrics.json").read_text()
    )

    again = run_ok([str(BIN / "dvc"), "repro", "--force", "--single-item", "evaluate"], clone, env)
    assert "nothing registered" in (clone / "metrics" / "registry.json").read_text(), again.stdout
    runs = store.search_runs([adopted.info.experiment_id], f"tags.`graphfuse.adopted_from_run` = '{trained_by}'")
    assert len(runs) == 1, "a second evaluate logged the model again"

    out = tmp_path / "preds.csv"
    command = ["predict", "--model", "models:/graphfuse@champion", "--dataset", "data/raw/small", "--out", str(out)]
    run_ok([str(BIN / "graphfuse"), *command], clone, env)
    nodes = pd.read_csv(clone / "data/raw/small/nodes.csv", keep_default_na=False)
    assert list(pd.read_csv(out, keep_default_na=False)["node_id"]) == list(nodes["node_id"])
