"""Runs side by side (``graphfuse compare``): the params that differ, the headline metrics with
their spread over seeds, and the ablation. One shape whatever the source (MLflow runs read by
``pipeline.tracking.compare``, DVC experiments read from git by ``pipeline.ops.dvc_experiment``),
so the printing knows nothing of where the numbers came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HEADLINE = ("accuracy", "macro_f1", "roc_auc_ovr", "ece")
SPLITS = ("val", "test")


@dataclass
class Compared:
    """One run: where it came from, its params (flat ``section.key``), its numbers."""

    label: str
    source: str  # "mlflow" or "dvc"
    params: dict[str, str] = field(default_factory=dict)
    #: split -> metric -> {"mean", "sd"} over training seeds
    spread: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    n_seeds: int | None = None
    #: split -> metric -> the registered model's own value
    single: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: condition (e.g. "no_graph", "text_only") -> metric -> value on test
    ablation: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"train": {"lr": 0.01}}`` -> ``{"train.lr": "0.01"}`` (values as text, as MLflow keeps params)."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = "null" if value is None else str(value)
    return flat


def from_metric_files(label: str, source: str, params: dict, metrics: dict, ablation: dict) -> Compared:
    """A run from the pipeline's own files: params.yaml, metrics/metrics_detail.json, metrics/ablation.json."""
    spread = metrics.get("spread", {})
    return Compared(
        label=label,
        source=source,
        params=flatten(params),
        spread={s: spread.get(s, {}) for s in SPLITS if s in spread},
        n_seeds=spread.get("n_seeds"),
        single={s: {k: v for k, v in metrics.get(s, {}).items() if k != "per_class"} for s in SPLITS},
        ablation=dict(ablation.get("inference", {})),
    )


def differing_params(runs: list[Compared]) -> dict[str, list[str]]:
    """The params whose values are not the same in every run (absent counts as a value: "-")."""
    keys = sorted({key for run in runs for key in run.params})
    rows = {key: [run.params.get(key, "-") for run in runs] for key in keys}
    return {key: values for key, values in rows.items() if len(set(values)) > 1}
