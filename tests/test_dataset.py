"""Dataset folder format v1: loading, validation errors, splits and the processed copy.

Every bad case is built by breaking a private copy of real data, so the errors tested are the
ones a user editing a real spreadsheet would meet.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from pipeline.dataset import (
    SPLITS,
    LoadedDataset,
    assign_splits,
    load_dataset,
    read_processed,
    with_splits,
    write_processed,
)
from pipeline.errors import DatasetError

pytestmark = pytest.mark.unit

FRACTIONS = {"val_fraction": 0.2, "test_fraction": 0.2}


# -- helpers -------------------------------------------------------------------------------


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def edit_csv(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> None:
    """Apply ``change`` to a csv as strings and write it back (``change`` may edit in place)."""
    frame = read_csv(path)
    result = change(frame)
    (frame if result is None else result).to_csv(path, index=False)


def edit_yaml(root: Path, change: Callable[[dict], None]) -> None:
    path = root / "dataset.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")


def set_cell(root: Path, position: int, column: str, value: str, file: str = "nodes.csv") -> None:
    """Set one cell; ``position`` is 0-based, i.e. spreadsheet row ``position + 2``."""

    def change(frame: pd.DataFrame) -> None:
        frame.loc[position, column] = value

    edit_csv(root / file, change)


def load_error(root: Path, **kwargs: bool) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_dataset(root, **kwargs)
    return info.value


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def countries(countries_dir: Path) -> LoadedDataset:
    """The full dataset, loaded once: loading is what most tests below are about."""
    return load_dataset(countries_dir)


@pytest.fixture(scope="module")
def small(small_countries: Path) -> LoadedDataset:
    return load_dataset(small_countries)


# -- loading the real data -----------------------------------------------------------------


def test_full_countries_loads(countries: LoadedDataset, countries_dir: Path) -> None:
    assert len(countries.nodes) == 245
    assert len(countries.edges) == 325
    assert countries.classes == ["Africa", "Americas", "Asia", "Europe", "Oceania"]
    assert list(countries.nodes.columns) == countries.spec.declared_columns()
    assert isinstance(countries.nodes.index, pd.RangeIndex)
    assert countries.root == countries_dir.resolve()
    assert countries.nodes_file == countries_dir.resolve() / "nodes.csv"
    assert countries.edges_file == countries_dir.resolve() / "edges.csv"
    assert countries.ids[:2] == ["ABW", "AFG"]
    assert countries.split is None
    for column in ("node_id", "label", "text", "image", "landlocked", "un_member"):
        assert countries.nodes[column].dtype == "string", column
    for column in countries.spec.numeric_columns:
        assert countries.nodes[column].dtype == np.float64, column
    assert list(countries.edges.columns) == ["source", "target"]
    assert (countries.edges.dtypes == "string").all()
    # one country has no area: a missing value, reported as a note
    assert countries.nodes["area_km2"].isna().sum() == 1
    assert any("area_km2" in note for note in countries.notes)


def test_namibia_row_parsed(countries: LoadedDataset) -> None:
    """Namibia's ISO2 code is "NA": nothing in its row may turn into a missing value."""
    row = countries.nodes.set_index("node_id").loc["NAM"]
    assert row["label"] == "Africa"
    assert row["text"].startswith("Republic of Namibia. Capital: Windhoek.")
    assert row["image"] == "NAM.png"
    assert (row["area_km2"], row["latitude"], row["longitude"]) == (825615.0, -22.0, 17.0)
    assert row["n_languages"] == 9.0
    assert (row["landlocked"], row["un_member"]) == ("false", "true")
    assert countries.image_path(row["image"]).is_file()


def test_na_strings_are_values_not_missing(editable_countries: Path) -> None:
    old = read_csv(editable_countries / "nodes.csv").loc[0, "node_id"]
    set_cell(editable_countries, 0, "node_id", "NA")
    edit_csv(editable_countries / "edges.csv", lambda f: f.replace(old, "NA"))
    set_cell(editable_countries, 1, "landlocked", "N/A")
    set_cell(editable_countries, 2, "text", "null")
    dataset = load_dataset(editable_countries)
    assert dataset.ids[0] == "NA"
    assert dataset.nodes.loc[1, "landlocked"] == "N/A"
    assert dataset.nodes.loc[2, "text"] == "null"
    assert dataset.nodes.isna().sum().sum() == 0


