"""Greedy ensemble selection with replacement (Caruana et al., ICML 2004).

Start from nothing; at each round add the candidate (again, if it is the best) whose inclusion
makes the running mean of probabilities score best on the scored nodes; keep the best round.
The first round picks the best single candidate, and a later round is kept only if it scores
higher, so the ensemble's selection score is never below its best member's.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import Tensor


def selection_score(probs: Tensor, y: Tensor) -> tuple[float, float]:
    """Accuracy, then the lower log-loss to break ties (higher tuple is better)."""
    accuracy = float((probs.argmax(-1) == y).double().mean())
    nll = float(-probs.gather(1, y.unsqueeze(1)).clamp_min(1e-12).log().mean())
    return accuracy, -round(nll, 9)


def greedy_ensemble(candidates: list[Tensor], y: Tensor, rounds: int) -> dict[int, float]:
    """Weights (summing to 1) of the chosen candidates' indices; ``candidates`` are ``[n, C]``
    probabilities of the same scored nodes, ``y`` their labels. Ties go to the lower index."""
    if not candidates:
        raise ValueError("the ensemble needs at least one candidate")
    total = torch.zeros_like(candidates[0], dtype=torch.float64)
    picks: list[int] = []
    best: tuple[tuple[float, float], int] | None = None
    for round_ in range(1, max(rounds, 1) + 1):
        scores = [selection_score((total + c.double()) / round_, y) for c in candidates]
        choice = max(range(len(candidates)), key=lambda i: (scores[i], -i))
        total += candidates[choice].double()
        picks.append(choice)
        if best is None or scores[choice] > best[0]:
            best = (scores[choice], round_)
    assert best is not None
    kept = Counter(picks[: best[1]])
    return {index: count / best[1] for index, count in sorted(kept.items())}


def mixture(candidates: list[Tensor], weights: dict[int, float]) -> Tensor:
    """The weighted mean of the chosen candidates' probabilities."""
    return sum(w * candidates[i].double() for i, w in weights.items())
