"""Command group *data*: turn a downloaded benchmark folder into a format-v1 dataset (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.base import sub_app
from pipeline.errors import GraphFuseError


def _split_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _limits(max_image_mb: int, max_images_gb: int):
    from pipeline.importers import ArchiveLimits

    return ArchiveLimits(max_image_bytes=max_image_mb << 20, max_total_bytes=max_images_gb << 30)


def _report(report) -> None:
    for line in report.lines():
        typer.echo(line)


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

    report = import_mm_graph(
        src,
        out,
        edge_split=edge_split,
        features=_split_list(features),
        name=name,
        limits=_limits(max_image_mb, max_images_gb),
    )
    _report(report)
    typer.echo(f"wrote {out}: check it with `graphfuse validate {out}`")


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
        raise GraphFuseError(f"--task {task!r}: node_classification or link_prediction")
    report = import_magb(
        src,
        out,
        name=name,
        features=_split_list(features),
        edges_file=edges,
        task=task,
        limits=_limits(max_image_mb, max_images_gb),
    )
    _report(report)
    typer.echo(f"wrote {out}: check it with `graphfuse validate {out}`")


def register(app: typer.Typer) -> None:
    import_app = sub_app(
        "Turn a downloaded benchmark folder into a format-v1 dataset (no network).", no_args_is_help=True
    )
    import_app.command("mm-graph")(import_mm_graph_cmd)
    import_app.command("magb")(import_magb_cmd)
    app.add_typer(import_app, name="import")
