"""An edges file of millions of self-loops: validate + build_graph's edge step, time and memory.

Each size runs in a fresh process (so its peak RSS is its own) on a generated dataset of 30
nodes; the smallest size is the baseline, and the ratios show the cost grows linearly with
the file (no quadratic step, no per-edge Python loop).

    .venv/bin/python benchmarks/adversarial_edges.py [--edges 1000000 10000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

_CHILD = """
import sys, time
from pathlib import Path


def peak_kib():
    # VmHWM: this program's own high-water mark (ru_maxrss would include the parent's RSS at fork)
    status = Path('/proc/self/status').read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith('VmHWM:')))


from pipeline.dataset import load_dataset
from pipeline.graph import build_edge_index
start = time.perf_counter()
dataset = load_dataset(sys.argv[1])
loaded = time.perf_counter() - start
edge_index, report = build_edge_index(dataset.edges, dataset.ids, directed=False)
peak = peak_kib()
print(loaded, time.perf_counter() - start, peak, report.self_loops_dropped)
"""


def make_dataset(folder: Path, n_edges: int) -> None:
    spec = {
        "name": "loops",
        "task": "node_classification",
        "id_column": "node_id",
        "label_column": "label",
        "numeric_columns": ["v"],
        "edges": {"file": "edges.csv", "source": "src", "target": "dst", "directed": False},
    }
    folder.mkdir(parents=True)
    (folder / "dataset.yaml").write_text(yaml.safe_dump(spec))
    (folder / "nodes.csv").write_text("node_id,label,v\n" + "".join(f"n{i},{'abc'[i % 3]},{i}\n" for i in range(30)))
    block = "".join(f"n{i % 30},n{i % 30}\n" for i in range(10_000)).encode()
    with (folder / "edges.csv").open("wb") as handle:
        handle.write(b"src,dst\n")
        for _ in range(n_edges // 10_000):
            handle.write(block)


def measure(n_edges: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "loops"
        make_dataset(folder, n_edges)
        size = (folder / "edges.csv").stat().st_size
        out = subprocess.run([sys.executable, "-c", _CHILD, str(folder)], capture_output=True, text=True, check=True)
    loaded, total, peak_kib, dropped = out.stdout.split()
    assert int(dropped) == n_edges
    return {
        "edges": n_edges,
        "file_mib": round(size / 2**20, 1),
        "load_s": round(float(loaded), 2),
        "load_and_edge_index_s": round(float(total), 2),
        "peak_rss_mib": int(peak_kib) // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    rows = [measure(n) for n in sorted(args.edges)]
    base = rows[0]
    for row in rows:
        row["time_ratio_vs_baseline"] = round(row["load_and_edge_index_s"] / base["load_and_edge_index_s"], 2)
        row["size_ratio_vs_baseline"] = round(row["edges"] / base["edges"], 2)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