def test_whitespace_is_stripped_and_empty_cells_are_missing(editable_countries: Path) -> None:
    set_cell(editable_countries, 0, "label", "  ")
    set_cell(editable_countries, 1, "text", "")
    set_cell(editable_countries, 2, "area_km2", " 12.5 ")
    set_cell(editable_countries, 3, "landlocked", " true ")
    dataset = load_dataset(editable_countries)
    assert dataset.labels.iloc[0] is pd.NA
    assert dataset.nodes.loc[1, "text"] is pd.NA
    assert dataset.nodes.loc[2, "area_km2"] == 12.5
    assert dataset.nodes.loc[3, "landlocked"] == "true"
    assert any("1 node has no label" in note for note in dataset.notes)


def test_parquet_nodes_load_like_csv(editable_countries: Path, small: LoadedDataset) -> None:
    """A typed parquet copy (ints, floats, bools) gives the same frame as the csv."""
    typed = pd.read_csv(editable_countries / "nodes.csv", keep_default_na=False, na_values=[""])
    assert typed["landlocked"].dtype == bool
    typed.to_parquet(editable_countries / "nodes.parquet", index=False)
    (editable_countries / "nodes.csv").unlink()
    dataset = load_dataset(editable_countries)
    assert dataset.nodes_file.name == "nodes.parquet"
    pd.testing.assert_frame_equal(dataset.nodes, small.nodes)
    pd.testing.assert_frame_equal(dataset.edges, small.edges)


def test_parquet_bad_number_names_the_row(editable_countries: Path) -> None:
    frame = read_csv(editable_countries / "nodes.csv")
    frame.loc[4, "latitude"] = "north"
    frame.to_parquet(editable_countries / "nodes.parquet", index=False)
    (editable_countries / "nodes.csv").unlink()
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.parquet")
    assert (err.row, err.column) == (6, "latitude")


def test_label_column_optional_without_require_labels(editable_countries: Path) -> None:
    edit_csv(editable_countries / "nodes.csv", lambda f: f.drop(columns="label"))
    dataset = load_dataset(editable_countries, require_labels=False)
    assert list(dataset.nodes.columns) == dataset.spec.declared_columns()
    assert dataset.labels.dtype == "string"
    assert dataset.labels.isna().all()
    assert dataset.classes == []


# -- errors: files -------------------------------------------------------------------------


def test_missing_dataset_yaml(editable_countries: Path) -> None:
    (editable_countries / "dataset.yaml").unlink()
    err = load_error(editable_countries)
    assert err.file.endswith("dataset.yaml")
    assert "not found" in str(err)


def test_invalid_yaml_names_the_line(editable_countries: Path) -> None:
    (editable_countries / "dataset.yaml").write_text("name: x\ntask: [unclosed\n")
    err = load_error(editable_countries)
    assert err.file.endswith("dataset.yaml")
    assert err.row is not None
    assert "not valid YAML" in str(err)


def test_missing_nodes_file(editable_countries: Path) -> None:
    (editable_countries / "nodes.csv").unlink()
    err = load_error(editable_countries)
    assert "nodes.csv" in str(err) and "nodes.parquet" in str(err)
    assert "not found" in err.message


def test_both_nodes_files_is_ambiguous(editable_countries: Path) -> None:
    read_csv(editable_countries / "nodes.csv").to_parquet(editable_countries / "nodes.parquet")
    err = load_error(editable_countries)
    assert "keep exactly one" in err.message


def test_unreadable_csv_names_the_row(editable_countries: Path) -> None:
    path = editable_countries / "nodes.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] += ",surplus"  # spreadsheet row 4
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert err.row == 4
    assert "not a readable CSV" in err.message


def test_unclosed_quote_names_the_row(editable_countries: Path) -> None:
    path = editable_countries / "nodes.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append('ZZZ,Europe,"a text whose quote never closes')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert err.row == len(lines)  # the last row, as a spreadsheet counts it


def test_not_utf8_names_the_row(editable_countries: Path) -> None:
    path = editable_countries / "nodes.csv"
    lines = path.read_bytes().split(b"\n")
    lines[6] = lines[6].replace(b",", b",\xe9", 1)  # a latin-1 "e" in row 7
    path.write_bytes(b"\n".join(lines))
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert err.row == 7
    assert "not UTF-8" in err.message


