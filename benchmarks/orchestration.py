"""What orchestration costs: ``dvc repro`` against the same stage functions in one plain process.

In fresh temporary copies of the project (git repos, nothing shared), this prints:

1. the stage functions called one after the other in one plain Python process (the baseline);
2. the whole default pipeline by plain ``dvc repro`` (each stage a fresh ``graphfuse stage``
   process with its own temporary Prefect server; target <= 1.5x the baseline) and by
   ``graphfuse repro`` (as ``make run``: one server, warm stages; target <= 1.3x), each run
   ``--runs`` times (default 3), interleaved with the baseline; medians, ratios, per-stage medians;
3. Prefect's own cost per stage: ``graphfuse stage NAME`` against the same stage function in a
   plain Python process, on cheap stages, so the difference is Prefect (target <= 2 s);
4. a no-op ``dvc repro`` (target <= 3 s), and how long a lone ``graphfuse stage build_graph``
   (its own temporary server) takes to exit after its last output line (target <= 2 s);
5. which stages a one-parameter change (``train.lr``) reruns.

Prefect's cost and the no-op repro are medians of ``--repeats`` runs. ``--prefect-only`` measures
item 3 alone (on ``validate``: the quick benchmark); ``--json`` writes the rows for
``benchmarks/run.py``. A quiet machine matters: every way pays for the other work on it.
``--set train.search=off`` measures the pipeline without the search (the rows before it was the
default); without it, the shipped params.yaml, search included, is what every way runs.

    .venv/bin/python benchmarks/orchestration.py [--dataset data/raw/countries] [--source .] [--runs 3]

``--source`` is the checkout whose code is measured (its copy goes first on PYTHONPATH), so the
same script measures another branch: ``git clone -q . /tmp/main && ... --source /tmp/main``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rows import row, write_rows  # noqa: E402
from orchestration_runs import (  # noqa: E402
    BIN,
    START,
    STOP,
    copy_project,
    env,
    exit_gap,
    has_repro_command,
    run,
    timed_repro,
)

REPO = Path(__file__).resolve().parents[1]
# The stage functions dvc.yaml's commands end up calling, in dvc.yaml's order: from the one stage
# registry (every stage, preprocess_embedding included), or this list for checkouts without it.
try:
    from pipeline.stages.registry import REGISTRY

    STAGE_FUNCTIONS = {spec.name: spec.target for spec in REGISTRY}
except ImportError:
    STAGE_FUNCTIONS = {
        "validate": "pipeline.stages.validate:run",
        "preprocess_text": "pipeline.stages.preprocess:run_text",
        "preprocess_image": "pipeline.stages.preprocess:run_image",
        "preprocess_tabular": "pipeline.stages.preprocess:run_tabular",
        "build_graph": "pipeline.stages.build_graph:run",
        "train": "pipeline.stages.train:run",
        "evaluate": "pipeline.stages.evaluate:run",
    }
CHEAP_STAGES = ("validate", "preprocess_tabular")
#: Issue 16's bounds on each way's ratio to the plain process, and each way's row.
TARGETS = {"dvc repro": 1.5, "graphfuse repro": 1.3}
ROW_IDS = {"dvc repro": "orchestration_dvc_repro", "graphfuse repro": "orchestration_repro"}


def run_plain(names: list[str]) -> None:
    """Child mode: call the stage functions in this process, print each one's seconds as JSON."""
    from pipeline.config import load_params
    from pipeline.paths import Paths

    seconds = {}
    for name in names:
        module, attr = STAGE_FUNCTIONS[name].split(":")
        start = time.perf_counter()
        getattr(importlib.import_module(module), attr)(load_params("params.yaml"), Paths(Path(".")))
        seconds[name] = time.perf_counter() - start
    print("PLAIN " + json.dumps(seconds))


