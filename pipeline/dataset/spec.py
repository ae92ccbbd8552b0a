"""``dataset.yaml``: the column roles of a format-v1 dataset folder.

Format v1 is a contract with users, so it is only ever extended compatibly (new keys are
optional). A key the format does not know is a typo until proven otherwise (``numeric_colums``
would silently train without the table), so :func:`pipeline.dataset.schema.load_spec` refuses it with a did-you-mean,
checking the file against the JSON Schema shipped beside this module (``dataset.schema.json``,
generated from these models, which editors also read). Free-text provenance goes under
``source`` or ``description``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SPEC_FILE = "dataset.yaml"
FORMAT_VERSION = 1


class EdgesSpec(BaseModel):
    """The edges file: one row per edge, naming its two endpoint node ids."""

    # "ignore", not "forbid": a spec read back from a processed dataset.json or an older model
    # package must load; unknown keys in a user's dataset.yaml are refused by the schema check.
    model_config = ConfigDict(extra="ignore", frozen=True)

    file: str = Field("edges.csv", description="edges table (CSV or Parquet), relative to the dataset folder")
    source: str = Field(description="column of the edges file holding the source node id")
    target: str = Field(description="column of the edges file holding the target node id")
    directed: bool = Field(False, description="false: each edge is used in both directions")
    split_column: str | None = Field(
        None, description="link prediction: a column holding train/val/test per edge (else a seeded split)"
    )


#: Modality name prefix of a precomputed embedding: ``embedding_modalities: {clip: ...}`` -> ``emb_clip``.
EMBEDDING_PREFIX = "emb_"


class EmbeddingSpec(BaseModel):
    """A precomputed embedding: one row per node, in the nodes file's order.

    ``file`` is an ``.npy`` array or a ``.safetensors`` file (``tensor`` names the tensor when the
    file holds more than one), relative to the dataset folder. A row that is entirely NaN is a
    node without this modality; any other NaN or infinity is an error.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    file: str = Field(min_length=1, description=".npy or .safetensors file, relative to the dataset folder")
    tensor: str | None = Field(None, description="the tensor's name, when the .safetensors file holds several")


class DatasetSpec(BaseModel):
    """The column roles of a dataset folder: which column is the id, the label, text, images, numbers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, description="the dataset's name; the registry's model name derives from it")
    task: Literal["node_classification", "link_prediction"] = Field(
        description="node_classification: predict each node's label; link_prediction: predict missing edges"
    )
    id_column: str = Field(description="nodes-file column holding each node's unique id (edges refer to it)")
    label_column: str | None = Field(
        None, description="the class of each node; required for node_classification, empty cells = unlabelled"
    )
    split_column: str | None = Field(None, description="a column holding train/val/test per node (else seeded)")
    text_columns: list[str] = Field([], description="text columns, joined into one text per node")
    image_column: str | None = Field(None, description="a column of image paths relative to images/")
    numeric_columns: list[str] = Field([], description="number columns (empty cell = missing)")
    categorical_columns: list[str] = Field([], description="category columns (one-hot or hashed)")
    edges: EdgesSpec = Field(description="the edges file and its endpoint columns")
    # Several image columns (joined: a node's image feature is the mean over its images), and
    # named groups that each become their own modality (``text_<name>``, ``image_<name>``)
    # instead of one joined ``text``/``image``. Format v1 grows compatibly: all optional.
    image_columns: list[str] = Field([], description="more image columns: a node's image feature is their mean")
    text_modalities: dict[str, list[str]] = Field(
        {}, description="named groups of text columns, each its own modality text_<name>"
    )
    image_modalities: dict[str, list[str]] = Field(
        {}, description="named groups of image columns, each its own modality image_<name>"
    )
    # Precomputed embeddings (a benchmark's CLIP or LLM features), used beside or instead of
    # GraphFuse's encoders: name -> file; each becomes the modality ``emb_<name>``.
    embedding_modalities: dict[str, EmbeddingSpec] = Field(
        {}, description="precomputed embeddings, one row per node in file order: name -> file (modality emb_<name>)"
    )
    # Reading the files: what a missing cell looks like besides an empty one, and the CSV separator.
    na_values: list[str] = Field(
        [], description="cell texts that mean a missing value in the nodes file (besides an empty cell), e.g. N/A"
    )
    sep: str = Field(",", min_length=1, max_length=1, description="the CSV files' column separator, e.g. ';'")
    # Provenance, never read by the pipeline.
    source: str | dict[str, Any] | None = Field(
        None, description="where the data came from, its licence and attribution (text, or a mapping)"
    )
    description: str | None = Field(None, description="free text about the dataset")
    synth: dict[str, Any] | None = Field(None, description="graphfuse synth's settings (written by synth)")

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


def _unique(columns: list[str]) -> list[str]:
    return list(dict.fromkeys(columns))
