"""The learned node representation, and a 2-D map of it (t-SNE from scikit-learn).

Every model of the zoo says what its node embedding is through ``model.embed(xs, masks,
edge_index)``, one :math:`(N, d)` row a node (see :meth:`pipeline.models.FusionBase.embed`),
so evaluation needs no case per fusion or backbone.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.manifold import TSNE
from torch import nn
from torch_geometric.data import Data


def node_embeddings(model: nn.Module, data: Data, device: torch.device) -> np.ndarray:
    """The model's node embeddings in eval mode, :math:`(N, d)`."""
    model = model.to(device).eval()
    names = list(model.modalities)
    xs = {m: data[f"x_{m}"].to(device) for m in names}
    masks = {m: data[f"mask_{m}"].to(device) for m in names}
    with torch.inference_mode():
        z = model.embed(xs, masks, data.edge_index.to(device))
    if z.dim() != 2 or z.size(0) != masks[names[0]].size(0):
        raise ValueError(f"{type(model).__name__}.embed gave {tuple(z.shape)}, not one row a node")
    return z.float().cpu().numpy()


def embedding_map(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE coordinates (PCA initialisation, seeded, perplexity fitted to small graphs)."""
    n = len(embeddings)
    if n < 3:
        return np.zeros((n, 2))
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(embeddings)