def test_corrupt_parquet(editable_countries: Path) -> None:
    (editable_countries / "nodes.csv").unlink()
    (editable_countries / "nodes.parquet").write_bytes(b"not parquet at all")
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.parquet")
    assert "not a readable parquet" in err.message


def test_empty_nodes_file(editable_countries: Path) -> None:
    (editable_countries / "nodes.csv").write_text("")
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv") and "empty" in err.message


def test_header_only_nodes_file(editable_countries: Path) -> None:
    path = editable_countries / "nodes.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n")
    err = load_error(editable_countries)
    assert "no nodes" in err.message


def test_duplicate_header_column(editable_countries: Path) -> None:
    edit_csv(
        editable_countries / "nodes.csv",
        lambda f: f.rename(columns={"un_member": "landlocked"}),
    )
    err = load_error(editable_countries)
    assert (err.row, err.column) == (1, "landlocked")
    assert "appears twice" in err.message


@pytest.mark.parametrize(
    ("key", "old"),
    [
        ("id_column", "node_id"),
        ("label_column", "label"),
        ("text_columns", "text"),
        ("image_column", "image"),
        ("numeric_columns", "area_km2"),
        ("categorical_columns", "un_member"),
    ],
)
def test_column_named_by_yaml_but_absent(editable_countries: Path, key: str, old: str) -> None:
    edit_csv(editable_countries / "nodes.csv", lambda f: f.rename(columns={old: old + "_x"}))
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert err.column == old
    assert f"column '{old}' named by {key} in dataset.yaml is not in nodes.csv" in err.message
    assert f"did you mean '{old}_x'" in err.message


def test_yaml_names_a_column_twice(editable_countries: Path) -> None:
    edit_yaml(editable_countries, lambda raw: raw["categorical_columns"].append("text"))
    err = load_error(editable_countries)
    assert err.file.endswith("dataset.yaml")
    assert "text_columns" in err.message and "categorical_columns" in err.message


def test_blank_line_inside_nodes_is_an_empty_id(editable_countries: Path) -> None:
    path = editable_countries / "nodes.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "")  # becomes row 3
    path.write_text("\n".join(lines) + "\n\n\n", encoding="utf-8")
    err = load_error(editable_countries)
    assert (err.row, err.column) == (3, "node_id")


def test_trailing_blank_lines_are_ignored(editable_countries: Path, small: LoadedDataset) -> None:
    path = editable_countries / "nodes.csv"
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert len(load_dataset(editable_countries).nodes) == len(small.nodes)


# -- errors: ids, numbers, labels ----------------------------------------------------------


def test_duplicate_ids_name_both_rows(editable_countries: Path) -> None:
    first = read_csv(editable_countries / "nodes.csv").loc[1, "node_id"]
    set_cell(editable_countries, 6, "node_id", first)
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert (err.row, err.column) == (8, "node_id")
    assert f"duplicate id '{first}' in rows 3 and 8" in err.message


def test_empty_id(editable_countries: Path) -> None:
    set_cell(editable_countries, 9, "node_id", "")
    err = load_error(editable_countries)
    assert (err.row, err.column) == (11, "node_id")
    assert "empty id" in err.message


@pytest.mark.parametrize("value", ["12a", "1,000", "inf", "nan"])
def test_numeric_cell_not_a_number(editable_countries: Path, value: str) -> None:
    set_cell(editable_countries, 3, "n_languages", value)
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert (err.row, err.column) == (5, "n_languages")
    assert f"'{value}' is not a number" in err.message


def test_no_labelled_nodes(editable_countries: Path) -> None:
    def clear(frame: pd.DataFrame) -> None:
        frame["label"] = ""

    edit_csv(editable_countries / "nodes.csv", clear)
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert err.column == "label"
    assert "no node has a label" in err.message
    dataset = load_dataset(editable_countries, require_labels=False)
    assert dataset.labels.isna().all()
    assert any("40 nodes have no label" in note for note in dataset.notes)


# -- errors: edges -------------------------------------------------------------------------


def test_missing_edges_file(editable_countries: Path) -> None:
    (editable_countries / "edges.csv").unlink()
    err = load_error(editable_countries)
    assert err.file.endswith("edges.csv")
    assert "not found" in err.message


def test_edges_file_outside_the_folder(editable_countries: Path) -> None:
    (editable_countries.parent / "stolen.csv").write_text("src,dst\n")
    edit_yaml(editable_countries, lambda raw: raw["edges"].update(file="../stolen.csv"))
    err = load_error(editable_countries)
    assert err.file.endswith("dataset.yaml")
    assert "outside the dataset folder" in err.message


