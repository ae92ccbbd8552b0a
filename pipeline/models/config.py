"""The architecture of a trained model as plain data, saved beside its weights."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FusionModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    architecture: str = "early_fusion_sage"
    modality_dims: dict[str, int]
    num_classes: int
    projection_dim: int
    hidden_dim: int
    dropout: float
