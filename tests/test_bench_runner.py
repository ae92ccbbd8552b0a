"""The benchmark runner's bookkeeping: ratios, targets, the table, the docs splice, regressions.

Made-up rows for the logic (no timing is asserted anywhere), and one tiny real run of the runner
over the kNN benchmark to check the plumbing: a script's ``--json`` rows, the process' peak RSS,
the files written, and a regression reported against an earlier run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import BEGIN, END, holds, markdown, ratio, regression_report, regressions, splice, target_text

# Tiers per test: those that start and kill processes are integration tests.

REPO = Path(__file__).resolve().parents[1]


def fake_row(id: str, ours: float, base: float, better: str = "lower", **extra) -> dict:
    return {
        "n": "9",
        "id": id,
        "what": f"{id} | piped",
        "graphfuse": ours,
        "baseline": base,
        "unit": "s",
        "better": better,
        "size": "10 nodes",
        "target": None,
    } | extra


def fake_result(rows: list[dict]) -> dict:
    machine = {
        "cores": 2,
        "usable_cores": 2,
        "memory_gib": 24.0,
        "gpu": None,
        "versions": {"torch": "2.14.1", "faiss-cpu": "1.0"},
        "commit": "abc1234",
        "load_start": 3.0,
        "load_end": 4.5,
    }
    return {"profile": "quick", "started": "2026-11-29 10:00 UTC", "seconds": 90.0, "machine": machine, "rows": rows}


@pytest.mark.unit
def test_ratio_and_targets_follow_the_rows_direction():
    slow = fake_row("t", 3.0, 2.0, target={"op": "<=", "ratio": 1.5, "issue": 6})
    assert ratio(slow) == pytest.approx(1.5) and holds(slow) is True
    assert holds(fake_row("t", 3.1, 2.0, target={"op": "<=", "ratio": 1.5})) is False
    rate = fake_row("r", 80.0, 100.0, better="higher", target={"op": ">=", "ratio": 0.9})
    assert holds(rate) is False
    assert holds(fake_row("n", 4.0, 100.0, target={"text": "<= 3 s"}, holds=False)) is False  # the script's verdict
    assert holds(fake_row("x", 1.0, 2.0)) is None  # no target: nothing to hold
    rss = fake_row("rss", 12.9, 1.1, unit="GiB", target={"op": "<", "value": 16.0, "issue": 6}, holds=True)
    assert target_text(rss) == "< 16 GiB (issue 6)" and holds(rss) is True
    assert ratio(fake_row("z", 1.0, 0.0)) is None and ratio(fake_row("m", None, 1.0)) is None


@pytest.mark.unit
def test_markdown_has_every_row_its_ratio_and_the_machine():
    rows = [
        fake_row("knn", 2.0, 1.0, target={"op": "<=", "ratio": 1.5, "issue": 6}),
        fake_row("acc", 89.4, 68.4, better="higher", unit="% test acc", graphfuse_sd=1.7, baseline_sd=3.2),
        {"n": "6", "id": "orchestration", "what": "orchestration", "error": "exit 1"},
    ]
    table = markdown(fake_result(rows))
    lines = table.splitlines()
    assert lines[0].startswith("| # | what | size | GraphFuse | baseline | ratio | target | holds |")
    assert "| 2.00x | ratio <= 1.5 (issue 6) | **no** |" in lines[2]
    assert "knn \\| piped" in lines[2]  # a pipe in a cell cannot break the table
    assert "89.4 ± 1.7 % test acc" in lines[3] and "68.4 ± 3.2 % test acc" in lines[3] and "1.31x" in lines[3]
    assert "error: exit 1" in lines[4]
    machine = lines[-1]
    for text in ("2 cores", "GPU: none", "Commit abc1234", "torch 2.14.1", "faiss-cpu 1.0", "load average 3.0"):
        assert text in machine


@pytest.mark.unit
def test_splice_replaces_only_between_the_markers():
    readme = f"intro\n{BEGIN}\nold table\n{END}\nafter\n"
    spliced = splice(readme, "| new |\n")
    assert spliced == f"intro\n{BEGIN}\n| new |\n{END}\nafter\n"
    assert splice(spliced, "| newer |\n").count(BEGIN) == 1
    with pytest.raises(ValueError, match="markers"):
        splice("no markers here", "| t |\n")


@pytest.mark.unit
def test_the_docs_pages_hold_the_tables_the_scripts_write_from_the_committed_results(tmp_path):
    """docs/benchmarks.md, accuracy.md and link-prediction.md carry their generated table between markers, and it is
    the table the scripts render from the committed raw results: nobody edited a figure by hand, and
    a full run (which writes both) finds its markers."""
    from benchmarks.docs_tables import (
        BASELINES,
        LINK_BEGIN,
        LINK_END,
        link_table,
        table,
        with_baselines,
        write_docs,
        write_link_docs,
    )
    from benchmarks.docs_tables import BEGIN as ACC_BEGIN
    from benchmarks.docs_tables import END as ACC_END

    bench_page = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert bench_page.count(BEGIN) == bench_page.count(END) == 1
    latest = json.loads((REPO / "benchmarks" / "results" / "latest.json").read_text())
    assert splice(bench_page, markdown(latest)) == bench_page

    accuracy_page = (REPO / "docs" / "accuracy.md").read_text(encoding="utf-8")
    assert accuracy_page.count(ACC_BEGIN) == accuracy_page.count(ACC_END) == 1
    results = json.loads((REPO / "benchmarks" / "results" / "accuracy_table.json").read_text())
    results = with_baselines(results, [json.loads(path.read_text()) for path in BASELINES])  # as the script does
    copy = tmp_path / "accuracy.md"
    copy.write_text(accuracy_page, encoding="utf-8")
    write_docs(results, copy)
    assert copy.read_text(encoding="utf-8") == accuracy_page
    assert "| GraphFuse defaults (params.yaml) | 86.9 ± 2.3 |" in table(results)
    assert "| LR on image ‡ | 38.8 (C 0.1) | 26.1 (C 0.01) | 73.4 (C 0.01) | no image |" in table(results)

    link_page = (REPO / "docs" / "link-prediction.md").read_text(encoding="utf-8")
    assert link_page.count(LINK_BEGIN) == link_page.count(LINK_END) == 1
    payload = json.loads((REPO / "benchmarks" / "results" / "link_prediction.json").read_text())
    copy.write_text(link_page, encoding="utf-8")
    write_link_docs(payload, copy)
    assert copy.read_text(encoding="utf-8") == link_page
    assert "| countries | mlp | **0.405 ± 0.009** |" in link_table(payload)


@pytest.mark.unit
def test_the_accuracy_table_takes_the_practitioner_rows_of_a_baselines_run_and_says_where_none_ran():
    from benchmarks.docs_tables import table, with_baselines

    def bench_row(dataset: str, label: str, runs: list[float], **extra) -> dict:
        what = f"accuracy, {dataset}: GraphFuse default vs {label}"
        return {"id": label, "what": what, "runs": {"graphfuse": [0.9], "baseline": runs}} | extra

    autogluon = {"autogluon_version": "1.6.0", "preset": "medium_quality", "time_limit": 120.0}
    payload = {
        "rows": [
            bench_row("a", "LR on text", [0.5], C=0.1),
            bench_row("a", "hand-written 2-layer SAGE", [0.4, 0.6]),  # the table's own reference row
            bench_row("a", "AutoGluon medium_quality on all + neighbour mean", [0.7, 0.9], autogluon=autogluon),
        ]
    }
    lr_only = {"rows": [bench_row("c", "LR on all concatenated", [0.25], C=1.0)]}  # "c" has no text
    ours = {name: {"ours": {"test": [0.8, 0.8]}} for name in ("a", "b", "c")}
    text = table(with_baselines(ours, [payload, lr_only]))
    assert text.splitlines()[2:4] == ["| model | a | b | c |", "| --- | --- | --- | --- |"]
    assert "| LR on text ‡ | 50.0 (C 0.1) | not run | no text |" in text  # one seed-free fit: no sd
    assert "| LR on all concatenated ‡ | not run | not run | 25.0 (C 1) |" in text
    autogluon_row = "AutoGluon-Tabular 1.6.0 (medium_quality, 120 s) on all + neighbour mean ‡"
    assert f"| {autogluon_row} | 80.0 ± 14.1 | not run | not run |" in text
    assert "SAGE" not in text and "‡ a practitioner's baseline" in text
    assert "‡" not in table(ours) and "not run" not in table(ours)
    with pytest.raises(ValueError, match="'what'"):
        with_baselines(ours, [{"rows": [{"id": "x", "what": "speed, a: 2 s", "runs": {}}]}])


@pytest.mark.unit
def test_regressions_are_rows_more_than_20_percent_worse():
    old = fake_result(
        [
            fake_row("time_ok", 1.0, 1.0),
            fake_row("time_bad", 1.0, 1.0),
            fake_row("rate_bad", 1.0, 1.0, better="higher"),
            fake_row("rate_better", 1.0, 1.0, better="higher"),
            fake_row("gone", 1.0, 1.0),
        ]
    )
    new = fake_result(
        [
            fake_row("time_ok", 1.15, 1.0),  # 15% worse: noise, not reported
            fake_row("time_bad", 1.3, 1.0, size="20 nodes"),  # 30% worse, at another size
            fake_row("rate_bad", 0.7, 1.0, better="higher"),  # 30% lower rate
            fake_row("rate_better", 2.0, 1.0, better="higher"),
            fake_row("new_row", 9.0, 1.0),
            {"n": "6", "id": "time_ok", "what": "x", "error": "exit 1"},
        ]
    )
    found = {f["id"]: f for f in regressions(new, old)}
    assert set(found) == {"time_bad", "rate_bad"}
    assert found["time_bad"]["change"] == pytest.approx(0.3) and not found["time_bad"]["same_size"]
    assert found["rate_bad"]["same_size"]
    text = regression_report(list(found.values()), "latest.json")
    assert "2 row(s) more than 20% worse than latest.json" in text and "another size" in text
    assert "No row" in regression_report([], "latest.json")


@pytest.mark.integration
def test_runner_runs_a_real_benchmark_and_reports_a_regression(tmp_path):
    """The kNN benchmark on 300 rows, once each: rows come back through --json with the peak RSS
    of their process, and an earlier run with a much better ratio is reported, not failed."""
    earlier = fake_result([fake_row("knn_vs_faiss", 1.0, 1000.0, size="earlier")])
    against = tmp_path / "earlier.json"
    against.write_text(json.dumps(earlier))
    out = tmp_path / "now.json"
    command = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", "knn", "--out", str(out)]
    command += ["--against", str(against), "--sizes", "knn=--nodes 300 --repeats 1 --methods faiss-exact"]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    ids = [row["id"] for row in result["rows"]]
    assert ids == ["knn_vs_faiss", "knn_memory"]
    assert all(row["n"] == "4" and row["process_peak_rss_mib"] > 0 for row in result["rows"])
    assert result["sizes"] == {"knn": ["--nodes", "300", "--repeats", "1", "--methods", "faiss-exact"]}
    assert result["machine"]["cores"] >= 1 and "torch" in result["machine"]["versions"]
    assert out.with_suffix(".md").read_text().startswith("| # | what |")
    assert "knn_vs_faiss: ratio 0.001 ->" in proc.stdout  # reported as more than 20% worse
    assert "updated the table" not in proc.stdout  # a partial run never rewrites docs/benchmarks.md


@pytest.mark.unit
def test_rerunning_one_benchmark_replaces_only_its_rows_and_says_when():
    from benchmarks.run import merge_rerun

    full = fake_result(
        [fake_row("knn_vs_faiss", 4.0, 3.0, bench="knn"), fake_row("scale_peak_rss", 3.0, 1.0, bench="scale")]
    ) | {"sizes": {"knn": ["--nodes", "12000"], "scale": ["--nodes", "10000", "100000"]}}
    rerun = fake_result([fake_row("scale_peak_rss", 10.0, 1.0, bench="scale")]) | {
        "sizes": {"scale": ["--nodes", "10000", "1000000"]},
        "started": "2026-11-29 11:30 UTC",
    }
    merged = merge_rerun(full, rerun)
    assert [(r["id"], r["graphfuse"]) for r in merged["rows"]] == [("knn_vs_faiss", 4.0), ("scale_peak_rss", 10.0)]
    assert merged["sizes"] == {"knn": ["--nodes", "12000"], "scale": ["--nodes", "10000", "1000000"]}
    assert merged["started"] == full["started"] and merged["reruns"][0]["benches"] == ["scale"]
    assert "Measured again later (`benchmarks/run.py --only scale`): 2026-11-29 11:30 UTC" in markdown(merged)


@pytest.mark.unit
def test_the_epoch_benchmark_times_both_loops_at_the_same_threads():
    """Row 5 on a tiny graph: both loops run (alternating rounds, warm-up dropped) at the thread
    count GraphFuse's loop picks for the graph (one, below 10^7 feature values), and torch's own
    setting is restored afterwards."""
    import torch

    from benchmarks.train_epoch import measure

    before = torch.get_num_threads()
    result = measure(nodes=200, epochs=2, rounds=2)
    assert torch.get_num_threads() == before
    assert result["threads"] == 1 and result["default_threads"] == before
    assert len(result["epochs_graphfuse"]) == len(result["epochs_baseline"]) == 4
    assert result["graphfuse"] > 0 and result["baseline"] > 0 and result["cpu_seconds"]["ratio"] > 0
    assert result["checkpoint_seconds"] > 0 and result["target"] == {"op": "<=", "ratio": 1.1, "issue": 6}
