"""Runs left ``RUNNING`` by a process that died (``kill -9``, OOM, power) are closed at the next start.

MLflow cannot tell a crashed run from a live one, so every run GraphFuse opens records who owns
it (host, process id and the process' start time). At the next start, a ``RUNNING`` run whose
owner on this host no longer exists is marked ``KILLED`` with a tag saying why; runs owned by a
live process or by another host are left alone.
"""

from __future__ import annotations

import os
import socket

import mlflow
import psutil
from mlflow import MlflowClient

OWNER_HOST = "graphfuse.owner.host"
OWNER_PID = "graphfuse.owner.pid"
OWNER_STARTED = "graphfuse.owner.started"
CLOSED_BECAUSE = "graphfuse.closed_because"


def _started(pid: int) -> str | None:
    try:
        return f"{psutil.Process(pid).create_time():.3f}"
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the owner of the active run."""
    pid = os.getpid()
    return {OWNER_HOST: socket.gethostname(), OWNER_PID: str(pid), OWNER_STARTED: _started(pid) or ""}


def _owner_alive(tags: dict[str, str]) -> bool:
    pid = tags.get(OWNER_PID)
    if not pid or not pid.isdigit():
        return True  # not ours to judge
    started = _started(int(pid))
    return started is not None and started == tags.get(OWNER_STARTED, started)


def close_orphaned_runs(experiment_name: str) -> list[str]:
    """Mark this host's ``RUNNING`` runs whose owner process is gone as ``KILLED``; return their ids."""
    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    client = MlflowClient()
    host = socket.gethostname()
    closed = []
    runs = client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'RUNNING'")
    for run in runs:
        tags = run.data.tags
        if tags.get(OWNER_HOST) != host or _owner_alive(tags):
            continue
        client.set_tag(
            run.info.run_id,
            CLOSED_BECAUSE,
            f"process {tags.get(OWNER_PID)} ended without closing the run (killed or crashed)",
        )
        client.set_terminated(run.info.run_id, status="KILLED")
        closed.append(run.info.run_id)
    return closed
