"""Model Registry: register every evaluated model, move ``champion`` only on a fair, clear win.

Rules (issue 7, issue 19; :mod:`pipeline.tracking.champion_rule`): the alias moves when the new
version beats the champion on the *same* dataset and split by at least ``min_delta`` on the
chosen validation metric and, with ``test: mcnemar``, is right on significantly more of the same
validation nodes; otherwise the new version becomes ``challenger``. A champion from another
dataset or split, or one chosen on another metric, is never compared silently: the version
becomes challenger and the reason says why.
The same model (same weights, dataset and split) evaluated again registers nothing new. A
lookup that fails for any reason other than "no such model or alias" is an error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode

from pipeline.errors import GraphFuseError
from pipeline.tracking.champion_rule import SAME_DATA_TAGS, VAL_CORRECT_TAG, ChampionRule, decide, encode_correct
from pipeline.tracking.version_rows import METRIC_TAG_PREFIX, version_rows

CHALLENGER_ALIAS = "challenger"
HISTORY_TAG = "graphfuse.champion_history"


@dataclass(frozen=True)
class PromotionResult:
    model_name: str
    version: int
    metric: str
    value: float
    promoted: bool
    previous_champion: int | None
    previous_value: float | None
    alias: str = ""
    reason: str = ""
    duplicate: bool = False
    test: dict = field(default_factory=dict)  # the paired test's statistic, p-value and n, when one ran

    def as_dict(self) -> dict:
        return asdict(self)


def _error_code(exc: MlflowException) -> str:
    return exc.error_code if isinstance(exc.error_code, str) else ErrorCode.Name(exc.error_code)


def _is_absent(exc: MlflowException) -> bool:
    """True for "no such registered model" and "no such alias", the only lookups that mean "none"."""
    code = _error_code(exc)
    if code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
        return True
    return code == ErrorCode.Name(INVALID_PARAMETER_VALUE) and "alias" in str(exc) and "not found" in str(exc)


def _lookup_failed(what: str, exc: Exception) -> GraphFuseError:
    return GraphFuseError(f"registry lookup of {what} at {mlflow.get_registry_uri()} failed: {exc}")


def champion_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version behind ``name@alias``; None only when the model or the alias does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _is_absent(exc):
            return None
        raise _lookup_failed(f"{name}@{alias}", exc) from exc
    except Exception as exc:  # a server that is down, a refused connection, a permission error
        raise _lookup_failed(f"{name}@{alias}", exc) from exc


def _versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    try:
        return list(client.search_model_versions(f"name='{name}'"))
    except Exception as exc:
        raise _lookup_failed(f"the versions of {name}", exc) from exc


def _history(client: MlflowClient, name: str) -> list[int]:
    tags = client.get_registered_model(name).tags
    return [int(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]


def _set_champion(client: MlflowClient, name: str, alias: str, version: int) -> None:
    client.set_registered_model_alias(name, alias, str(version))
    history = _history(client, name)
    if not history or history[-1] != version:
        history.append(version)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history[-50:]))


def _already_registered(
    client: MlflowClient,
    name: str,
    alias: str,
    champion: ModelVersion | None,
    tags: dict[str, str],
    metric_tag: str,
    value: float,
) -> PromotionResult | None:
    """The result for a model that is already a version (same weights, dataset and split), else None."""
    if "model_hash" not in tags:
        return None
    key = ("model_hash", *SAME_DATA_TAGS)
    for existing in _versions(client, name):
        if all(existing.tags.get(k) == tags.get(k) for k in key):
            if champion is None and not existing.aliases:  # an evaluate killed before setting the alias
                _set_champion(client, name, alias, version := int(existing.version))
                return PromotionResult(name, version, metric_tag, value, True, None, None, alias, "no champion yet")
            is_champion = champion is not None and champion.version == existing.version
            return PromotionResult(
                name,
                int(existing.version),
                metric_tag,
                value,
                False,
                int(champion.version) if champion else None,
                None,
                alias=alias if is_champion else ",".join(existing.aliases),
                reason=f"v{existing.version} already holds this model (same weights, dataset and split): "
                "nothing registered",
                duplicate=True,
            )
    return None


def register_and_promote(
    model_uri: str,
    run_id: str,
    *,
    name: str,
    alias: str,
    metric: str,
    value: float,
    min_delta: float = 0.0,
    tags: dict[str, str] | None = None,
    rule: ChampionRule | None = None,
    val_correct: np.ndarray | None = None,
) -> PromotionResult:
    """Register ``model_uri`` (unless this very model is already a version) and apply the rules above.

    ``tags`` should carry ``model_hash``, ``dataset`` and ``split_fingerprint`` (and the provenance
    tags); a version with the same three is the same model evaluated again. ``rule`` (default: the
    gain alone, at least ``min_delta``) decides; ``val_correct`` (which val nodes this model got
    right) is kept on the version and feeds the paired test.
    """
    rule = rule or ChampionRule(min_delta=min_delta)
    client = MlflowClient()
    tags = dict(tags or {})
    metric_tag = METRIC_TAG_PREFIX + metric
    champion = champion_version(client, name, alias)
    if (again := _already_registered(client, name, alias, champion, tags, metric_tag, value)) is not None:
        return again
    decision = decide(champion, tags, metric_tag, value, rule, val_correct)
    tags |= {metric_tag: f"{value:.6f}", "run_id": run_id, "champion_metric": metric_tag}
    if val_correct is not None and (encoded := encode_correct(val_correct)) is not None:
        tags[VAL_CORRECT_TAG] = encoded
    version = int(mlflow.register_model(model_uri, name, tags=tags).version)
    if decision.promote:
        _set_champion(client, name, alias, version)
    else:
        client.set_registered_model_alias(name, CHALLENGER_ALIAS, str(version))
    return PromotionResult(
        name,
        version,
        metric_tag,
        value,
        decision.promote,
        int(champion.version) if champion else None,
        decision.previous_value,
        alias=alias if decision.promote else CHALLENGER_ALIAS,
        reason=decision.reason,
        test=decision.test,
    )


def version_run_id(name: str, version: int) -> str:
    """The MLflow run that logged a registered version."""
    return _require_version(MlflowClient(), name, version).run_id or ""


def _require_version(client: MlflowClient, name: str, version: int) -> ModelVersion:
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _is_absent(exc):
            raise GraphFuseError(f"model {name!r} has no version {version}") from exc
        raise _lookup_failed(f"{name} v{version}", exc) from exc


def promote(name: str, version: int, alias: str) -> str:
    """Make ``version`` the champion by hand (the reviewed way to accept a challenger)."""
    client = MlflowClient()
    _require_version(client, name, version)
    current = champion_version(client, name, alias)
    before = f"v{current.version}" if current else "none"
    _set_champion(client, name, alias, version)
    return f"{name}@{alias}: {before} -> v{version}"


def rollback(name: str, alias: str) -> str:
    """Move the champion back to the version that held it before the current one."""
    client = MlflowClient()
    current = champion_version(client, name, alias)
    if current is None:
        raise GraphFuseError(f"{name}@{alias} does not exist: nothing to roll back")
    history = _history(client, name)
    while history and history[-1] == int(current.version):
        history.pop()
    if not history:
        raise GraphFuseError(f"{name}@{alias} is v{current.version} and no earlier champion is recorded")
    previous = history[-1]
    client.set_registered_model_alias(name, alias, str(previous))
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    return f"{name}@{alias}: v{current.version} -> v{previous} (rolled back)"


def list_versions(name: str) -> list[dict[str, str]]:
    """Every version, newest first, with its aliases and the tags that matter for comparing (what
    :func:`pipeline.tracking.local_registry.local_versions` reads without MLflow, in the same shape)."""
    client = MlflowClient()
    versions = _versions(client, name)
    # search results carry no aliases; the registered model has them all
    aliases = client.get_registered_model(name).aliases if versions else {}
    return version_rows([(str(mv.version), mv.tags) for mv in versions], aliases)
