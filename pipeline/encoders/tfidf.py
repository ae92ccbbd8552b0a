"""A weight-free text encoder: TF-IDF over word uni- and bigrams, reduced by truncated SVD (LSA).

Fitted on the train split's texts only (no leakage), so it needs no download and no GPU; a
good baseline for short product titles and a fallback where no model weights may be used.
The fitted vocabulary and SVD are part of the cache key (another train split, other vectors).

The fitted state is three tensors (:meth:`TfidfTextEncoder.fitted_state`): the vocabulary as
UTF-8 bytes (terms in column order, one per line), the IDF weights and the SVD components. They
travel as safetensors with the features, the graph and the model bundle (no pickle), so
``graphfuse predict`` and the served model rebuild the very encoder training used
(:meth:`TfidfTextEncoder.from_state`).
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
_NGRAMS = (1, 2)
_STATE_KEYS = ("vocabulary_utf8", "idf", "components")


def _vectorizer(**kw: Any) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, ngram_range=_NGRAMS, **kw)


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
        self._components: np.ndarray | None = None  # [dim, vocabulary] float32: what encode multiplies by

    def fit(self, texts: Sequence[str]) -> TfidfTextEncoder:
        """Learn the vocabulary, IDF and SVD from ``texts`` (the train split's)."""
        from sklearn.decomposition import TruncatedSVD

        texts = [t for t in texts if t.strip()]
        if not texts:
            raise GraphFuseError("tfidf text encoder: the train split has no non-empty text to fit on")
        vectorizer = _vectorizer(max_features=self.max_features)
        matrix = vectorizer.fit_transform(texts)
        components = max(1, min(self.requested_dim, matrix.shape[0] - 1, matrix.shape[1] - 1))
        svd = TruncatedSVD(n_components=components, random_state=0).fit(matrix)
        self._set(vectorizer, svd.components_)
        return self

    def _set(self, vectorizer: Any, components: np.ndarray) -> None:
        """Install a fitted state; stored and rebuilt encoders multiply by the same float32 matrix."""
        self._vectorizer = vectorizer
        self._components = np.ascontiguousarray(components, dtype=np.float32)
        self.dim = int(self._components.shape[0])
        state = hashlib.sha256()
        state.update("\n".join(self._terms()).encode("utf-8"))
        state.update(np.ascontiguousarray(vectorizer.idf_, dtype=np.float64).tobytes())
        state.update(self._components.tobytes())
        self.settings = {**self.settings, "state": state.hexdigest()[:16], "fitted_dim": self.dim}

    def _terms(self) -> list[str]:
        vocabulary = self._vectorizer.vocabulary_
        terms = [""] * len(vocabulary)
        for term, column in vocabulary.items():
            terms[column] = term
        return terms

    def fitted_state(self) -> dict[str, torch.Tensor]:
        """The fitted encoder as tensors (for safetensors): vocabulary bytes, IDF, SVD components."""
        if self._components is None:
            return {}
        vocabulary = np.frombuffer("\n".join(self._terms()).encode("utf-8"), dtype=np.uint8).copy()
        return {
            "vocabulary_utf8": torch.from_numpy(vocabulary),
            "idf": torch.from_numpy(np.asarray(self._vectorizer.idf_, dtype=np.float64).copy()),
            "components": torch.from_numpy(self._components.copy()),
        }

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], *, expected: str | None = None) -> TfidfTextEncoder:
        """The fitted encoder back from :meth:`fitted_state`'s tensors; ``expected`` is the state
        hash the features recorded, checked so a mismatched file is an error, not other vectors."""
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise GraphFuseError(
                f"the tfidf text encoder's fitted state lacks {missing}: the model was trained by an older "
                "GraphFuse that did not keep it; rerun preprocess_text and train"
            )
        terms = bytes(state["vocabulary_utf8"].numpy().tobytes()).decode("utf-8").split("\n")
        components = state["components"].numpy()
        if len(terms) != components.shape[1] or len(terms) != state["idf"].numel():
            raise GraphFuseError(
                f"the tfidf text encoder's fitted state is inconsistent: {len(terms)} terms, "
                f"{state['idf'].numel()} IDF weights, components {tuple(components.shape)}"
            )
        vectorizer = _vectorizer(vocabulary={term: i for i, term in enumerate(terms)})
        vectorizer.idf_ = state["idf"].numpy().astype(np.float64)
        encoder = cls(dim=int(components.shape[0]))
        encoder._set(vectorizer, components)
        if expected is not None and encoder.settings["state"] != expected:
            raise GraphFuseError(
                f"the tfidf text encoder's fitted state (hash {encoder.settings['state']}) is not the one the "
                f"features were made with ({expected}); rerun preprocess_text and train"
            )
        return encoder

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        if self._components is None:
            raise GraphFuseError(
                "the tfidf text encoder is fitted on a train split; fit it first, or rebuild it from the "
                "fitted state a model bundle carries (TfidfTextEncoder.from_state)"
            )
        reduced = np.asarray(self._vectorizer.transform(list(items)) @ self._components.T, dtype=np.float64)
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        return torch.from_numpy((reduced / np.where(norms > 0, norms, 1.0)).astype(np.float32))

    def __repr__(self) -> str:
        return f"TfidfTextEncoder(dim={self.dim}, fitted={self._components is not None})"
