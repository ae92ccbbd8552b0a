"""The 1%-changed rerun of a preprocess stage against a full run, with the embedding cache.

Builds a synthetic catalogue (countries rows made unique), runs validate, then times the stage
function (``pipeline.stages.preprocess.run_text`` / ``run_image``: load the encoder, hash every
item, read hits, encode misses, write the feature folder) on an empty cache (full run), edits
1% of the nodes (text and image), revalidates, and times the stage again. Prints both and the
ratio (target <= 0.10). DVC's and Prefect's per-process start-up are not part of either time.

    .venv/bin/python benchmarks/cache_rerun.py [--nodes 1000] [--stages text image]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CI", "1")  # no progress bars in the timings
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_catalogue import change_nodes, write_catalogue  # noqa: E402

from pipeline.config import Params  # noqa: E402
from pipeline.paths import Paths  # noqa: E402
from pipeline.stages import preprocess, validate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--stages", nargs="+", default=["text", "image"], choices=["text", "image"])
    parser.add_argument("--changed", type=float, default=0.01)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphfuse-cache-bench-") as tmp:
        root = Path(tmp)
        data = write_catalogue(root / "data" / "raw" / "catalogue", args.nodes, images="image" in args.stages)
        params = Params.model_validate(
            {"dataset": {"dir": str(data)}, "preprocess": {"cache_dir": str(root / "cache")}}
        )
        paths = Paths(root)
        validate.run(params, paths)
        runs = {"text": preprocess.run_text, "image": preprocess.run_image}
        full: dict[str, float] = {}
        for name in args.stages:
            start = time.perf_counter()
            runs[name](params, paths)
            full[name] = time.perf_counter() - start
        step = max(1, round(1 / args.changed))
        change_nodes(data, list(range(0, args.nodes, step)))
        validate.run(params, paths)
        print(f"{'stage':<18} {'nodes':>6} {'changed':>7} {'full s':>8} {'rerun s':>8} {'ratio':>6}")
        for name in args.stages:
            start = time.perf_counter()
            summary = runs[name](params, paths)
            rerun = time.perf_counter() - start
            assert summary["encoded"] == len(range(0, args.nodes, step)), summary
            print(
                f"preprocess_{name:<7} {args.nodes:>6} {summary['encoded']:>7} {full[name]:>8.2f} "
                f"{rerun:>8.2f} {rerun / full[name]:>6.3f}"
            )


if __name__ == "__main__":
    main()
