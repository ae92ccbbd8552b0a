"""The lockbox (data/raw/unihan) is a valid format-v1 folder that no benchmark runs without --lockbox.

Nothing here fits a model or reads a prediction: the lockbox's numbers are reported once, at the end.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.lockbox import LOCKBOX, chosen, dataset_statistics, parse_with_datasets, statistics
from pipeline.dataset import load_dataset, with_splits

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
UNIHAN = REPO / "data" / "raw" / "unihan"


def test_the_lockbox_validates_and_splits() -> None:
    dataset = load_dataset(UNIHAN)
    assert len(dataset.nodes) == 1962 and len(dataset.edges) == 470
    assert dataset.spec.modalities == ["text", "image", "tabular"]
    assert len(dataset.classes) == 10 and "water (85)" in dataset.classes
    assert dataset.nodes["image"].notna().all()  # every image cell names a file that exists (checked on load)
    assert any("1036 of 1962 nodes have no edges" in note for note in dataset.notes)
    split = with_splits(dataset, seed=42, val_fraction=0.2, test_fraction=0.2).split
    assert set(split.dropna()) == {"train", "val", "test"}


def test_the_columns_that_give_the_radical_away_are_not_there() -> None:
    nodes = load_dataset(UNIHAN).nodes
    for leak in ("kRSUnicode", "radical", "strokes_after_radical", "kangxi", "cangjie", "four_corner", "kPhonetic"):
        assert leak not in nodes.columns
    text = nodes["text"].astype(str)
    assert not text.str.contains("radical", case=False).any()  # "Kangxi radical 85" scrubbed
    assert not text.str.contains(r"U\+[0-9A-F]{4}").any()  # code points are ordered by radical
    assert not text.str.contains(r"[\u3400-\u9fff]").any()  # nor an ideograph quoted in a definition


def test_no_benchmark_runs_the_lockbox_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # the scripts import their siblings by name
    from benchmarks.table_data import DATASETS, REAL

    assert set(LOCKBOX) == {"unihan"} and not set(LOCKBOX) & (set(DATASETS) | set(REAL))
    assert chosen(None, False, [*DATASETS, "unihan"]) == list(DATASETS)
    assert chosen(None, True, DATASETS) == ["unihan"]
    assert chosen(["emoji", "unihan"], True, DATASETS) == ["emoji", "unihan"]
    with pytest.raises(ValueError, match="add --lockbox"):
        chosen(["emoji", "unihan"], False, DATASETS)
    assert parse_with_datasets(argparse.ArgumentParser(), list(REAL), DATASETS, []).datasets == list(REAL)
    with pytest.raises(SystemExit):  # argparse's error: naming it without the flag
        parse_with_datasets(argparse.ArgumentParser(), list(REAL), DATASETS, ["--datasets", "unihan"])


def test_the_statistics_read_no_model_and_only_train_edges_for_homophily() -> None:
    stats = statistics("unihan")
    assert stats["nodes"] == 1962 and sum(stats["classes"].values()) == 1962
    assert stats["coverage"] == {"text": 1.0, "image": 1.0, "tabular": 1.0}
    assert 0.5 < stats["isolated_share"] < 0.55
    # the numbers data/raw/unihan/README.md gives: each undirected edge counted once, not per direction
    assert stats["edges"] == 470 and stats["train_edges"] == 178 and stats["train_edge_homophily"] == 0.9494


def test_the_statistics_count_an_undirected_edge_once_however_often_it_is_written(editable_countries: Path) -> None:
    edges_file = editable_countries / "edges.csv"
    edges = pd.read_csv(edges_file, dtype=str)
    pairs = {frozenset(pair) for pair in zip(edges["src"], edges["dst"], strict=True)}
    before = dataset_statistics(editable_countries)
    source, target = edges.iloc[0]
    with edges_file.open("a", encoding="utf-8") as out:
        out.write(f"{target},{source}\n")  # the first edge again, the other way round
    after = dataset_statistics(editable_countries)
    assert before["edges"] == after["edges"] == len(pairs)
    assert 0 < before["train_edges"] == after["train_edges"] < len(pairs)


def test_the_lockbox_section_holds_the_table_rendered_from_its_one_recorded_run(tmp_path: Path) -> None:
    """docs/accuracy.md's Lockbox section carries unihan's table as ``accuracy_table.py --lockbox
    --render`` writes it from the recorded runs: nobody edited a figure by hand."""
    from benchmarks.docs_tables import (
        LOCKBOX_BASELINES,
        LOCKBOX_BEGIN,
        LOCKBOX_END,
        LOCKBOX_RESULTS,
        with_baselines,
        write_docs,
    )

    page = (REPO / "docs" / "accuracy.md").read_text(encoding="utf-8")
    assert page.count(LOCKBOX_BEGIN) == page.count(LOCKBOX_END) == 1
    recorded = json.loads(LOCKBOX_RESULTS.read_text())
    results = with_baselines(recorded, [json.loads(path.read_text()) for path in LOCKBOX_BASELINES])
    assert list(results) == ["unihan"]
    copy = tmp_path / "accuracy.md"
    copy.write_text(page, encoding="utf-8")
    write_docs(results, copy, lockbox=True)
    assert copy.read_text(encoding="utf-8") == page
    lockbox_part = page.split(LOCKBOX_BEGIN, 1)[1].split(LOCKBOX_END, 1)[0]
    assert "| model | unihan |" in lockbox_part and "lockbox_baselines.json" in lockbox_part
