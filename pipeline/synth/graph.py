"""Labels, per-modality cue classes and edges with a chosen homophily and isolated-node share.

Everything is vectorised numpy so a million nodes take seconds, and seeded so the same
config always gives the same dataset.
"""

from __future__ import annotations

import numpy as np


def draw_labels(rng: np.random.Generator, n: int, classes: int, imbalance: float) -> np.ndarray:
    """Class ids [n] with sizes proportional to 1/(k+1)^imbalance; every class appears when n allows."""
    weights = 1.0 / np.arange(1, classes + 1, dtype=np.float64) ** imbalance
    labels = rng.choice(classes, size=n, p=weights / weights.sum())
    if n >= classes:  # a class with no node would break stratified splits downstream
        labels[rng.permutation(n)[:classes]] = np.arange(classes)
    return labels.astype(np.int64)


def draw_cues(rng: np.random.Generator, labels: np.ndarray, classes: int, signal: float) -> np.ndarray:
    """The class a node's content is drawn from: its own with probability ``signal``, else uniform."""
    keep = rng.random(labels.size) < signal
    return np.where(keep, labels, rng.integers(0, classes, size=labels.size)).astype(np.int64)


def draw_edges(
    rng: np.random.Generator,
    labels: np.ndarray,
    *,
    avg_degree: float,
    homophily: float,
    isolated: float,
) -> np.ndarray:
    """Undirected edges [m, 2] (u < v, unique, no self-loops) among the non-isolated nodes.

    Every non-isolated node gets at least one edge (it is the source of one), the rest are
    drawn uniformly until the mean degree of those nodes is about ``avg_degree``. A target is a
    node of the source's class with probability ``homophily``, any node otherwise.
    """
    n = labels.size
    n_isolated = int(round(isolated * n))
    connected = np.sort(rng.permutation(n)[n_isolated:])
    if connected.size < 2 or avg_degree <= 0:
        return np.empty((0, 2), dtype=np.int64)
    m = max(int(round(avg_degree * connected.size / 2)), connected.size)
    extra = rng.choice(connected, size=m - connected.size)
    sources = np.concatenate([connected, extra])
    targets = _targets(rng, sources, labels, connected, homophily)
    pairs = np.stack([np.minimum(sources, targets), np.maximum(sources, targets)], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    key = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([key // n, key % n], axis=1).astype(np.int64)


def _targets(
    rng: np.random.Generator, sources: np.ndarray, labels: np.ndarray, connected: np.ndarray, homophily: float
) -> np.ndarray:
    by_class = connected[np.argsort(labels[connected], kind="stable")]
    counts = np.bincount(labels[connected], minlength=int(labels.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cls = labels[sources]
    same = by_class[starts[cls] + (rng.random(sources.size) * counts[cls]).astype(np.int64)]
    anyone = connected[rng.integers(0, connected.size, size=sources.size)]
    targets = np.where(rng.random(sources.size) < homophily, same, anyone)
    # A self-loop is replaced by a uniform node once; the few left are dropped by the caller.
    loops = targets == sources
    targets[loops] = connected[rng.integers(0, connected.size, size=int(loops.sum()))]
    return targets


def draw_split(rng: np.random.Generator, n: int, val: float = 0.2, test: float = 0.2) -> np.ndarray:
    """0 = train, 1 = val, 2 = test, uniformly at random (for the embeddings mode)."""
    u = rng.random(n)
    return np.where(u < test, 2, np.where(u < test + val, 1, 0)).astype(np.int8)
