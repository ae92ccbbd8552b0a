"""Fusion models: per-modality projections fused inside GNN backbones."""

from pipeline.models.config import FusionModelConfig
from pipeline.models.fusion_sage import EarlyFusionSAGE
from pipeline.models.projection import ModalityProjection

__all__ = ["EarlyFusionSAGE", "FusionModelConfig", "ModalityProjection", "build_model"]


def build_model(config: FusionModelConfig) -> EarlyFusionSAGE:
    """The one place that turns a saved config back into a module (for training and predict)."""
    if config.architecture != "early_fusion_sage":
        raise ValueError(f"unknown architecture {config.architecture!r}; known: early_fusion_sage")
    return EarlyFusionSAGE(
        modality_dims=config.modality_dims,
        num_classes=config.num_classes,
        projection_dim=config.projection_dim,
        hidden_dim=config.hidden_dim,
        dropout=config.dropout,
    )
