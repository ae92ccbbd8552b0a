"""The 1%-changed rerun of a preprocess stage against a full run, with the embedding cache.

Builds a synthetic catalogue (countries rows made unique), runs validate, then times the stage
function (``pipeline.stages.preprocess.run_text`` / ``run_image``: load the encoder, hash every
item, read hits, encode misses, write the feature folder) on an empty cache (full run), edits
1% of the nodes (text and image), revalidates, and times the stage again. After a warm-up on a
tiny catalogue (imports, weights in the page cache), each of ``--repeats`` rounds uses a fresh
cache and edits another 1%; prints the medians and their ratio (target <= 0.10). DVC's and
Prefect's per-process start-up are not part of either time. ``--json`` writes the rows for
``benchmarks/run.py``.

    .venv/bin/python benchmarks/cache_rerun.py [--nodes 1000] [--stages text image] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CI", "1")  # no progress bars in the timings
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rows import row, write_rows  # noqa: E402
from synthetic_catalogue import change_nodes, write_catalogue  # noqa: E402

from pipeline.config import Params  # noqa: E402
from pipeline.paths import Paths  # noqa: E402
from pipeline.stages import preprocess, validate  # noqa: E402

RUNS = {"text": preprocess.run_text, "image": preprocess.run_image}


def _project(root: Path, nodes: int, images: bool) -> tuple[Path, Paths]:
    data = write_catalogue(root / "data" / "raw" / "catalogue", nodes, images=images)
    return data, Paths(root)


def _params(data: Path, cache: Path) -> Params:
    return Params.model_validate({"dataset": {"dir": str(data)}, "preprocess": {"cache_dir": str(cache)}})


def measure(nodes: int, stages: list[str], changed: float = 0.01, repeats: int = 2) -> list[dict]:
    """Median full-run and 1%-rerun seconds per stage, as rows."""
    full: dict[str, list[float]] = {name: [] for name in stages}
    rerun: dict[str, list[float]] = {name: [] for name in stages}
    step = max(1, round(1 / changed))
    with tempfile.TemporaryDirectory(prefix="graphfuse-cache-bench-") as tmp:
        warm_data, warm_paths = _project(Path(tmp) / "warm", 60, "image" in stages)
        warm = _params(warm_data, Path(tmp) / "warm" / "cache")
        validate.run(warm, warm_paths)
        for name in stages:
            RUNS[name](warm, warm_paths)
        data, paths = _project(Path(tmp) / "bench", nodes, "image" in stages)
        for r in range(repeats):
            params = _params(data, Path(tmp) / f"cache-{r}")  # an empty cache: a full run
            validate.run(params, paths)
            for name in stages:
                start = time.perf_counter()
                RUNS[name](params, paths)
                full[name].append(time.perf_counter() - start)
            positions = list(range(r % step, nodes, step))  # another 1% each round
            change_nodes(data, positions, generation=r + 1)
            validate.run(params, paths)
            for name in stages:
                start = time.perf_counter()
                summary = RUNS[name](params, paths)
                rerun[name].append(time.perf_counter() - start)
                assert summary["encoded"] == len(positions), summary
    print(
        f"{'stage':<18} {'nodes':>6} {'changed':>7} {'full s':>8} {'rerun s':>8} {'ratio':>6}  (medians of {repeats})"
    )
    rows = []
    for name in stages:
        f, r = statistics.median(full[name]), statistics.median(rerun[name])
        print(f"preprocess_{name:<7} {nodes:>6} {len(range(0, nodes, step)):>7} {f:>8.2f} {r:>8.2f} {r / f:>6.3f}")
        rows.append(
            row(
                f"cache_rerun_{name}",
                f"`preprocess_{name}` rerun with {changed:.0%} of nodes changed vs its full run (empty cache)",
                graphfuse=r,
                baseline=f,
                unit="s",
                better="lower",
                size=f"{nodes} nodes, {len(range(0, nodes, step))} changed, median of {repeats}",
                target={"op": "<=", "ratio": 0.10, "issue": 8},
                runs={"graphfuse": rerun[name], "baseline": full[name]},
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--stages", nargs="+", default=["text", "image"], choices=["text", "image"])
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of full run + 1%% rerun (median)")
    parser.add_argument("--json", type=Path, help="write the rows here (for benchmarks/run.py)")
    args = parser.parse_args()
    write_rows(args.json, measure(args.nodes, args.stages, args.changed, args.repeats))


if __name__ == "__main__":
    main()
