"""Stale results are impossible: dvc.yaml lists all the code a stage imports, params files and
--root are honoured, and an output of another format version is refused with what to rerun."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline import dvc_deps
from pipeline.config import load_params
from pipeline.errors import GraphFuseError
from pipeline.paths import Paths
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit


def test_dvc_yaml_lists_every_module_each_stage_imports() -> None:
    problems = dvc_deps.check(REPO_ROOT)
    assert problems == [], "\n".join(problems) + "\nrun `graphfuse dvc-deps --write`"


def test_the_check_catches_a_new_import_and_write_fixes_it(tmp_path: Path) -> None:
    for name in ("pipeline", "flows"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "pipeline" / "newhelper.py").write_text("VALUE = 1\n")
    stage = tmp_path / "pipeline" / "stages" / "validate.py"
    # A lazy import inside a function counts too.
    lazy = "\n\ndef _later():\n    from pipeline.newhelper import VALUE\n    return VALUE\n"
    stage.write_text(stage.read_text() + lazy)

    problems = dvc_deps.check(tmp_path)
    assert len(problems) == 1 and "validate" in problems[0] and "pipeline/newhelper.py" in problems[0]
    assert dvc_deps.write(tmp_path)
    assert dvc_deps.check(tmp_path) == []
    stages = yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"]
    assert "pipeline/newhelper.py" in stages["validate"]["deps"]
    assert "${dataset.dir}" in stages["validate"]["deps"]  # data deps are kept
    assert "pipeline/newhelper.py" not in stages["train"]["deps"]
    assert not dvc_deps.write(tmp_path)  # idempotent


def test_a_missing_params_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GraphFuseError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_root_is_honoured_whatever_the_working_directory(
    tmp_path: Path, small_countries: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.stages import preprocess, validate

    root = tmp_path / "project"
    shutil.copytree(small_countries, root / "data" / "raw" / "small")
    (root / "params.yaml").write_text(yaml.safe_dump({"dataset": {"dir": "data/raw/small"}}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    params = load_params(root / "params.yaml")
    validate.run(params, Paths(root))
    info = json.loads((Paths(root).dataset / "dataset.json").read_text())
    assert info["root"] == "data/raw/small"  # portable: relative to the project root
    summary = preprocess.run_tabular(params, Paths(root))
    assert summary["nodes_with_modality"] == 40
    assert not any(elsewhere.iterdir())


@pytest.mark.parametrize(
    ("what", "rerun"),
    [("graph", "build_graph"), ("bundle", "train"), ("store", "validate"), ("features", "preprocess_tabular")],
)
def test_an_output_of_another_format_version_names_what_to_rerun(tmp_path: Path, what: str, rerun: str) -> None:
    import torch

    from pipeline.features import ModalityFeatures, load_features, save_features
    from pipeline.formats import check_format
    from pipeline.graph import GraphMeta, load_graph, save_graph

    if what == "graph":
        from torch_geometric.data import Data

        save_graph(tmp_path, Data(edge_index=torch.zeros(2, 0, dtype=torch.long)), GraphMeta("d", ["a"], ["x"], {}))
        meta = json.loads((tmp_path / "graph.json").read_text())
        meta["format"] = 99
        (tmp_path / "graph.json").write_text(json.dumps(meta))
        load = lambda: load_graph(tmp_path)  # noqa: E731
    elif what == "features":
        save_features(tmp_path / "tabular", ModalityFeatures.absent("tabular", ["a"]))
        load_features(tmp_path / "tabular")  # the current version loads
        manifest = json.loads((tmp_path / "tabular" / "manifest.json").read_text())
        del manifest["format"]
        (tmp_path / "tabular" / "manifest.json").write_text(json.dumps(manifest))
        load = lambda: load_features(tmp_path / "tabular")  # noqa: E731
    else:
        load = lambda: check_format(tmp_path / "x.json", 0, 1, f"the {rerun} stage")  # noqa: E731
        if what == "bundle":
            from pipeline.inference.bundle import load_bundle

            (tmp_path / "model.safetensors").write_bytes(b"")
            (tmp_path / "model.json").write_text(json.dumps({"format": 0}))
            load = lambda: load_bundle(tmp_path)  # noqa: E731
        else:
            from pipeline.dataset import read_processed

            (tmp_path / "dataset.json").write_text(json.dumps({"format": 0}))
            load = lambda: read_processed(tmp_path)  # noqa: E731
    with pytest.raises(GraphFuseError, match=f"Rerun the {rerun} stage"):
        load()
