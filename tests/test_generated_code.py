"""PyG's generated message-passing modules leave nothing in the temp folder, bytecode included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]

# Every backbone, with label smoothing (PyG's LabelPropagation): what a predict, a stage or a
# served model builds in a fresh process.
_BUILD_EVERY_BACKBONE = """
import torch
from pipeline.models import BACKBONES, build_model
from pipeline.training import predict_logits
from tests.tiny_graphs import tiny_config, two_community_graph

torch.set_num_threads(1)
graph = two_community_graph(20)[0]
for backbone in sorted(BACKBONES):
    model = build_model(tiny_config(graph, backbone=backbone, smoothing_alpha=0.5))
    assert predict_logits(model, graph, torch.device("cpu")).shape == (graph.num_nodes, 2)
"""


def test_a_fresh_process_that_builds_the_models_leaves_no_generated_code_in_the_temp_folder(tmp_path: Path) -> None:
    """Issue 16 item 12, as a user runs it (no PYTHONDONTWRITEBYTECODE): removing PyG's generated
    ``*_propagate_*.py`` files left their compiled ``__pycache__/*_propagate_*.pyc`` behind, two
    more in /tmp with every `graphfuse predict` from the registry."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env |= {"TMPDIR": str(temp), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _BUILD_EVERY_BACKBONE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    left = sorted(str(p.relative_to(temp)) for p in temp.rglob("*") if p.name.startswith("torch_geometric."))
    assert left == []
    assert not (temp / "__pycache__").exists()  # the folder the bytecode went to, made for it, goes too
