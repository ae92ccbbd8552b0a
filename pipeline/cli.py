"""The ``graphfuse`` command: stages (as Prefect flows), dataset checks, predictions, metrics."""

from __future__ import annotations

import atexit
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


def _skip_teardown_at_exit() -> dict[str, int]:
    """Once every exit hook has run (Prefect and MLflow flush theirs), leave without the
    interpreter's teardown, which costs 5-10 s of a stage's wall time once torch is loaded on a
    busy machine. Only for the console script: never inside a test runner's process.

    Returns the exit code holder; it stays 1 unless the command marks itself done.
    """
    outcome = {"code": 1}
    if Path(sys.argv[0]).name != "graphfuse":
        return outcome

    def leave() -> None:
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(outcome["code"])

    atexit.register(leave)  # registered before Prefect's and MLflow's, so it runs after them
    return outcome


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
    from pipeline.ops.processes import die_with_parent_if_asked
    from pipeline.ops.warm_stages import run_in_server

    die_with_parent_if_asked()  # under `graphfuse repro`: when dvc dies, so does this stage

    if (code := run_in_server(sys.argv)) is not None:  # under `graphfuse repro`: a warm fork runs it
        raise typer.Exit(code=code)
    exit_code = _skip_teardown_at_exit()
    _embedded_defaults(root)
    from pipeline.ops.prefect_server import prefect_api

    try:
        # The running Prefect server when there is one (a second), else one that dies with us.
        with prefect_api(root) as api_url:
            os.environ["PREFECT_API_URL"] = api_url
            from flows.stage_flows import STAGE_FLOWS

            STAGE_FLOWS[name](params_file=str(params), root=str(root))
    except GraphFuseError as exc:
        _fail(exc)
    exit_code["code"] = 0


