"""The accuracy table's ``auto`` part on a tiny graph with a tiny budget: one search in a fresh study,
the evaluate stage's spread over the seeds, and what the row records and the table shows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks.auto_rows import AUTO, auto_rows
from benchmarks.docs_tables import table
from tests.tiny_graphs import one_thread, tiny_search_params, two_community_graph  # noqa: F401

pytestmark = pytest.mark.unit


def test_auto_part_searches_once_in_a_fresh_study_and_records_its_choice(tmp_path):
    data, _ = two_community_graph(60, image_missing=0.3)
    meta = SimpleNamespace(
        node_ids=[str(i) for i in range(60)],
        classes=["a", "b"],
        modalities={"tabular": 8, "image": 6},
        task="node_classification",
    )
    # auto_row sets search and its storage itself
    train = tiny_search_params(tmp_path, max_epochs=12, patience=4, search_seconds=60)
    old = tmp_path / "tiny" / "search-auto"
    old.mkdir(parents=True)
    (old / "studies.db").write_text("an earlier study: must not be resumed")
    rows = auto_rows("tiny", data, meta, SimpleNamespace(train=train), tmp_path, seeds=[0, 1])

    row = rows[AUTO]
    assert len(row["val"]) == len(row["test"]) == len(row["test_macro_f1"]) == 2
    assert all(0.0 <= acc <= 1.0 for acc in row["val"] + row["test"])
    search = row["search"]
    assert search["trials"]["COMPLETE"] >= 4  # the enqueued baselines: all, each modality alone, the MLP
    assert sum(search["trials"].values()) <= 5 + 1  # the budget, and at most the trial running when it ended
    assert search["wall_seconds"] > 0 and search["study_seconds"] <= search["wall_seconds"]
    assert search["budget"]["trials"] == 5 and search["selection"] == "cv"
    scores = search["scores"]
    assert scores["final_score"] >= scores["best_single_modality"]["score"]  # never loses to its parts
    assert scores["final_score"] >= scores["best_no_graph"]["score"]
    assert abs(sum(m["weight"] for m in search["members"]) - 1) < 1e-3
    assert {"fusion", "backbone", "modalities", "recipe"} <= set(search["members"][0])
    assert search["seeds"] == [0, 1] and len(search["load_average"]) == 2 and search["commit"]
    assert (old / "studies.db").stat().st_size > 100  # a new SQLite study replaced the old file

    text = table({"tiny": {"default": {"test": [0.5, 0.5]}} | rows})
    assert f"| {AUTO} | " in text and f"(search {search['wall_seconds']:.0f} s, " in text
