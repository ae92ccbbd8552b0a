"""What a synthetic dataset looks like: size, classes, graph shape, and per-modality signal.

``*_signal`` is the probability that a node's content in that modality is drawn from its own
class's cue (otherwise from a uniformly random class): 0 means the modality says nothing about
the label, 1 means it always points at the true class.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.synth.words import TOPICS

MODALITY_NAMES = ("text", "image", "tabular")


class SynthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nodes: int = Field(1000, gt=0)
    classes: int = Field(5, ge=2, le=len(TOPICS))
    seed: int = 0
    name: str = "synthetic"
    modalities: tuple[str, ...] = MODALITY_NAMES
    #: Zipf exponent of the class sizes: 0 = balanced, 1 = class k has weight 1/(k+1).
    imbalance: float = Field(0.0, ge=0)
    homophily: float = Field(0.8, ge=0, le=1, description="probability that an edge joins two nodes of one class")
    avg_degree: float = Field(4.0, ge=0, description="mean degree of the nodes that have edges")
    isolated: float = Field(0.0, ge=0, le=1, description="share of nodes with no edge at all")
    text_signal: float = Field(0.7, ge=0, le=1)
    image_signal: float = Field(0.7, ge=0, le=1)
    tabular_signal: float = Field(0.7, ge=0, le=1)
    text_missing: float = Field(0.0, ge=0, le=1)
    image_missing: float = Field(0.0, ge=0, le=1)
    tabular_missing: float = Field(0.0, ge=0, le=1)
    image_size: int = Field(32, ge=8, le=256)
    numeric_columns: int = Field(4, ge=1, le=64)

    @model_validator(mode="after")
    def _known_modalities(self) -> SynthConfig:
        unknown = [m for m in self.modalities if m not in MODALITY_NAMES]
        if unknown or not self.modalities:
            raise ValueError(f"modalities must be a non-empty subset of {MODALITY_NAMES}, got {self.modalities}")
        return self

    def signal(self, modality: str) -> float:
        return float(getattr(self, f"{modality}_signal"))

    def missing(self, modality: str) -> float:
        return float(getattr(self, f"{modality}_missing"))