@pytest.mark.parametrize("column", ["src", "dst"])
def test_edges_column_absent(editable_countries: Path, column: str) -> None:
    edit_csv(editable_countries / "edges.csv", lambda f: f.rename(columns={column: "other"}))
    err = load_error(editable_countries)
    assert err.file.endswith("edges.csv")
    assert err.column == column
    assert "in dataset.yaml is not in edges.csv" in err.message


@pytest.mark.parametrize("column", ["src", "dst"])
def test_edge_with_unknown_id(editable_countries: Path, column: str) -> None:
    set_cell(editable_countries, 2, column, "ATLANTIS", file="edges.csv")
    err = load_error(editable_countries)
    assert err.file.endswith("edges.csv")
    assert (err.row, err.column) == (4, column)
    assert "unknown id 'ATLANTIS'" in err.message


def test_edge_with_empty_endpoint(editable_countries: Path) -> None:
    set_cell(editable_countries, 5, "dst", "", file="edges.csv")
    err = load_error(editable_countries)
    assert (err.row, err.column) == (7, "dst")
    assert "empty endpoint" in err.message


# -- errors: images ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("../dataset.yaml", "'..'"),
        ("/etc/hostname", "absolute path"),
        ("nowhere.png", "does not exist"),
    ],
)
def test_bad_image_path(editable_countries: Path, cell: str, words: str) -> None:
    set_cell(editable_countries, 7, "image", cell)
    err = load_error(editable_countries)
    assert err.file.endswith("nodes.csv")
    assert (err.row, err.column) == (9, "image")
    assert words in err.message


