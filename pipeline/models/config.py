"""The architecture of a trained model as plain data, saved beside its weights."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FusionName = Literal["early", "late", "gated"]
BackboneName = Literal["mlp", "gcn", "sage", "gat", "gatv2", "sign"]
NormName = Literal["none", "batch", "layer"]
JumpingKnowledgeName = Literal["none", "last", "cat", "max"]
DecoderName = Literal["dot", "mlp", "distmult"]


class FusionModelConfig(BaseModel):
    """Everything ``build_model`` needs; the defaults are the original early-fusion GraphSAGE.

    ``architecture="early_fusion_sage"`` is how bundles written before the model zoo name their
    model; it builds the same network as ``fusion="early", backbone="sage"`` with the defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    architecture: Literal["fusion_gnn", "early_fusion_sage", "ensemble"] = "fusion_gnn"
    modality_dims: dict[str, int]
    num_classes: int = Field(gt=0)
    projection_dim: int = Field(gt=0)
    hidden_dim: int = Field(gt=0)
    dropout: float = Field(ge=0, lt=1)
    fusion: FusionName = "early"
    backbone: BackboneName = "sage"
    num_layers: int = Field(2, ge=1)
    norm: NormName = "none"
    residual: bool = False
    jk: JumpingKnowledgeName = "none"
    skip: bool = Field(False, description="a linear path from each backbone's input to its output")
    heads: int = Field(4, ge=1, description="attention heads of gat/gatv2 hidden layers")
    hops: int = Field(2, ge=0, description="propagation steps precomputed by the sign backbone")
    missing_token: bool = False
    modality_dropout: float = Field(0.0, ge=0, lt=1)
    # Per-modality auxiliary classifiers (models/modality_heads.py), training only; 0 = none.
    modality_aux_weight: float = Field(0.0, ge=0)
    input_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on each embedding before its projection")
    # Link prediction: the fusion model's output (``num_classes`` wide) is the node embedding
    # and this decoder scores pairs of them; None for node classification.
    decoder: DecoderName | None = None
    # Correct & Smooth after the forward pass (models/correct_and_smooth.py); 0 = none. Training
    # chooses it (``train.smoothing``); bundles from before it load with 0.
    smoothing_alpha: float = Field(0.0, ge=0, lt=1)
    smoothing_layers: int = Field(50, ge=1)
    smoothing_correct: bool = False
    # ``architecture="ensemble"``: a weighted mean of these members' class probabilities (the
    # search's choice, pipeline/search); the smoothing above then applies to the mean.
    members: tuple[EnsembleMember, ...] = ()

    def without(self, modality: str) -> FusionModelConfig | None:
        """The same model without ``modality`` (``None``: no modality would be left). An ensemble
        drops it from each member, and the members that read nothing else."""
        dims = {m: d for m, d in self.modality_dims.items() if m != modality}
        if not dims:
            return None
        if not self.members:
            return self.model_copy(update={"modality_dims": dims})
        members = [(m, m.config.without(modality)) for m in self.members]
        kept = tuple(m.model_copy(update={"config": c}) for m, c in members if c is not None)
        return self.model_copy(update={"modality_dims": dims, "members": kept}) if kept else None

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> FusionModelConfig:
        if (self.architecture == "ensemble") != bool(self.members):
            raise ValueError("an ensemble (architecture='ensemble') and only an ensemble has members")
        for member in self.members:
            extra = set(member.config.modality_dims) - set(self.modality_dims)
            if extra or member.config.num_classes != self.num_classes:
                raise ValueError(
                    f"an ensemble member must predict the same classes from a subset of {sorted(self.modality_dims)}"
                )
        if self.backbone in ("gat", "gatv2") and self.hidden_dim % self.heads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be a multiple of heads ({self.heads})")
        if not self.modality_dims:
            raise ValueError("a fusion model needs at least one modality")
        return self


class EnsembleMember(BaseModel):
    """One model of an ensemble: its architecture, its weight in the mean, and the training
    settings it was chosen with (``lr``, ``weight_decay``), so a retraining (spread) repeats them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: FusionModelConfig
    weight: float = Field(gt=0)
    recipe: dict[str, float] = Field(default_factory=dict)
    name: str = ""


FusionModelConfig.model_rebuild()
