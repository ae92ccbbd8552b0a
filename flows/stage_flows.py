"""One Prefect flow per DVC stage; ``dvc.yaml`` runs them through ``graphfuse stage NAME``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State

from pipeline.config import Params, load_params
from pipeline.errors import GraphFuseError
from pipeline.paths import Paths
from pipeline.stages import build_graph, evaluate, preprocess, train, validate

StageFn = Callable[[Params, Paths], dict]


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


def _guarded(fn: StageFn) -> Callable[[Path, Path], Any]:
    """Run a stage; a problem in the user's data or settings fails the task with its located
    message (file, row, column) instead of a traceback, and calling the flow re-raises it."""

    @functools.wraps(fn)
    def run(params_file: Path, root: Path) -> dict | State:
        try:
            return fn(load_params(root / params_file), Paths(root))
        except GraphFuseError as exc:
            return Failed(message=str(exc), data=exc)

    return run


class _NoEmptyTraceback(logging.Filter):
    """Prefect logs a task that returned Failed with ``exc_info=True`` although nothing was raised,
    which prints a stray ``NoneType: None``; the message already says what failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is None:
            record.exc_info = None
        return True


def _quiet_empty_tracebacks() -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoEmptyTraceback) for f in logger.filters):
            logger.addFilter(_NoEmptyTraceback())


def _run_stage(name: str, fn: StageFn, params_file: str, root: str) -> dict | State:
    """Run the stage as a task (no caching: DVC decides what reruns) and log its summary."""
    _quiet_empty_tracebacks()
    stage_task = task(name=name, cache_policy=NO_CACHE, retries=0)(_guarded(fn))
    state = stage_task(Path(params_file), Path(root), return_state=True)
    if state.is_failed():
        return state  # the flow ends Failed with the stage's message
    summary = state.result()
    get_run_logger().info("%s: %s", name, summary)
    return summary


@flow(name="validate")
def validate_flow(params_file: str = "params.yaml", root: str = ".") -> dict | State:
    return _run_stage("validate", validate.run, params_file, root)


@flow(name="preprocess_text")
def preprocess_text_flow(params_file: str = "params.yaml", root: str = ".") -> dict | State:
    return _run_stage("preprocess_text", _sharded(preprocess.run_text), params_file, root)


@flow(name="preprocess_image")
def preprocess_image_flow(params_file: str = "params.yaml", root: str = ".") -> dict | State:
    return _run_stage("preprocess_image", _sharded(preprocess.run_image), params_file, root)


@flow(name="preprocess_tabular")
def preprocess_tabular_flow(params_file: str = "params.yaml", root: str = ".") -> dict | State:
    return _run_stage("preprocess_tabular", preprocess.run_tabular, params_file, root)


@flow(name="build_graph")
def build_graph_flow(params_file: str = "params.yaml", root: str = ".") -> dict | State:
    return _run_stage("build_graph", build_graph.run, params_file, root)


@flow(name="train")
def train_flow(params_file: str = "params.yaml", root: str = ".") -> dict | State:
    return _run_stage("train", train.run, params_file, root)


@flow(name="evaluate")
def evaluate_flow(params_file: str = "params.yaml", root: str = ".") -> dict | State:
    return _run_stage("evaluate", evaluate.run, params_file, root)


STAGE_FLOWS = {
    "validate": validate_flow,
    "preprocess_text": preprocess_text_flow,
    "preprocess_image": preprocess_image_flow,
    "preprocess_tabular": preprocess_tabular_flow,
    "build_graph": build_graph_flow,
    "train": train_flow,
    "evaluate": evaluate_flow,
}
