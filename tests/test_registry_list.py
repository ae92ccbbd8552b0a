"""``graphfuse registry list`` reads the project's own SQLite registry without MLflow (issue 19: under
2 s, no torch import) and answers exactly what MLflow answers on the same store.

The store is a real MLflow SQLite registry built with MLflow's own client: several models, aliases,
metric and other tags, a deleted version; the model name is derived from the dataset's name, as on
a new project (``tracking.model_name: null``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.tracking import connect_tracking, list_versions, local_versions
from tests.helpers import own_tracking_store, store_client

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
NAME = "graphfuse"  # what the countries dataset's name derives (tracking.model_name: null)
#: Run in a fresh interpreter: the command's output, and which heavy libraries it imported.
CLI = (
    "import sys\nfrom pipeline.cli import app\n"
    "try:\n    app(sys.argv[1:])\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    "heavy = sorted({'torch', 'torch_geometric', 'mlflow', 'pandas'} & set(sys.modules))\n"
    "print('IMPORTED', ','.join(heavy))\n"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project (params.yaml, the countries dataset.yaml) whose registry MLflow filled."""
    root = tmp_path_factory.mktemp("registry-list")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    dataset = yaml.safe_load((REPO / "params.yaml").read_text())["dataset"]["dir"]
    (root / dataset).mkdir(parents=True)
    shutil.copy(REPO / dataset / "dataset.yaml", root / dataset / "dataset.yaml")
    with own_tracking_store():
        client = store_client(connect_tracking(root))
        for name, versions in ((NAME, 4), ("other", 2), ("empty", 0)):
            client.create_registered_model(name)
            for v in range(1, versions + 1):
                tags = {"dataset": "countries", "split_fingerprint": f"split{v % 2}", "model_hash": f"h{v}"}
                tags |= {"val_macro_f1": f"0.{v}00000", "val_accuracy": f"0.{v}50000", "git_commit": f"{v}" * 40}
                client.create_model_version(name, (root / f"m{v}").as_uri(), tags=tags)
        client.set_registered_model_alias(NAME, "champion", "3")
        client.set_registered_model_alias(NAME, "challenger", "4")
        client.set_registered_model_alias(NAME, "previous", "3")
        client.delete_model_version_tag(NAME, "1", "git_commit")
        client.delete_model_version(NAME, "2")  # its tags stay in the store; the version is not listed
        client.set_registered_model_alias("other", "champion", "1")
    return root


def _mlflow_rows(root: Path, name: str) -> list[dict[str, str]]:
    with own_tracking_store():
        connect_tracking(root)
        return list_versions(name)


@pytest.mark.parametrize("name", [NAME, "other", "empty", "never-registered"])
def test_the_sqlite_read_answers_what_mlflow_answers(project: Path, name: str) -> None:
    with own_tracking_store():
        ours = local_versions(name, project)
    assert ours is not None
    assert ours == _mlflow_rows(project, name)


def test_the_rows_themselves(project: Path) -> None:
    with own_tracking_store():
        rows = local_versions(NAME, project)
    assert rows is not None
    assert [(r["version"], r["aliases"]) for r in rows] == [("4", "challenger"), ("3", "champion,previous"), ("1", "")]
    assert rows[1]["metrics"] == "val_accuracy=0.350000 val_macro_f1=0.300000"
    assert rows[1]["git_commit"] == "3" * 10 and rows[2]["git_commit"] == ""


def test_other_stores_go_to_mlflow(project: Path, tmp_path: Path) -> None:
    with own_tracking_store() as env:
        env.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{tmp_path / 'other.db'}")
        assert local_versions(NAME, project) is None
    with own_tracking_store() as env:
        env.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # a tracking server (team mode)
        assert local_versions(NAME, project) is None
    with own_tracking_store() as env:
        env.setenv("MLFLOW_TRACKING_URI", "postgresql://user:pw@127.0.0.1:9/mlflow")
        assert local_versions(NAME, project) is None
    with own_tracking_store():
        assert local_versions(NAME, tmp_path) is None  # no store yet: MLflow creates it, as before
        assert local_versions("it's", project) is None  # a name MLflow's filter syntax reads otherwise


@pytest.mark.parametrize("as_json", [True, False])
def test_registry_list_imports_neither_torch_nor_mlflow(project: Path, as_json: bool) -> None:
    """A fresh ``graphfuse registry list`` process: the same output as MLflow's rows, no heavy import."""
    env = {"PYTHONPATH": str(REPO), "CI": "1", "PATH": ""}
    args = ["registry", "list", "--root", str(project), *(["--json"] if as_json else [])]
    result = subprocess.run([sys.executable, "-c", CLI, *args], cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    output, imported = result.stdout.rsplit("IMPORTED ", 1)
    assert imported.strip() == "", f"registry list imported {imported.strip()}"
    expected = _mlflow_rows(project, NAME)
    if as_json:
        assert json.loads(output) == expected
    else:
        assert output.splitlines() == ["  ".join(f"{k}={v}" for k, v in row.items() if v) for row in expected]