def prefect_cost(root: Path, stages: tuple[str, ...], repeats: int) -> dict:
    """``graphfuse stage NAME`` against the stage function in a plain process, each fresh, as a row.

    With a persistent server (``graphfuse prefect start``) the stages talk to it, as ``graphfuse
    repro`` makes them do; older checkouts without it start their own temporary server."""
    graphfuse, py, script = str(BIN / "graphfuse"), str(BIN / "python"), str(Path(__file__).resolve())
    server = (
        subprocess.run([graphfuse, "prefect", "start"], cwd=root, env=env(root), capture_output=True)
        if has_repro_command(root)
        else None
    )
    try:
        per_stage = {}
        for name in stages:
            with_prefect = [run([graphfuse, "stage", name], root)[0] for _ in range(repeats)]
            without = [run([py, script, "--plain", name], root)[0] for _ in range(repeats)]
            per_stage[name] = {"graphfuse_stage": with_prefect, "plain": without}
            ours, plain = statistics.median(with_prefect), statistics.median(without)
            print(
                f"\n3. {name}: `graphfuse stage` {ours:.1f} s, plain process {plain:.1f} s "
                f"(medians of {repeats}): Prefect costs {ours - plain:.1f} s"
            )
    finally:
        if server is not None:
            subprocess.run([graphfuse, "prefect", "stop"], cwd=root, env=env(root), capture_output=True)
    ours = statistics.mean(statistics.median(v["graphfuse_stage"]) for v in per_stage.values())
    plain = statistics.mean(statistics.median(v["plain"]) for v in per_stage.values())
    print(f"   Prefect's cost per stage: {ours - plain:.1f} s   (target <= 2 s)")
    return row(
        "prefect_cost",
        f"Prefect's cost per stage: `graphfuse stage` vs the stage function in a plain process ({', '.join(stages)})",
        graphfuse=ours,
        baseline=plain,
        unit="s",
        better="lower",
        size=f"countries, median of {repeats} per stage, mean over stages",
        target={"text": "difference <= 2 s", "issue": 5},
        holds=ours - plain <= 2.0,
        cost_s=ours - plain,
        per_stage=per_stage,
    )


def full_runs(
    source: Path, tmp: Path, dataset: str | None, runs: int, settings: dict[str, object]
) -> tuple[dict, dict, Path]:
    """``runs`` rounds of: the stage functions in one plain process, plain ``dvc repro`` (what
    ``dvc repro`` and ``dvc exp run`` do: each stage a fresh ``graphfuse stage`` process with its own
    Prefect server) and ``graphfuse repro`` (one server, warm stages), each in a fresh copy and
    interleaved, so that a change in the machine's load falls on all three alike.

    Returns every run's total and per-stage seconds by way, and the last repro's project."""
    py, script = str(BIN / "python"), str(Path(__file__).resolve())
    ways = {"plain": None, "dvc repro": [str(BIN / "dvc"), "repro"]}
    if has_repro_command(source):
        ways["graphfuse repro"] = [str(BIN / "graphfuse"), "repro"]
    totals: dict[str, list[float]] = {way: [] for way in ways}
    stages: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
    last = tmp
    for i in range(runs):
        for way, command in ways.items():
            last = copy_project(source, tmp / f"{way.replace(' ', '-')}-{i}", dataset, settings)
            if command is None:
                total, out = run([py, script, "--plain", *STAGE_FUNCTIONS], last)
                per_stage = json.loads(out.split("PLAIN ", 1)[1].splitlines()[0])
            else:
                total, per_stage = timed_repro(last, command)
            totals[way].append(total)
            stages[way].append(per_stage)
            print(f"run {i + 1}/{runs}: {way:<16} {total:6.1f} s  (load {os.getloadavg()[0]:.1f})", flush=True)
    return totals, stages, last


