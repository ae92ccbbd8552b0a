"""How long a user waits for ``graphfuse metrics``, ``registry list`` and ``predict`` of 3 new nodes
(issue 19's bar: <= 2 s, <= 2 s and <= 10 s on this machine), each beside the floor any such
command pays, measured in the same run:

- ``graphfuse metrics`` against a plain Python process that reads and prints the same files
  (``metrics/metrics_detail.json`` and ``metrics/registry.json``): the interpreter and JSON alone;
- ``graphfuse registry list`` against a plain Python process that reads the model's versions, tags
  and aliases from the project's SQLite registry (``mlflow.db``) with sqlite3 and prints them;
- ``graphfuse predict --model models:/NAME@champion`` of 3 new countries (text, flag, numbers, an
  edge each to a known country) against a plain Python process that imports torch and PyG, which
  any prediction with the model pays before its first tensor.

In a fresh temporary copy of the project (a git repo, nothing shared) on the bundled countries
dataset with a short training (``--max-epochs``, ``--seeds``), ``graphfuse repro`` registers a
champion first (or ``--from-project DIR`` copies DIR's ``mlflow.db`` and ``metrics/`` into the
fresh copy instead: DIR itself is only read); then each command and its floor run ``--repeats``
times as fresh processes (what a user types), interleaved so the machine's load falls on both
alike; medians. ``--only`` measures some of the rows.

    .venv/bin/python benchmarks/cli_latency.py [--repeats 3] [--max-epochs 40] [--seeds 2]
    .venv/bin/python benchmarks/cli_latency.py --only registry_list --from-project /path/to/project
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rows import row, write_rows  # noqa: E402
from orchestration_runs import BIN, copy_project, run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: The new nodes: copies of these countries under new ids, each bordering the named known one.
NEW_NODES = {"NEW1": ("FRA", "ESP"), "NEW2": ("JPN", "KOR"), "NEW3": ("BRA", "ARG")}
READ_FLOOR = "import json, sys\nfor path in sys.argv[1:]:\n    print(json.dumps(json.load(open(path)), indent=2))"
IMPORT_FLOOR = "import torch, torch_geometric"
REGISTRY_FLOOR = (
    "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1])\nfor table in ('model_versions', "
    "'model_version_tags', 'registered_model_aliases'):\n"
    "    for r in db.execute(f'SELECT * FROM {table} WHERE name = ?', (sys.argv[2],)):\n        print(r)"
)
ROWS = ("metrics", "registry_list", "predict")


def reproduced(tmp: Path, max_epochs: int, seeds: int) -> Path:
    """A copy of the project after ``graphfuse repro``: metrics written, a champion registered."""
    root = copy_project(REPO, tmp / "project", None)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"].update(max_epochs=max_epochs, patience=min(params["train"]["patience"], max_epochs))
    params["evaluate"]["seeds"] = seeds
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    seconds, _ = run([str(BIN / "graphfuse"), "repro"], root)
    print(f"graphfuse repro (countries, {max_epochs} epochs, {seeds} seeds): {seconds:.0f} s", flush=True)
    return root


def from_project(tmp: Path, source: Path) -> Path:
    """A copy of this checkout with ``source``'s registry and metrics copied in (``source`` is only read)."""
    root = copy_project(REPO, tmp / "project", None)
    shutil.copy2(source / "mlflow.db", root / "mlflow.db")
    if (source / "metrics").is_dir():
        shutil.copytree(source / "metrics", root / "metrics", dirs_exist_ok=True)
    return root


def commands_for(rows: list[str], root: Path, tmp: Path, model: str) -> dict[str, list[str]]:
    """Each chosen row's command and its floor."""
    python, graphfuse = str(BIN / "python"), str(BIN / "graphfuse")
    commands = {}
    if "metrics" in rows:
        commands["metrics"] = [graphfuse, "metrics"]
        commands["read floor"] = [python, "-c", READ_FLOOR, "metrics/metrics_detail.json", "metrics/registry.json"]
    if "registry_list" in rows:
        commands["registry list"] = [graphfuse, "registry", "list"]
        commands["sqlite floor"] = [python, "-c", REGISTRY_FLOOR, "mlflow.db", model]
    if "predict" in rows:
        nodes, edges = new_nodes(root, tmp)
        commands["predict"] = [graphfuse, "predict", "--model", f"models:/{model}@champion", "--nodes", str(nodes)]
        commands["predict"] += ["--edges", str(edges), "--images-root", str(root / "data/raw/countries/images")]
        commands["predict"] += ["--out", str(tmp / "predictions.csv")]
        commands["import floor"] = [python, "-c", IMPORT_FLOOR]
    return commands


