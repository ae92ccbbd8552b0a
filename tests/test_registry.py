"""Promotion rules on a real SQLite registry: better, worse, within min_delta, other dataset or
split, changed metric, duplicates, manual promote and rollback, and lookups that fail."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from mlflow import MlflowClient

from pipeline.errors import GraphFuseError
from pipeline.tracking import configure_tracking, load_package_from_registry, promote, register_and_promote, rollback
from pipeline.tracking.registry import champion_version
from tests.test_tracking import _log

pytestmark = pytest.mark.unit

SAME = {"dataset": "toy", "split_fingerprint": "abc"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store for the module (creating one costs seconds); each test uses its own model name."""
    return tmp_path_factory.mktemp("registry")


@pytest.fixture
def tracking_root(store: Path, clean_tracking_env: None) -> Path:
    configure_tracking(store, "graphfuse-test")
    return store


def _register(root: Path, seed: int, value: float, *, metric: str = "macro_f1", name: str = "gf", **tags: str):
    run_id, uri, _ = _log(root, seed)
    return register_and_promote(
        uri,
        run_id,
        name=name,
        alias="champion",
        metric=metric,
        value=value,
        min_delta=0.01,
        tags=SAME | {"model_hash": f"h{seed}"} | tags,
    )


def _champion() -> int:
    return int(MlflowClient().get_model_version_by_alias("gf", "champion").version)


def test_promotion_rules(tracking_root: Path) -> None:
    first = _register(tracking_root, 1, 0.50)
    assert first.promoted and first.reason == "no champion yet"

    worse = _register(tracking_root, 2, 0.40)
    assert not worse.promoted and worse.alias == "challenger" and _champion() == 1

    within = _register(tracking_root, 3, 0.505)  # +0.005 < min_delta 0.01
    assert not within.promoted and "< 0.01" in within.reason and _champion() == 1

    better = _register(tracking_root, 4, 0.52)
    assert better.promoted and better.previous_champion == 1 and better.previous_value == 0.5 and _champion() == 4

    other_data = _register(tracking_root, 5, 0.99, dataset="other")
    assert not other_data.promoted and "not compared" in other_data.reason and "'other'" in other_data.reason
    other_split = _register(tracking_root, 6, 0.99, split_fingerprint="xyz")
    assert not other_split.promoted and "split_fingerprint" in other_split.reason
    changed_metric = _register(tracking_root, 7, 0.99, metric="accuracy")
    assert not changed_metric.promoted and "metric changed" in changed_metric.reason
    assert _champion() == 4

    again = _register(tracking_root, 4, 0.52)  # the same model evaluated again
    assert again.duplicate and again.version == 4
    assert len(MlflowClient().search_model_versions("name='gf'")) == 7

    assert promote("gf", 7, "champion") == "gf@champion: v4 -> v7"
    assert rollback("gf", "champion") == "gf@champion: v7 -> v4 (rolled back)"
    assert rollback("gf", "champion") == "gf@champion: v4 -> v1 (rolled back)"
    with pytest.raises(GraphFuseError, match="no earlier champion"):
        rollback("gf", "champion")
    with pytest.raises(GraphFuseError, match="no version 99"):
        promote("gf", 99, "champion")


def test_no_alias_is_no_champion_but_a_failing_server_is_an_error(
    tracking_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert champion_version(MlflowClient(), "never-registered", "champion") is None
    _register(tracking_root, 1, 0.5, name="gf2")
    assert champion_version(MlflowClient(), "gf2", "no-such-alias") is None
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    down = MlflowClient(tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9")
    with pytest.raises(GraphFuseError, match="registry lookup of gf@champion .* failed"):
        champion_version(down, "gf", "champion")


def test_registry_loads_leave_no_temporary_folder(tracking_root: Path) -> None:
    _register(tracking_root, 1, 0.5, name="gf3")
    before = set(Path(tempfile.gettempdir()).glob("graphfuse-model-*"))
    bundle, known = load_package_from_registry("models:/gf3@champion")
    assert bundle.classes == ["a", "b"] and known is not None and known.node_ids == ["n0", "n1"]
    with pytest.raises(GraphFuseError, match="could not be found"):
        load_package_from_registry("models:/gf3/42")
    assert set(Path(tempfile.gettempdir()).glob("graphfuse-model-*")) == before
