"""graphfuse import mm-graph / magb on tiny folders in each benchmark's own layout (written by
tests/benchmark_layouts.py): the result passes `graphfuse validate`, nothing is dropped without
a count, hostile archives and crafted .pt files are refused without running anything."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import ValidateParams
from pipeline.errors import DatasetError, GraphFuseError
from pipeline.importers import ArchiveLimits, import_magb, import_mm_graph
from pipeline.stages.validate import checked_dataset
from tests.benchmark_layouts import N, write_magb, write_mm_graph_lp, write_mm_graph_nc

pytestmark = pytest.mark.unit


def _nodes(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "nodes.csv", dtype=str, keep_default_na=False)


def test_mm_graph_node_classification_imports_and_validates(tmp_path: Path) -> None:
    src = write_mm_graph_nc(tmp_path / "src" / "ele-fashion")
    out = tmp_path / "ele"
    report = import_mm_graph(src, out)
    dataset = checked_dataset(out, ValidateParams())
    assert len(dataset.nodes) == N and dataset.spec.task == "node_classification"
    nodes = _nodes(out)
    # -1 labels: kept as unlabelled nodes, counted, never dropped
    assert (nodes["label"] == "").sum() == 3 and report.counts["unlabelled nodes (label -1)"] == 3
    assert report.counts["labelled nodes"] == N - 3
    # split.pt as the split column; the raw id (ASIN) through node_mapping.pt
    assert nodes["split"].value_counts().to_dict() == {"train": 20, "val": 8, "test": 8}
    assert nodes.loc[4, "raw_id"] == "B00004X" and nodes.loc[4, "text"].startswith("item 4: a red apple")
    assert any("orphan" not in t for t in nodes["text"]) and "1 text line(s) name no node" in " ".join(report.notes)
    # features as a precomputed modality, rows in node order
    clip = np.load(out / "embeddings" / "clip.npy")
    assert clip.shape == (N, 8) and np.allclose(clip, torch.load(src / "clip_feat.pt", weights_only=True).numpy())
    assert dataset.spec.embedding_modalities["clip"].file == "embeddings/clip.npy"
    assert json.loads((out / "import_report.json").read_text())["counts"]["nodes"] == N


def test_hostile_archive_members_are_skipped_and_counted_never_written_outside(tmp_path: Path) -> None:
    src = write_mm_graph_nc(tmp_path / "src" / "books-nc")
    out = tmp_path / "deep" / "out"
    out.parent.mkdir()
    report = import_mm_graph(src, out)
    images = sorted(p.name for p in (out / "images").iterdir())
    assert all(name.removesuffix(".jpg").isdigit() for name in images)
    assert not list(tmp_path.rglob("escaped.jpg")) and "3.jpg" not in images  # undecodable: skipped
    notes = " ".join(report.notes)
    for reason in ("a link or special file", "second image for the same node", "cannot be decoded"):
        assert reason in notes
    nodes = _nodes(out)
    assert set(nodes.loc[nodes["image"] != "", "image"]) == set(images)


def test_zip_bombs_and_oversized_members_are_skipped(tmp_path: Path) -> None:
    src = write_mm_graph_nc(tmp_path / "src" / "cloth")
    (src / "cloth-images.tar").unlink()
    with zipfile.ZipFile(src / "cloth-images.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("B00001X.jpg", b"\0" * (8 << 20))  # 8 MiB of zeros, a few KiB compressed
        archive.writestr("../../B00002X.jpg", b"\xff\xd8 not really a jpeg")
    report = import_mm_graph(src, tmp_path / "out", limits=ArchiveLimits(max_image_bytes=1 << 20))
    notes = " ".join(report.notes)
    assert "larger than 1048576 bytes" in notes and "cannot be decoded" in notes
    assert not (tmp_path / "B00002X.jpg").exists() and report.counts["images from cloth-images.zip"] == 0


def test_a_crafted_pickle_is_refused_not_executed(tmp_path: Path) -> None:
    src = write_mm_graph_nc(tmp_path / "src" / "evil")
    marker = tmp_path / "pwned"

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"labels": RunsCode()}, src / "labels-w-missing.pt")
    with pytest.raises(DatasetError, match=r"labels-w-missing\.pt: refused.*weights_only") as caught:
        import_mm_graph(src, tmp_path / "out")
    assert "posix.system" in str(caught.value) or "os.system" in str(caught.value)
    assert not marker.exists() and not (tmp_path / "out").exists()  # nothing ran, nothing half-written


@pytest.mark.parametrize(
    ("file", "value", "message"),
    [
        ("labels-w-missing.pt", torch.zeros(N, 2, dtype=torch.long), "labels: expected 1 dimension"),
        ("labels-w-missing.pt", {"y": [1, 2]}, "labels: expected a tensor, array or list, got dict"),
        ("labels-w-missing.pt", list(range(N - 1)), f"{N - 1} labels for {N} nodes"),
        ("nc_edges-nodeid.pt", torch.tensor([[0, N + 5]]), f"node index {N + 5} is outside"),
        # a list mixing booleans with numbers: NumPy made True node (or class) 1 without a word
        ("nc_edges-nodeid.pt", [[0, True], [2, 3]], "edge list: True is a boolean, not a number"),
        ("nc_edges-nodeid.pt", ([0, 1], (2, torch.tensor(False))), "edge list: False is a boolean"),
        ("nc_edges-nodeid.pt", [torch.tensor([0, 1]), torch.tensor([True, False])], "edge list: True is a boolean"),
        ("labels-w-missing.pt", [True] + [0] * (N - 1), "labels: True is a boolean, not a number"),
        ("split.pt", torch.arange(3), "node split: expected a dict"),
        ("clip_feat.pt", ["a", "b"], "expected numbers"),
    ],
)
def test_a_pt_file_of_another_shape_is_an_error_naming_it(tmp_path: Path, file: str, value, message: str) -> None:
    src = write_mm_graph_nc(tmp_path / "src" / "odd")
    torch.save(value, src / file)
    with pytest.raises(DatasetError, match=message) as caught:
        import_mm_graph(src, tmp_path / "out")
    assert caught.value.file.endswith(file) and not (tmp_path / "out").exists()


def test_mm_graph_link_prediction_writes_the_edge_split(tmp_path: Path) -> None:
    src = write_mm_graph_lp(tmp_path / "src" / "sports-copurchase")
    report = import_mm_graph(src, tmp_path / "out")
    spec = yaml.safe_load((tmp_path / "out" / "dataset.yaml").read_text())
    assert spec["task"] == "link_prediction" and spec["edges"]["split_column"] == "split"
    assert "label_column" not in spec  # node labels are optional for link prediction
    edges = pd.read_csv(tmp_path / "out" / "edges.csv", dtype=str)
    split = torch.load(src / "lp-edge-split-random.pt", weights_only=True)
    assert edges["split"].value_counts().to_dict() == {
        "train": split["train"]["source_node"].numel(),
        "val": split["valid"]["source_node"].numel(),
        "test": split["test"]["source_node"].numel(),
    }
    test_rows = edges[edges["split"] == "test"]
    assert test_rows["src"].tolist() == [str(v) for v in split["test"]["source_node"].tolist()]
    assert "negative candidates" in " ".join(report.notes)
    assert np.load(tmp_path / "out" / "embeddings" / "clip.npy").dtype == np.float16


def test_magb_imports_and_validates(tmp_path: Path) -> None:
    src = write_magb(tmp_path / "src" / "Toys")
    out = tmp_path / "toys"
    report = import_magb(src, out)
    dataset = checked_dataset(out, ValidateParams())
    nodes = _nodes(out)
    assert nodes["node_id"].tolist() == [str(i) for i in range(N)]  # csv rows sorted by their id
    assert nodes.loc[5, "text"] == "toy 5 in the red aisle" and nodes.loc[7, "label"] == ""
    assert report.counts["unlabelled nodes (label -1)"] == 1
    assert set(dataset.spec.embedding_modalities) == {"text_roberta_base_512_mean", "image_clip_vit"}
    assert "ToysGraph.pt (a DGL graph) not read" in " ".join(report.notes)
    assert report.counts["images from ToysImages.tar.gz"] == sum(1 for i in range(N) if i % 7 != 3)


def test_magb_without_neighbours_names_the_graph_file_and_the_way_out(tmp_path: Path) -> None:
    src = write_magb(tmp_path / "src" / "Movies", name="Movies")
    table = pd.read_csv(src / "Movies.csv", dtype=str, keep_default_na=False)
    pairs = [
        (int(i), int(n)) for i, cell in zip(table["id"], table["neighbour"], strict=True) for n in json.loads(cell)
    ]
    table.drop(columns="neighbour").to_csv(src / "Movies.csv", index=False)
    with pytest.raises(DatasetError, match=r"MoviesGraph\.pt: .*DGL.*--edges"):
        import_magb(src, tmp_path / "out")
    pd.DataFrame(pairs, columns=["s", "t"]).to_csv(tmp_path / "edges.csv", index=False)
    report = import_magb(src, tmp_path / "out", edges_file=tmp_path / "edges.csv", features=["image_clip_vit"])
    assert report.counts["edges"] == len(pairs)
    assert set(yaml.safe_load((tmp_path / "out" / "dataset.yaml").read_text())["embedding_modalities"]) == {
        "image_clip_vit"
    }


def test_the_cli_refuses_a_non_empty_out_and_reports_counts(tmp_path: Path) -> None:
    src = write_mm_graph_nc(tmp_path / "src" / "books-nc")
    runner = CliRunner()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    refused = runner.invoke(app, ["import", "mm-graph", str(src), str(tmp_path / "taken")])
    assert refused.exit_code == 1 and "never overwrites" in refused.output
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    done = runner.invoke(app, ["import", "mm-graph", str(src), str(tmp_path / "new"), "--features", "clip"])
    assert done.exit_code == 0, done.output
    assert "unlabelled nodes (label -1): 3" in done.output
    with pytest.raises(GraphFuseError, match="no feature file"):
        import_mm_graph(src, tmp_path / "other", features=["imagebind"])


def test_image_bytes_stream_through_a_cap_whatever_the_header_claims(tmp_path: Path) -> None:
    from pipeline.importers.archives import _copy_capped

    target = tmp_path / "x.jpg"
    assert _copy_capped(lambda: io.BytesIO(b"a" * 5000), target, 4096) is None and not target.exists()
    assert _copy_capped(lambda: io.BytesIO(b"a" * 100), target, 4096) == 100


def test_image_names_that_are_not_plain_indices_are_skipped_with_why(tmp_path: Path) -> None:
    """int() reads 1_0 as 10, +5 as 5 and Arabic-Indic ٧ as 7: none of them may land on a node."""
    import tarfile

    from tests.benchmark_layouts import _add, _jpeg

    src = write_mm_graph_nc(tmp_path / "src" / "plain")
    (src / "node_mapping.pt").unlink()  # no mapping: image names are the node indices themselves
    (src / "plain-images.tar").unlink()
    with tarfile.open(src / "plain-images.tar", "w") as archive:
        for name in ("0", "12", "1_0", "+5", "\u0667", "007", " 8"):
            _add(archive, f"images/{name}.jpg", _jpeg((10, 20, 30)))
    report = import_mm_graph(src, tmp_path / "out")
    images = _nodes(tmp_path / "out").set_index("node_id")["image"]
    assert {n for n, cell in images.items() if cell} == {"0", "12"}
    assert "5 member(s) skipped: its name is not a plain node index (ASCII digits 0-9" in " ".join(report.notes)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("[1, 1e999]", "neighbour '1e999' is not a plain node index"),
        ("[12345678901234567890123]", "neighbour 12345678901234567890... is outside 0..35"),
        ("[1.7, 2]", "neighbour '1.7' is not a plain node index"),
        ("[2, True]", "neighbour 'True' is not a plain node index"),
        ("1_0", "neighbour '1_0' is not a plain node index"),  # int() and Python literals read 10
        ("[+5, 3]", "neighbour '+5' is not a plain node index"),
        ("[5, '3'; 4]", None),
    ],
)
def test_magb_neighbour_cells_are_ids_or_a_located_error(tmp_path: Path, cell: str, message: str | None) -> None:
    src = write_magb(tmp_path / "src" / "Toys")
    table = pd.read_csv(src / "Toys.csv", dtype=str, keep_default_na=False)
    position = int(np.flatnonzero(table["id"] == "3")[0])
    table.loc[position, "neighbour"] = cell
    table.to_csv(src / "Toys.csv", index=False)
    if message is None:
        import_magb(src, tmp_path / "out")
        return
    with pytest.raises(DatasetError, match=re.escape(message)) as error:
        import_magb(src, tmp_path / "out")
    assert error.value.file.endswith("Toys.csv") and error.value.column == "neighbour"
    assert error.value.row == position + 2  # the row as the file has it, not the node's index


@pytest.mark.parametrize(
    ("write", "message", "row"),
    [
        (lambda p: np.save(p, np.array([[0, 1], [2, np.nan]])), "expected whole numbers", None),
        (lambda p: np.save(p, np.array([[0, 1.5], [2, 3]])), "expected whole numbers", None),
        (lambda p: np.save(p, np.array([[True, False]])), "got booleans", None),
        (lambda p: np.save(p, np.array([[0, 99]])), "node index 99 is outside 0..35", None),
        (lambda p: p.with_suffix(".csv").write_text("s,t\n0,1\n2,1.5\n"), "edge cell '1.5' is not a plain", 3),
        (lambda p: p.with_suffix(".csv").write_text("s,t\n0,1\n,2\n"), "edge cell '' is not a plain", 3),
    ],
)
def test_magb_edge_files_are_checked_and_named(tmp_path: Path, write, message: str, row: int | None) -> None:
    src = write_magb(tmp_path / "src" / "Toys")
    table = pd.read_csv(src / "Toys.csv", dtype=str, keep_default_na=False)
    table.drop(columns="neighbour").to_csv(src / "Toys.csv", index=False)
    path = tmp_path / "edges.npy"
    write(path)
    edges = path if path.exists() else path.with_suffix(".csv")
    with pytest.raises(DatasetError, match=re.escape(message)) as error:
        import_magb(src, tmp_path / "out", edges_file=edges)
    assert error.value.file == str(edges) and error.value.row == row  # the edges file, never Toys.csv
