"""``graphfuse init``'s library: column roles inferred with reasons, flags winning, the folder written
and validated (or nothing left behind), params.yaml pointed at it with its comments kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.config import default_model_name, load_params
from pipeline.dataset import load_dataset
from pipeline.dataset.schema import MODELINE_PREFIX, SCHEMA_FILE
from pipeline.errors import DatasetError, GraphFuseError
from pipeline.onboarding.infer import RoleOverrides
from pipeline.onboarding.project import apply_plan
from pipeline.onboarding.scaffold import InitRequest, plan_dataset
from tests.conftest import REPO_ROOT
from tests.raw_shapes import write_raw_shapes


@pytest.fixture
def raw(tmp_path: Path) -> tuple[Path, Path, Path]:
    return write_raw_shapes(tmp_path / "raw")


def _roles(plan) -> dict[str, str]:
    return {r.column: r.role for r in plan.roles}


@pytest.mark.unit
def test_roles_are_inferred_with_reasons_and_missing_counts(raw, tmp_path: Path) -> None:
    nodes, edges, images = raw
    plan = plan_dataset(InitRequest(out=tmp_path / "shapes", nodes=nodes, edges=edges, images=images))
    assert _roles(plan) == {
        "shape_id": "id",
        "label": "label",
        "description": "text",
        "picture": "image",
        "size": "numeric",
        "tone": "categorical",
    }
    by_column = {r.column: r for r in plan.roles}
    assert by_column["picture"].reason == "24 of 24 cells are image file names; 24 found in pictures/"
    assert by_column["size"].missing == 1 and by_column["shape_id"].missing == 0
    assert plan.spec["na_values"] == ["N/A"] and plan.spec["edges"] | {"file": "?"} == {
        "file": "?",
        "source": "from",
        "target": "to",
        "directed": False,
    }
    assert plan.spec["name"] == "shapes"


@pytest.mark.unit
def test_flags_win_over_the_guess(raw, tmp_path: Path) -> None:
    nodes, edges, images = raw
    flags = RoleOverrides(text=["description", "tone"], ignore=["size"], id="shape_id")
    plan = plan_dataset(InitRequest(out=tmp_path / "s", nodes=nodes, edges=edges, images=images, overrides=flags))
    roles = _roles(plan)
    assert roles["tone"] == "text" and roles["size"] == "ignored"
    assert {r.column: r.reason for r in plan.roles}["tone"] == "given by --text"
    assert plan.spec["text_columns"] == ["description", "tone"] and plan.spec["numeric_columns"] == []
    with pytest.raises(DatasetError, match=r"column\(s\) \['colour'\] named by a flag are not in the file"):
        plan_dataset(InitRequest(out=tmp_path / "s", nodes=nodes, overrides=RoleOverrides(label="colour")))


@pytest.mark.unit
def test_no_label_column_asks_for_the_flag(raw, tmp_path: Path) -> None:
    nodes, _, _ = raw
    frame = pd.read_csv(nodes, dtype=str, keep_default_na=False).rename(columns={"label": "kind"})
    frame.to_csv(nodes, index=False)
    with pytest.raises(DatasetError, match="no column looks like the label .* name it with --label COL"):
        plan_dataset(InitRequest(out=tmp_path / "s", nodes=nodes))
    plan = plan_dataset(InitRequest(out=tmp_path / "s", nodes=nodes, overrides=RoleOverrides(label="kind")))
    assert plan.spec["label_column"] == "kind"


@pytest.mark.unit
def test_a_semicolon_file_is_sniffed_and_written_as_sep(raw, tmp_path: Path) -> None:
    nodes, edges, images = raw
    for path in (nodes, edges):
        pd.read_csv(path, dtype=str, keep_default_na=False).to_csv(path, sep=";", index=False)
    request = InitRequest(out=tmp_path / "semi", nodes=nodes, edges=edges, images=images)
    plan = plan_dataset(request)
    assert plan.spec["sep"] == ";" and _roles(plan)["description"] == "text"
    result = apply_plan(request, plan, params_file=None, root=tmp_path)
    assert len(result.dataset.nodes) == 24


@pytest.mark.unit
def test_init_writes_a_valid_folder_and_points_params_at_it(raw, tmp_path: Path) -> None:
    nodes, edges, images = raw
    params = tmp_path / "params.yaml"
    shutil.copy(REPO_ROOT / "params.yaml", params)
    request = InitRequest(out=tmp_path / "data" / "shapes", nodes=nodes, edges=edges, images=images)
    result = apply_plan(request, plan_dataset(request), params_file=params, root=tmp_path)

    first = (request.out / "dataset.yaml").read_text().splitlines()[0]
    assert first.startswith(MODELINE_PREFIX)
    assert (request.out / first.removeprefix(MODELINE_PREFIX)).resolve() == SCHEMA_FILE.resolve()
    dataset = load_dataset(request.out)
    assert (
        len(dataset.nodes) == 24
        and len(dataset.edges) == 24
        and dataset.spec.modalities == ["text", "image", "tabular"]
    )
    assert sorted(p.name for p in request.out.iterdir()) == ["dataset.yaml", "edges.csv", "images", "nodes.csv"]
    settings = load_params(params)
    assert str(settings.dataset.dir) == "data/shapes" and result.dataset_dir == "data/shapes"
    assert settings.tracking.model_name == "graphfuse-shapes" == default_model_name("shapes")
    text = params.read_text()
    assert "# One section per stage" in text and "task: null" in text  # comments and nulls kept


@pytest.mark.unit
def test_a_failed_check_leaves_nothing_behind_and_params_untouched(raw, tmp_path: Path) -> None:
    nodes, edges, images = raw
    (images / "s05.png").unlink()  # a node names an image that is not there
    params = tmp_path / "params.yaml"
    shutil.copy(REPO_ROOT / "params.yaml", params)
    before = params.read_bytes()
    request = InitRequest(out=tmp_path / "shapes", nodes=nodes, edges=edges, images=images)
    with pytest.raises(DatasetError, match=r"image 's05.png' does not exist") as caught:
        apply_plan(request, plan_dataset(request), params_file=params, root=tmp_path)
    assert caught.value.row == 7 and caught.value.column == "picture"
    assert not request.out.exists() and params.read_bytes() == before
    assert nodes.is_file() and images.is_dir()  # the user's own files are never touched


@pytest.mark.unit
def test_init_never_overwrites(raw, tmp_path: Path) -> None:
    nodes, edges, images = raw
    out = tmp_path / "shapes"
    out.mkdir()
    (out / "dataset.yaml").write_text("name: mine\n")
    with pytest.raises(DatasetError, match="already exists; init never overwrites it"):
        plan_dataset(InitRequest(out=out, nodes=nodes))
    (out / "dataset.yaml").unlink()
    (out / "nodes.csv").write_text("other,data\n")
    request = InitRequest(out=out, nodes=nodes, edges=edges)
    with pytest.raises(GraphFuseError, match="nodes.csv: already exists and is not"):
        apply_plan(request, plan_dataset(request), params_file=None, root=tmp_path)
    assert (out / "nodes.csv").read_text() == "other,data\n" and not (out / "dataset.yaml").exists()


@pytest.mark.unit
def test_without_edges_every_node_is_isolated_and_said_so(raw, tmp_path: Path) -> None:
    nodes, _, images = raw
    request = InitRequest(out=tmp_path / "alone", nodes=nodes, images=images)
    plan = plan_dataset(request)
    assert any("no --edges" in note for note in plan.notes)
    result = apply_plan(request, plan, params_file=None, root=tmp_path)
    assert result.dataset.edges.empty and yaml.safe_load((request.out / "dataset.yaml").read_text())["edges"]


@pytest.mark.unit
def test_one_model_name_per_dataset_unless_set() -> None:
    from pipeline.config import Params, TrackingParams

    assert Params().tracking.registered_name("countries") == "graphfuse"  # the docs' models:/graphfuse@champion
    assert Params().tracking.registered_name("my shapes") == "graphfuse-my-shapes"
    assert TrackingParams(model_name="team-model").registered_name("my shapes") == "team-model"
    assert load_params(REPO_ROOT / "params.yaml").tracking.model_name is None  # derived by default


@pytest.mark.integration
def test_predict_refuses_a_model_of_another_dataset_that_does_not_fit(
    evaluated_project: Path, editable_countries: Path, raw, tmp_path: Path
) -> None:
    from pipeline.inference.bundle import load_bundle
    from pipeline.inference.predict import predict_dataset
    from pipeline.paths import Paths

    bundle = load_bundle(Paths(evaluated_project).model)  # trained on countries
    nodes, edges, images = raw
    request = InitRequest(out=tmp_path / "shapes", nodes=nodes, edges=edges, images=images)
    apply_plan(request, plan_dataset(request), params_file=None, root=tmp_path)
    with pytest.raises(GraphFuseError) as caught:
        predict_dataset(bundle, request.out, device="cpu", progress=False)
    message = str(caught.value)
    assert "trained on dataset 'countries' and dataset 'shapes' does not fit it" in message
    assert "column 'area_km2'" in message and "models:/graphfuse-shapes@champion" in message

    spec = yaml.safe_load((editable_countries / "dataset.yaml").read_text())
    spec |= {"name": "countries-2027", "image_column": None}  # another dataset, one modality short
    (editable_countries / "dataset.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(GraphFuseError, match="it lacks the image modality. Predict with a model trained on"):
        predict_dataset(bundle, editable_countries, device="cpu", progress=False)
