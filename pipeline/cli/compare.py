"""Command group *comparisons*: ``graphfuse compare`` prints runs side by side. The reading lives
in ``pipeline.tracking.compare`` (MLflow) and ``pipeline.ops.dvc_experiment`` (DVC experiments);
this module only prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.base import ParamsFile, Root


def _cell(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    sd = stat.get("sd")
    return f"{stat['mean']:.3f} ± {sd:.3f}" if sd is not None else f"{stat['mean']:.3f}"


def _value(value) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(runs) -> list[str]:
    from pipeline.comparison import HEADLINE, SPLITS, differing_params

    width = max(18, *(len(run.label) + 2 for run in runs))
    rows: list[tuple[str, list[str]]] = []
    differ = differing_params(runs)
    rows.append(("params that differ" if differ else "params: all the same", []))
    rows += [(f"  {key}", values) for key, values in differ.items()]
    seeds = {run.n_seeds for run in runs if run.n_seeds} or {"?"}
    for split in reversed(SPLITS):  # test first: the headline
        rows.append((f"{split} (mean ± sd over {'/'.join(map(str, sorted(seeds)))} seeds)", []))
        rows += [(f"  {m}", [_cell(run.spread.get(split, {}).get(m)) for run in runs]) for m in HEADLINE]
    conditions = sorted({c for run in runs for c in run.ablation}, key=lambda c: (c != "full", c))
    if conditions:
        rows.append(("ablation: test macro-F1", []))
        rows += [(f"  {c}", [_value(run.ablation.get(c, {}).get("macro_f1")) for run in runs]) for c in conditions]
    key_width = max(len(name) for name, _ in rows) + 2
    lines = [" " * key_width + "".join(f"{run.label:<{width}}" for run in runs)]
    lines += [f"{name:<{key_width}}" + "".join(f"{v:<{width}}" for v in values) for name, values in rows]
    return lines


def compare(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="DVC experiments (`dvc exp list`), git revisions or `workspace`; MLflow run ids with --mlflow"
        ),
    ] = None,
    mlflow: Annotated[
        bool, typer.Option("--mlflow", help="compare MLflow runs (the last --last when none named)")
    ] = False,
    last: Annotated[int, typer.Option(help="with --mlflow and no run ids: this many latest evaluated runs")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="print the runs as JSON")] = False,
    params: ParamsFile = Path("params.yaml"),
    root: Root = Path("."),
) -> None:
    """Runs side by side: the params that differ, val/test metrics (mean ± sd over seeds), the ablation.

    Example: graphfuse compare workspace graphfuse-1a2b3c4d   (a deployment run's DVC experiment)
    Example: graphfuse compare --mlflow --last 3
    """
    if names and not mlflow:
        from pipeline.ops.dvc_experiment import experiment_to_compare

        runs = [experiment_to_compare(root.resolve(), name) for name in names]
    else:
        from pipeline.config import load_params
        from pipeline.tracking import connect_tracking
        from pipeline.tracking.compare import runs_to_compare

        connect_tracking(root)
        experiment = load_params(root / params).tracking.experiment
        runs = runs_to_compare(names or [], experiment, last=last)
    if as_json:
        typer.echo(json.dumps([run.as_dict() for run in runs], indent=2))
        return
    for line in _table(runs):
        typer.echo(line.rstrip())


def register(app: typer.Typer) -> None:
    app.command()(compare)
