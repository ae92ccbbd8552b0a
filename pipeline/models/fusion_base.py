"""What every fusion shares: per-modality projections, missing tokens, modality dropout, hops."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Protocol

import torch
from torch import Tensor, nn

from pipeline.models.correct_and_smooth import CorrectAndSmooth
from pipeline.models.modality_dropout import drop_modalities
from pipeline.models.modality_heads import ModalityHeads
from pipeline.models.projection import ModalityProjection
from pipeline.models.propagation import precompute_hops

BackboneFactory = Callable[[int, int], nn.Module]  # (in_channels, out_channels) -> backbone


class Backbone(Protocol):
    """What a fusion calls on its backbone (every backbone of the zoo has both): a module's
    attributes type as ``Tensor | Module`` to a type checker, so the fusions name this instead."""

    def __call__(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor: ...

    def embed(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor: ...


class FusionBase(nn.Module, ABC):
    r"""Base of the fusion models: ``forward(xs, masks, edge_index) -> logits``.

    Inputs are one embedding and one mask per modality. For the ``sign`` backbone
    (``hops`` set), 2-D inputs are propagated here, once per call; a trainer that precomputed
    the hops passes ``[N, hops + 1, F]`` tensors and ``[N, hops + 1]`` masks instead.

    Shapes:
        - xs: ``{modality: (N, F_m) or (N, K+1, F_m)}``
        - masks: ``{modality: (N,) or (N, K+1)}`` bool
        - edge_index: :math:`(2, E)`; output :math:`(N, C)`.

    Args:
        modality_dims: embedding size per modality, e.g. ``{"text": 384, "image": 1280}``.
        num_classes: number of output classes.
        backbone: builds a backbone from ``(in_channels, out_channels)``.
        projection_dim: size of each modality's projection.
        missing_token: learn a token per modality for nodes that lack it (else zeros).
        modality_dropout: probability of hiding a node's modality in training.
        hops: precomputed propagation steps when the backbone is ``sign``, else ``None``.
        modality_aux_weight: weight of the per-modality auxiliary classifiers' loss in training
            (:class:`~pipeline.models.modality_heads.ModalityHeads`; 0: no heads).
        input_dropout: dropout on each embedding's dimensions before its projection.
    """

    def __init__(
        self,
        modality_dims: Mapping[str, int],
        num_classes: int,
        backbone: BackboneFactory,
        projection_dim: int = 64,
        missing_token: bool = False,
        modality_dropout: float = 0.0,
        hops: int | None = None,
        modality_aux_weight: float = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not modality_dims:
            raise ValueError("a fusion model needs at least one modality")
        self.modalities = sorted(modality_dims)
        self.num_classes = num_classes
        self.projection_dim = projection_dim
        self.modality_dropout = modality_dropout
        self.hops = hops
        #: Correct & Smooth applied by ``predict_logits`` after the forward pass (not a module:
        #: no weights); training or ``build_model`` sets it.
        self.smoothing: CorrectAndSmooth | None = None
        self.projections = nn.ModuleDict(
            {
                m: ModalityProjection(modality_dims[m], projection_dim, missing_token, input_dropout)
                for m in self.modalities
            }
        )
        self.modality_heads = (
            ModalityHeads(self.modalities, projection_dim, num_classes, modality_aux_weight)
            if modality_aux_weight > 0
            else None
        )
        #: The last training forward's own-hop projections and masks, for :meth:`auxiliary_loss`.
        self._projected: tuple[dict[str, Tensor], dict[str, Tensor]] | None = None

    def reset_parameters(self) -> None:
        for module in self.modules():
            reset = getattr(module, "reset_parameters", None)
            if module is not self and callable(reset):
                reset()

    def prepare(
        self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Propagate raw inputs for the sign backbone, then apply modality dropout."""
        xs, masks = dict(xs), dict(masks)
        if self.hops is not None and xs[self.modalities[0]].dim() == 2:
            hop_xs, masks = precompute_hops({m: xs[m] for m in self.modalities}, masks, edge_index, self.hops)
            xs = {m: torch.stack(hop_xs[m], dim=1) for m in self.modalities}
        return xs, drop_modalities(
            {m: masks[m] for m in self.modalities}, self.modality_dropout, training=self.training
        )

    def project(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> list[Tensor]:
        """One :math:`(*, P)` projection per modality, in ``self.modalities`` order."""
        zs = [self.projections[m](xs[m], masks[m]) for m in self.modalities]
        if self.modality_heads is not None and self.training:  # kept for auxiliary_loss (hop 0 for sign)
            own = {m: z[:, 0] if z.dim() == 3 else z for m, z in zip(self.modalities, zs, strict=True)}
            own_masks = {m: masks[m][:, 0] if masks[m].dim() == 2 else masks[m] for m in self.modalities}
            self._projected = (own, own_masks)
        else:
            self._projected = None
        return zs

    def auxiliary_loss(
        self, rows: Tensor | None, y: Tensor, class_weights: Tensor, denominator: float
    ) -> Tensor | None:
        """The per-modality heads' loss on the last training forward (``None`` without heads):
        the trainer adds it to the main loss, with the same rows, labels and denominator."""
        if self.modality_heads is None or self._projected is None:
            return None
        projections, masks = self._projected
        self._projected = None
        return self.modality_heads(projections, masks, rows, y, class_weights, denominator)

    @abstractmethod
    def embed(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        """Node embeddings, :math:`(N, d)` for every fusion and backbone: the representation the
        output layer reads (the t-SNE map and anything else that wants one vector a node)."""

    def stacked_masks(self, masks: Mapping[str, Tensor], dtype: torch.dtype) -> Tensor:
        """The masks as features, :math:`(*, M)`."""
        return torch.stack([masks[m].to(dtype) for m in self.modalities], dim=-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(modalities={self.modalities}, backbone={self.backbone_repr()})"

    def backbone_repr(self) -> str:
        return ""