def new_nodes(root: Path, tmp: Path) -> tuple[Path, Path]:
    """3 new nodes with every column of the dataset, and their edges to known nodes."""
    dataset = root / "data" / "raw" / "countries"
    with (dataset / "nodes.csv").open(newline="", encoding="utf-8") as f:
        rows = {r["node_id"]: r for r in csv.DictReader(f)}
    nodes, edges = tmp / "new_nodes.csv", tmp / "new_edges.csv"
    with nodes.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[c for c in next(iter(rows.values())) if c != "label"])
        writer.writeheader()
        for new, (like, _) in NEW_NODES.items():
            writer.writerow({k: v for k, v in rows[like].items() if k != "label"} | {"node_id": new})
    edges.write_text("src,dst\n" + "".join(f"{new},{known}\n" for new, (_, known) in NEW_NODES.items()))
    return nodes, edges


def interleaved(commands: dict[str, list[str]], root: Path, repeats: int) -> dict[str, list[float]]:
    """Each command ``repeats`` times in turn (after one untimed round), as fresh processes."""
    for command in commands.values():
        run(command, root)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(run(command, root)[0])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each command (median)")
    parser.add_argument("--max-epochs", type=int, default=40, help="train.max_epochs of the model predicted with")
    parser.add_argument("--seeds", type=int, default=2, help="evaluate.seeds of the project measured")
    parser.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS), help="measure only these rows")
    parser.add_argument(
        "--from-project", type=Path, help="copy this project's mlflow.db and metrics/ instead of running repro"
    )
    parser.add_argument("--json", type=Path, help="write the rows here (for benchmarks/run.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphfuse-bench-") as work:
        tmp = Path(work)
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        if args.from_project:
            root = from_project(tmp, args.from_project.resolve())
        else:
            root = reproduced(tmp, args.max_epochs, args.seeds)
        registered = root / "metrics" / "registry.json"  # countries' model: graphfuse (tracking.model_name: null)
        model = json.loads(registered.read_text())["model_name"] if registered.is_file() else "graphfuse"
        times = interleaved(commands_for(args.only, root, tmp, model), root, args.repeats)
        if "predict" in args.only:
            with (tmp / "predictions.csv").open(newline="", encoding="utf-8") as f:
                predicted = [r["node_id"] for r in csv.DictReader(f)]
            assert predicted == list(NEW_NODES), predicted
        load = os.getloadavg()[0]
    for name, seconds in times.items():
        print(f"{name:>13}: {statistics.median(seconds):5.2f} s  (runs: {', '.join(f'{t:.2f}' for t in seconds)})")
    print(f"load average at the end: {load:.1f}")
    write_rows(args.json, bench_rows(times, args.repeats))


def bench_rows(times: dict[str, list[float]], repeats: int) -> list[dict]:
    """The rows measured: each command's median beside its floor's, and whether the issue's bound holds."""
    size = f"countries, fresh processes, median of {repeats}, interleaved"
    # (row id, what, command, floor, bound in s, size)
    claims = (
        ("cli_metrics", "`graphfuse metrics` vs a plain Python process printing the same JSON files")
        + ("metrics", "read floor", 2.0, size),
        (
            "cli_registry_list",
            "`graphfuse registry list` vs a plain Python process printing the same registry rows (sqlite3)",
        )
        + ("registry list", "sqlite floor", 2.0, size),
        (
            "cli_predict_3_nodes",
            "`graphfuse predict` of 3 new nodes (registry champion) vs a Python process importing torch, PyG",
        )
        + ("predict", "import floor", 10.0, f"{size}; 3 nodes with text, flag and numbers, an edge each"),
    )
    rows = []
    for id_, what, command, floor, bound, claim_size in claims:
        if command not in times:
            continue
        median, floor_median = statistics.median(times[command]), statistics.median(times[floor])
        rows.append(
            row(
                id_,
                what,
                graphfuse=median,
                baseline=floor_median,
                unit="s",
                better="lower",
                size=claim_size,
                target={"text": f"<= {bound:g} s", "issue": 19},
                holds=median <= bound,
                runs={"graphfuse": times[command], "baseline": times[floor]},
            )
        )
    return rows


if __name__ == "__main__":
    main()
