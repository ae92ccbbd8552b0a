"""A registered version of the project's own SQLite registry is read in place, without MLflow.

On a real evaluated project (real MLflow store, a champion registered by the train stage): the
in-place read gives the very model MLflow's download gives, ``graphfuse predict`` of new nodes
never imports MLflow, and every case the reader does not handle (another registry, a stage, an
alias that does not exist) goes to MLflow as before.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipeline.tracking import load_package_from_registry, load_registered_package
from pipeline.tracking.local_registry import local_model_dir
from tests.helpers import own_tracking_store

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[1]


def test_the_champion_read_in_place_is_the_model_mlflow_downloads(evaluated_project: Path) -> None:
    with own_tracking_store():
        folder = local_model_dir("models:/graphfuse@champion", evaluated_project)
        assert folder is not None and (folder / "MLmodel").is_file()
        assert local_model_dir("models:/graphfuse/1", evaluated_project) == folder
        ours, ours_known = load_registered_package("models:/graphfuse@champion", evaluated_project)
        from pipeline.tracking import connect_tracking

        connect_tracking(evaluated_project)
        theirs, theirs_known = load_package_from_registry("models:/graphfuse@champion")
    assert ours.config == theirs.config and ours.classes == theirs.classes and ours.encoders == theirs.encoders
    assert ours.state_dict.keys() == theirs.state_dict.keys()
    assert all(torch.equal(ours.state_dict[k], theirs.state_dict[k]) for k in ours.state_dict)
    assert ours_known is not None and theirs_known is not None
    assert ours_known.node_ids == theirs_known.node_ids
    assert torch.equal(ours_known.edge_index, theirs_known.edge_index)


def test_what_the_reader_does_not_handle_goes_to_mlflow(evaluated_project: Path, tmp_path: Path) -> None:
    with own_tracking_store() as env:
        assert local_model_dir("models:/graphfuse@no-such-alias", evaluated_project) is None
        assert local_model_dir("models:/graphfuse/99", evaluated_project) is None
        assert local_model_dir("models:/graphfuse/latest", evaluated_project) is None
        assert local_model_dir("runs:/abc/model", evaluated_project) is None
        env.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{tmp_path / 'other.db'}")
        assert local_model_dir("models:/graphfuse@champion", evaluated_project) is None
    with own_tracking_store() as env:
        env.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # a tracking server: MLflow's job
        assert local_model_dir("models:/graphfuse@champion", evaluated_project) is None
    with own_tracking_store():
        from pipeline.errors import GraphFuseError

        with pytest.raises(GraphFuseError, match="could not be found in the registry"):
            load_registered_package("models:/graphfuse@no-such-alias", evaluated_project)


@pytest.mark.parametrize("model", ["models:/graphfuse@champion", "models"])
def test_predict_of_new_nodes_imports_no_mlflow(evaluated_project: Path, tmp_path: Path, model: str) -> None:
    """From the project's registry and from the train stage's model folder alike."""
    nodes, out = tmp_path / "new.csv", tmp_path / "preds.csv"
    nodes.write_text("node_id,text,latitude,longitude\nNEW1,A country in Europe,46.5,2.5\n")
    code = (
        "import sys\nfrom pipeline.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "assert 'mlflow' not in sys.modules, 'mlflow was imported'\n"
        "assert 'sentence_transformers' not in sys.modules, 'sentence_transformers was imported'\n"
    )
    args = ["predict", "--model", model, "--nodes", str(nodes), "--out", str(out)]
    env = {"PYTHONPATH": str(REPO), "CI": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=evaluated_project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.read_text().startswith("node_id,predicted")
