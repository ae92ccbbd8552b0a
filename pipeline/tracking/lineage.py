"""Which MLflow run in *this* tracking store holds the model that the DVC outputs hold.

``models/run.json`` names the run that trained the model. A clone that shares the DVC cache (a
teammate's ``dvc pull``) gets the model but not the trainer's tracking store, so that run is not
here. Then the model is logged once more under a new run of this store, tagged with the run it
came from, and registered from it: the stage says so instead of failing at its very end. A later
evaluate of the same model finds that run again (by the tag) and adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from pipeline.errors import GraphFuseError
from pipeline.redact import redact_text
from pipeline.tracking.runs import TrainingRun, start_run, tracking_error

ADOPTED_FROM = "graphfuse.adopted_from_run"
ADOPTED_MODEL_URI = "graphfuse.adopted_model_uri"


@dataclass(frozen=True)
class Lineage:
    """The run and model URI to log the evaluation onto and register; ``note`` when re-established."""

    run_id: str
    model_uri: str
    note: str = ""


def _exists(client: MlflowClient, run_id: str) -> bool:
    try:
        client.get_run(run_id)
        return True
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return False
        raise tracking_error(exc) from exc


def training_lineage(run_info: dict, model_dir: Path, graph_dir: Path, dataset_dir: Path, experiment: str) -> Lineage:
    """``run_info`` (models/run.json) as it is, when its run is in this store; else the run that
    holds this model here, logged now if no earlier evaluate did. Call after ``configure_tracking``."""
    run_id, model_uri = run_info["run_id"], run_info["model_uri"]
    client = MlflowClient()
    if _exists(client, run_id):
        return Lineage(run_id, model_uri)
    where = redact_text(mlflow.get_tracking_uri())
    home = mlflow.get_experiment_by_name(experiment)
    if home is None:
        raise GraphFuseError(f"{where}: no MLflow experiment {experiment!r} (configure_tracking sets it up first)")
    found = client.search_runs(
        [home.experiment_id],
        filter_string=f"tags.`{ADOPTED_FROM}` = '{run_id}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    if found:
        adopted = found[0]
        local_uri = adopted.data.tags[ADOPTED_MODEL_URI]
    else:  # tagged with its origin in the call that creates it: a kill leaves no unlabelled run
        with start_run(run_name=f"adopted-{run_id[:8]}", tags={ADOPTED_FROM: run_id}) as adopted:
            local_uri = TrainingRun(adopted).log_model(model_dir, graph_dir, dataset_dir)
            mlflow.set_tag(ADOPTED_MODEL_URI, local_uri)
    note = (
        f"the model's training run {run_id} (models/run.json) is not in this tracking store ({where}): "
        f"the model came through the DVC cache from another machine; it is logged here as run "
        f"{adopted.info.run_id} (tag {ADOPTED_FROM}) and registered from it"
    )
    return Lineage(adopted.info.run_id, local_uri, note)
