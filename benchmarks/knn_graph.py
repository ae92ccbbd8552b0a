"""kNN graph construction against faiss-cpu's exact search and scikit-learn's brute force.

Each method runs in its own process on the same seeded matrix, so peak memory is its own:
the peak resident set is reset after the matrix is built and read after the method ran.
Prints wall time and extra peak memory, each as a ratio: time against faiss' exact
``IndexFlatIP`` search on the same (pre-normalised) rows, memory against the matrix itself.
Targets (issue 6): GraphFuse within 1.5x faiss' time, peak memory within 3x the matrix.
Each method's time is the median of ``--repeats`` runs after a warm-up on the first 1,000 rows;
its extra peak is the largest over those runs. ``--json`` writes the rows for ``benchmarks/run.py``.

    .venv/bin/python benchmarks/knn_graph.py [--nodes 100000] [--dim 384] [--k 10] [--skip-sklearn]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rows import row, write_rows  # noqa: E402

METHODS = ("faiss-exact", "graphfuse-knn-edges", "graphfuse-mutual-cap", "sklearn-brute")


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _method(method: str, x: np.ndarray, k: int) -> None:
    import faiss

    if method == "faiss-exact":
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        index.search(x, k + 1)
    elif method == "graphfuse-knn-edges":
        from pipeline.graph.knn import knn_pairs

        knn_pairs(x, k)
    elif method == "graphfuse-mutual-cap":
        from pipeline.graph.knn import knn_pairs

        knn_pairs(x, k, mutual=True, cap=k)
    elif method == "sklearn-brute":
        from sklearn.neighbors import NearestNeighbors

        NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="cosine").fit(x).kneighbors(x)


def run_one(method: str, nodes: int, dim: int, k: int, repeats: int = 1) -> dict:
    """Build the matrix, warm up, then per run: reset the peak RSS, time the method, read the peak."""
    x = np.random.default_rng(0).standard_normal((nodes, dim), dtype=np.float32)
    if method == "faiss-exact":
        x /= np.linalg.norm(x, axis=1, keepdims=True)  # the baseline gets its rows ready-made
    import faiss  # noqa: F401  (imports before the peak reset)

    if method == "sklearn-brute":
        import sklearn.neighbors  # noqa: F401
    else:
        import pipeline.graph.knn  # noqa: F401

    _method(method, np.ascontiguousarray(x[: min(nodes, 1000)]), k)  # warm-up: lazy imports, thread pools
    seconds, extras = [], []
    for _ in range(repeats):
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _rss_kib("VmRSS")
        start = time.perf_counter()
        _method(method, x, k)
        seconds.append(time.perf_counter() - start)
        extras.append((_rss_kib("VmHWM") - before) * 1024)
    return {
        "method": method,
        "seconds": statistics.median(seconds),
        "runs": seconds,
        "extra_peak_bytes": max(extras),
        "matrix_bytes": x.nbytes,
    }


def measure(nodes: int, dim: int, k: int, repeats: int, methods: tuple[str, ...] = METHODS) -> list[dict]:
    """Each method in its own process; the rows: time vs faiss and vs sklearn, memory vs the matrix."""
    methods = ["faiss-exact", "graphfuse-knn-edges"] + [m for m in methods if m not in METHODS[:2]]
    results = {}
    for method in methods:
        cmd = [sys.executable, __file__, "--one", method, "--nodes", str(nodes), "--dim", str(dim)]
        cmd += ["--k", str(k), "--repeats", str(repeats)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[method] = json.loads(out.strip().splitlines()[-1])
    base = results["faiss-exact"]["seconds"]
    matrix = results["faiss-exact"]["matrix_bytes"]
    print(f"k={k} on {nodes} x {dim} float32 ({matrix / 2**20:.0f} MiB), medians of {repeats}")
    print(f"{'method':<22} {'seconds':>8} {'vs faiss':>9} {'extra peak MiB':>15} {'vs matrix':>10}")
    for r in results.values():
        print(
            f"{r['method']:<22} {r['seconds']:>8.2f} {r['seconds'] / base:>8.2f}x "
            f"{r['extra_peak_bytes'] / 2**20:>15.0f} {r['extra_peak_bytes'] / matrix:>9.2f}x"
        )
    ours = results["graphfuse-knn-edges"]
    size = f"k={k}, {nodes} x {dim} float32, median of {repeats}"
    detail = {"methods": results}
    rows = [
        row(
            "knn_vs_faiss",
            "kNN edges (exact, cosine) vs faiss-cpu's exact `IndexFlatIP` search",
            graphfuse=ours["seconds"],
            baseline=base,
            unit="s",
            better="lower",
            size=size,
            target={"op": "<=", "ratio": 1.5, "issue": 6},
            **detail,
        ),
        row(
            "knn_memory",
            "kNN edges: extra peak RSS vs the matrix itself",
            graphfuse=ours["extra_peak_bytes"] / 2**20,
            baseline=matrix / 2**20,
            unit="MiB",
            better="lower",
            size=size,
            target={"op": "<=", "ratio": 3.0, "issue": 6},
        ),
    ]
    if "sklearn-brute" in results:
        rows.append(
            row(
                "knn_vs_sklearn",
                "kNN edges vs scikit-learn's brute-force `NearestNeighbors` (cosine)",
                graphfuse=ours["seconds"],
                baseline=results["sklearn-brute"]["seconds"],
                unit="s",
                better="lower",
                size=size,
                sklearn_extra_peak_mib=results["sklearn-brute"]["extra_peak_bytes"] / 2**20,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (median), after a warm-up")
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), choices=METHODS, help="faiss and ours always run"
    )
    parser.add_argument("--json", type=Path, help="write the rows here (for benchmarks/run.py)")
    parser.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.nodes, args.dim, args.k, args.repeats)))
        return
    methods = [m for m in args.methods if not (args.skip_sklearn and m == "sklearn-brute")]
    write_rows(args.json, measure(args.nodes, args.dim, args.k, args.repeats, methods))


if __name__ == "__main__":
    main()
