"""Command group *data*: make a format-v1 dataset from your own table (init) or a downloaded benchmark (import)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.base import fail, sub_app
from pipeline.errors import GraphFuseError

if TYPE_CHECKING:
    from pipeline.onboarding.project import InitResult


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
    """MM-GRAPH (nc_edges-nodeid.pt + split.pt, or lp-edge-split*.pt; labels-w-missing.pt; *_feat.pt).

    Example: graphfuse import mm-graph Multimodal-Graph/books-nc data/raw/books-nc --features clip
    """
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
    """MAGB (<Name>.csv with texts, labels and neighbours; TextFeature/ and ImageFeature/ .npy; images).

    Example: graphfuse import magb MAGB/Movies data/raw/movies --name Movies
    """
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


def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def init_cmd(
    directory: Annotated[Path, typer.Argument(help="the dataset folder to write (new, or holding the files)")],
    nodes: Annotated[Path, typer.Option(help="CSV or Parquet of nodes: one row per node, a header row")],
    edges: Annotated[Path | None, typer.Option(help="CSV or Parquet of edges (two node-id columns)")] = None,
    images: Annotated[Path | None, typer.Option(help="folder of the images the nodes file names")] = None,
    name: Annotated[str | None, typer.Option(help="dataset name [default: the folder's name]")] = None,
    task: Annotated[str, typer.Option(help="node_classification or link_prediction")] = "node_classification",
    directed: Annotated[bool, typer.Option(help="edges have a direction")] = False,
    id: Annotated[str | None, typer.Option("--id", help="the node id column")] = None,
    label: Annotated[str | None, typer.Option(help="the label column")] = None,
    text: Annotated[str | None, typer.Option(help="text columns, comma-separated")] = None,
    image: Annotated[str | None, typer.Option(help="image path columns, comma-separated")] = None,
    numeric: Annotated[str | None, typer.Option(help="number columns, comma-separated")] = None,
    categorical: Annotated[str | None, typer.Option(help="category columns, comma-separated")] = None,
    ignore: Annotated[str | None, typer.Option(help="columns to leave out, comma-separated")] = None,
    params: Annotated[Path, typer.Option(help="params file to point at the dataset, relative to --root")] = Path(
        "params.yaml"
    ),
    set_params: Annotated[bool, typer.Option(help="set dataset.dir and tracking.model_name in --params")] = True,
    root: Annotated[Path, typer.Option(help="project root")] = Path("."),
) -> None:
    """Make a dataset folder from a table of nodes: infer each column's role (flags override), write
    dataset.yaml, validate it, and point params.yaml at it.

    Example: graphfuse init data/raw/shapes --nodes shapes.csv --edges links.csv --images pictures/ --label kind
    """
    from pipeline.onboarding.infer import RoleOverrides
    from pipeline.onboarding.project import apply_plan
    from pipeline.onboarding.scaffold import InitRequest, plan_dataset

    if task not in ("node_classification", "link_prediction"):
        fail(GraphFuseError(f"--task {task!r}: expected node_classification or link_prediction"))
    overrides = RoleOverrides(
        id=id,
        label=label,
        text=_columns(text),
        image=_columns(image),
        numeric=_columns(numeric),
        categorical=_columns(categorical),
        ignore=_columns(ignore),
    )
    request = InitRequest(directory, nodes, edges, images, name, task, directed, overrides)
    try:
        plan = plan_dataset(request)
        _print_roles(plan.roles)
        for note in plan.notes:
            typer.echo(f"note: {note}")
        result = apply_plan(request, plan, params_file=root / params if set_params else None, root=root)
    except GraphFuseError as exc:
        fail(exc)
    _print_result(directory, params, result)


def _print_result(directory: Path, params: Path, result: InitResult) -> None:
    """What init wrote and validated, its notes, and the next command."""
    ds = result.dataset
    typer.echo(
        f"wrote {directory / 'dataset.yaml'}; validated: {len(ds.nodes)} nodes ({int(ds.labels.notna().sum())} "
        f"labelled, {len(ds.classes)} classes), {len(ds.edges)} edges, modalities: {', '.join(ds.spec.modalities)}"
    )
    for note in ds.notes:
        typer.echo(f"note: {note}")
    if result.params_file is not None:
        typer.echo(
            f"{params}: dataset.dir = {result.dataset_dir}, tracking.model_name = {result.model_name}\n"
            f"next: graphfuse repro   (then predict with --model models:/{result.model_name}@champion)"
        )


def _print_roles(roles) -> None:
    """The inferred roles as a small table: column, role, missing cells, why."""
    width = max([len(r.column) for r in roles] + [6])
    typer.echo(f"{'column':<{width}}  {'role':<11}  {'missing':>7}  why")
    for r in roles:
        typer.echo(f"{r.column:<{width}}  {r.role:<11}  {r.missing:>7}  {r.reason}")


def register(app: typer.Typer) -> None:
    app.command("init")(init_cmd)
    import_app = sub_app(
        "Turn a downloaded benchmark folder into a format-v1 dataset (no network)."
        "\n\nExample: graphfuse import magb MAGB/Movies data/raw/movies --name Movies",
        no_args_is_help=True,
    )
    import_app.command("mm-graph")(import_mm_graph_cmd)
    import_app.command("magb")(import_magb_cmd)
    app.add_typer(import_app, name="import")
