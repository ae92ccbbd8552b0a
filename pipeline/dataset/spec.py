"""``dataset.yaml``: the column roles of a format-v1 dataset folder.

Format v1 is a contract with users, so it is only ever extended compatibly: unknown keys
(``source``, ``description``...) are kept and ignored, never rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import DatasetError

SPEC_FILE = "dataset.yaml"
FORMAT_VERSION = 1


class EdgesSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    file: str = "edges.csv"
    source: str
    target: str
    directed: bool = False
    # Link prediction: a column of the edges file holding train/val/test per edge (else a seeded split).
    split_column: str | None = None


#: Modality name prefix of a precomputed embedding: ``embedding_modalities: {clip: ...}`` -> ``emb_clip``.
EMBEDDING_PREFIX = "emb_"


class EmbeddingSpec(BaseModel):
    """A precomputed embedding: one row per node, in the nodes file's order.

    ``file`` is an ``.npy`` array or a ``.safetensors`` file (``tensor`` names the tensor when the
    file holds more than one), relative to the dataset folder. A row that is entirely NaN is a
    node without this modality; any other NaN or infinity is an error.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    file: str = Field(min_length=1)
    tensor: str | None = None


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    task: Literal["node_classification", "link_prediction"]
    id_column: str
    label_column: str | None = None  # required for node_classification, optional for link_prediction
    split_column: str | None = None
    text_columns: list[str] = []
    image_column: str | None = None
    numeric_columns: list[str] = []
    categorical_columns: list[str] = []
    edges: EdgesSpec
    # Several image columns (joined: a node's image feature is the mean over its images), and
    # named groups that each become their own modality (``text_<name>``, ``image_<name>``)
    # instead of one joined ``text``/``image``. Format v1 grows compatibly: all optional.
    image_columns: list[str] = []
    text_modalities: dict[str, list[str]] = {}
    image_modalities: dict[str, list[str]] = {}
    # Precomputed embeddings (a benchmark's CLIP or LLM features), used beside or instead of
    # GraphFuse's encoders: name -> file; each becomes the modality ``emb_<name>``.
    embedding_modalities: dict[str, EmbeddingSpec] = {}

    def embedding_groups(self) -> dict[str, EmbeddingSpec]:
        """Modality name (``emb_<name>``) -> its file, in the yaml's order."""
        return {f"{EMBEDDING_PREFIX}{name}": entry for name, entry in self.embedding_modalities.items()}

    @model_validator(mode="after")
    def _labels_for_classification(self) -> DatasetSpec:
        if self.task == "node_classification" and not self.label_column:
            raise ValueError("label_column is required when task is node_classification")
        return self

    @property
    def is_link_prediction(self) -> bool:
        return self.task == "link_prediction"

    def all_text_columns(self) -> list[str]:
        return _unique(list(self.text_columns) + [c for cols in self.text_modalities.values() for c in cols])

    def all_image_columns(self) -> list[str]:
        first = [self.image_column] if self.image_column else []
        return _unique(first + list(self.image_columns) + [c for cols in self.image_modalities.values() for c in cols])

    def modality_groups(self, kind: str) -> dict[str, list[str]]:
        """Modality name -> its columns: ``{"text": [...]}`` joined, or ``{"text_title": [...], ...}``."""
        named = self.text_modalities if kind == "text" else self.image_modalities
        if named:
            return {f"{kind}_{name}": list(cols) for name, cols in named.items()}
        columns = self.all_text_columns() if kind == "text" else self.all_image_columns()
        return {kind: columns} if columns else {}

    def modality_columns(self) -> list[str]:
        """Every feature column the yaml names, in a stable order."""
        cols = self.all_text_columns() + self.all_image_columns()
        return cols + list(self.numeric_columns) + list(self.categorical_columns)

    def declared_columns(self) -> list[str]:
        """Every nodes-table column the yaml names, with its yaml key, for error messages."""
        cols = [self.id_column] + ([self.label_column] if self.label_column else [])
        if self.split_column:
            cols.append(self.split_column)
        return cols + self.modality_columns()

    @property
    def modalities(self) -> list[str]:
        """The modalities this dataset carries: a subset of text, image, tabular."""
        found = []
        if self.all_text_columns():
            found.append("text")
        if self.all_image_columns():
            found.append("image")
        if self.numeric_columns or self.categorical_columns:
            found.append("tabular")
        return found + list(self.embedding_groups())


def load_spec(root: str | Path) -> DatasetSpec:
    """Read and check ``DIR/dataset.yaml``; every failure names the file."""
    path = Path(root) / SPEC_FILE
    if not path.is_file():
        raise DatasetError(path, "file not found: a dataset folder needs a dataset.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise DatasetError(path, f"not valid YAML: {exc}", row=row) from exc
    if not isinstance(raw, dict):
        raise DatasetError(path, "expected a mapping of keys (name, task, id_column, ...)")
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if not key:  # a rule over several keys (label_column for node_classification)
            raise DatasetError(path, first["msg"].removeprefix("Value error, ")) from exc
        raise DatasetError(path, f"key '{key}': {first['msg']}") from exc


def _unique(columns: list[str]) -> list[str]:
    return list(dict.fromkeys(columns))
