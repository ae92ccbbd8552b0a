"""A prediction request's table: the columns it may carry, its ids, its numbers and its new edges.

Apart from the encoding (:mod:`pipeline.inference.new_features`) because this is where a request is
checked, before any encoder runs: every error names the request's row and column (spreadsheet rows
for a file), so the caller can fix the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from pipeline.dataset.numbers import not_a_number, parse_numbers
from pipeline.dataset.spec import DatasetSpec
from pipeline.errors import DatasetError
from pipeline.inference.known_graph import KnownGraph

#: Optional input column: the ids a new node is linked to, separated by ``;``.
NEIGHBORS = "neighbors"
#: Suffix of the optional column that carries image bytes (base64 in JSON) instead of a path.
IMAGE_BYTES_SUFFIX = "_bytes"
NEIGHBOR_SEPARATOR = ";"


@dataclass
class Request:
    """Where the input came from, for messages: a file (spreadsheet rows) or a request (0-based rows)."""

    source: str = "request"
    first_row: int = 0

    def error(self, message: str, *, row: int | None = None, column: str | None = None) -> DatasetError:
        return DatasetError(self.source, message, row=None if row is None else row + self.first_row, column=column)


def input_columns(known: KnownGraph) -> dict[str, str]:
    """Every column a request may carry -> its type (``string``, ``double``, ``binary``)."""
    spec = known.spec
    columns = {spec.id_column: "string"}
    columns |= {c: "string" for c in spec.text_columns}
    if spec.image_column:
        columns[spec.image_column] = "string"
        columns[spec.image_column + IMAGE_BYTES_SUFFIX] = "binary"
    columns |= {c: "double" for c in spec.numeric_columns}
    columns |= {c: "string" for c in spec.categorical_columns}
    columns |= {modality: "string" for modality in spec.embedding_groups()}  # the vector, as text
    columns[NEIGHBORS] = "string"
    return columns


def check_columns(nodes: pd.DataFrame, known: KnownGraph, where: Request, notes: list[str]) -> None:
    """Refuse a column the model cannot read; note the modality columns not given at all."""
    spec = known.spec
    allowed = set(input_columns(known)) | {spec.label_column} | ({spec.split_column} if spec.split_column else set())
    unknown = [c for c in nodes.columns if c not in allowed]
    if unknown:
        raise where.error(
            f"unknown column(s) {unknown}; this model (trained on dataset '{spec.name}') reads "
            f"{sorted(input_columns(known))}"
        )
    if spec.id_column not in nodes.columns:
        raise where.error(f"the id column '{spec.id_column}' is missing", column=spec.id_column)
    absent = [c for c in spec.modality_columns() + list(spec.embedding_groups()) if c not in nodes.columns]
    if absent:
        notes.append(f"column(s) {absent} not given: treated as missing values for every new node")


def new_ids(nodes: pd.DataFrame, known: KnownGraph, where: Request) -> list[str]:
    """The new nodes' ids, stripped: none empty, none repeated, none already a known node."""
    column = known.spec.id_column
    known_ids = set(known.node_ids)
    ids: list[str] = []
    seen: set[str] = set()
    for row, value in enumerate(nodes[column]):
        text = "" if pd.isna(value) else str(value).strip()
        if not text:
            raise where.error("empty id", row=row, column=column)
        if text in seen:
            raise where.error(f"duplicate id {text!r}", row=row, column=column)
        if text in known_ids:
            raise where.error(f"id {text!r} is already a node of the training graph", row=row, column=column)
        seen.add(text)
        ids.append(text)
    return ids


def parse_number_columns(nodes: pd.DataFrame, columns: list[str], where: Request) -> pd.DataFrame:
    """Numeric columns as float64, by validate's rule (finite numbers or empty; ``inf`` refused)."""
    nodes = nodes.copy()
    for column in (c for c in columns if c in nodes.columns):
        values, bad, texts = parse_numbers(nodes[column])
        if bad.size:
            raise where.error(not_a_number(texts, bad), row=int(bad[0]), column=column)
        nodes[column] = values
    return nodes


def new_edges(
    nodes: pd.DataFrame,
    edges: pd.DataFrame | None,
    index: dict[str, int],
    spec: DatasetSpec,
    where: Request,
    edges_where: Request,
) -> torch.Tensor:
    """The new edges as ``[2, E]`` positions in the union: from the neighbors column and the edges
    table, each end a known or a new node; self-loops dropped."""
    pairs: list[tuple[int, int]] = []
    id_column = spec.id_column
    if NEIGHBORS in nodes.columns:
        for row, (node, cell) in enumerate(zip(nodes[id_column], nodes[NEIGHBORS], strict=True)):
            if pd.isna(cell):
                continue
            for other in (s.strip() for s in str(cell).split(NEIGHBOR_SEPARATOR)):
                if not other:
                    continue
                if other not in index:
                    raise where.error(
                        f"neighbor {other!r} is neither a known nor a new node", row=row, column=NEIGHBORS
                    )
                pairs.append((index[other], index[str(node).strip()]))  # messages flow neighbour -> node
    if edges is not None:
        columns = [spec.edges.source, spec.edges.target]
        if not set(columns) <= set(edges.columns):
            raise edges_where.error(f"the edges table needs the columns {columns}, it has {list(edges.columns)}")
        for row, (src, dst) in enumerate(zip(edges[columns[0]], edges[columns[1]], strict=True)):
            for column, value in zip(columns, (src, dst), strict=True):
                if str(value).strip() not in index:
                    raise edges_where.error(f"unknown node {str(value)!r}", row=row, column=column)
            pairs.append((index[str(src).strip()], index[str(dst).strip()]))
    if not pairs:
        return torch.empty(2, 0, dtype=torch.long)
    edge_index = torch.tensor(pairs, dtype=torch.long).t()
    return edge_index[:, edge_index[0] != edge_index[1]]
