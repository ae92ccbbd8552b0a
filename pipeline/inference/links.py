"""Score links with a trained link predictor: given pairs, or the top-k candidate links of a node.

Nodes are those of the graph the model was trained on (the model package carries it); their
embeddings are computed once over the training edges, as in evaluation. Top-k leaves out the
node itself and the nodes it is already linked to in that graph: the answer is *new* links.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor

from pipeline.errors import GraphFuseError
from pipeline.inference.bundle import ModelBundle
from pipeline.inference.known_graph import KnownGraph

#: Request columns: ``source`` always; ``target`` to score a pair, empty to ask for top-k.
SOURCE, TARGET = "source", "target"
OUTPUT_COLUMNS = ("source", "target", "probability", "logit", "rank")


class LinkScorer:
    """Embeddings of the known graph's nodes, and the decoder to score pairs of them."""

    def __init__(self, bundle: ModelBundle, known: KnownGraph) -> None:
        if bundle.config.decoder is None:
            raise GraphFuseError("this model classifies nodes; it has no link decoder")
        self.model = bundle.build()
        self.node_ids = list(known.node_ids)
        self.position = {node_id: i for i, node_id in enumerate(self.node_ids)}
        xs = {m: known.features[m] for m in self.model.modalities}
        masks = {m: known.masks[m] for m in self.model.modalities}
        with torch.inference_mode():
            self.z = self.model.encode(xs, masks, known.edge_index).float()
        n = len(self.node_ids)
        self.linked = torch.zeros((n, n), dtype=torch.bool) if n <= 20_000 else None
        self.edge_index = known.edge_index
        if self.linked is not None:
            self.linked[known.edge_index[0], known.edge_index[1]] = True

    def _index(self, node_id: object, row: int, column: str, where: str) -> int:
        if node_id is None or pd.isna(node_id) or str(node_id) == "":
            raise GraphFuseError(f"{where}, row {row}, column '{column}': empty node id")
        found = self.position.get(str(node_id))
        if found is None:
            raise GraphFuseError(
                f"{where}, row {row}, column '{column}': unknown node '{node_id}' "
                "(link prediction scores nodes of the graph the model was trained on)"
            )
        return found

    def _logits(self, src: Tensor, dst: Tensor) -> Tensor:
        with torch.inference_mode():
            return self.model.decode(self.z, torch.stack([src, dst])).float()

    def predict(
        self, request: pd.DataFrame, *, k: int = 10, where: str = "request", first_row: int = 0
    ) -> pd.DataFrame:
        """One row per given pair (rank empty), and ``k`` rows per source without a target."""
        if SOURCE not in request.columns:
            raise GraphFuseError(f"{where}: needs a '{SOURCE}' column (and '{TARGET}' to score given pairs)")
        unknown = [c for c in request.columns if c not in (SOURCE, TARGET)]
        if unknown:
            raise GraphFuseError(f"{where}, column '{unknown[0]}': unknown column; expected {SOURCE}, {TARGET}")
        if k < 1:
            raise GraphFuseError(f"{where}: k must be at least 1, got {k}")
        targets = request[TARGET] if TARGET in request.columns else pd.Series([None] * len(request))
        frames = []
        for offset, (source, target) in enumerate(zip(request[SOURCE].tolist(), targets.tolist(), strict=True)):
            row = first_row + offset
            u = self._index(source, row, SOURCE, where)
            if target is not None and not pd.isna(target) and str(target) != "":
                v = self._index(target, row, TARGET, where)
                frames.append(self._rows(u, torch.tensor([v]), rank=False))
            else:
                frames.append(self._top_k(u, k))
        if not frames:
            return pd.DataFrame(columns=list(OUTPUT_COLUMNS))
        return pd.concat(frames, ignore_index=True)

    def _top_k(self, u: int, k: int) -> pd.DataFrame:
        n = len(self.node_ids)
        candidates = torch.ones(n, dtype=torch.bool)
        candidates[u] = False
        if self.linked is not None:
            candidates &= ~self.linked[u]
        else:
            candidates[self.edge_index[1][self.edge_index[0] == u]] = False
        pool = candidates.nonzero().flatten()
        logits = self._logits(torch.full_like(pool, u), pool)
        order = torch.argsort(logits, descending=True, stable=True)[:k]
        return self._rows(u, pool[order], rank=True, logits=logits[order])

    def _rows(self, u: int, targets: Tensor, *, rank: bool, logits: Tensor | None = None) -> pd.DataFrame:
        if logits is None:
            logits = self._logits(torch.full_like(targets, u), targets)
        return pd.DataFrame(
            {
                "source": [self.node_ids[u]] * targets.numel(),
                "target": [self.node_ids[int(v)] for v in targets],
                "probability": torch.sigmoid(logits).double().numpy().round(6),
                "logit": logits.double().numpy().round(6),
                "rank": pd.array(
                    list(range(1, targets.numel() + 1)) if rank else [None] * targets.numel(), dtype="Int64"
                ),
            }
        )
