"""The ``graphfuse`` command: stages (as Prefect flows), dataset checks, predictions, metrics."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from pipeline.errors import GraphFuseError
from pipeline.stages import STAGES

# torch_geometric still calls torch.jit.script at import; the warning is not the user's to act on.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)

app = typer.Typer(
    help="GraphFuse: multimodal learning on graphs, as a reproducible pipeline.",
    no_args_is_help=True,
    add_completion=False,
)


def _embedded_defaults(root: Path) -> None:
    """Prefect's state lives in the project (git-ignored) unless the user points elsewhere."""
    os.environ.setdefault("PREFECT_HOME", str((root / ".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=1)


@app.command()
def stage(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(STAGES)}")],
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Run one pipeline stage as a Prefect flow (this is what dvc.yaml calls)."""
    if name not in STAGES:
        _fail(GraphFuseError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}"))
    _embedded_defaults(root)
    from flows.stage_flows import STAGE_FLOWS

    try:
        STAGE_FLOWS[name](params_file=str(params), root=str(root))
    except GraphFuseError as exc:
        _fail(exc)


@app.command("run-all")
def run_all(
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Run every stage in one Prefect flow, without DVC's change detection."""
    _embedded_defaults(root)
    from flows.pipeline_flow import pipeline_flow

    try:
        pipeline_flow(params_file=str(params), root=str(root))
    except GraphFuseError as exc:
        _fail(exc)


@app.command()
def validate(
    dataset: Annotated[Path, typer.Argument(help="a format-v1 dataset folder")],
    params: Annotated[
        Path | None, typer.Option(help="params file for the split settings [default: ./params.yaml if present]")
    ] = None,
) -> None:
    """Check a dataset folder exactly as the validate stage does (images decoded, split drawn); writes nothing."""
    from pipeline.config import Params, load_params
    from pipeline.stages.validate import checked_dataset

    try:
        if params is None and Path("params.yaml").is_file():
            params = Path("params.yaml")
        settings = load_params(params) if params is not None else Params()
        ds = checked_dataset(dataset, settings.validate_)
    except GraphFuseError as exc:
        _fail(exc)
    labelled = int(ds.labels.notna().sum())
    typer.echo(
        f"{ds.spec.name}: {len(ds.nodes)} nodes ({labelled} labelled, {len(ds.classes)} classes), "
        f"{len(ds.edges)} edges, modalities: {', '.join(ds.spec.modalities) or 'none'}"
    )
    for note in ds.notes:
        typer.echo(f"note: {note}")


def _check_output_file(out: Path) -> None:
    """``--out`` must be a file we can create: not a folder, and in a folder that exists."""
    if out.is_dir():
        raise GraphFuseError(f"{out}: --out names an existing folder; give a file path such as {out / 'preds.csv'}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise GraphFuseError(f"{out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise GraphFuseError(f"{out}: folder {parent} is not writable")


@app.command()
def predict(
    model: Annotated[str, typer.Option(help="a model URI, e.g. models:/graphfuse@champion, or a local model folder")],
    dataset: Annotated[Path, typer.Option(help="a format-v1 dataset folder")],
    out: Annotated[Path, typer.Option(help="where to write the predictions CSV")],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    root: Annotated[Path, typer.Option(help="project root holding mlflow.db")] = Path("."),
) -> None:
    """Predict a label for every node of a dataset folder."""
    try:
        _check_output_file(out)  # before minutes of encoding (and seconds of imports), not after
    except GraphFuseError as exc:
        _fail(exc)
    from pipeline.atomic import write_with
    from pipeline.bundle import load_bundle
    from pipeline.predict import predict_dataset
    from pipeline.stages import show_progress

    try:
        if Path(model).is_dir():
            bundle = load_bundle(model)
        else:
            from pipeline.tracking import connect_tracking, load_bundle_from_registry

            connect_tracking(root)
            bundle = load_bundle_from_registry(model)
        predictions, notes = predict_dataset(bundle, dataset, device=device, progress=show_progress())
    except GraphFuseError as exc:
        _fail(exc)
    write_with(out, lambda tmp: predictions.to_csv(tmp, index=False))
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {len(predictions)} predictions to {out}")


@app.command()
def metrics(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Print the headline metrics of the last evaluate stage."""
    from pipeline.atomic import read_json
    from pipeline.paths import Paths
    from pipeline.stages.evaluate import METRICS_FILE, REGISTRY_FILE

    paths = Paths(root)
    path = paths.metrics / METRICS_FILE
    if not path.is_file():
        _fail(GraphFuseError(f"{path}: not found; run `dvc repro` first"))
    values = read_json(path)
    typer.echo(f"{'split':<6} {'n':>4} {'accuracy':>9} {'macro-F1':>9}")
    for split in ("train", "val", "test"):
        m = values.get(split, {})
        accuracy, macro_f1 = m.get("accuracy", float("nan")), m.get("macro_f1", float("nan"))
        typer.echo(f"{split:<6} {m.get('n', 0):>4} {accuracy:>9.4f} {macro_f1:>9.4f}")
    registry = paths.metrics / REGISTRY_FILE
    if registry.is_file():
        r = read_json(registry)
        state = "now champion" if r["promoted"] else f"champion stays v{r['previous_champion']}"
        typer.echo(f"registered {r['model_name']} v{r['version']} ({r['metric']}={r['value']:.4f}; {state})")


def _parse_dims(text: str) -> dict[str, int]:
    try:
        return {k.strip(): int(v) for k, v in (part.split("=") for part in text.split(",") if part.strip())}
    except ValueError as exc:
        raise GraphFuseError(f"--dims {text!r}: expected modality=dim pairs, e.g. text=384,image=1280") from exc


@app.command()
def synth(
    nodes: Annotated[int, typer.Option(help="number of nodes")],
    out: Annotated[Path, typer.Option(help="new folder to write (must not exist or be empty)")],
    classes: Annotated[int, typer.Option(help="number of classes (at most 30)")] = 5,
    seed: Annotated[int, typer.Option(help="random seed: the same seed and knobs give the same data")] = 0,
    name: Annotated[str, typer.Option(help="dataset name in dataset.yaml")] = "synthetic",
    modalities: Annotated[str, typer.Option(help="comma-separated subset of text,image,tabular")] = (
        "text,image,tabular"
    ),
    homophily: Annotated[float, typer.Option(help="probability an edge joins two nodes of one class")] = 0.8,
    avg_degree: Annotated[float, typer.Option(help="mean degree of the nodes that have edges")] = 4.0,
    isolated: Annotated[float, typer.Option(help="share of nodes with no edge")] = 0.0,
    imbalance: Annotated[float, typer.Option(help="class sizes ~ 1/(k+1)^imbalance; 0 = balanced")] = 0.0,
    text_signal: Annotated[float, typer.Option(help="P(text drawn from the node's own class), 0..1")] = 0.7,
    image_signal: Annotated[float, typer.Option(help="P(image drawn from the node's own class), 0..1")] = 0.7,
    tabular_signal: Annotated[float, typer.Option(help="P(numbers drawn from the node's own class), 0..1")] = 0.7,
    text_missing: Annotated[float, typer.Option(help="share of nodes without a text")] = 0.0,
    image_missing: Annotated[float, typer.Option(help="share of nodes without an image")] = 0.0,
    tabular_missing: Annotated[float, typer.Option(help="share of nodes without numbers")] = 0.0,
    embeddings: Annotated[
        bool, typer.Option(help="write precomputed float16 embeddings (.npy) instead of a format-v1 dataset")
    ] = False,
    dims: Annotated[str, typer.Option(help="embedding dims with --embeddings")] = "text=384,image=1280,tabular=32",
) -> None:
    """Write a synthetic dataset (format v1, or precomputed embeddings) with tunable signal per modality."""
    from pydantic import ValidationError

    from pipeline.synth import SynthConfig, write_synthetic_dataset, write_synthetic_embeddings

    try:
        config = SynthConfig(
            nodes=nodes,
            classes=classes,
            seed=seed,
            name=name,
            modalities=tuple(m.strip() for m in modalities.split(",") if m.strip()),
            homophily=homophily,
            avg_degree=avg_degree,
            isolated=isolated,
            imbalance=imbalance,
            text_signal=text_signal,
            image_signal=image_signal,
            tabular_signal=tabular_signal,
            text_missing=text_missing,
            image_missing=image_missing,
            tabular_missing=tabular_missing,
        )
    except ValidationError as exc:
        _fail(GraphFuseError(f"invalid synth options:\n{exc}"))
    try:
        if embeddings:
            manifest = write_synthetic_embeddings(config, out, dims=_parse_dims(dims))
            edges = manifest["edges_undirected"]
            typer.echo(f"wrote {nodes} nodes x {manifest['dims']} float16, {edges} edges to {out}")
        else:
            summary = write_synthetic_dataset(config, out)
            typer.echo(
                f"wrote {summary['nodes']} nodes, {summary['edges']} edges ({summary['isolated_nodes']} isolated "
                f"nodes, edge homophily {summary['edge_homophily']:.2f}), {classes} classes to {out}"
            )
    except (GraphFuseError, KeyError) as exc:
        _fail(exc if isinstance(exc, GraphFuseError) else GraphFuseError(f"--dims lacks modality {exc}"))
# -- reliability (issue 11) ---------------------------------------------------------------


@app.command("dvc-deps")
def dvc_deps(
    write: Annotated[bool, typer.Option("--write/--check", help="rewrite dvc.yaml, or only check it")] = False,
    root: Annotated[Path, typer.Option(help="project root holding dvc.yaml")] = Path("."),
) -> None:
    """Make (or check) each stage's code deps in dvc.yaml equal to the modules it imports."""
    from pipeline import dvc_deps as deps

    root = root.resolve()
    if write:
        changed = deps.write(root)
        typer.echo("dvc.yaml: code dependencies rewritten" if changed else "dvc.yaml: already complete")
        return
    problems = deps.check(root)
    for line in problems:
        typer.secho(f"error: {line}", err=True, fg=typer.colors.RED)
    if problems:
        typer.echo("run `graphfuse dvc-deps --write` to fix", err=True)
        raise typer.Exit(code=1)
    typer.echo("dvc.yaml: every stage depends on all the code it imports")


# -- embedding cache (issue 8) -------------------------------------------------------------

cache_app = typer.Typer(help="The embedding cache (preprocess.cache_dir): size and pruning.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _cache_dir(directory: Path | None, root: Path, params_file: Path) -> Path:
    if directory is not None:
        return directory
    from pipeline.config import load_params
    from pipeline.paths import Paths

    settings = load_params(root / params_file).preprocess
    if not settings.cache_dir:
        raise GraphFuseError(f"{root / params_file}: preprocess.cache_dir is empty (the cache is off)")
    return Paths(root).under_root(settings.cache_dir)


@cache_app.command("prune")
def cache_prune(
    older_than: Annotated[str | None, typer.Option(help="remove entries unused for this long: 30d, 12h")] = None,
    max_size: Annotated[str | None, typer.Option(help="then remove the oldest until under: 20GB, 500MB")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="cache folder (default: params)")] = None,
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
    params: Annotated[Path, typer.Option(help="params file, relative to the root")] = Path("params.yaml"),
) -> None:
    """Remove cache entries by age of last use and/or down to a total size."""
    from pipeline.cache import parse_age, parse_size, prune

    if older_than is None and max_size is None:
        _fail(GraphFuseError("give --older-than and/or --max-size"))
    try:
        folder = _cache_dir(directory, root, params)
        report = prune(
            folder,
            older_than=parse_age(older_than) if older_than else None,
            max_size=parse_size(max_size) if max_size else None,
        )
    except (GraphFuseError, ValueError) as exc:
        _fail(exc)
    typer.echo(
        f"{folder}: removed {report.removed} entries ({report.freed_bytes / 1e6:.1f} MB), "
        f"kept {report.kept} ({report.kept_bytes / 1e6:.1f} MB); stale temporaries removed: {report.stale_temporaries}"
    )


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
