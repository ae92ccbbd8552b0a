"""Numeric and categorical columns -> a fixed-width float vector, with statistics from train rows only.

Fitting on the train split alone keeps test rows from leaking into the means, stds and the
category vocabulary; the fitted state is JSON so the model bundle can carry it to predict.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pandas as pd
import torch

STATE_VERSION = 1


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Column as float64 with NaN for missing (accepts float, Int64/pd.NA and numeric strings)."""
    return pd.to_numeric(frame[column], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _categorical(frame: pd.DataFrame, column: str) -> pd.Series:
    """Column as pandas string dtype, so ``pd.NA`` marks missing whatever the input dtype."""
    values = frame[column]
    if values.dtype == "object":
        values = values.where(values.notna(), None)
    return values.astype("string")


def hashed_embedding(column: str, value: str, dim: int) -> np.ndarray:
    """A fixed pseudo-random unit-scale vector per (column, value): no vocabulary to store,
    unseen categories get their own vector too, and the model's projection learns on top."""
    seed = int.from_bytes(hashlib.sha256(f"{column}={value}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim) / math.sqrt(dim)


class TabularEncoder:
    """Standardised numerics (+ missing indicators) and one-hot categoricals.

    Numeric: impute with the fit-rows mean, subtract it, divide by the fit-rows std (population
    std; 0 or undefined -> 1), clip to ``[-clip, clip]`` so outliers cannot dominate, and add a 0/1
    ``<col>__missing`` column, since a missing value carries information the imputed 0 hides.
    Categorical: one-hot over the categories seen in the fit rows, sorted; unseen or missing ->
    all zeros. A high-cardinality column (more than ``max_onehot`` train categories, e.g. a
    brand or a seller id) gets an ``embedding_dim``-wide hashed embedding instead of a one-hot
    block that would be mostly empty. The output width depends only on the fitted state.
    """

    def __init__(
        self,
        numeric: list[str],
        categorical: list[str],
        clip: float = 5.0,
        max_onehot: int | None = None,
        embedding_dim: int = 8,
    ) -> None:
        if not clip > 0:
            raise ValueError(f"clip must be > 0, got {clip}")
        overlap = set(numeric) & set(categorical)
        if overlap:
            raise ValueError(f"columns cannot be both numeric and categorical: {sorted(overlap)}")
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.clip = float(clip)
        self.max_onehot = max_onehot
        self.embedding_dim = int(embedding_dim)
        self.embedded: list[str] = []
        self.means: dict[str, float] = {}
        self.stds: dict[str, float] = {}
        self.categories: dict[str, list[str]] = {}
        self.fitted = False

    # -- fitting -----------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, fit_rows: pd.Series | np.ndarray) -> TabularEncoder:
        """Learn means, stds and category lists from the rows where ``fit_rows`` is True."""
        mask = np.asarray(fit_rows.fillna(False) if isinstance(fit_rows, pd.Series) else fit_rows, dtype=bool)
        if mask.shape != (len(frame),):
            raise ValueError(f"fit_rows has shape {mask.shape}, expected ({len(frame)},) to match the frame")
        self._check_columns(frame)
        rows = frame.loc[mask]
        for column in self.numeric:
            values = _numeric(rows, column)
            values = values[~np.isnan(values)]
            mean = float(values.mean()) if values.size else 0.0
            std = float(values.std()) if values.size else 1.0
            self.means[column] = mean
            self.stds[column] = std if math.isfinite(std) and std > 0 else 1.0
        for column in self.categorical:
            seen = sorted(str(v) for v in _categorical(rows, column).dropna().unique())
            if self.max_onehot is not None and len(seen) > self.max_onehot:
                self.embedded.append(column)
                seen = []
            self.categories[column] = seen
        self.fitted = True
        return self

    # -- encoding ----------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """Column names of the output, in order: numerics, their missing flags, then one-hots."""
        names = list(self.numeric) + [f"{c}__missing" for c in self.numeric]
        for column in self.categorical:
            if column in self.embedded:
                names += [f"{column}#emb{k}" for k in range(self.embedding_dim)]
            else:
                names += [f"{column}={v}" for v in self.categories.get(column, [])]
        return names

    @property
    def dim(self) -> int:
        return len(self.feature_names)

    def transform(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` float32 ``[n, dim]``; ``mask`` bool ``[n]``, True where the row has any tabular value."""
        if not self.fitted:
            raise RuntimeError("TabularEncoder.transform called before fit (or from_dict)")
        self._check_columns(frame)
        n = len(frame)
        blocks: list[np.ndarray] = []
        present = np.zeros(n, dtype=bool)
        if self.numeric:
            values = np.stack([_numeric(frame, c) for c in self.numeric], axis=1)
            missing = np.isnan(values)
            present |= ~missing.all(axis=1)
            means = np.array([self.means[c] for c in self.numeric])
            stds = np.array([self.stds[c] for c in self.numeric])
            scaled = np.where(missing, 0.0, (values - means) / stds)  # imputing the mean scales to 0
            blocks += [np.clip(scaled, -self.clip, self.clip), missing.astype(np.float64)]
        for column in self.categorical:
            values = _categorical(frame, column)
            present |= values.notna().to_numpy()
            if column in self.embedded:
                blocks.append(self._embed_column(column, values))
                continue
            cats = self.categories[column]
            codes = pd.Index(cats, dtype="string").get_indexer(values)  # -1 for unseen and missing
            onehot = np.zeros((n, len(cats)), dtype=np.float64)
            hit = codes >= 0
            onehot[np.nonzero(hit)[0], codes[hit]] = 1.0
            blocks.append(onehot)
        x = np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0))
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(present)

    def _embed_column(self, column: str, values: pd.Series) -> np.ndarray:
        out = np.zeros((len(values), self.embedding_dim), dtype=np.float64)
        for value in values.dropna().unique():
            out[(values == value).fillna(False).to_numpy(dtype=bool)] = hashed_embedding(
                column, str(value), self.embedding_dim
            )
        return out

    def _check_columns(self, frame: pd.DataFrame) -> None:
        absent = [c for c in self.numeric + self.categorical if c not in frame.columns]
        if absent:
            raise KeyError(f"tabular columns not in the frame: {absent}")

    # -- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain JSON types (what the model bundle stores)."""
        if not self.fitted:
            raise RuntimeError("TabularEncoder.to_dict called before fit")
        return {
            "version": STATE_VERSION,
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "clip": self.clip,
            "means": {c: float(self.means[c]) for c in self.numeric},
            "stds": {c: float(self.stds[c]) for c in self.numeric},
            "categories": {c: [str(v) for v in self.categories[c]] for c in self.categorical},
            "feature_names": self.feature_names,
            "max_onehot": self.max_onehot,
            "embedding_dim": self.embedding_dim,
            "embedded": list(self.embedded),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TabularEncoder:
        """Rebuild a fitted encoder from :meth:`to_dict` output."""
        version = state.get("version", STATE_VERSION)
        if version != STATE_VERSION:
            raise ValueError(f"tabular encoder state version {version} is not supported (expected {STATE_VERSION})")
        encoder = cls(
            list(state["numeric"]),
            list(state["categorical"]),
            clip=float(state["clip"]),
            max_onehot=state.get("max_onehot"),
            embedding_dim=int(state.get("embedding_dim", 8)),
        )
        encoder.embedded = [str(c) for c in state.get("embedded", [])]
        encoder.means = {c: float(state["means"][c]) for c in encoder.numeric}
        encoder.stds = {c: float(state["stds"][c]) for c in encoder.numeric}
        encoder.categories = {c: [str(v) for v in state["categories"][c]] for c in encoder.categorical}
        encoder.fitted = True
        return encoder

    def __repr__(self) -> str:
        return f"TabularEncoder(numeric={self.numeric}, categorical={self.categorical}, dim={self.dim})"
