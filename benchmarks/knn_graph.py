"""kNN graph construction against faiss-cpu's exact search and scikit-learn's brute force.

Each method runs in its own process on the same seeded matrix, so peak memory is its own:
the peak resident set is reset after the matrix is built and read after the method ran.
Prints wall time and extra peak memory, each as a ratio: time against faiss' exact
``IndexFlatIP`` search on the same (pre-normalised) rows, memory against the matrix itself.
Targets (issue 6): GraphFuse within 1.5x faiss' time, peak memory within 3x the matrix.

    .venv/bin/python benchmarks/knn_graph.py [--nodes 100000] [--dim 384] [--k 10] [--skip-sklearn]
        [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

METHODS = ("faiss-exact", "graphfuse-knn-edges", "graphfuse-mutual-cap", "sklearn-brute")


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run_one(method: str, nodes: int, dim: int, k: int) -> dict:
    """Build the matrix, reset the peak RSS, time the method, report time and extra peak."""
    x = np.random.default_rng(0).standard_normal((nodes, dim), dtype=np.float32)
    if method == "faiss-exact":
        x /= np.linalg.norm(x, axis=1, keepdims=True)  # the baseline gets its rows ready-made
    import faiss  # noqa: F401  (imports before the peak reset, for every method alike)
    from sklearn.neighbors import NearestNeighbors

    from pipeline.graph.knn import knn_pairs

    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _rss_kib("VmRSS")
    start = time.perf_counter()
    if method == "faiss-exact":
        index = faiss.IndexFlatIP(dim)
        index.add(x)
        index.search(x, k + 1)
    elif method == "graphfuse-knn-edges":
        knn_pairs(x, k)
    elif method == "graphfuse-mutual-cap":
        knn_pairs(x, k, mutual=True, cap=k)
    elif method == "sklearn-brute":
        NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="cosine").fit(x).kneighbors(x)
    seconds = time.perf_counter() - start
    extra_kib = _rss_kib("VmHWM") - before
    return {"method": method, "seconds": seconds, "extra_peak_bytes": extra_kib * 1024, "matrix_bytes": x.nbytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the methods this many times, interleaved; report the median time"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.nodes, args.dim, args.k)))
        return
    methods = [m for m in METHODS if not (args.skip_sklearn and m == "sklearn-brute")]
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for _ in range(args.rounds):  # interleaved, so a change in the machine's load hits every method
        for method in methods:
            cmd = [sys.executable, __file__, "--one", method, "--nodes", str(args.nodes), "--dim", str(args.dim)]
            out = subprocess.run([*cmd, "--k", str(args.k)], check=True, capture_output=True, text=True).stdout
            runs[method].append(json.loads(out.strip().splitlines()[-1]))
    results = []
    for method in methods:
        result = dict(runs[method][0])
        result["seconds"] = statistics.median(r["seconds"] for r in runs[method])
        result["extra_peak_bytes"] = max(r["extra_peak_bytes"] for r in runs[method])
        result["all_seconds"] = [round(r["seconds"], 3) for r in runs[method]]
        results.append(result)
    base = results[0]["seconds"]
    matrix = results[0]["matrix_bytes"]
    print(f"k={args.k} on {args.nodes} x {args.dim} float32 ({matrix / 2**20:.0f} MiB)")
    print(f"{'method':<22} {'seconds':>8} {'vs faiss':>9} {'extra peak MiB':>15} {'vs matrix':>10}")
    for r in results:
        print(
            f"{r['method']:<22} {r['seconds']:>8.2f} {r['seconds'] / base:>8.2f}x "
            f"{r['extra_peak_bytes'] / 2**20:>15.0f} {r['extra_peak_bytes'] / matrix:>9.2f}x"
        )
        r["time_vs_faiss"] = r["seconds"] / base
        r["extra_peak_vs_matrix"] = r["extra_peak_bytes"] / matrix
    if args.json:
        args.json.write_text(
            json.dumps({"nodes": args.nodes, "dim": args.dim, "k": args.k, "results": results}, indent=1)
        )


if __name__ == "__main__":
    main()
