"""Which orchestrated run a stage runs under, passed down through the environment under one name.

The deployment flow sets both variables for its whole ``dvc repro``; a stage flow sets the id to its
own run when nothing outer did. Tracking reads them (registry provenance and MLflow run tags alike)
without importing Prefect.
"""

from __future__ import annotations

import os

ENV_FLOW_RUN_ID = "GRAPHFUSE_FLOW_RUN_ID"
ENV_FLOW_RUN_URL = "GRAPHFUSE_FLOW_RUN_URL"


def flow_run_id() -> str | None:
    """The flow run this runs under (``$GRAPHFUSE_FLOW_RUN_ID``), or None outside one."""
    return os.environ.get(ENV_FLOW_RUN_ID) or None


def flow_run_url() -> str | None:
    return os.environ.get(ENV_FLOW_RUN_URL) or None
