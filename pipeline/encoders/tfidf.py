"""A weight-free text encoder: TF-IDF over word uni- and bigrams, reduced by truncated SVD (LSA).

Fitted on the train split's texts only (no leakage), so it needs no download and no GPU; a
good baseline for short product titles and a fallback where no model weights may be used.
The fitted vocabulary and SVD are part of the cache key (another train split, other vectors).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np
import torch

from pipeline.errors import GraphFuseError

TFIDF = "tfidf"


class TfidfTextEncoder:
    """Texts -> L2-normalised LSA vectors, float32 ``[n, dim]`` (dim <= ``dim`` asked for)."""

    def __init__(self, model: str = TFIDF, *, dim: int = 256, max_features: int = 50_000, **_: Any) -> None:
        if dim < 1:
            raise ValueError(f"tfidf dim must be >= 1, got {dim}")
        self.name = model
        self.requested_dim = dim
        self.max_features = max_features
        self.dim = dim
        self.version = f"scikit-learn=={metadata.version('scikit-learn')}"
        self.settings: dict[str, Any] = {"dim": dim, "max_features": max_features, "state": None}
        self._vectorizer: Any = None
        self._svd: Any = None

    def fit(self, texts: Sequence[str]) -> TfidfTextEncoder:
        """Learn the vocabulary, IDF and SVD from ``texts`` (the train split's)."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [t for t in texts if t.strip()]
        if not texts:
            raise GraphFuseError("tfidf text encoder: the train split has no non-empty text to fit on")
        self._vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=self.max_features)
        matrix = self._vectorizer.fit_transform(texts)
        components = max(1, min(self.requested_dim, matrix.shape[0] - 1, matrix.shape[1] - 1))
        self._svd = TruncatedSVD(n_components=components, random_state=0).fit(matrix)
        self.dim = int(components)
        state = hashlib.sha256()
        state.update("\n".join(sorted(self._vectorizer.vocabulary_)).encode("utf-8"))
        state.update(np.ascontiguousarray(self._vectorizer.idf_).tobytes())
        state.update(np.ascontiguousarray(self._svd.components_).tobytes())
        self.settings = {**self.settings, "state": state.hexdigest()[:16], "fitted_dim": self.dim}
        return self

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        if self._svd is None:
            raise GraphFuseError(
                "the tfidf text encoder is fitted on a train split; fit it first "
                "(graphfuse predict cannot rebuild a tfidf model yet: use a pretrained text encoder for that)"
            )
        reduced = self._svd.transform(self._vectorizer.transform(list(items)))
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        return torch.from_numpy((reduced / np.where(norms > 0, norms, 1.0)).astype(np.float32))

    def __repr__(self) -> str:
        return f"TfidfTextEncoder(dim={self.dim}, fitted={self._svd is not None})"
