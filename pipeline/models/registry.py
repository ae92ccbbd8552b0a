"""Fusions and backbones by name: the one place a saved config turns back into a module."""

from __future__ import annotations

from torch import nn

from pipeline.models.backbone_gat import GATBackbone
from pipeline.models.backbone_gatv2 import GATv2Backbone
from pipeline.models.backbone_gcn import GCNBackbone
from pipeline.models.backbone_mlp import MLPBackbone
from pipeline.models.backbone_sage import SAGEBackbone
from pipeline.models.backbone_sign import SIGNBackbone
from pipeline.models.config import FusionModelConfig
from pipeline.models.correct_and_smooth import CorrectAndSmooth
from pipeline.models.decoder_distmult import DistMultDecoder
from pipeline.models.decoder_dot import DotDecoder
from pipeline.models.decoder_mlp import MLPDecoder
from pipeline.models.ensemble import WeightedEnsemble
from pipeline.models.fusion_base import BackboneFactory, FusionBase
from pipeline.models.fusion_early import EarlyFusion
from pipeline.models.fusion_gated import GatedFusion
from pipeline.models.fusion_late import LateFusion
from pipeline.models.generated_code import remove_generated_files
from pipeline.models.link_predictor import LinkPredictor

BACKBONES: dict[str, type[nn.Module]] = {
    "mlp": MLPBackbone,
    "gcn": GCNBackbone,
    "sage": SAGEBackbone,
    "gat": GATBackbone,
    "gatv2": GATv2Backbone,
    "sign": SIGNBackbone,
}
FUSIONS: dict[str, type[FusionBase]] = {"early": EarlyFusion, "late": LateFusion, "gated": GatedFusion}
DECODERS: dict[str, type[nn.Module]] = {"dot": DotDecoder, "mlp": MLPDecoder, "distmult": DistMultDecoder}


def backbone_factory(config: FusionModelConfig) -> BackboneFactory:
    """``(in_channels, out_channels) -> backbone`` with the config's depth, width and options."""
    cls = BACKBONES[config.backbone]
    options: dict = {
        "num_layers": config.num_layers,
        "dropout": config.dropout,
        "norm": config.norm,
        "residual": config.residual,
        "jk": config.jk,
        "skip": config.skip,
    }
    if config.backbone in ("gat", "gatv2"):
        options["heads"] = config.heads
    if config.backbone == "sign":
        options["hops"] = config.hops

    def build(in_channels: int, out_channels: int) -> nn.Module:
        return cls(in_channels, config.hidden_dim, out_channels, **options)

    return build


def build_model(config: FusionModelConfig) -> FusionBase | LinkPredictor | WeightedEnsemble:
    """The model a config describes, freshly initialised (for training and for predict): a
    fusion model, with ``config.decoder`` a :class:`LinkPredictor` around one, or with
    ``config.members`` the :class:`WeightedEnsemble` of theirs. PyG's code generation for its
    layers leaves no file behind (:mod:`pipeline.models.generated_code`)."""
    model = _build(config)
    remove_generated_files()
    return model


def _build(config: FusionModelConfig) -> FusionBase | LinkPredictor | WeightedEnsemble:
    if config.members:
        ensemble = WeightedEnsemble([_build(m.config) for m in config.members], [m.weight for m in config.members])
        if config.smoothing_alpha > 0:
            ensemble.smoothing = smoothing_of(config)
        return ensemble
    if config.decoder is not None:
        encoder = _build_fusion(config.model_copy(update={"decoder": None}))
        decoder_cls = DECODERS[config.decoder]
        decoder = (
            decoder_cls(config.num_classes, config.hidden_dim, config.dropout)
            if config.decoder == "mlp"
            else decoder_cls(config.num_classes)
        )
        return LinkPredictor(encoder, decoder)
    return _build_fusion(config)


def _build_fusion(config: FusionModelConfig) -> FusionBase:
    """The fusion model alone: no members, no decoder (a link predictor's encoder is one)."""
    if config.fusion not in FUSIONS:  # pragma: no cover - the config's Literal already refuses
        raise ValueError(f"unknown fusion {config.fusion!r}; known: {sorted(FUSIONS)}")
    model = FUSIONS[config.fusion](
        config.modality_dims,
        config.num_classes,
        backbone_factory(config),
        projection_dim=config.projection_dim,
        missing_token=config.missing_token,
        modality_dropout=config.modality_dropout,
        hops=config.hops if config.backbone == "sign" else None,
        modality_aux_weight=config.modality_aux_weight,
        input_dropout=config.input_dropout,
    )
    if config.smoothing_alpha > 0:
        model.smoothing = smoothing_of(config)
    return model


def smoothing_of(config: FusionModelConfig) -> CorrectAndSmooth:
    """The Correct & Smooth a config asks for (``alpha`` 0: none)."""
    return CorrectAndSmooth(config.smoothing_alpha, config.smoothing_layers, config.smoothing_correct)


# Bundles written before the zoo: EarlyFusionSAGE's two layers were ``conv1`` and ``conv2``.
_LEGACY_KEYS = {"conv1.": "backbone.convs.0.", "conv2.": "backbone.convs.1."}


def upgrade_state_dict(config: FusionModelConfig, state_dict: dict) -> dict:
    """Rename an ``early_fusion_sage`` bundle's weights to today's module names."""
    if config.architecture != "early_fusion_sage":
        return state_dict
    out = {}
    for key, value in state_dict.items():
        for old, new in _LEGACY_KEYS.items():
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        out[key] = value
    return out
