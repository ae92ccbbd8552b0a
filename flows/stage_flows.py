"""One Prefect flow per DVC stage; ``dvc.yaml`` runs them through ``graphfuse stage NAME``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline.config import Params, load_params
from pipeline.paths import Paths
from pipeline.stages import build_graph, evaluate, preprocess, train, validate

StageFn = Callable[[Params, Paths], dict]


def _run_stage(name: str, fn: StageFn, params_file: str, root: str) -> dict:
    """Load params, run the stage as a task (no caching: DVC decides what reruns), log its summary."""
    params = load_params(Path(root) / params_file)
    stage_task = task(name=name, cache_policy=NO_CACHE, retries=0)(fn)
    summary = stage_task(params, Paths(Path(root)))
    get_run_logger().info("%s: %s", name, summary)
    return summary


@flow(name="validate")
def validate_flow(params_file: str = "params.yaml", root: str = ".") -> dict:
    return _run_stage("validate", validate.run, params_file, root)


@flow(name="preprocess_text")
def preprocess_text_flow(params_file: str = "params.yaml", root: str = ".") -> dict:
    return _run_stage("preprocess_text", preprocess.run_text, params_file, root)


@flow(name="preprocess_image")
def preprocess_image_flow(params_file: str = "params.yaml", root: str = ".") -> dict:
    return _run_stage("preprocess_image", preprocess.run_image, params_file, root)


@flow(name="preprocess_tabular")
def preprocess_tabular_flow(params_file: str = "params.yaml", root: str = ".") -> dict:
    return _run_stage("preprocess_tabular", preprocess.run_tabular, params_file, root)


@flow(name="build_graph")
def build_graph_flow(params_file: str = "params.yaml", root: str = ".") -> dict:
    return _run_stage("build_graph", build_graph.run, params_file, root)


@flow(name="train")
def train_flow(params_file: str = "params.yaml", root: str = ".") -> dict:
    return _run_stage("train", train.run, params_file, root)


@flow(name="evaluate")
def evaluate_flow(params_file: str = "params.yaml", root: str = ".") -> dict:
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
