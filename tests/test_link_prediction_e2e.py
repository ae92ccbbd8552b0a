"""Link prediction end to end: ``graphfuse repro`` (dvc repro on one Prefect server) in a fresh git
copy of the repo with ``dataset.task: link_prediction`` on a countries slice, then the registry
lookup by alias, ``graphfuse predict`` and the pyfunc, which must agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT, write_countries_subset
from tests.helpers import BIN, forget_tracking_env, project_env
from tests.project_copy import GIT, tracked_files
from tests.project_copy import run_ok as _run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def link_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The repo's files in a new git repo; params: link prediction on 40 countries' borders, with the
    fast encoders (tfidf, colour histogram) so the test costs the orchestration, not the encoders."""
    root = tmp_path_factory.mktemp("lp-repo") / "graphfuse"
    for name in tracked_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, root / name)
    write_countries_subset(root / "data" / "raw" / "small", per_class=8)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["dataset"].update(dir="data/raw/small", task="link_prediction")
    params["preprocess"]["cache_dir"] = ""
    params["preprocess_text"]["encoder"] = "tfidf"
    params["preprocess_image"]["encoder"] = "color-histogram"
    params["build_graph"]["eval_negatives"] = 20
    params["train"].update(max_epochs=40, patience=15, hidden_dim=32, projection_dim=16, decoder="distmult")
    params["train"]["search"] = "off"  # link prediction never searches; off keeps its note out of the output
    params["evaluate"].update(seeds=2, embedding_map=False)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    env = project_env()
    for args in (["git", "init", "-q"], [*GIT, "add", "-A"], [*GIT, "commit", "-qm", "copy"]):
        _run(args, root, env)
    _run([str(BIN / "graphfuse"), "repro"], root, env)
    return root, env


def test_repro_writes_ranking_metrics_with_the_no_graph_scorer(link_repo: tuple[Path, dict[str, str]]) -> None:
    root, env = link_repo
    shown = _run([str(BIN / "dvc"), "metrics", "show"], root, env).stdout
    assert "test.mrr_sd" in shown and "test.hits10" in shown and "no_graph_mlp" not in shown  # the headline
    metrics = json.loads((root / "metrics" / "metrics_detail.json").read_text())
    assert metrics["task"] == "link_prediction" and "no_graph_mlp" in metrics
    headline = json.loads((root / "metrics" / "metrics.json").read_text())
    assert headline["test"]["mrr"] == metrics["spread"]["test"]["mrr"]["mean"] and headline["seeds"] == 2
    for split in ("val", "test"):
        assert 0 < metrics[split]["mrr"] <= 1 and 0 <= metrics[split]["roc_auc"] <= 1
        assert metrics["spread"][split]["mrr"]["sd"] is not None  # two seeds
    registry = json.loads((root / "metrics" / "registry.json").read_text())
    assert registry["promoted"] and registry["metric"] == "val_mrr"
    html = (root / "reports" / "evaluation.html").read_text()
    assert "no-graph MLP scorer" in html
    summary = _run([str(BIN / "graphfuse"), "metrics"], root, env).stdout
    assert "MRR" in summary and "no-graph MLP scorer" in summary and "now champion" in summary


def test_predict_by_alias_scores_pairs_and_top_k_as_the_pyfunc_does(
    link_repo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, env = link_repo
    (root / "pairs.csv").write_text("source,target\nDEU,FRA\nBRA,\n")
    out = root / "links.csv"
    command = [str(BIN / "graphfuse"), "predict", "--model", "models:/graphfuse@champion", "--pairs", "pairs.csv"]
    _run(command + ["--top-k", "4", "--out", str(out)], root, env)
    scored = pd.read_csv(out, keep_default_na=False)
    assert list(scored.columns) == ["source", "target", "probability", "logit", "rank"]
    assert scored.iloc[0][["source", "target", "rank"]].tolist() == ["DEU", "FRA", ""]
    top = scored[scored["source"] == "BRA"]
    assert top["rank"].astype(int).tolist() == [1, 2, 3, 4] and "BRA" not in set(top["target"])
    assert top["probability"].is_monotonic_decreasing

    import mlflow

    from pipeline.tracking import connect_tracking

    # In-process: earlier tests may have pointed MLflow's globals elsewhere; point them at this project.
    forget_tracking_env(monkeypatch)
    connect_tracking(root)
    model = mlflow.pyfunc.load_model("models:/graphfuse@champion")
    served = model.predict(pd.DataFrame({"source": ["DEU", "BRA"], "target": ["FRA", None]}), params={"k": 4})
    assert served["probability"].tolist() == scored["probability"].tolist()
    with pytest.raises(Exception, match="unknown node 'XXX'"):
        model.predict(pd.DataFrame({"source": ["XXX"], "target": ["FRA"]}))


def test_second_repro_reruns_nothing(link_repo: tuple[Path, dict[str, str]]) -> None:
    root, env = link_repo
    result = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "Running stage" not in result.stdout
