"""Links between an MLflow run and the Prefect flow run that caused it, both ways.

The orchestrating flow passes its flow run's id and URL to the stage processes through the
environment; :func:`orchestrator_tags` turns them into run tags, and :func:`record_failure`
marks the run of a failed flow run FAILED with the stage and its located error.
"""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient
from mlflow.entities import RunStatus

from pipeline.run_context import ENV_FLOW_RUN_ID, ENV_FLOW_RUN_URL, flow_run_id, flow_run_url  # noqa: F401 - re-exported

TAG_FLOW_RUN_ID = "prefect.flow_run_id"
TAG_FLOW_RUN_URL = "prefect.flow_run_url"
TAG_FAILED_STAGE = "graphfuse.failed_stage"
TAG_ERROR = "graphfuse.error"
_NOTE = "mlflow.note.content"  # the run's description in the MLflow UI


def orchestrator_tags() -> dict[str, str]:
    """The tags to put on a run started under an orchestrated flow run (none otherwise)."""
    tags = {TAG_FLOW_RUN_ID: flow_run_id(), TAG_FLOW_RUN_URL: flow_run_url()}
    return {k: v for k, v in tags.items() if v}


def runs_of_flow_run(flow_run_id: str, experiment: str) -> list[str]:
    """Ids of the MLflow runs tagged with this flow run, newest first."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = MlflowClient().search_runs(
        [found.experiment_id], filter_string=f"tags.`{TAG_FLOW_RUN_ID}` = '{flow_run_id}'", order_by=["start_time DESC"]
    )
    return [run.info.run_id for run in runs]


def record_failure(flow_run_id: str, flow_run_url: str | None, experiment: str, stage: str, message: str) -> str:
    """Mark the flow run's MLflow run FAILED (creating one when the failing stage came before any
    run existed), with the stage and the located error as tags and as its description."""
    client = MlflowClient()
    existing = runs_of_flow_run(flow_run_id, experiment)
    if existing:
        run_id = existing[0]
    else:
        found = mlflow.get_experiment_by_name(experiment)  # none yet when a first stage failed on a new store
        experiment_id = found.experiment_id if found is not None else client.create_experiment(experiment)
        tags = {TAG_FLOW_RUN_ID: flow_run_id} | ({TAG_FLOW_RUN_URL: flow_run_url} if flow_run_url else {})
        run_id = client.create_run(experiment_id, run_name=f"failed-{stage}", tags=tags).info.run_id
    client.set_tag(run_id, TAG_FAILED_STAGE, stage)
    client.set_tag(run_id, TAG_ERROR, message[:4900])  # MLflow caps tag values at 5000 characters
    client.set_tag(run_id, _NOTE, f"stage `{stage}` failed:\n\n{message}")
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
    return run_id


def run_link(run_id: str, experiment: str, tracking_uri: str) -> str:
    """A URL to the run in the MLflow UI when there is a server, else how to open it."""
    found = mlflow.get_experiment_by_name(experiment)
    if tracking_uri.startswith(("http://", "https://")) and found is not None:
        return f"{tracking_uri.rstrip('/')}/#/experiments/{found.experiment_id}/runs/{run_id}"
    return f"run {run_id} (`mlflow ui --backend-store-uri {tracking_uri}`)"
