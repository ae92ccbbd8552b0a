"""The learned node representation, and a 2-D map of it (t-SNE from scikit-learn).

Any model works: the representation is what the model's last top-level layer receives (the
hidden GraphSAGE output for the early-fusion model), or ``model.embed(...)`` when it has one.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.manifold import TSNE
from torch import nn
from torch_geometric.data import Data


def node_embeddings(model: nn.Module, data: Data, device: torch.device) -> np.ndarray:
    model = model.to(device).eval()
    names = list(model.modalities)
    xs = {m: data[f"x_{m}"].to(device) for m in names}
    masks = {m: data[f"mask_{m}"].to(device) for m in names}
    edge_index = data.edge_index.to(device)
    with torch.inference_mode():
        embed = getattr(model, "embed", None)
        if callable(embed):
            return embed(xs, masks, edge_index).cpu().numpy()
        seen: list[torch.Tensor] = []
        hooks = [
            child.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0])) for child in model.children()
        ]
        try:
            model(xs, masks, edge_index)
        finally:
            for hook in hooks:
                hook.remove()
    return seen[-1].detach().cpu().numpy()


def embedding_map(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE coordinates (PCA initialisation, seeded, perplexity fitted to small graphs)."""
    n = len(embeddings)
    if n < 3:
        return np.zeros((n, 2))
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(embeddings)
