"""The whole pipeline as one Prefect flow of stage subflows, for deployments and ad-hoc runs.

``dvc repro`` remains the way to rerun only what changed; this flow always runs every stage.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.stage_flows import STAGE_FLOWS
from pipeline.stages import STAGES


@flow(name="graphfuse-pipeline")
def pipeline_flow(params_file: str = "params.yaml", root: str = ".") -> dict[str, dict] | State:
    """Every stage in dvc.yaml's order; the first failing stage ends the run with its message."""
    summaries: dict[str, dict] = {}
    for name in STAGES:
        state = STAGE_FLOWS[name](params_file=params_file, root=root, return_state=True)
        if state.is_failed():
            return state
        summaries[name] = state.result()
    return summaries
