"""Command group *maintenance*: the last evaluation's figures, and the embedding cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.base import Root, fail, sub_app
from pipeline.errors import GraphFuseError

_JSON_HELP = "print the figures (metrics_detail.json) less per class, and registry.json, as JSON"


def metrics(
    root: Root = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Print the last evaluation: mean ± sd over training seeds, and the registered model's own figures.

    Example: graphfuse metrics --json | jq .test.macro_f1
    """
    from pipeline.atomic import read_json
    from pipeline.paths import Paths
    from pipeline.stages.outputs import REGISTRY_FILE

    paths = Paths(root)
    values = _figures(paths.metrics)
    if as_json:
        registry_file = paths.metrics / REGISTRY_FILE
        registry = read_json(registry_file) if registry_file.is_file() else None
        typer.echo(json.dumps(_headline(values) | {"registry": registry}, indent=2))
        return
    spread = values.get("spread", {})
    n_seeds = spread.get("n_seeds", 1)

    def stat(split: str, name: str) -> str:
        s = spread.get(split, {}).get(name, {})
        mean, sd = s.get("mean"), s.get("sd")
        return (
            "      -      " if mean is None else f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f}        "
        )

    link = values.get("task") == "link_prediction"
    names = ("mrr", "hits_at_1", "hits_at_10", "roc_auc") if link else ("accuracy", "macro_f1", "roc_auc_ovr", "ece")
    heads = ("MRR", "Hits@1", "Hits@10", "ROC-AUC") if link else ("accuracy", "macro-F1", "ROC-AUC", "ECE")
    typer.echo(f"mean ± sd over {n_seeds} training seed(s), same split; [registered model]")
    typer.echo(f"{'split':<6} {'n':>4}  " + " ".join(f"{h:<22}" for h in heads))
    for split in ("val", "test"):
        m = values.get(split, {})
        cells = [f"{stat(split, k)} [{m.get(k) if m.get(k) is not None else float('nan'):.3f}]" for k in names]
        typer.echo(f"{split:<6} {m.get('n', 0):>4}  " + " ".join(f"{c:<22}" for c in cells))
    if link:  # the no-graph MLP scorer on the same candidates
        base = values.get("no_graph_mlp", {}).get("test", {})
        shown = ", ".join(f"{h} {base[k]['mean']:.3f}" for k, h in zip(names, heads, strict=True) if k in base)
        typer.echo(f"no-graph MLP scorer, test, mean over seeds: {shown}")
    registry = paths.metrics / REGISTRY_FILE
    if registry.is_file():
        r = read_json(registry)
        if r.get("duplicate"):
            state = "already registered, nothing new"
        elif r["promoted"]:
            state = "now champion"
        else:
            state = f"{r.get('alias') or 'challenger'}; champion stays v{r['previous_champion']}"
        head = f"registered {r['model_name']} v{r['version']} ({r['metric']}={r['value']:.4f}; {state})"
        typer.echo(f"{head}: {r['reason']}" if r.get("reason") else head)


def _figures(metrics_dir: Path) -> dict:
    """The last evaluation's every figure (metrics_detail.json), or the error that says what to run."""
    from pipeline.stages.headline import read_figures
    from pipeline.stages.outputs import DETAIL_FILE, METRICS_FILE

    if not (metrics_dir / METRICS_FILE).is_file():
        raise GraphFuseError(f"{metrics_dir / METRICS_FILE}: not found; run `dvc repro` first")
    values = read_figures(metrics_dir)
    if not values:
        raise GraphFuseError(f"{metrics_dir / DETAIL_FILE}: not found; rerun the evaluate stage (`dvc repro`)")
    return values


def _headline(values: dict) -> dict:
    """The evaluation's figures less the per-class detail: the numbers a script compares."""
    return {
        key: {k: v for k, v in value.items() if k != "per_class"} if isinstance(value, dict) else value
        for key, value in values.items()
    }


def _cache_dir(directory: Path | None, root: Path, params_file: Path) -> Path:
    if directory is not None:
        return directory
    from pipeline.config import load_params
    from pipeline.paths import Paths

    settings = load_params(root / params_file).preprocess
    if not settings.cache_dir:
        raise GraphFuseError(f"{root / params_file}: preprocess.cache_dir is empty (the cache is off)")
    return Paths(root).under_root(settings.cache_dir)


def cache_prune(
    older_than: Annotated[str | None, typer.Option(help="remove entries unused for this long: 30d, 12h")] = None,
    max_size: Annotated[str | None, typer.Option(help="then remove the oldest until under: 20GB, 500MB")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="cache folder (default: params)")] = None,
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
    params: Annotated[Path, typer.Option(help="params file, relative to the root")] = Path("params.yaml"),
) -> None:
    """Remove cache entries by age of last use and/or down to a total size.

    Example: graphfuse cache prune --older-than 30d --max-size 20GB
    """
    from pipeline.cache import parse_age, parse_size, prune

    if older_than is None and max_size is None:
        raise GraphFuseError("give --older-than and/or --max-size")
    folder = _cache_dir(directory, root, params)
    try:
        report = prune(
            folder,
            older_than=parse_age(older_than) if older_than else None,
            max_size=parse_size(max_size) if max_size else None,
        )
    except ValueError as exc:
        fail(exc)
    typer.echo(
        f"{folder}: removed {report.removed} entries ({report.freed_bytes / 1e6:.1f} MB), "
        f"kept {report.kept} ({report.kept_bytes / 1e6:.1f} MB); stale temporaries removed: {report.stale_temporaries}"
    )


def register(app: typer.Typer) -> None:
    app.command()(metrics)
    cache_app = sub_app(
        "The embedding cache (preprocess.cache_dir): size and pruning."
        "\n\nExample: graphfuse cache prune --older-than 30d",
        no_args_is_help=True,
    )
    cache_app.command("prune")(cache_prune)
    app.add_typer(cache_app, name="cache")
