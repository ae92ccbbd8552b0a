"""What a trial may choose: fusion x backbone (the no-graph MLP included), the modalities, and the
few hyperparameters that matter. Correct & Smooth's strength is chosen after the ensemble, on the
same folds (:mod:`pipeline.search.smoothing`), not sampled per trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.models import FusionModelConfig

FUSIONS = ("early", "late", "gated")
BACKBONES = ("mlp", "gcn", "sage", "gat")
HIDDEN = (64, 128, 256)
RANGES = {  # (low, high, log scale)
    "dropout": (0.0, 0.7, False),
    "modality_dropout": (0.0, 0.5, False),
    "lr": (1e-3, 3e-2, True),
    "weight_decay": (1e-6, 1e-2, True),
}
MODEL_KEYS = ("fusion", "backbone", "hidden_dim", "dropout", "modality_dropout", "residual")
RECIPE_KEYS = ("lr", "weight_decay")
ALL = "all"


def modality_choices(modalities: list[str]) -> list[str]:
    """``all``, each modality alone (``only:m``), all but one (``without:m``), without repeats."""
    names = sorted(modalities)
    choices = [ALL]
    if len(names) > 1:
        choices += [f"only:{m}" for m in names]
    if len(names) > 2:
        choices += [f"without:{m}" for m in names]
    return choices


def chosen_modalities(choice: str, modalities: list[str]) -> list[str]:
    if choice.startswith("only:"):
        return [choice.removeprefix("only:")]
    if choice.startswith("without:"):
        return [m for m in sorted(modalities) if m != choice.removeprefix("without:")]
    return sorted(modalities)


@dataclass(frozen=True)
class Candidate:
    """One trial's choice: model settings, the modalities it reads, and its training settings."""

    model: dict[str, Any]
    modalities: tuple[str, ...]
    recipe: dict[str, float] = field(default_factory=dict)

    def config(self, base: FusionModelConfig) -> FusionModelConfig:
        """``base`` (params.yaml's model) with this candidate's choices, no label smoothing."""
        dims = {m: base.modality_dims[m] for m in self.modalities}
        update = self.model | {"modality_dims": dims, "smoothing_alpha": 0.0}
        if update["backbone"] in ("gat", "gatv2") and update["hidden_dim"] % base.heads:
            update["hidden_dim"] += base.heads - update["hidden_dim"] % base.heads
        return FusionModelConfig(**(base.model_dump(exclude={"members"}) | update))


class SearchSpace:
    """The space around params.yaml's own recipe (``base``), which it always contains, so the
    enqueued baselines (:meth:`baselines`) are points of it."""

    def __init__(self, modalities: list[str], base: dict[str, Any]) -> None:
        self.modalities = sorted(modalities)
        self.base = base
        self.choices = modality_choices(self.modalities)
        self.fusions = _with(FUSIONS, base["fusion"])
        self.backbones = _with(BACKBONES, base["backbone"])
        self.hidden = _with(HIDDEN, base["hidden_dim"])
        self.ranges = {k: _widened(r, base[k]) for k, r in RANGES.items()}

    def suggest(self, trial: Any) -> Candidate:
        """The candidate an Optuna trial samples (its params are all of the choice)."""
        values: dict[str, Any] = {
            "modalities": trial.suggest_categorical("modalities", self.choices),
            "fusion": trial.suggest_categorical("fusion", self.fusions),
            "backbone": trial.suggest_categorical("backbone", self.backbones),
            "hidden_dim": trial.suggest_categorical("hidden_dim", self.hidden),
            "residual": trial.suggest_categorical("residual", (False, True)),
        }
        for name, (low, high, log) in self.ranges.items():
            values[name] = trial.suggest_float(name, low, high, log=log)
        return self.candidate(values)

    def candidate(self, values: dict[str, Any]) -> Candidate:
        """The candidate of a finished trial's params (also how a resumed study rebuilds it)."""
        return Candidate(
            model={k: values[k] for k in MODEL_KEYS},
            modalities=tuple(chosen_modalities(values["modalities"], self.modalities)),
            recipe={k: float(values[k]) for k in RECIPE_KEYS},
        )

    def baselines(self) -> list[dict[str, Any]]:
        """Tried first, whatever the sampler says: params.yaml's recipe on all modalities, on each
        modality alone, and as the no-graph MLP, so the search's choice scores at least these."""
        recipe = {k: self.base[k] for k in (*MODEL_KEYS, *RECIPE_KEYS, "modality_dropout")}
        rows = [recipe | {"modalities": ALL}]
        rows += [recipe | {"modalities": c} for c in self.choices if c.startswith("only:")]
        rows.append(recipe | {"modalities": ALL, "backbone": "mlp"})
        return rows


def _with(choices: tuple, value: Any) -> tuple:
    return choices if value in choices else (*choices, value)


def _widened(spec: tuple[float, float, bool], value: float) -> tuple[float, float, bool]:
    low, high, log = spec
    if log and value <= 0:
        return spec
    return min(low, float(value)), max(high, float(value)), log
