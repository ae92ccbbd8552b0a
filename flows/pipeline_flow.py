"""The whole pipeline as one Prefect flow of stage subflows, for deployments and ad-hoc runs.

``dvc repro`` remains the way to rerun only what changed; this flow always runs every stage.
"""

from __future__ import annotations

from prefect import flow

from flows.stage_flows import STAGE_FLOWS
from pipeline.stages import STAGES


@flow(name="graphfuse-pipeline")
def pipeline_flow(params_file: str = "params.yaml", root: str = ".") -> dict[str, dict]:
    return {name: STAGE_FLOWS[name](params_file=params_file, root=root) for name in STAGES}
