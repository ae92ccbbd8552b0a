"""The search's settings as one typed value, filled from ``params.yaml``'s ``train`` section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SearchSettings:
    """``mode`` off keeps the single recipe of ``train``; auto searches within the budget.

    ``cv_below``: with fewer labelled validation nodes than this, candidates are scored by
    ``folds``-fold cross-validation over the train and val nodes instead of on val alone (see
    docs/search.md for the threshold). ``top``: how many of the best trials the ensemble may draw
    from; ``rounds``: its greedy steps. ``storage``: the study's SQLite file, a database URL, or '' (in
    memory: no resuming).
    """

    mode: str = "off"
    trials: int = 20
    seconds: float = 150.0
    folds: int = 5
    cv_below: int = 1000
    top: int = 8
    rounds: int = 20
    storage: str = ".cache/graphfuse/search/studies.db"

    @property
    def enabled(self) -> bool:
        return self.mode == "auto"


def search_settings(train: Any) -> SearchSettings:
    """The ``search_*`` keys of params.yaml's ``train`` section (and ``search`` itself)."""
    return SearchSettings(
        mode=train.search,
        trials=train.search_trials,
        seconds=train.search_seconds,
        folds=train.search_folds,
        cv_below=train.search_cv_below,
        top=train.search_top,
        rounds=train.search_rounds,
        storage=train.search_storage,
    )
