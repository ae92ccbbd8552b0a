"""Fusion models: per-modality projections fused (early, late, gated) inside GNN backbones."""

from pipeline.models.config import FusionModelConfig
from pipeline.models.correct_and_smooth import ALPHA_GRID, CorrectAndSmooth
from pipeline.models.fusion_base import FusionBase
from pipeline.models.fusion_early import EarlyFusion
from pipeline.models.fusion_gated import GatedFusion
from pipeline.models.fusion_late import LateFusion
from pipeline.models.link_predictor import LinkPredictor
from pipeline.models.projection import ModalityProjection
from pipeline.models.registry import BACKBONES, DECODERS, FUSIONS, build_model, smoothing_of, upgrade_state_dict

LabelSmoothing = CorrectAndSmooth  # the older name (in ML "label smoothing" is something else)

__all__ = [
    "ALPHA_GRID",
    "BACKBONES",
    "DECODERS",
    "FUSIONS",
    "EarlyFusion",
    "FusionBase",
    "FusionModelConfig",
    "GatedFusion",
    "CorrectAndSmooth",
    "LabelSmoothing",
    "LateFusion",
    "LinkPredictor",
    "ModalityProjection",
    "build_model",
    "smoothing_of",
    "upgrade_state_dict",
]
