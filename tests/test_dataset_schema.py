"""dataset.yaml's edges (issue 19): the shipped JSON Schema, unknown keys, na_values and the separator.

Each bad case breaks a private copy of real data (countries), the way a user editing a real file would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from jsonschema import Draft202012Validator

from pipeline.dataset import load_dataset, load_spec
from pipeline.dataset.schema import SCHEMA_FILE, build_schema, modeline
from pipeline.errors import DatasetError

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]


def _yaml(root: Path) -> str:
    return (root / "dataset.yaml").read_text(encoding="utf-8")


def test_the_shipped_schema_is_the_one_the_models_generate() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == build_schema(), (
        "regenerate it: python -m pipeline.dataset.schema"
    )
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["required"] == ["name", "task", "id_column", "edges"]
    assert all(prop.get("description") for prop in schema["properties"].values())  # editors show them


@pytest.mark.parametrize("name", ["countries", "emoji", "unihan"])
def test_the_shipped_datasets_pass_the_schema_an_editor_would_use(name: str) -> None:
    raw = yaml.safe_load((REPO / "data" / "raw" / name / "dataset.yaml").read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert list(Draft202012Validator(schema).iter_errors(raw)) == []
    assert load_spec(REPO / "data" / "raw" / name).name == name


def test_a_misspelt_key_is_an_error_with_a_did_you_mean_and_its_line(editable_countries: Path) -> None:
    text = _yaml(editable_countries).replace("numeric_columns:", "numeric_colums:")
    (editable_countries / "dataset.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        load_dataset(editable_countries)
    err = caught.value
    assert "unknown key 'numeric_colums' (did you mean 'numeric_columns'?)" in err.message
    assert err.file.endswith("dataset.yaml")
    assert err.row == 1 + text.splitlines().index(next(x for x in text.splitlines() if x.startswith("numeric_colums")))
    # the same schema an editor reads refuses it too
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert not Draft202012Validator(schema).is_valid(yaml.safe_load(text))


def test_a_misspelt_nested_key_and_a_missing_required_key(editable_countries: Path) -> None:
    text = _yaml(editable_countries)
    (editable_countries / "dataset.yaml").write_text(text.replace("  directed:", "  direkted:"), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"unknown key 'edges.direkted' \(did you mean 'directed'\?\)"):
        load_spec(editable_countries)
    (editable_countries / "dataset.yaml").write_text(text.replace("task: node_classification\n", ""))
    with pytest.raises(DatasetError, match=r"task is required: node_classification: predict"):
        load_spec(editable_countries)
    (editable_countries / "dataset.yaml").write_text(text.replace("label_column: label\n", ""))
    with pytest.raises(DatasetError, match=r"label_column is required when task is node_classification"):
        load_spec(editable_countries)


def test_provenance_keys_are_known_not_refused(editable_countries: Path) -> None:
    text = _yaml(editable_countries) + "description: a test copy\n"
    (editable_countries / "dataset.yaml").write_text(text, encoding="utf-8")
    spec = load_spec(editable_countries)
    assert spec.description == "a test copy" and spec.source.startswith("npm packages world-countries")


def test_na_values_read_as_missing_and_are_an_error_without_the_key(editable_countries: Path) -> None:
    nodes = pd.read_csv(editable_countries / "nodes.csv", dtype=str, keep_default_na=False)
    nodes.loc[3, "area_km2"] = "N/A"  # spreadsheet row 5
    nodes.loc[4, "text"] = "N/A"
    nodes.to_csv(editable_countries / "nodes.csv", index=False)
    with pytest.raises(DatasetError, match="'N/A' is not a number") as caught:
        load_dataset(editable_countries)
    assert caught.value.row == 5 and caught.value.column == "area_km2"

    (editable_countries / "dataset.yaml").write_text(_yaml(editable_countries) + "na_values: [N/A]\n")
    dataset = load_dataset(editable_countries)
    assert pd.isna(dataset.nodes.loc[3, "area_km2"]) and pd.isna(dataset.nodes.loc[4, "text"])
    assert any("have no 'area_km2'" in note for note in dataset.notes)  # reported, not silently dropped


def test_a_semicolon_csv_gets_the_line_to_write_and_then_loads_the_same(editable_countries: Path) -> None:
    before = load_dataset(editable_countries)
    for name in ("nodes.csv", "edges.csv"):
        frame = pd.read_csv(editable_countries / name, dtype=str, keep_default_na=False)
        frame.to_csv(editable_countries / name, sep=";", index=False)
    with pytest.raises(DatasetError, match=r"""looks separated by ';', not ',': add  sep: ";"  to dataset.yaml"""):
        load_dataset(editable_countries)

    (editable_countries / "dataset.yaml").write_text(_yaml(editable_countries) + 'sep: ";"\n')
    after = load_dataset(editable_countries)
    pd.testing.assert_frame_equal(after.nodes, before.nodes)
    pd.testing.assert_frame_equal(after.edges, before.edges)


def test_the_modeline_points_at_the_shipped_schema_from_where_the_yaml_is(tmp_path: Path) -> None:
    line = modeline(tmp_path / "mine" / "dataset.yaml")
    target = line.split("$schema=", 1)[1]
    assert line.startswith("# yaml-language-server: $schema=")
    assert (tmp_path / "mine" / target).resolve() == SCHEMA_FILE.resolve()
