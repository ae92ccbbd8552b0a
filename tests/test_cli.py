"""What a user sees from ``graphfuse`` when their data is wrong: one located error, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import BIN, project_env

pytestmark = pytest.mark.integration


def _graphfuse(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = project_env()
    command = [str(BIN / "graphfuse"), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_stage_on_bad_data_fails_with_the_location_and_no_traceback(tmp_path: Path, editable_countries: Path) -> None:
    nodes_file = editable_countries / "nodes.csv"
    nodes = pd.read_csv(nodes_file, dtype=str, keep_default_na=False)
    nodes.loc[0, "latitude"] = "north"  # spreadsheet row 2
    nodes.to_csv(nodes_file, index=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"dataset": {"dir": str(editable_countries)}}))

    result = _graphfuse(["stage", "validate"], tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "error: " in result.stderr
    assert "nodes.csv, row 2, column 'latitude'" in result.stderr
    assert "Traceback" not in output
    assert "NoneType: None" not in output  # Prefect's empty exc_info line is filtered
    assert not (tmp_path / "data" / "processed").exists()


def test_unknown_stage_is_refused(tmp_path: Path) -> None:
    result = _graphfuse(["stage", "nope"], tmp_path)
    assert result.returncode == 1 and "unknown stage 'nope'" in result.stderr


def test_a_preprocess_stage_process_loads_no_graph_or_tracking_library() -> None:
    """Each DVC stage is a fresh process: PyG (~6 s to import), MLflow and the encoders' libraries must load only in the
    stages that use them, or every preprocess stage of `dvc repro` pays for them."""
    probe = (
        "import sys\n"
        "import pipeline.stages.preprocess, pipeline.stages.validate, pipeline.stages.preprocess_embedding\n"
        "import pipeline.training\n"
        "heavy = ('torch_geometric', 'mlflow', 'faiss', 'sentence_transformers', 'torchmetrics', 'sklearn')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
