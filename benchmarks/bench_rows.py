"""What a benchmark script hands the runner (``benchmarks/run.py``): rows, written with ``--json``.

A row is one claim beside its baseline, measured in the same run::

    {"id": "text_encoding", "what": "...", "unit": "texts/s", "graphfuse": 142.9, "baseline": 61.4,
     "better": "higher", "target": {"op": ">=", "ratio": 0.9, "issue": 8}, "size": "2000 texts"}

``better`` says which way the GraphFuse figure (and so the ratio graphfuse / baseline) improves;
``target`` is the issue's bound on that ratio, if it has one (or ``holds`` when the target is not a
ratio, e.g. "no-op dvc repro <= 3 s"). Kept free of heavy imports: every script loads it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def row(
    id: str,
    what: str,
    *,
    graphfuse: float | None,
    baseline: float | None,
    unit: str,
    better: str,
    size: str,
    target: dict | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One row; ``extra`` carries details (per-run times, notes, peak memory) into the JSON."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    return {
        "id": id,
        "what": what,
        "graphfuse": graphfuse,
        "baseline": baseline,
        "unit": unit,
        "better": better,
        "size": size,
        "target": target,
        **extra,
    }


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn: Callable[[], object], repeats: int, warmup: bool = True) -> tuple[float, list[float]]:
    """Median wall time of ``repeats`` calls after one untimed warm-up call; also every time."""
    if warmup:
        fn()
    times = [timed(fn) for _ in range(repeats)]
    return statistics.median(times), times


def write_rows(path: Path | None, rows: list[dict[str, Any]]) -> None:
    """Write the rows for the runner (nothing when ``--json`` was not given)."""
    if path is not None:
        Path(path).write_text(json.dumps({"rows": rows}, indent=1))
