"""The search's records in MLflow: each trial a child run of the train run, the report an artifact."""

from __future__ import annotations

import time
from typing import Any

import mlflow
from mlflow.entities import Metric, Param
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

REPORT_ARTIFACT = "search.json"


def log_trial_run(number: int, params: dict[str, Any], metrics: dict[str, float], state: str) -> None:
    """One finished (or pruned, or failed) trial as a child run of the active train run: its
    choices as params, its selection score as a metric, its Optuna state as a tag."""
    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("a search trial is logged inside the train run")
    client = mlflow.MlflowClient()
    run = client.create_run(
        parent.info.experiment_id,
        run_name=f"trial-{number}",
        tags={MLFLOW_PARENT_RUN_ID: parent.info.run_id, "graphfuse.trial": str(number), "graphfuse.trial_state": state},
    )
    stamp = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    client.set_terminated(run.info.run_id, status="FINISHED" if state == "COMPLETE" else "KILLED")


def log_search_report(report: dict[str, Any]) -> None:
    """The search's report (members, weights, selection scores) on the active train run."""
    mlflow.log_dict(report, REPORT_ARTIFACT)
