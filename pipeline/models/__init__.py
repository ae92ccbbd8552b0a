"""Fusion models: per-modality projections fused (early, late, gated) inside GNN backbones."""

from pipeline.models.config import FusionModelConfig
from pipeline.models.fusion_base import FusionBase
from pipeline.models.fusion_early import EarlyFusion
from pipeline.models.fusion_gated import GatedFusion
from pipeline.models.fusion_late import LateFusion
from pipeline.models.label_smoothing import ALPHA_GRID, LabelSmoothing
from pipeline.models.link_predictor import LinkPredictor
from pipeline.models.projection import ModalityProjection
from pipeline.models.registry import BACKBONES, DECODERS, FUSIONS, build_model, smoothing_of, upgrade_state_dict

__all__ = [
    "ALPHA_GRID",
    "BACKBONES",
    "DECODERS",
    "FUSIONS",
    "EarlyFusion",
    "FusionBase",
    "FusionModelConfig",
    "GatedFusion",
    "LabelSmoothing",
    "LateFusion",
    "LinkPredictor",
    "ModalityProjection",
    "build_model",
    "smoothing_of",
    "upgrade_state_dict",
]
