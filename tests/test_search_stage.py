"""`train.search: auto` through the real pipeline: DVC reruns train and evaluate, the registered
model is the ensemble, trials are MLflow child runs, and predict, spread and ablation use it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import BIN, project_env, store_client
from tests.project_copy import copy_project, run_ok
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e

SEARCH = {
    "search": "auto",
    "search_trials": 3,
    "search_folds": 2,
    "search_top": 3,
    "search_rounds": 3,
    "max_epochs": 10,  # the pruner looks from epoch 10 on: no trial is pruned, and 5 trials x 2 folds stay cheap
    "patience": 5,
}


def test_search_registers_an_ensemble_that_evaluate_and_predict_use(
    reproduced_project: Reproduced,
    tmp_path: Path,
) -> None:
    root = copy_project(reproduced_project.root, tmp_path / "graphfuse")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"].update(SEARCH)
    # two seeds: every member retrained per seed; no t-SNE map (not looked at here: test_zoo_pipeline's)
    params["evaluate"].update(seeds=2, embedding_map=False)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = project_env()
    output = run_ok([str(BIN / "graphfuse"), "repro"], root, env)
    assert "Running stage 'train'" in output.stdout + output.stderr

    report = json.loads((root / "metrics/search.json").read_text())
    assert report["selection"] == "cv" and report["trials_completed"] >= 2  # a few val nodes: folds
    assert report["final_score"] >= report["ensemble_score"] >= report["best_candidate"]["score"]
    model = json.loads((root / "models/model.json").read_text())["config"]
    assert model["architecture"] == "ensemble"
    assert [m["name"] for m in model["members"]] == [m["name"] for m in report["members"]]
    assert len(model["members"]) > 1  # several trials mixed, not the best one alone
    assert (root / ".cache/graphfuse/search/studies.db").is_file()  # the stored study, outside DVC

    metrics = json.loads((root / "metrics/metrics.json").read_text())
    assert metrics["seeds"] == 2  # every member retrained per seed

    run_id = json.loads((root / "models/run.json").read_text())["run_id"]
    client = store_client(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_run(run_id).info.experiment_id
    trials = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    # train's recipe on all modalities, on each of the 3 alone, and the MLP: the baselines run whatever the budget
    assert len(trials) == 5 and all("selection_score" in t.data.metrics for t in trials)
    assert {"search.json"} <= {a.path for a in client.list_artifacts(run_id)}

    out = tmp_path / "preds.csv"
    run_ok(
        [str(BIN / "graphfuse"), "predict", "--model", "models", "--dataset", "data/raw/small", "--out", str(out)],
        root,
        env,
    )
    predictions = pd.read_csv(out, keep_default_na=False)
    assert len(predictions) == len(pd.read_csv(root / "data/raw/small/nodes.csv"))
