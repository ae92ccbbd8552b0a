"""One trained, evaluated and registered project on the 40-country slice, shared by the
evaluation, registry, pyfunc and serving tests (stages called directly: no Prefect start-up)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import load_params
from pipeline.paths import Paths
from pipeline.stages.registry import run_stage
from tests.helpers import own_tracking_store

REPO = Path(__file__).resolve().parents[1]
# The shipped default (train.search: auto) searches; these projects train the one recipe.
TINY_TRAIN = {
    "max_epochs": 40,
    "patience": 15,
    "hidden_dim": 32,
    "projection_dim": 16,
    "monitor": "val_macro_f1",
    "search": "off",
}
EVALUATE = {"seeds": 2, "retrain_ablation": True}


def write_project_params(root: Path, dataset_dir: Path, **evaluate_settings: object) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"]["dir"] = str(dataset_dir)
    params["train"].update(TINY_TRAIN)
    params["evaluate"].update(EVALUATE | evaluate_settings)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def run_stages(root: Path, names: tuple[str, ...]) -> dict[str, dict]:
    params, paths = load_params(root / "params.yaml"), Paths(root)
    return {name: run_stage(name, params, paths) for name in names}


@pytest.fixture(scope="session")
def evaluated_project(tmp_path_factory: pytest.TempPathFactory, small_countries: Path) -> Path:
    root = tmp_path_factory.mktemp("evaluated")
    write_project_params(root, small_countries)
    with own_tracking_store() as env:
        env.setenv("GRAPHFUSE_FLOW_RUN_ID", "flow-run-for-test")
        run_stages(root, ("validate", "preprocess_text", "preprocess_image", "preprocess_tabular", "build_graph"))
        run_stages(root, ("train", "evaluate"))
    return root
