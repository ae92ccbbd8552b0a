"""How much batching buys the pretrained encoders on this machine.

Encodes the same countries flags and texts one at a time (the baseline) and in batches, in the
same run, and prints throughput and the speed-up ratio against the baseline.

    .venv/bin/python benchmarks/encode_throughput.py [--items 64] [--batch-sizes 8 32]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from pipeline.encoders.registry import make_image_encoder, make_text_encoder

COUNTRIES = Path(__file__).resolve().parents[1] / "data" / "raw" / "countries"


def items_per_second(encode: Callable[[Sequence], object], items: Sequence, repeats: int = 2) -> float:
    """Best of ``repeats`` timed runs after one warm-up, so one-off start-up costs don't count."""
    encode(items[: min(4, len(items))])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        encode(items)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()

    nodes = pd.read_csv(COUNTRIES / "nodes.csv", dtype=str, keep_default_na=False).head(args.items)
    inputs = {
        "text": (make_text_encoder, list(nodes["text"])),
        "image": (make_image_encoder, [COUNTRIES / "images" / name for name in nodes["image"]]),
    }
    print(f"{'encoder':<8} {'batch':>5} {'items/s':>9} {'vs batch 1':>10}")
    for modality, (factory, items) in inputs.items():
        baseline = items_per_second(factory(batch_size=1, progress=False).encode, items)
        print(f"{modality:<8} {1:>5} {baseline:>9.1f} {1.0:>9.2f}x")
        for batch_size in args.batch_sizes:
            rate = items_per_second(factory(batch_size=batch_size, progress=False).encode, items)
            print(f"{modality:<8} {batch_size:>5} {rate:>9.1f} {rate / baseline:>9.2f}x")


if __name__ == "__main__":
    main()
