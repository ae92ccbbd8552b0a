"""MLflow runs read for ``graphfuse compare``: the evaluated runs of an experiment (or the ones
named), each as a :class:`~pipeline.comparison.Compared` built from its logged params and the flat
metrics the evaluate stage logs (``test_macro_f1``, ``spread_test_macro_f1_mean``,
``ablation_no_graph_macro_f1``...)."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from pipeline.comparison import SPLITS, Compared
from pipeline.errors import GraphFuseError

#: Metric names as the evaluate stage logs them, longest first so that suffixes match greedily.
_METRICS = sorted(
    (
        "accuracy", "macro_f1", "weighted_f1", "roc_auc_ovr", "ece", "n", "accuracy_sd", "macro_f1_sd",
        "delta_accuracy", "delta_macro_f1", "mrr", "hits_at_1", "hits_at_10", "roc_auc",
    ),
    key=len,
    reverse=True,
)  # fmt: skip


def _split_suffix(name: str) -> tuple[str, str] | None:
    """``no_graph_macro_f1`` -> (``no_graph``, ``macro_f1``)."""
    for metric in _METRICS:
        if name.endswith("_" + metric):
            return name[: -len(metric) - 1], metric
    return None


def compared_run(run: Run) -> Compared:
    """One MLflow run as the comparison sees it."""
    metrics = run.data.metrics
    item = Compared(label=f"{run.info.run_name or 'run'} ({run.info.run_id[:8]})", source="mlflow")
    item.params = dict(run.data.params)
    for key, value in metrics.items():
        if key.startswith("spread_") and key.endswith(("_mean", "_sd")):
            split, rest = key.removeprefix("spread_").split("_", 1)
            metric, stat = rest.rsplit("_", 1)
            item.spread.setdefault(split, {}).setdefault(metric, {})[stat] = value
        elif key.startswith("ablation_") and (parts := _split_suffix(key.removeprefix("ablation_"))):
            item.ablation.setdefault(parts[0], {})[parts[1]] = value
        elif key.split("_", 1)[0] in SPLITS and "_" in key:
            split, metric = key.split("_", 1)
            item.single.setdefault(split, {})[metric] = value
    return item


def _evaluated(run: Run) -> bool:
    return any(key.startswith("spread_test_") for key in run.data.metrics)


def runs_to_compare(run_ids: list[str], experiment: str, last: int = 2) -> list[Compared]:
    """The named runs, in the order given; or the ``last`` evaluated runs of ``experiment``, newest first."""
    client = MlflowClient()
    try:
        if run_ids:
            return [compared_run(client.get_run(run_id)) for run_id in run_ids]
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise GraphFuseError(f"no MLflow experiment {experiment!r}: nothing to compare (run the pipeline first)")
        runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"], max_results=200)
    except MlflowException as exc:
        raise GraphFuseError(f"MLflow could not read the runs to compare: {exc.message}") from exc
    evaluated = [compared_run(run) for run in runs if _evaluated(run)][:last]
    if not evaluated:
        raise GraphFuseError(f"experiment {experiment!r} has no evaluated run yet: nothing to compare")
    return evaluated