def test_image_symlink_leaving_images_dir(editable_countries: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG")
    os.symlink(outside, editable_countries / "images" / "link.png")
    set_cell(editable_countries, 0, "image", "link.png")
    err = load_error(editable_countries)
    assert (err.row, err.column) == (2, "image")
    assert "outside images/" in err.message


def test_empty_image_cell_is_a_missing_modality(editable_countries: Path) -> None:
    set_cell(editable_countries, 0, "image", "")
    dataset = load_dataset(editable_countries)
    assert dataset.nodes.loc[0, "image"] is pd.NA
    assert any("'image'" in note for note in dataset.notes)


# -- splits --------------------------------------------------------------------------------


def test_split_is_deterministic_per_seed(countries: LoadedDataset) -> None:
    a = assign_splits(countries, seed=7, **FRACTIONS)
    b = assign_splits(countries, seed=7, **FRACTIONS)
    c = assign_splits(countries, seed=8, **FRACTIONS)
    pd.testing.assert_series_equal(a, b)
    assert not a.equals(c)
    assert a.dtype == "string"
    assert a.index.equals(countries.nodes.index)


def test_split_is_stratified_with_fractions(countries: LoadedDataset) -> None:
    split = assign_splits(countries, seed=0, val_fraction=0.1, test_fraction=0.3)
    for cls in countries.classes:
        in_class = split[countries.labels == cls]
        n = len(in_class)
        counts = in_class.value_counts()
        assert counts["val"] == max(1, round(n * 0.1)), cls
        assert counts["test"] == max(1, round(n * 0.3)), cls
        assert counts["train"] == n - counts["val"] - counts["test"], cls
    assert split.notna().all()


def test_unlabelled_nodes_get_no_split(editable_countries: Path) -> None:
    set_cell(editable_countries, 0, "label", "")
    dataset = with_splits(load_dataset(editable_countries), seed=1, **FRACTIONS)
    assert dataset.split is not None
    assert dataset.split.iloc[0] is pd.NA
    assert dataset.split.iloc[1:].isin(SPLITS).all()


def test_too_small_class(editable_countries: Path) -> None:
    set_cell(editable_countries, 4, "label", "Antarctica")
    set_cell(editable_countries, 11, "label", "Antarctica")
    dataset = load_dataset(editable_countries)
    with pytest.raises(DatasetError) as info:
        assign_splits(dataset, seed=0, **FRACTIONS)
    err = info.value
    assert err.file.endswith("nodes.csv")
    assert err.column == "label"
    assert "class 'Antarctica' has only 2 labelled nodes (rows 6, 13)" in err.message
    assert "at least 3 are needed (one each for train, val and test)" in err.message


def test_fractions_leaving_no_train_node(small: LoadedDataset) -> None:
    with pytest.raises(DatasetError, match="no node is left for train"):
        assign_splits(small, seed=0, val_fraction=0.45, test_fraction=0.45)


def _with_split_column(root: Path, values: list[str]) -> LoadedDataset:
    def add(frame: pd.DataFrame) -> None:
        frame["fold"] = (values * len(frame))[: len(frame)]

    edit_csv(root / "nodes.csv", add)
    edit_yaml(root, lambda raw: raw.update(split_column="fold"))
    return load_dataset(root)


def test_split_column_is_honoured(editable_countries: Path) -> None:
    dataset = _with_split_column(editable_countries, ["Train", "VAL", "test", "", "train"])
    set_cell(editable_countries, 0, "label", "")  # unlabelled: no split even if given one
    dataset = load_dataset(editable_countries)
    split = assign_splits(dataset, seed=0, **FRACTIONS)
    assert split.iloc[0] is pd.NA
    assert split.iloc[1:5].tolist() == ["val", "test", pd.NA, "train"]
    # the seed does not matter when the user chose the split
    pd.testing.assert_series_equal(split, assign_splits(dataset, seed=99, **FRACTIONS))


def test_bad_split_value(editable_countries: Path) -> None:
    dataset = _with_split_column(editable_countries, ["train", "val", "test", "training"])
    with pytest.raises(DatasetError) as info:
        assign_splits(dataset, seed=0, **FRACTIONS)
    err = info.value
    assert err.file.endswith("nodes.csv")
    assert (err.row, err.column) == (5, "fold")
    assert "'training' is not one of train, val, test" in err.message


def test_split_column_without_test_nodes(editable_countries: Path) -> None:
    dataset = _with_split_column(editable_countries, ["train", "val"])
    with pytest.raises(DatasetError) as info:
        assign_splits(dataset, seed=0, **FRACTIONS)
    assert info.value.column == "fold"
    assert "'test' split" in info.value.message


# -- processed copy ------------------------------------------------------------------------


def test_processed_round_trip(countries: LoadedDataset, tmp_path: Path) -> None:
    dataset = with_splits(countries, seed=3, **FRACTIONS)
    write_processed(dataset, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dataset.json",
        "edges.parquet",
        "nodes.parquet",
    ]
    back = read_processed(tmp_path)
    assert back == dataset
    assert back.nodes.dtypes.tolist() == dataset.nodes.dtypes.tolist()
    assert back.split is not None and back.split.dtype == "string"
    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["counts"]["nodes"] == 245 and info["counts"]["edges"] == 325
    assert sum(info["counts"]["splits"].values()) == info["counts"]["labelled"] == 245
    assert set(info["counts"]["class_splits"]) == set(countries.classes)
    # Stored relative to the working directory (the project root), so clones hash alike.
    assert (Path.cwd() / info["root"]).resolve() == countries.root


def test_processed_json_is_deterministic(small: LoadedDataset, tmp_path: Path) -> None:
    dataset = with_splits(small, seed=3, **FRACTIONS)
    write_processed(dataset, tmp_path / "a")
    write_processed(dataset, tmp_path / "b")
    for name in ("dataset.json", "nodes.parquet", "edges.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_processed_needs_a_split(small: LoadedDataset, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="with_splits"):
        write_processed(small, tmp_path)


def test_failed_write_leaves_no_partial_file(small: LoadedDataset, tmp_path: Path) -> None:
    """A frame parquet cannot store makes the write fail half-way, as a full disk would."""
    good = with_splits(small, seed=3, **FRACTIONS)
    nodes = good.nodes.copy()
    nodes["text"] = pd.Series([object()] * len(nodes), dtype=object)
    bad = dataclasses.replace(good, nodes=nodes)

    fresh = tmp_path / "fresh"
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        write_processed(bad, fresh)
    assert not fresh.exists()  # the folder appears whole or not at all
    assert list(tmp_path.iterdir()) == []  # and no temporary sibling is left

    existing = tmp_path / "existing"
    write_processed(good, existing)
    before = {p.name: p.read_bytes() for p in existing.iterdir()}
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        write_processed(bad, existing)
    assert no_temp_files(existing)
    assert {p.name: p.read_bytes() for p in existing.iterdir()} == before  # the earlier output is intact
    assert read_processed(existing) == good
