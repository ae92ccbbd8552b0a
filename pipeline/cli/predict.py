"""Command group *predict*: a trained model's predictions for new nodes, a whole dataset, or links."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from pipeline.errors import GraphFuseError


def _check_output_file(out: Path) -> None:
    """``--out`` must be a file we can create: not a folder, and in a folder that exists."""
    if out.is_dir():
        raise GraphFuseError(f"{out}: --out names an existing folder; give a file path such as {out / 'preds.csv'}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise GraphFuseError(f"{out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise GraphFuseError(f"{out}: folder {parent} is not writable")


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
    for a link-prediction model, score --pairs or list the --top-k candidate links of each --node.

    Example: graphfuse predict --model models:/graphfuse@champion --nodes new.csv --edges new_edges.csv --out p.csv
    Example: graphfuse predict --model models:/graphfuse@champion --pairs pairs.csv --top-k 5 --out links.csv
    """
    _check_output_file(out)  # before minutes of encoding (and seconds of imports), not after
    from pipeline.atomic import write_with
    from pipeline.stages import show_progress

    link_request = pairs is not None or bool(node)
    if not link_request and (nodes is None) == (dataset is None):
        raise GraphFuseError("give either --nodes (new nodes on the known graph) or --dataset (a whole dataset)")
    bundle, known = _load_model(model, root)
    if link_request or bundle.config.decoder is not None:
        predictions, notes = _predict_links(bundle, known, model, pairs, node or [], top_k), []
    elif dataset is not None:
        from pipeline.inference.predict import predict_dataset

        predictions, notes = predict_dataset(bundle, dataset, device=device, progress=show_progress())
    else:
        predictions, notes = _predict_nodes(bundle, known, model, nodes, edges, images_root, show_progress())
    write_with(out, lambda tmp: predictions.to_csv(tmp, index=False))
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {len(predictions)} predictions to {out}")


def _load_model(model: str, root: Path):
    """(bundle, known graph or None) from a model URI or a local model folder plus the project's graph."""
    from pipeline.inference.bundle import load_bundle

    if Path(model).is_dir():
        from pipeline.atomic import read_json
        from pipeline.dataset import DatasetSpec
        from pipeline.graph import load_graph
        from pipeline.inference.known_graph import KnownGraph
        from pipeline.paths import Paths

        paths = Paths(root)
        known = None
        if (paths.graph / "graph.json").is_file() and (paths.dataset / "dataset.json").is_file():
            data, meta = load_graph(paths.graph)
            spec = DatasetSpec.model_validate(read_json(paths.dataset / "dataset.json")["spec"])
            known = KnownGraph.from_graph(data, meta, spec)
        return load_bundle(model), known
    from pipeline.tracking import load_registered_package

    return load_registered_package(model, root)


def _predict_links(bundle, known, model: str, pairs: Path | None, nodes: list[str], top_k: int):
    """Link prediction: the given pairs scored, and the top-k candidate links of each node."""
    import pandas as pd

    from pipeline.inference.links import LinkScorer

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

    from pipeline.dataset.tables import check_line_lengths

    if not path.is_file():
        raise GraphFuseError(f"{path}: file not found")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        check_line_lengths(path)  # the dataset's cap (pipeline/limits.py), before pandas reads a line
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise GraphFuseError(f"{path}: cannot be read as a table ({exc})") from exc
    return frame.replace({"": None})


def _predict_nodes(bundle, known, model: str, nodes: Path, edges: Path | None, images_root, progress: bool):
    from pipeline.inference.inductive import EncoderCache, Request, predict_new_nodes

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


def register(app: typer.Typer) -> None:
    app.command()(predict)
