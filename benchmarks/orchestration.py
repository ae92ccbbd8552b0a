"""What orchestration costs: ``dvc repro`` against the same stage functions in one plain process.

In fresh temporary copies of the project (git repos, nothing shared), this prints:

1. the stage functions called one after the other in one plain Python process (the baseline);
2. ``dvc repro`` of the default pipeline, as ``make run`` runs it, and its ratio to the baseline
   (target <= 1.5x), with each stage's wall time inside it;
3. Prefect's own cost per stage: ``graphfuse stage NAME`` against the same stage function in a
   plain Python process, on cheap stages, so the difference is Prefect (target <= 2 s);
4. a no-op ``dvc repro`` (target <= 3 s);
5. which stages a one-parameter change (``train.lr``) reruns.

Prefect's cost and the no-op repro are medians of ``--repeats`` runs; the full repro and the plain
process run once each (minutes apiece on this machine). ``--prefect-only`` measures item 3 alone
(on ``validate``: the quick benchmark); ``--json`` writes the rows for ``benchmarks/run.py``.

    .venv/bin/python benchmarks/orchestration.py [--dataset data/raw/countries] [--source .]

``--source`` is the checkout whose code is measured (its copy goes first on PYTHONPATH), so the
same script measures another branch: ``git clone -q . /tmp/main && ... --source /tmp/main``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rows import row, write_rows  # noqa: E402

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
# The stage functions dvc.yaml's commands end up calling, in dvc.yaml's order.
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


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", CI="1", PYTHONPATH=str(root))
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DO_NOT_TRACK="1")
    return env


def _run(args: list[str], root: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=root, env=_env(root), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {root}:\n{result.stdout}\n{result.stderr}")
    return seconds, result.stdout + result.stderr


def _copy_project(source: Path, dest: Path, dataset: str | None) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
    if dataset:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        params["dataset"]["dir"] = dataset
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "copy"]):
        subprocess.run(args, cwd=dest, check=True, capture_output=True)
    return dest


def _has_prefect_server_command(root: Path) -> bool:
    command = [str(BIN / "graphfuse"), "repro", "--help"]
    return subprocess.run(command, cwd=root, env=_env(root), capture_output=True).returncode == 0


def _timed_repro(root: Path, command: list[str]) -> tuple[float, dict[str, float]]:
    """Run a repro command, timing each stage from its 'Running stage' line to the next one."""
    start = time.perf_counter()
    marks: list[tuple[str, float]] = []
    with subprocess.Popen(
        command, cwd=root, env=_env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            found = re.search(r"Running stage '([^']+)'", line)
            if found:
                marks.append((found.group(1), time.perf_counter()))
    total = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{''.join(lines)}")
    ends = [t for _, t in marks[1:]] + [start + total]
    return total, {name: end - begin for (name, begin), end in zip(marks, ends, strict=True)}


def prefect_cost(root: Path, stages: tuple[str, ...], repeats: int) -> dict:
    """``graphfuse stage NAME`` against the stage function in a plain process, each fresh, as a row.

    With a persistent server (``graphfuse prefect start``) the stages talk to it, as ``graphfuse
    repro`` makes them do; older checkouts without it start their own temporary server."""
    graphfuse, py, script = str(BIN / "graphfuse"), str(BIN / "python"), str(Path(__file__).resolve())
    server = (
        subprocess.run([graphfuse, "prefect", "start"], cwd=root, env=_env(root), capture_output=True)
        if _has_prefect_server_command(root)
        else None
    )
    try:
        per_stage = {}
        for name in stages:
            with_prefect = [_run([graphfuse, "stage", name], root)[0] for _ in range(repeats)]
            without = [_run([py, script, "--plain", name], root)[0] for _ in range(repeats)]
            per_stage[name] = {"graphfuse_stage": with_prefect, "plain": without}
            ours, plain = statistics.median(with_prefect), statistics.median(without)
            print(
                f"\n3. {name}: `graphfuse stage` {ours:.1f} s, plain process {plain:.1f} s "
                f"(medians of {repeats}): Prefect costs {ours - plain:.1f} s"
            )
    finally:
        if server is not None:
            subprocess.run([graphfuse, "prefect", "stop"], cwd=root, env=_env(root), capture_output=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="dataset.dir for the copies (default: params.yaml's)")
    parser.add_argument("--source", type=Path, default=REPO, help="the checkout whose code is measured")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each cheap stage and no-op repro (median)")
    parser.add_argument("--prefect-only", action="store_true", help="only Prefect's cost, on validate (quick)")
    parser.add_argument("--json", type=Path, help="write the rows here (for benchmarks/run.py)")
    parser.add_argument("--plain", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        run_plain(args.plain)
        return
    if args.prefect_only:
        with tempfile.TemporaryDirectory(prefix="graphfuse-bench-") as tmp:
            root = _copy_project(args.source.resolve(), Path(tmp) / "repro", args.dataset)
            write_rows(args.json, [prefect_cost(root, ("validate",), args.repeats)])
        return

    source = args.source.resolve()
    py, graphfuse, dvc = str(BIN / "python"), str(BIN / "graphfuse"), str(BIN / "dvc")
    script = str(Path(__file__).resolve())
    with tempfile.TemporaryDirectory(prefix="graphfuse-bench-") as tmp:
        plain_root = _copy_project(source, Path(tmp) / "plain", args.dataset)
        repro_root = _copy_project(source, Path(tmp) / "repro", args.dataset)
        where = args.dataset or "params.yaml's dataset.dir"
        print(f"measuring {source} on {where}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

        plain_total, out = _run([py, script, "--plain", *STAGE_FUNCTIONS], plain_root)
        plain_stages = json.loads(out.split("PLAIN ", 1)[1].splitlines()[0])
        print(f"\n1. plain: {len(plain_stages)} stage functions in one process: {plain_total:.1f} s wall")
        for name, seconds in plain_stages.items():
            print(f"   {name:<20} {seconds:6.1f} s")

        uses_wrapper = _has_prefect_server_command(repro_root)
        command = [graphfuse, "repro"] if uses_wrapper else [dvc, "repro"]
        repro_total, repro_stages = _timed_repro(repro_root, command)
        print(f"\n2. `{' '.join(Path(c).name for c in command)}` (as `make run`): {repro_total:.1f} s wall")
        for name, seconds in repro_stages.items():
            print(f"   {name:<20} {seconds:6.1f} s   (plain {plain_stages.get(name, float('nan')):5.1f} s)")
        print(f"   ratio to plain: {repro_total / plain_total:.2f}x   (target <= 1.5x)")

        # Prefect's own cost: the same stage with and without Prefect, each in a fresh process.
        cost_row = prefect_cost(repro_root, CHEAP_STAGES, args.repeats)

        noops = []
        for _ in range(max(args.repeats, 3)):
            noop, out = _run([dvc, "repro"], repro_root)
            assert "Running stage" not in out, out
            noops.append(noop)
        noop = statistics.median(noops)
        print(f"\n4. no-op `dvc repro`: {noop:.1f} s, median of {len(noops)}   (target <= 3 s)")

        params = yaml.safe_load((repro_root / "params.yaml").read_text())
        params["train"]["lr"] = params["train"]["lr"] * 2
        (repro_root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        _, out = _run([dvc, "repro"], repro_root)
        rerun = re.findall(r"Running stage '([^']+)'", out)
        print(f"\n5. after doubling train.lr, `dvc repro` reran: {', '.join(rerun) or 'nothing'}")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (other work on the machine inflates every time)")
    dataset = args.dataset or "countries (params.yaml)"
    write_rows(
        args.json,
        [
            row(
                "orchestration_repro",
                "`graphfuse repro` (dvc repro, as `make run`) vs the same stage functions in one plain process",
                graphfuse=repro_total,
                baseline=plain_total,
                unit="s",
                better="lower",
                size=f"{dataset}, one run each",
                target={"op": "<=", "ratio": 1.5, "issue": 5},
                stages={"repro": repro_stages, "plain": plain_stages},
            ),
            cost_row,
            row(
                "noop_repro",
                "no-op `dvc repro` vs the full `dvc repro` before it",
                graphfuse=noop,
                baseline=repro_total,
                unit="s",
                better="lower",
                size=f"{dataset}, median of {len(noops)}",
                target={"text": "<= 3 s", "issue": 5},
                holds=noop <= 3.0,
                runs=noops,
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