@app.command("run-all")
def run_all(
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Run every stage in one Prefect flow, without DVC's change detection."""
    _embedded_defaults(root)
    from pipeline.ops.prefect_server import prefect_api

    try:
        with prefect_api(root) as api_url:
            os.environ["PREFECT_API_URL"] = api_url
            from flows.pipeline_flow import pipeline_flow

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
        ds = checked_dataset(dataset, settings.validate_, settings.dataset.task)
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
    out: Annotated[Path, typer.Option(help="where to write the predictions CSV")],
    nodes: Annotated[
        Path | None, typer.Option(help="new nodes (CSV or parquet, the dataset's columns): scored on the known graph")
    ] = None,
    edges: Annotated[
        Path | None, typer.Option(help="edges of the new nodes (CSV, the dataset's source/target columns)")
    ] = None,
    images_root: Annotated[
        Path | None, typer.Option(help="the only folder image cells of --nodes may point into")
    ] = None,
    dataset: Annotated[Path | None, typer.Option(help="instead of --nodes: predict every node of a dataset")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    root: Annotated[Path, typer.Option(help="project root holding mlflow.db and the processed graph")] = Path("."),
    pairs: Annotated[
        Path | None, typer.Option(help="link prediction: CSV of source,target ids to score (empty target: top-k)")
    ] = None,
    node: Annotated[
        list[str] | None, typer.Option(help="link prediction: the top-k candidate links of this node (repeatable)")
    ] = None,
    top_k: Annotated[int, typer.Option(help="link prediction: candidate links per node")] = 10,
) -> None:
    """Predict new nodes attached to the training graph (--nodes/--edges), or a whole dataset (--dataset);
    for a link-prediction model, score --pairs or list the --top-k candidate links of each --node."""
    try:
        _check_output_file(out)  # before minutes of encoding (and seconds of imports), not after
    except GraphFuseError as exc:
        _fail(exc)
    from pipeline.atomic import write_with
    from pipeline.stages import show_progress

    link_request = pairs is not None or bool(node)
    if not link_request and (nodes is None) == (dataset is None):
        _fail(GraphFuseError("give either --nodes (new nodes on the known graph) or --dataset (a whole dataset)"))
    try:
        bundle, known = _load_model(model, root)
        if link_request or bundle.config.decoder is not None:
            predictions, notes = _predict_links(bundle, known, model, pairs, node or [], top_k), []
        elif dataset is not None:
            from pipeline.predict import predict_dataset

            predictions, notes = predict_dataset(bundle, dataset, device=device, progress=show_progress())
        else:
            predictions, notes = _predict_nodes(bundle, known, model, nodes, edges, images_root, show_progress())
    except GraphFuseError as exc:
        _fail(exc)
    write_with(out, lambda tmp: predictions.to_csv(tmp, index=False))
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {len(predictions)} predictions to {out}")


def _load_model(model: str, root: Path):
    """(bundle, known graph or None) from a model URI or a local model folder plus the project's graph."""
    from pipeline.bundle import load_bundle

    if Path(model).is_dir():
        from pipeline.atomic import read_json
        from pipeline.dataset import DatasetSpec
        from pipeline.graph import load_graph
        from pipeline.known_graph import KnownGraph
        from pipeline.paths import Paths

        paths = Paths(root)
        known = None
        if (paths.graph / "graph.json").is_file() and (paths.dataset / "dataset.json").is_file():
            data, meta = load_graph(paths.graph)
            spec = DatasetSpec.model_validate(read_json(paths.dataset / "dataset.json")["spec"])
            known = KnownGraph.from_graph(data, meta, spec)
        return load_bundle(model), known
    from pipeline.tracking import connect_tracking, load_package_from_registry

    connect_tracking(root)
    return load_package_from_registry(model)


def _predict_links(bundle, known, model: str, pairs: Path | None, nodes: list[str], top_k: int):
    """Link prediction: the given pairs scored, and the top-k candidate links of each node."""
    import pandas as pd

    from pipeline.tasks.link.predict import LinkScorer

    if bundle.config.decoder is None:
        raise GraphFuseError(f"{model}: a node classifier; --pairs and --node need a link-prediction model")
    if known is None:
        raise GraphFuseError(f"{model}: no training graph to score links on (retrain to package it)")
    if pairs is None and not nodes:
        raise GraphFuseError(f"{model}: a link-prediction model; give --pairs FILE or --node ID (with --top-k)")
    scorer = LinkScorer(bundle, known)
    frames = []
    if pairs is not None:
        frames.append(scorer.predict(_read_table(pairs), k=top_k, where=str(pairs), first_row=2))
    if nodes:
        frames.append(scorer.predict(pd.DataFrame({"source": nodes}), k=top_k, where="--node", first_row=1))
    return pd.concat(frames, ignore_index=True)


def _read_table(path: Path):
    import pandas as pd

    if not path.is_file():
        raise GraphFuseError(f"{path}: file not found")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise GraphFuseError(f"{path}: cannot be read as a table ({exc})") from exc
    return frame.replace({"": None})


def _predict_nodes(bundle, known, model: str, nodes: Path, edges: Path | None, images_root, progress: bool):
    from pipeline.inductive import EncoderCache, Request, predict_new_nodes

    if known is None:
        raise GraphFuseError(f"{model}: no training graph to attach new nodes to (use --dataset, or retrain)")
    return predict_new_nodes(
        bundle,
        known,
        _read_table(nodes),
        _read_table(edges) if edges is not None else None,
        images_root=images_root,
        encoders=EncoderCache(device="cpu", progress=progress),
        where=Request(str(nodes), first_row=2),
        edges_where=Request(str(edges), first_row=2),
    )


@app.command()
def metrics(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Print the last evaluation: mean ± sd over training seeds, and the registered model's own figures."""
    from pipeline.atomic import read_json
    from pipeline.paths import Paths
    from pipeline.stages.evaluate import METRICS_FILE, REGISTRY_FILE

    paths = Paths(root)
    path = paths.metrics / METRICS_FILE
    if not path.is_file():
        _fail(GraphFuseError(f"{path}: not found; run `dvc repro` first"))
    values = read_json(path)
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


registry_app = typer.Typer(help="The model registry: list versions, promote one, roll the champion back.")
app.add_typer(registry_app, name="registry")


def _registry_params(params: Path, root: Path):
    from pipeline.config import load_params
    from pipeline.tracking import connect_tracking

    connect_tracking(root)
    return load_params(root / params).tracking


@registry_app.command("list")
def registry_list(
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Every version, newest first, with aliases, dataset, split and validation metrics."""
    from pipeline.tracking import list_versions

    try:
        tracking = _registry_params(params, root)
        rows = list_versions(tracking.model_name)
    except GraphFuseError as exc:
        _fail(exc)
    if not rows:
        typer.echo(f"no versions of {tracking.model_name!r} registered")
    for row in rows:
        typer.echo("  ".join(f"{k}={v}" for k, v in row.items() if v))


@registry_app.command("promote")
def registry_promote(
    version: Annotated[int, typer.Argument(help="the version to make champion")],
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Make VERSION the champion (e.g. a challenger you reviewed)."""
    from pipeline.tracking import promote

    try:
        tracking = _registry_params(params, root)
        typer.echo(promote(tracking.model_name, version, tracking.champion_alias))
    except GraphFuseError as exc:
        _fail(exc)


@registry_app.command("rollback")
def registry_rollback(
    params: Annotated[Path, typer.Option(help="params file, relative to --root")] = Path("params.yaml"),
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Give the champion alias back to the version that held it before."""
    from pipeline.tracking import rollback

    try:
        tracking = _registry_params(params, root)
        typer.echo(rollback(tracking.model_name, tracking.champion_alias))
    except GraphFuseError as exc:
        _fail(exc)


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


# --- orchestration: a local Prefect server, repro through it, schedules (issue 5) ---------------

prefect_app = typer.Typer(help="A persistent local Prefect server for this project (loopback only).")
app.add_typer(prefect_app, name="prefect")


@prefect_app.command("start")
def prefect_start(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 0,
    root: Annotated[Path, typer.Option(help="project root (state goes in ROOT/.prefect)")] = Path("."),
) -> None:
    """Start the server in the background; stages and `dvc repro` then connect to it in a second."""
    _embedded_defaults(root)
    from pipeline.ops import prefect_server

    try:
        service, started = prefect_server.start(root, port or None)
    except GraphFuseError as exc:
        _fail(exc)
    ui = service.url.removesuffix("/api")
    typer.echo(f"Prefect server {'started' if started else 'already running'} (pid {service.pid}): UI {ui}")
    typer.echo(f"stop it with `graphfuse prefect stop`; log: {service.log}")
    typer.echo(f"for Prefect's own CLI (deploy, worker): export PREFECT_API_URL={service.url}")


@prefect_app.command("stop")
def prefect_stop(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Stop the background server started by `graphfuse prefect start`."""
    _embedded_defaults(root)
    from pipeline.ops import prefect_server

    service = prefect_server.stop(root)
    typer.echo(f"stopped the Prefect server (pid {service.pid})" if service else "no Prefect server was running")


@prefect_app.command("status")
def prefect_status(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Say whether the background server is up, and where; exit 1 when it is not."""
    _embedded_defaults(root)
    from pipeline.ops import prefect_server

    service = prefect_server.status(root)
    if service is None:
        typer.echo("no Prefect server is running for this project")
        raise typer.Exit(code=1)
    typer.echo(f"Prefect server up (pid {service.pid}): API {service.url}, UI {service.url.removesuffix('/api')}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def repro(ctx: typer.Context, root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """`dvc repro [ARGS]` with every stage on one Prefect server: the running one, or one that
    lives exactly as long as this command."""
    _embedded_defaults(root)
    from pipeline.config import load_params
    from pipeline.ops.prefect_server import prefect_api
    from pipeline.ops.processes import run_tied
    from pipeline.ops.warm_stages import warm_server

    params_file = root / "params.yaml"
    try:
        warm = load_params(params_file).orchestration.warm_stages if params_file.is_file() else True
        with prefect_api(root) as api_url:
            env = {**os.environ, "PREFECT_API_URL": api_url}
            with warm_server(root, env, enabled=warm) as warm_env:
                # Tied: `kill -9` of this command takes dvc and its stages with it.
                code = run_tied([_dvc(), "repro", *ctx.args], cwd=root, env=env | warm_env)
    except GraphFuseError as exc:
        _fail(exc)
    raise typer.Exit(code=code)


@app.command()
def serve(
    cron: Annotated[str, typer.Option(help="when to run, as a cron string")] = "0 2 * * *",
    timezone: Annotated[str, typer.Option(help="the cron's timezone (IANA name)")] = "UTC",
    name: Annotated[str, typer.Option(help="deployment name")] = "nightly-serve",
    push: Annotated[bool, typer.Option(help="`dvc push` to the default remote after each run")] = False,
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Serve the pipeline on a schedule from this process (one box, no worker); Ctrl-C stops it."""
    _embedded_defaults(root)
    from pipeline.ops.prefect_server import prefect_api

    try:
        with prefect_api(root, scheduler=True) as api_url:
            os.environ["PREFECT_API_URL"] = api_url
            from prefect.schedules import Cron

            from flows.deployment import repro_flow

            typer.echo(f"serving {name!r} on cron {cron!r} ({timezone}); Prefect API {api_url}")
            repro_flow.serve(
                name=name,
                schedules=[Cron(cron, timezone=timezone)],
                parameters={"push": push, "root": str(root.resolve())},
            )
    except GraphFuseError as exc:
        _fail(exc)


team_app = typer.Typer(help="Team mode on this machine: PostgreSQL, MLflow and Prefect servers, a worker, DVC remote.")
app.add_typer(team_app, name="team")


@team_app.command("up")
def team_up(root: Annotated[Path, typer.Option(help="project root (state in ROOT/.team)")] = Path(".")) -> None:
    """Start the stack on 127.0.0.1; the database password comes from $GRAPHFUSE_DB_PASSWORD."""
    from pipeline.ops import team

    try:
        settings = team.up(root)
    except GraphFuseError as exc:
        _fail(exc)
    typer.echo("team stack up (PostgreSQL, MLflow server, Prefect server, worker on pool 'graphfuse', DVC remote)")
    typer.echo("point clients at it:")
    for key, value in settings.items():
        typer.echo(f"  export {key}={value}")


@team_app.command("down")
def team_down(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """Stop the worker, the servers and PostgreSQL (the data stays for the next `team up`)."""
    from pipeline.ops import team

    stopped = team.down(root)
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@team_app.command("status")
def team_status(root: Annotated[Path, typer.Option(help="project root")] = Path(".")) -> None:
    """List the team services that are up; exit 1 when none is."""
    from pipeline.ops import team

    running = team.status(root)
    for name, service in running.items():
        typer.echo(f"{name:<9} pid {service.pid:<8} {service.url}")
    if not running:
        typer.echo("the team stack is down")
        raise typer.Exit(code=1)


# -- import: published benchmarks' layouts into format v1 (issue 9) ---------------------------
import_app = typer.Typer(
    help="Turn a downloaded benchmark folder into a format-v1 dataset (no network).", no_args_is_help=True
)
app.add_typer(import_app, name="import")


def _split_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _limits(max_image_mb: int, max_images_gb: int):
    from pipeline.importers import ArchiveLimits

    return ArchiveLimits(max_image_bytes=max_image_mb << 20, max_total_bytes=max_images_gb << 30)


def _report(report) -> None:
    for line in report.lines():
        typer.echo(line)


@import_app.command("mm-graph")
def import_mm_graph_cmd(
    src: Annotated[Path, typer.Argument(help="one MM-GRAPH dataset folder, e.g. Multimodal-Graph/books-nc")],
    out: Annotated[Path, typer.Argument(help="the new dataset folder (must not exist, or be empty)")],
    edge_split: Annotated[str | None, typer.Option(help="link prediction: random or hard (lp-edge-split-*.pt)")] = None,
    features: Annotated[str | None, typer.Option(help="feature sets to import, e.g. clip,t5vit [default: all]")] = None,
    name: Annotated[str | None, typer.Option(help="dataset name [default: the folder's]")] = None,
    max_image_mb: Annotated[int, typer.Option(help="skip images larger than this")] = 64,
    max_images_gb: Annotated[int, typer.Option(help="refuse archives whose images exceed this in all")] = 64,
) -> None:
    """MM-GRAPH (nc_edges-nodeid.pt + split.pt, or lp-edge-split*.pt; labels-w-missing.pt; *_feat.pt)."""
    from pipeline.importers import import_mm_graph

    try:
        report = import_mm_graph(
            src,
            out,
            edge_split=edge_split,
            features=_split_list(features),
            name=name,
            limits=_limits(max_image_mb, max_images_gb),
        )
    except GraphFuseError as exc:
        _fail(exc)
    _report(report)
    typer.echo(f"wrote {out}: check it with `graphfuse validate {out}`")


@import_app.command("magb")
def import_magb_cmd(
    src: Annotated[Path, typer.Argument(help="one MAGB dataset folder, e.g. MAGB/Movies")],
    out: Annotated[Path, typer.Argument(help="the new dataset folder (must not exist, or be empty)")],
    features: Annotated[
        str | None, typer.Option(help="embeddings to import, e.g. text_roberta_base_512_mean [default: all]")
    ] = None,
    name: Annotated[str | None, typer.Option(help="the <Name> of <Name>.csv [default: the one csv]")] = None,
    edges: Annotated[Path | None, typer.Option(help="edges as .csv (two id columns) or .npy [E, 2]")] = None,
    task: Annotated[str, typer.Option(help="node_classification or link_prediction")] = "node_classification",
    max_image_mb: Annotated[int, typer.Option(help="skip images larger than this")] = 64,
    max_images_gb: Annotated[int, typer.Option(help="refuse archives whose images exceed this in all")] = 64,
) -> None:
    """MAGB (<Name>.csv with texts, labels and neighbours; TextFeature/ and ImageFeature/ .npy; images)."""
    from pipeline.importers import import_magb

    if task not in ("node_classification", "link_prediction"):
        _fail(GraphFuseError(f"--task {task!r}: node_classification or link_prediction"))
    try:
        report = import_magb(
            src,
            out,
            name=name,
            features=_split_list(features),
            edges_file=edges,
            task=task,
            limits=_limits(max_image_mb, max_images_gb),
        )
    except GraphFuseError as exc:
        _fail(exc)
    _report(report)
    typer.echo(f"wrote {out}: check it with `graphfuse validate {out}`")


def _dvc() -> str:
    """The dvc next to this Python (the project's .venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.exists() else "dvc"


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
