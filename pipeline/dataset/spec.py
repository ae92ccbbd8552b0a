"""``dataset.yaml``: the column roles of a format-v1 dataset folder.

Format v1 is a contract with users, so it is only ever extended compatibly: unknown keys
(``source``, ``description``...) are kept and ignored, never rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import DatasetError

SPEC_FILE = "dataset.yaml"
FORMAT_VERSION = 1


class EdgesSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    file: str = "edges.csv"
    source: str
    target: str
    directed: bool = False


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    task: Literal["node_classification"]
    id_column: str
    label_column: str
    split_column: str | None = None
    text_columns: list[str] = []
    image_column: str | None = None
    numeric_columns: list[str] = []
    categorical_columns: list[str] = []
    edges: EdgesSpec

    def modality_columns(self) -> list[str]:
        """Every feature column the yaml names, in a stable order."""
        cols = list(self.text_columns)
        if self.image_column:
            cols.append(self.image_column)
        return cols + list(self.numeric_columns) + list(self.categorical_columns)

    def declared_columns(self) -> list[str]:
        """Every nodes-table column the yaml names, with its yaml key, for error messages."""
        cols = [self.id_column, self.label_column]
        if self.split_column:
            cols.append(self.split_column)
        return cols + self.modality_columns()

    @property
    def modalities(self) -> list[str]:
        """The modalities this dataset carries: a subset of text, image, tabular."""
        found = []
        if self.text_columns:
            found.append("text")
        if self.image_column:
            found.append("image")
        if self.numeric_columns or self.categorical_columns:
            found.append("tabular")
        return found


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
        raise DatasetError(path, f"key '{key}': {first['msg']}") from exc
