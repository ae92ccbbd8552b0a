"""Promotion rules on a real SQLite registry: better, worse, within min_delta, other dataset or
split, changed metric, duplicates, manual promote and rollback, and lookups that fail; the paired
test on constructed validation predictions (noise, a clear win, auto_promote off)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from pipeline.comparison import differing_params
from pipeline.errors import GraphFuseError
from pipeline.tracking import configure_tracking, load_package_from_registry, promote, register_and_promote, rollback
from pipeline.tracking.champion_rule import ChampionRule, decode_correct, encode_correct
from pipeline.tracking.compare import runs_to_compare
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


def test_registry_loads_leave_no_temporary_folder(tracking_root: Path, capfd: pytest.CaptureFixture) -> None:
    _register(tracking_root, 1, 0.5, name="gf3")
    before = set(Path(tempfile.gettempdir()).glob("graphfuse-model-*"))
    capfd.readouterr()
    bundle, known = load_package_from_registry("models:/gf3@champion")
    assert "Downloading artifacts" not in capfd.readouterr().err  # no MLflow bars in predict's output
    assert bundle.classes == ["a", "b"] and known is not None and known.node_ids == ["n0", "n1"]
    with pytest.raises(GraphFuseError, match="could not be found"):
        load_package_from_registry("models:/gf3/42")
    assert set(Path(tempfile.gettempdir()).glob("graphfuse-model-*")) == before


def _correct(n: int, right: set[int]) -> np.ndarray:
    return np.isin(np.arange(n), sorted(right))


def _judge(uri: str, run_id: str, name: str, seed: int, value: float, correct: np.ndarray, **rule):
    return register_and_promote(
        uri,
        run_id,
        name=name,
        alias="champion",
        metric="macro_f1",
        value=value,
        tags=SAME | {"model_hash": f"{name}-{seed}"},
        rule=ChampionRule(**({"min_delta": 0.005, "test": "mcnemar", "level": 0.05} | rule)),
        val_correct=correct,
    )


def test_a_gain_of_two_nodes_out_of_49_is_noise_and_registry_json_says_so(tracking_root: Path) -> None:
    run_id, uri, _ = _log(tracking_root, 11)
    champion = _judge(uri, run_id, "paired", 1, 0.80, _correct(49, set(range(40))))
    assert champion.promoted and champion.test == {}  # nothing to compare with yet
    # +0.06 macro-F1: two nodes the champion missed, nothing it got right lost (b=2, c=0: p=0.25)
    noisy = _judge(uri, run_id, "paired", 2, 0.86, _correct(49, set(range(42))))
    assert not noisy.promoted and noisy.alias == "challenger"
    assert noisy.test["n"] == 49 and noisy.test["new_right_champion_wrong"] == 2
    assert noisy.test["champion_right_new_wrong"] == 0 and noisy.test["p_value"] == 0.25
    assert "within noise" in noisy.reason and "McNemar p=0.25 >= 0.05" in noisy.reason
    assert noisy.as_dict()["test"]["level"] == 0.05  # as registry.json carries it


def test_a_clear_paired_win_moves_the_champion(tracking_root: Path) -> None:
    run_id, uri, _ = _log(tracking_root, 12)
    _judge(uri, run_id, "clear", 1, 0.60, _correct(400, set(range(240))))
    # 30 more nodes right, 5 lost: p = P(Bin(35, 1/2) >= 30) ~ 1e-5
    clear = _judge(uri, run_id, "clear", 2, 0.66, _correct(400, set(range(5, 270))))
    assert clear.promoted and clear.previous_champion == 1 and "significant" in clear.reason
    assert clear.test["new_right_champion_wrong"] == 30 and clear.test["champion_right_new_wrong"] == 5
    assert clear.test["p_value"] < 1e-4
    # A higher metric that is worse node for node is no win either: the test is one-sided.
    worse_nodes = _judge(uri, run_id, "clear", 3, 0.70, _correct(400, set(range(200))))
    assert not worse_nodes.promoted and worse_nodes.test["p_value"] == 1.0
    assert int(MlflowClient().get_model_version_by_alias("clear", "champion").version) == 2


def test_without_auto_promote_a_winner_stays_challenger_and_says_why(tracking_root: Path) -> None:
    run_id, uri, _ = _log(tracking_root, 13)
    first = _judge(uri, run_id, "oneoff", 1, 0.6, _correct(400, set(range(240))), auto_promote=False)
    assert not first.promoted and first.alias == "challenger" and "auto_promote is false" in first.reason
    assert champion_version(MlflowClient(), "oneoff", "champion") is None


def test_val_correctness_survives_the_tag_round_trip() -> None:
    bits = np.random.default_rng(0).random(10_001) < 0.7
    text = encode_correct(bits)
    assert text is not None and len(text) < 3000
    assert np.array_equal(decode_correct(text), bits)


def _evaluated_run(lr: float, test_f1: float, name: str) -> str:
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params({"train.lr": lr, "train.backbone": "sage", "dataset": "toy"})
        mlflow.log_metrics({"val_loss": 0.3, "test_macro_f1": test_f1 + 0.01, "test_n": 49})
        mlflow.log_metrics({"spread_test_macro_f1_mean": test_f1, "spread_test_macro_f1_sd": 0.02})
        mlflow.log_metrics({"ablation_no_graph_macro_f1": test_f1 - 0.1, "ablation_no_graph_delta_macro_f1": -0.1})
    return run.info.run_id


def test_mlflow_runs_side_by_side_for_graphfuse_compare(tracking_root: Path) -> None:
    mlflow.set_experiment("cmp")
    first = _evaluated_run(0.01, 0.80, "a")
    with mlflow.start_run(run_name="train only"):  # no evaluation: not a run to compare
        mlflow.log_params({"train.lr": 0.5})
    second = _evaluated_run(0.005, 0.84, "b")

    newest = runs_to_compare([], "cmp", last=2)
    assert [run.label for run in newest] == [f"b ({second[:8]})", f"a ({first[:8]})"]
    b, a = newest
    assert b.spread["test"]["macro_f1"] == {"mean": 0.84, "sd": 0.02}
    assert b.single["test"]["macro_f1"] == pytest.approx(0.85) and b.single["test"]["n"] == 49
    assert b.ablation["no_graph"] == {"macro_f1": pytest.approx(0.74), "delta_macro_f1": -0.1}
    assert differing_params(newest) == {"train.lr": ["0.005", "0.01"]}  # same backbone and dataset: not shown

    named = runs_to_compare([first], "cmp")
    assert [run.label for run in named] == [f"a ({first[:8]})"]
    with pytest.raises(GraphFuseError, match="could not read the runs"):
        runs_to_compare(["0" * 32], "cmp")
    with pytest.raises(GraphFuseError, match="no MLflow experiment 'nope'"):
        runs_to_compare([], "nope")


def test_registry_list_json(tracking_root: Path) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    _register(tracking_root, 31, 0.5, name="gf-json")
    (tracking_root / "params.yaml").write_text("tracking:\n  model_name: gf-json\n")
    result = CliRunner().invoke(app, ["registry", "list", "--json", "--root", str(tracking_root)])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["version"] == "1" and row["aliases"] == "champion" and row["dataset"] == "toy"
