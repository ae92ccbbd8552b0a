"""`graphfuse compare`'s reader of DVC experiments and revisions as git keeps them (the MLflow
reader is tested in test_registry.py, on that module's SQLite store)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.comparison import differing_params
from pipeline.errors import GraphFuseError
from pipeline.ops.dvc_experiment import experiment_to_compare
from pipeline.stages.headline import headline

pytestmark = pytest.mark.unit

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


def test_dvc_experiments_and_revisions_side_by_side(tmp_path: Path) -> None:
    def commit(lr: float, f1: float, split_files: bool) -> None:
        (tmp_path / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": lr, "seed": 0}}))
        figures = {"test": {"macro_f1": f1, "n": 49, "per_class": {}}, "spread": {"n_seeds": 5, "test": {}, "val": {}}}
        (tmp_path / "metrics").mkdir(exist_ok=True)
        if split_files:  # the headline apart from every figure, as the evaluate stage writes them now
            (tmp_path / "metrics" / "metrics_detail.json").write_text(json.dumps(figures))
            (tmp_path / "metrics" / "metrics.json").write_text(json.dumps(headline(figures, "macro_f1")))
        else:  # a commit from before: metrics.json held every figure
            (tmp_path / "metrics" / "metrics.json").write_text(json.dumps(figures))
        subprocess.run([*GIT, "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run([*GIT, "commit", "-qm", f"lr {lr}"], cwd=tmp_path, check=True)

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    commit(0.01, 0.8, split_files=False)
    commit(0.02, 0.9, split_files=True)
    # what `dvc exp run` leaves: a ref under refs/exps/ named after the experiment
    head = subprocess.run(["git", "rev-parse", "HEAD~1"], cwd=tmp_path, capture_output=True, text=True).stdout
    subprocess.run(["git", "update-ref", "refs/exps/ab/cdef/graphfuse-1234", head.strip()], cwd=tmp_path, check=True)

    runs = [experiment_to_compare(tmp_path, name) for name in ("workspace", "graphfuse-1234")]
    assert [run.single["test"]["macro_f1"] for run in runs] == [0.9, 0.8]
    assert "per_class" not in runs[0].single["test"] and runs[0].n_seeds == 5
    assert differing_params(runs) == {"train.lr": ["0.02", "0.01"]}
    with pytest.raises(GraphFuseError, match="neither a DVC experiment"):
        experiment_to_compare(tmp_path, "no-such-thing")
