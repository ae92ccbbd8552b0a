"""One Prefect flow per DVC stage; ``dvc.yaml`` runs them through ``graphfuse stage NAME``.

Stage modules are imported inside the flow, so that starting a stage loads only the libraries
that stage uses (torch_geometric alone costs seconds), never all of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Failed, State

from pipeline.config import Params, load_params
from pipeline.errors import GraphFuseError
from pipeline.paths import Paths
from pipeline.run_context import ENV_FLOW_RUN_ID
from pipeline.stages.registry import REGISTRY, stage_spec

StageFn = Callable[[Params, Paths], dict]

# name -> "module:function", from the one stage registry; the order is dvc.yaml's.
STAGE_FUNCTIONS = {spec.name: spec.target for spec in REGISTRY}


#: Stages whose encoding can fan out over a Dask cluster (``preprocess.runner: dask``).
SHARDED_STAGES = tuple(spec.name for spec in REGISTRY if spec.sharded)


def stage_function(name: str) -> StageFn:
    fn = stage_spec(name).function()
    return _sharded(fn) if name in SHARDED_STAGES else fn


def _sharded(fn: Callable[..., dict]) -> StageFn:
    """A preprocess stage given the Dask shard runner when ``preprocess.runner`` is ``dask``."""

    def run(params: Params, paths: Paths) -> dict:
        settings = params.preprocess
        if settings.runner != "dask":
            return fn(params, paths)
        from flows.dask_shards import dask_map_shards

        return fn(params, paths, map_shards=dask_map_shards(settings.dask_address, settings.dask_workers))

    run.__name__ = run.__qualname__ = fn.__name__  # not functools.wraps: Prefect would read fn's signature
    return run


def _guarded(name: str, params: Params) -> Callable[[Path], Any]:
    """Run a stage; a problem in the user's data or settings fails the task with its located
    message (file, row, column) instead of a traceback, and calling the flow re-raises it."""

    def run(root: Path) -> dict | State:
        try:
            return stage_function(name)(params, Paths(root))
        except GraphFuseError as exc:
            return Failed(message=str(exc), data=exc)

    run.__name__ = name
    return run


class _NoEmptyTraceback(logging.Filter):
    """Prefect logs a task that returned Failed with ``exc_info=True`` although nothing was raised,
    which prints a stray ``NoneType: None``; the message already says what failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is None:
            record.exc_info = None
        return True


class _NoDrainProgress(logging.Filter):
    """At exit Prefect's event and log workers send what they still queue, and say so ("Still
    processing items: 2 items remaining...") whenever anything is queued: after a stage that ends
    within a second of its last event, always. The items are sent; a dropped item still warns."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Still processing items")


def _quiet_empty_tracebacks() -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoEmptyTraceback) for f in logger.filters):
            logger.addFilter(_NoEmptyTraceback())
    for name in ("EventsWorker", "APILogWorker"):  # Prefect's QueueService names its logger by class
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoDrainProgress) for f in logger.filters):
            logger.addFilter(_NoDrainProgress())


@contextmanager
def _flow_run_in_env() -> Iterator[None]:
    """The stage sees the flow run it belongs to under the one variable tracking reads: the outer
    run's when an orchestrator (the deployment) set it, else this stage flow's own."""
    if os.environ.get(ENV_FLOW_RUN_ID):
        yield
        return
    os.environ[ENV_FLOW_RUN_ID] = str(flow_run.get_id() or "")
    try:
        yield
    finally:
        os.environ.pop(ENV_FLOW_RUN_ID, None)


#: Prefect's own names for the heartbeat setting; a user who sets either keeps heartbeats as set.
HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


#: The warm stage server's settings: entered once there, inherited by every stage forked from it.
_WARM_SETTINGS = ExitStack()


def warm_process_settings() -> None:
    """Called once by the warm stage server after importing this module: the stages it forks
    start with heartbeats off, so :func:`stage_heartbeats` has nothing left to do in each of
    them (entering Prefect's temporary settings re-reads and validates every setting: ~0.25 s
    of each stage's wall time)."""
    if not any(os.environ.get(variable) for variable in HEARTBEAT_VARIABLES):
        _WARM_SETTINGS.enter_context(temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))


@contextmanager
def stage_heartbeats() -> Iterator[None]:
    """No flow-run heartbeats for a stage unless the user asks for them.

    Prefect 3.9 sends them by default (every 180 s) for zombie detection, which acts only through
    an automation the user creates, and stops the heartbeat thread at the flow's end by waiting out
    its one-second sleep: ~0.9 s added to every stage, seconds on each ``dvc repro``. A stage's
    lifetime is already tied to the command that runs it; setting
    ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` (e.g. for a zombie automation) turns them back on."""
    wanted = next((os.environ[name] for name in HEARTBEAT_VARIABLES if os.environ.get(name)), None)
    current = PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
    if (wanted is None) == (current is None):  # already as asked (a warm fork starts with them off)
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: wanted}):
        yield


def _run_stage(name: str, params_file: str, root: str) -> dict | State:
    """Run the stage as a task (no caching: DVC decides what reruns; no retries: a stage's
    failures are in its data or code, and a retry would only repeat them) and log its summary."""
    _quiet_empty_tracebacks()
    try:
        params = load_params(Path(root) / params_file)
    except GraphFuseError as exc:
        return Failed(message=str(exc), data=exc)
    timeout = params.orchestration.stage_timeout_s
    stage_task = task(name=name, cache_policy=NO_CACHE, retries=0, timeout_seconds=timeout)(_guarded(name, params))
    with _flow_run_in_env():
        state = stage_task(Path(root), return_state=True)
    if state.is_failed():
        return state  # the flow ends Failed with the stage's message
    summary = state.result()
    get_run_logger().info("%s: %s", name, summary)
    return summary


def _stage_flow(name: str) -> Callable[..., dict | State]:
    """The Prefect flow of one stage (named as the stage, as in the UI and dvc.yaml)."""

    def run(params_file: str = "params.yaml", root: str = ".") -> dict | State:
        return _run_stage(name, params_file, root)

    run.__name__ = run.__qualname__ = f"{name}_flow"
    run.__doc__ = f"Stage {name} as a Prefect flow."
    return flow(name=name)(run)


STAGE_FLOWS = {spec.name: _stage_flow(spec.name) for spec in REGISTRY}
# The flows as module attributes too (``from flows.stage_flows import validate_flow``).
globals().update({f"{name}_flow": stage_flow for name, stage_flow in STAGE_FLOWS.items()})
