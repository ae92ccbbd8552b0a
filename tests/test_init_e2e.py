"""The newcomer's bar (issue 19): raw files in, a registered model out, no file edited by hand.

A copy of the session's reproduced project (countries' champion ``graphfuse`` already in its
registry) gets a raw CSV, an edges CSV and an images folder written by the test, no dataset.yaml.
``graphfuse init`` and ``graphfuse repro`` are all the user runs; the new model is registered under
its own dataset's name, and countries' champion refuses to predict the new dataset.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.params_file import set_params
from tests.helpers import BIN, project_env
from tests.project_copy import copy_project, run_ok
from tests.raw_shapes import write_raw_shapes
from tests.shared_projects import Reproduced

pytestmark = pytest.mark.e2e


def test_init_then_repro_registers_a_model_of_the_new_dataset(reproduced_project: Reproduced, tmp_path: Path) -> None:
    root = copy_project(reproduced_project.root, tmp_path / "project")
    # The project's own settings, not the newcomer's path: one seed and no t-SNE map keep it cheap.
    set_params(root / "params.yaml", {"evaluate.seeds": 1, "evaluate.embedding_map": False, "train.max_epochs": 30})
    env = project_env()
    nodes, edges, images = write_raw_shapes(root / "incoming")
    graphfuse = str(BIN / "graphfuse")

    started = time.monotonic()
    init = run_ok(
        [graphfuse, "init", "data/raw/shapes", "--nodes", str(nodes), "--edges", str(edges), "--images", str(images)],
        root,
        env,
    )
    assert "picture      image" in init.stdout and "size         numeric" in init.stdout
    assert "tracking.model_name = graphfuse-shapes" in init.stdout
    run_ok([graphfuse, "repro"], root, env)
    print(f"init + repro on 24 nodes: {time.monotonic() - started:.1f} s")

    registry = json.loads((root / "metrics" / "registry.json").read_text())
    assert registry["model_name"] == "graphfuse-shapes" and registry["version"] == 1
    assert registry["promoted"]  # the first version of its own name: champion, not a challenger of countries'
    metrics = json.loads((root / "metrics" / "metrics_detail.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.5  # text, image and the graph each carry the shape (chance: 1/3)

    refused = subprocess.run(
        [graphfuse, "predict", "--model", "models:/graphfuse@champion", "--dataset", "data/raw/shapes",
         "--out", str(tmp_path / "p.csv")],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "trained on dataset 'countries' and dataset 'shapes' does not fit it" in refused.stderr
    assert not (tmp_path / "p.csv").exists()
