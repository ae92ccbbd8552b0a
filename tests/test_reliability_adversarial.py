"""Hostile and broken files: each fails validation with a located GraphFuseError (or loads),
quickly and in bounded memory; what ``graphfuse validate`` accepts the pipeline accepts."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmarks.adversarial_edges import make_dataset as make_loops_dataset
from pipeline.cli import app
from pipeline.dataset import load_dataset, read_processed
from pipeline.errors import DatasetError
from pipeline.graph import build_edge_index

pytestmark = pytest.mark.unit


def _nodes(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "nodes.csv", dtype=str, keep_default_na=False)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming ``width`` x ``height`` pixels: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _break_first_image(folder: Path, content: bytes | None) -> tuple[str, int]:
    nodes = _nodes(folder)
    cell = nodes.loc[0, "image"]
    image = folder / "images" / cell
    if content is None:  # truncated: the first half of a real PNG
        content = image.read_bytes()[: image.stat().st_size // 2]
    image.write_bytes(content)
    return cell, 2


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("truncated", None),
        ("0-byte", b""),
        ("not an image", b"this is a text file, not a flag\n"),
        ("decompression bomb (30000 x 30000 px)", _png_header_only(30_000, 30_000)),
        # under Pillow's own bomb limit (89 Mpx, which only warns below 179 Mpx), over GraphFuse's 64 Mpx
        ("image of 9000 x 8000 pixels: more than the 67108864 allowed", _png_header_only(9000, 8000)),
    ],
)
def test_bad_images_fail_validate_with_their_row_as_the_pipeline_would(
    editable_countries: Path, kind: str, content: bytes | None
) -> None:
    cell, row = _break_first_image(editable_countries, content)
    with pytest.raises(DatasetError) as error:
        load_dataset(editable_countries)
    assert error.value.row == row and error.value.column == "image" and cell in str(error.value)
    if kind.startswith("image of"):  # refused from the header, by GraphFuse's limit, not by a failed decode
        assert kind in error.value.message
    result = CliRunner().invoke(app, ["validate", str(editable_countries)])
    assert result.exit_code == 1 and f"row {row}, column 'image'" in result.output


def test_validate_refuses_a_class_the_split_cannot_use(editable_countries: Path, tmp_path: Path) -> None:
    nodes = _nodes(editable_countries)
    nodes.loc[0, "label"] = "Atlantis"  # one labelled node: no train/val/test for it
    nodes.to_csv(editable_countries / "nodes.csv", index=False)
    result = CliRunner().invoke(app, ["validate", str(editable_countries)])
    assert result.exit_code == 1 and "class 'Atlantis' has only 1 labelled node" in result.output


def test_nodes_file_symlinked_out_of_the_folder_is_refused(editable_countries: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    os.replace(editable_countries / "nodes.csv", outside)
    os.symlink(outside, editable_countries / "nodes.csv")
    with pytest.raises(DatasetError, match="outside the dataset folder"):
        load_dataset(editable_countries)


def test_a_nodes_file_of_zero_rows(editable_countries: Path) -> None:
    header = (editable_countries / "nodes.csv").read_text().splitlines()[0]
    (editable_countries / "nodes.csv").write_text(header + "\n")
    with pytest.raises(DatasetError, match="no nodes: the file has a header but no data rows"):
        load_dataset(editable_countries)


def test_a_1_gib_text_cell_fails_in_milliseconds_without_reading_it(editable_countries: Path) -> None:
    """The file is 1 GiB long; the guard streams it in 1 MiB chunks and stops past 8 MiB of one
    line, so only its first 16 MiB are real text and the rest is a sparse hole (no disk used)."""
    path = editable_countries / "nodes.csv"
    with path.open("ab") as handle:
        handle.write(b"ZZZ,Europe,")
        handle.write(b"x" * (16 * 1024 * 1024))
        handle.truncate(1024**3)
    assert path.stat().st_size == 1024**3
    rows = len(_nodes_lines(editable_countries))
    with pytest.raises(DatasetError, match=r"line \d+ is longer than 8 MiB") as error:
        load_dataset(editable_countries)
    assert error.value.row == rows


def _nodes_lines(folder: Path) -> list[bytes]:
    with (folder / "nodes.csv").open("rb") as handle:
        return handle.read(32 * 1024 * 1024).split(b"\n")


_LOOPS = """
import sys, time
from pathlib import Path


def peak_kib():
    # VmHWM: this program's own high-water mark (ru_maxrss would include the parent's RSS at fork)
    status = Path('/proc/self/status').read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith('VmHWM:')))


from pipeline.dataset import load_dataset, with_splits, write_processed
start = time.perf_counter()
dataset = with_splits(load_dataset(sys.argv[1]), seed=0, val_fraction=0.2, test_fraction=0.2)
write_processed(dataset, Path(sys.argv[1]).parent / "processed")
print(time.perf_counter() - start, peak_kib(), "|".join(dataset.notes))
"""


def test_a_million_self_loops_load_in_seconds_and_bounded_memory(tmp_path: Path) -> None:
    """1M self-loops here (the same vectorised code path); 10M are measured by
    ``benchmarks/adversarial_edges.py`` (see docs/reliability.md)."""
    n_edges = 1_000_000
    folder = tmp_path / "loops"
    make_loops_dataset(folder, n_edges)  # the benchmark's generator: 30 nodes, every edge a self-loop
    # The validate stage's work in a fresh process (pandas only), so its peak memory is its own.
    out = subprocess.run(
        [sys.executable, "-c", _LOOPS, str(folder)], capture_output=True, text=True, timeout=300, check=True
    ).stdout.split(maxsplit=2)
    seconds, peak_kib = float(out[0]), int(out[1])
    assert f"{n_edges} edges are self-loops" in out[2]
    assert peak_kib < 1_000_000, f"peak RSS {peak_kib / 1024:.0f} MiB"
    assert seconds < 30
    # build_graph's step: every loop dropped and counted, vectorised.
    started = time.perf_counter()
    edges = read_processed(tmp_path / "processed").edges
    edge_index, report = build_edge_index(edges, [f"n{i}" for i in range(30)], directed=False)
    assert report.self_loops_dropped == n_edges and report.final == 0 and edge_index.size(1) == 0
    assert time.perf_counter() - started < 30
    print(json.dumps({"self_loops": n_edges, "validate_s": round(seconds, 2), "peak_rss_mib": peak_kib // 1024}))
