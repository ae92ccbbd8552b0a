"""One benchmark command: every speed and quality claim beside its baseline, measured in one run.

Runs each benchmark script (one per capability) in its own process with ``--json``, so each
process's peak RSS is its own (``os.wait4``), collects their rows, and writes:

- ``benchmarks/results/latest.json`` (full profile) or ``results/quick.json`` (``--quick``):
  the rows, the sizes used, the machine (cores, GPU, versions, git commit, load);
- the same as a markdown table next to it (``latest.md`` / ``quick.md``); a full run also puts
  it into the documentation page ``docs/benchmarks.md`` between the bench markers;
- a regression report: rows whose ratio got more than 20% worse than the committed
  ``latest.json`` (printed; never a failure: absolute times are noisy on a shared machine).

A quick run never overwrites ``latest.json`` unless ``--out`` names it.

    .venv/bin/python benchmarks/run.py [--quick] [--only text_encoding knn ...] [--device cuda]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import markdown, regression_report, regressions, splice  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
#: The documentation page whose table a full run rewrites (between report.BEGIN and report.END).
DOCS_PAGE = REPO / "docs" / "benchmarks.md"

#: (issue row number, name, script, arguments per profile). The issue's rows 1-8, in its order; 9: issue 19.
#: Full sizes were chosen for ~20-25 min on 2 cores; under load 6-12 from other jobs the run took 51 min,
#: before the scale row went up to 10^6 nodes (issue 10's row 7; ~15 min more here).
BENCHES: list[tuple[str, str, str, dict[str, list[str]]]] = [
    (
        "1-2",
        "encoding",
        "encode_throughput.py",
        {
            "quick": ["--texts", "256", "--images", "64", "--repeats", "2"],
            "full": ["--texts", "1000", "--images", "128"],
        },
    ),
    ("3", "cache_rerun", "cache_rerun.py", {"quick": ["--nodes", "100"], "full": ["--nodes", "200"]}),
    ("4", "knn", "knn_graph.py", {"quick": ["--nodes", "5000", "--repeats", "2"], "full": ["--nodes", "12000"]}),
    (
        "5",
        "train_epoch",
        "train_epoch.py",
        {"quick": ["--nodes", "2000", "--epochs", "10", "--rounds", "2"], "full": ["--epochs", "5"]},
    ),
    ("6", "orchestration", "orchestration.py", {"quick": ["--prefect-only", "--repeats", "1"], "full": []}),
    (
        "7",
        "scale",
        "train_scale.py",
        {
            "quick": ["--nodes", "2000", "20000", "--epochs", "2"],
            "full": ["--nodes", "10000", "100000", "1000000", "--epochs", "2"],
        },
    ),
    (
        "8",
        "accuracy",
        "accuracy_baselines.py",
        {"quick": ["--datasets", "countries", "--seeds", "2", "--max-epochs", "100"], "full": ["--seeds", "5"]},
    ),
    # issue 19's bar: `graphfuse metrics` and `registry list` <= 2 s, `predict` of 3 new nodes <= 10 s (fresh processes)
    ("9", "cli_latency", "cli_latency.py", {"quick": ["--repeats", "2"], "full": ["--repeats", "5"]}),
]
#: Rows of one script that belong to different rows of the issue.
ROW_NUMBERS = {"text_encoding": "1", "image_encoding": "2", "image_batch32_vs_1": "2"}
#: Benchmarks that take ``--device`` (what ``benchmarks/gpu.sh`` runs on CUDA).
DEVICE_BENCHES = ("encoding", "train_epoch")
VERSIONS = (
    "torch",
    "torch_geometric",
    "faiss-cpu",
    "prefect",
    "dvc",
    "mlflow",
    "scikit-learn",
    "sentence-transformers",
)


def machine() -> dict[str, Any]:
    """Cores, memory, GPU, library versions and the git commit this run measured."""
    versions = {"python": sys.version.split()[0]}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    gpu = subprocess.run(
        [
            sys.executable,
            "-c",
            "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        "gpu": gpu or None,
        "versions": versions,
        "commit": commit,
        "load_start": os.getloadavg()[0],
    }


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def run_bench(script: str, args: list[str]) -> tuple[list[dict], float, int, str | None]:
    """Run one script in its own process: (rows, seconds, peak RSS bytes, error or None)."""
    with tempfile.TemporaryDirectory(prefix="graphfuse-bench-rows-") as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, str(HERE / script), *args, "--json", str(out)]
        print(f"\n$ {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(command[:-2]))}", flush=True)
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "CI": "1"})
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        peak = usage.ru_maxrss * 1024  # KiB on Linux; the largest of the process and its waited children
        rows = json.loads(out.read_text())["rows"] if out.is_file() else []
        error = None if process.returncode == 0 else f"exit {process.returncode}"
        return rows, seconds, peak, error


def run(
    profile: str, only: list[str] | None, device: str, work: Path, sizes: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "profile": profile if device == "cpu" else f"{profile}-{device}",
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "sizes": {},
        "rows": [],
    }
    start = time.perf_counter()
    for n, name, script, profiles in BENCHES:
        if only and name not in only:
            continue
        args = list((sizes or {}).get(name, profiles[profile]))
        if script == "accuracy_baselines.py":
            args += ["--work", str(work)]
        if device != "cpu":
            args += ["--device", device]
        result["sizes"][name] = args
        rows, seconds, peak, error = run_bench(script, args)
        for row in rows:
            row.update(
                n=ROW_NUMBERS.get(row["id"], n),
                bench=name,
                process_peak_rss_mib=round(peak / 2**20),
                bench_seconds=round(seconds, 1),
            )
        result["rows"] += rows
        if error:  # what the script finished is kept; the failure is a row of its own
            result["rows"].append({"n": n, "id": name, "bench": name, "what": f"{name} ({script})", "error": error})
        print(f"[{name}: {seconds:.0f} s, peak RSS {peak / 2**20:.0f} MiB{', ' + error if error else ''}]", flush=True)
    result["seconds"] = time.perf_counter() - start
    result["machine"]["load_end"] = os.getloadavg()[0]
    return result


def merge_rerun(full: dict[str, Any], rerun: dict[str, Any]) -> dict[str, Any]:
    """``full`` with the benchmarks ``rerun`` measured replaced by their new rows, so that
    ``--only NAME`` refreshes one part of ``latest.json`` instead of replacing all of it. Each
    rerun is recorded (which benchmarks, when, on which commit and load) and shown under the table."""
    names = set(rerun["sizes"])
    merged = {**full, "sizes": {**full["sizes"], **rerun["sizes"]}}
    merged["rows"] = [r for r in full["rows"] if r.get("bench") not in names] + rerun["rows"]
    order = {name: i for i, (_, name, _, _) in enumerate(BENCHES)}
    merged["rows"].sort(key=lambda r: order.get(r.get("bench"), len(order)))
    m = rerun["machine"]
    merged["reruns"] = [
        *full.get("reruns", []),
        {
            "benches": sorted(names),
            "started": rerun["started"],
            "seconds": rerun["seconds"],
            "commit": m["commit"],
            "load_start": m["load_start"],
            "load_end": m["load_end"],
        },
    ]
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes (writes results/quick.json)")
    parser.add_argument("--only", nargs="+", choices=[b[1] for b in BENCHES], help="run only these benchmarks")
    parser.add_argument("--device", default="cpu", help="cuda: the encoding and training rows on the GPU")
    parser.add_argument("--out", type=Path, help="where the JSON goes (default: results/latest.json or quick.json)")
    parser.add_argument("--against", type=Path, default=RESULTS / "latest.json", help="the run to compare with")
    parser.add_argument(
        "--no-docs", "--no-readme", dest="no_docs", action="store_true", help="leave docs/benchmarks.md's table alone"
    )
    parser.add_argument("--work", type=Path, default=REPO / ".cache" / "graphfuse" / "bench", help="feature cache")
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=[],
        metavar="NAME=ARGS",
        help='other arguments for a benchmark: knn="--nodes 1000"',
    )
    args = parser.parse_args()
    names = [b[1] for b in BENCHES]
    sizes = {}
    for item in args.sizes:
        name, _, rest = item.partition("=")
        if name not in names:
            parser.error(f"--sizes {item!r}: {name!r} is not one of {', '.join(names)}")
        sizes[name] = shlex.split(rest)
    if args.device != "cpu":
        bad = [name for name in (args.only or []) if name not in DEVICE_BENCHES]
        if not args.only or bad:
            parser.error(f"--device {args.device} takes --only among {', '.join(DEVICE_BENCHES)}")
    profile = "quick" if args.quick else "full"
    out = args.out or RESULTS / ("quick.json" if args.quick else "latest.json")
    previous = json.loads(args.against.read_text()) if args.against.is_file() else None  # read before overwriting

    result = run(profile, args.only, args.device, args.work, sizes)
    if args.only and not args.quick and args.device == "cpu" and out == RESULTS / "latest.json" and previous:
        result = merge_rerun(previous, result)  # a full result with some benchmarks measured again
    table = markdown(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(table)
    print("\n" + table)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    full_run = not (args.quick or sizes) and args.device == "cpu" and out == RESULTS / "latest.json"
    if full_run and not args.no_docs:
        DOCS_PAGE.write_text(splice(DOCS_PAGE.read_text(), table))
        print(f"updated the table in {DOCS_PAGE}")
    if previous is not None:
        print(regression_report(regressions(result, previous), str(args.against)))
    else:
        print(f"no {args.against} to compare with")


if __name__ == "__main__":
    main()