def _report_full(totals: dict[str, list[float]], stages: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """Print medians, per-stage medians and each way's ratio to the plain process; return medians."""
    medians = {way: statistics.median(times) for way, times in totals.items()}
    print(f"\n1-2. medians of {len(totals['plain'])} runs each (ratio to the plain process):")
    for way, seconds in medians.items():
        target = TARGETS.get(way)
        bound = f"   (target <= {target}x)" if target else ""
        print(f"   {way:<16} {seconds:6.1f} s   {seconds / medians['plain']:.2f}x{bound}")
    print(f"   {'stage':<20}" + "".join(f"{way:>18}" for way in stages))
    for name in [*STAGE_FUNCTIONS, START, STOP]:
        cells = [statistics.median(run.get(name, float("nan")) for run in runs) for runs in stages.values()]
        print(f"   {name:<20}" + "".join(f"{cell:16.1f} s" for cell in cells))
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="dataset.dir for the copies (default: params.yaml's)")
    parser.add_argument("--source", type=Path, default=REPO, help="the checkout whose code is measured")
    parser.add_argument("--runs", type=int, default=3, help="full runs of each way (median)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each cheap stage and no-op repro (median)")
    parser.add_argument("--prefect-only", action="store_true", help="only Prefect's cost, on validate (quick)")
    parser.add_argument("--json", type=Path, help="write the rows here (for benchmarks/run.py)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a params.yaml value for every copy, e.g. train.search=off (the value is read as YAML)",
    )
    parser.add_argument("--plain", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    if args.plain:
        run_plain(args.plain)
        return
    if args.prefect_only:
        with tempfile.TemporaryDirectory(prefix="graphfuse-bench-") as tmp:
            root = copy_project(args.source.resolve(), Path(tmp) / "repro", args.dataset, settings)
            write_rows(args.json, [prefect_cost(root, ("validate",), args.repeats)])
        return

    source = args.source.resolve()
    dvc = str(BIN / "dvc")
    dataset = (args.dataset or "countries (params.yaml)") + "".join(f", {item}" for item in args.set)
    with tempfile.TemporaryDirectory(prefix="graphfuse-bench-") as tmp:
        print(f"measuring {source} on {dataset}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        totals, stages, repro_root = full_runs(source, Path(tmp), args.dataset, args.runs, settings)
        medians = _report_full(totals, stages)

        # Prefect's own cost: the same stage with and without Prefect, each in a fresh process.
        cost_row = prefect_cost(repro_root, CHEAP_STAGES, args.repeats)

        noops = []
        for _ in range(max(args.repeats, 3)):
            noop, out = run([dvc, "repro"], repro_root)
            assert "Running stage" not in out, out
            noops.append(noop)
        noop = statistics.median(noops)
        print(f"\n4. no-op `dvc repro`: {noop:.1f} s, median of {len(noops)}   (target <= 3 s)")
        gaps = [exit_gap(repro_root, "build_graph") for _ in range(max(args.repeats, 3))]
        gap, stage_wall = statistics.median(g for g, _ in gaps), statistics.median(w for _, w in gaps)
        print(f"   a lone `graphfuse stage build_graph` exits {gap:.2f} s after its last line (of {stage_wall:.1f} s)")

        params = yaml.safe_load((repro_root / "params.yaml").read_text())
        params["train"]["lr"] = params["train"]["lr"] * 2
        (repro_root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        _, out = run([dvc, "repro"], repro_root)
        rerun = re.findall(r"Running stage '([^']+)'", out)
        print(f"\n5. after doubling train.lr, `dvc repro` reran: {', '.join(rerun) or 'nothing'}")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (other work on the machine inflates every time)")
    size = f"{dataset}, median of {args.runs} interleaved runs each"
    repro_rows = [
        row(
            ROW_IDS[way],
            f"`{way}` vs the same stage functions in one plain process",
            graphfuse=medians[way],
            baseline=medians["plain"],
            unit="s",
            better="lower",
            size=size,
            target={"op": "<=", "ratio": TARGETS[way], "issue": 16},
            runs={"repro": totals[way], "plain": totals["plain"]},
            stages={"repro": stages[way], "plain": stages["plain"]},
        )
        for way in medians
        if way != "plain"
    ]
    write_rows(
        args.json,
        [
            *repro_rows,
            cost_row,
            row(
                "noop_repro",
                "no-op `dvc repro` vs the full `dvc repro` before it",
                graphfuse=noop,
                baseline=medians["dvc repro"],
                unit="s",
                better="lower",
                size=f"{dataset}, median of {len(noops)}",
                target={"text": "<= 3 s", "issue": 5},
                holds=noop <= 3.0,
                runs=noops,
            ),
            row(
                "lone_stage_exit",
                "a lone `graphfuse stage build_graph`: seconds from its last line to its exit vs its wall time",
                graphfuse=gap,
                baseline=stage_wall,
                unit="s",
                better="lower",
                size=f"{dataset}, median of {len(gaps)}",
                target={"text": "<= 2 s", "issue": 16},
                holds=gap <= 2.0,
                runs=[list(g) for g in gaps],
            ),
            row(
                "param_change_reruns",
                "stages a one-param change (`train.lr`) reruns vs all stages",
                graphfuse=len(rerun),
                baseline=len(STAGE_FUNCTIONS),
                unit="stages",
                better="lower",
                size=f"{dataset}: reran {', '.join(rerun) or 'nothing'}",
                reran=rerun,
            ),
        ],
    )


if __name__ == "__main__":
    main()
