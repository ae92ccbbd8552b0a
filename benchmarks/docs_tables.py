"""Result tables as the documentation shows them, rendered from the raw numbers a benchmark script
wrote (``--json``) and put into a docs page between its markers, so no page holds a hand-copied
figure: ``accuracy_table.py`` -> ``docs/accuracy.md``, ``link_prediction.py`` ->
``docs/link-prediction.md`` (``run.py``'s own table goes to ``docs/benchmarks.md`` through
``report.py``). Pure functions over the JSON, tested without training anything.
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import splice  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
BEGIN = "<!-- accuracy:begin (written by benchmarks/accuracy_table.py; do not edit by hand) -->"
END = "<!-- accuracy:end -->"
DOCS_PAGE = DOCS / "accuracy.md"
#: The recorded runs of ``accuracy_baselines.py --json`` whose practitioner rows the accuracy table
#: shows (the table script renders them and never reruns them): every baseline with AutoGluon on the
#: real sets, the logistic regressions alone (``--lr-only``) on the synthetic ones.
RESULTS = Path(__file__).resolve().parent / "results"
BASELINES = (
    RESULTS / "accuracy_autogluon.json",
    RESULTS / "accuracy_lr_synthetic.json",
    RESULTS / "accuracy_autogluon_synthetic.json",  # AutoGluon (and LR again) on the synthetic sets
)
#: The lockbox (docs/accuracy.md, "Lockbox"): its table, reported once, between markers of its own.
LOCKBOX_BEGIN = "<!-- lockbox:begin (written by benchmarks/accuracy_table.py --lockbox; do not edit by hand) -->"
LOCKBOX_END = "<!-- lockbox:end -->"
LOCKBOX_RESULTS = RESULTS / "lockbox_table.json"
LOCKBOX_BASELINES = (RESULTS / "lockbox_baselines.json",)
NOT_RUN = "not run"
LINK_BEGIN = "<!-- link-prediction:begin (written by benchmarks/link_prediction.py; do not edit by hand) -->"
LINK_END = "<!-- link-prediction:end -->"
LINK_PAGE = DOCS / "link-prediction.md"


def fmt(values: list[float]) -> str:
    """Accuracies (0..1) as ``mean ± sd`` in % (sample sd; 0 for one seed)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * sd:.1f}"


def cell(row: dict) -> str:
    """``mean ± sd`` (only the value for one seed-free fit), the row's note in brackets, and † on a
    row kept from an earlier run; ``no image`` where the dataset lacks the row's modality."""
    if "absent" in row:
        return f"no {row['absent']}"
    value = f"{100 * row['test'][0]:.1f}" if len(row["test"]) == 1 else fmt(row["test"])
    note = f" ({row['note']})" if "note" in row else ""
    return value + note + (" †" if row.get("earlier") else "")


#: ``accuracy_baselines.py``'s row titles: "accuracy, countries: GraphFuse default vs LR on text".
BASELINE_WHAT = re.compile(r"accuracy, (?P<dataset>[^:]+): GraphFuse default vs (?P<label>.+)")


def practitioner_rows(payload: dict) -> dict[str, dict[str, dict]]:
    """The logistic-regression and AutoGluon rows of an ``accuracy_baselines.py --json`` file, per
    dataset, shaped as the table's rows (test accuracy per seed: one value for a seed-free fit).
    Its other rows (the hand-written SAGE, GraphFuse's default) are the table's own rows already."""
    out: dict[str, dict[str, dict]] = {}
    for row in payload["rows"]:
        match = BASELINE_WHAT.fullmatch(row["what"])
        if match is None:
            raise ValueError(f"row {row['id']!r}: 'what' is not 'accuracy, DATASET: GraphFuse default vs BASELINE'")
        label = match["label"]
        if "autogluon" in row:  # "AutoGluon medium_quality on ..." -> its version, preset and time limit
            ag = row["autogluon"]
            on = label.split(" on ", 1)[1]
            label = f"AutoGluon-Tabular {ag['autogluon_version']} ({ag['preset']}, {ag['time_limit']:g} s) on {on}"
        elif not label.startswith("LR on "):
            continue
        entry: dict = {"test": row["runs"]["baseline"], "baseline": True}
        if row.get("C") is not None:
            entry["note"] = f"C {row['C']:g}"
        out.setdefault(match["dataset"], {})[f"{label} ‡"] = entry
    return out


def with_baselines(results: dict[str, dict[str, dict]], payloads: list[dict]) -> dict[str, dict[str, dict]]:
    """The table's results with the practitioner rows of ``payloads`` below them; the datasets stay
    in the table's order."""
    out = {name: dict(rows) for name, rows in results.items()}
    measured: set[str] = set()
    for payload in payloads:
        for name, rows in practitioner_rows(payload).items():
            out.setdefault(name, {}).update(rows)
            measured.add(name)
    # a baselines run fits LR on every modality a dataset has: a missing one is a modality it lacks
    single = {label for name in measured for label in out[name] if label.startswith("LR on ") and " all " not in label}
    for name in measured:
        for label in sorted(single - set(out[name])):
            out[name][label] = {"absent": label.removeprefix("LR on ").removesuffix(" ‡")}
    return out


#: Where the ‡ rows' raw numbers are, for the four datasets' table and for the lockbox's.
BASELINE_FILES = (
    "`benchmarks/results/accuracy_autogluon.json` and, for the synthetic sets, `accuracy_lr_synthetic.json`"
    " and `accuracy_autogluon_synthetic.json`"
)
LOCKBOX_FILES = "`benchmarks/results/lockbox_baselines.json`"
BASELINE_NOTE = (
    "‡ a practitioner's baseline, recorded by `benchmarks/accuracy_baselines.py` (raw rows in {files})"
    " and not rerun by the table's script: the same features, graph and split (seed 42) as the rows above."
    " Logistic regression (scikit-learn, standardised on the train nodes, `C` in brackets chosen on"
    ' validation; "+ neighbour mean": the concatenation next to its mean over each node\'s neighbours) is'
    " seed-free: one fit, no sd. AutoGluon: one fit per training seed, the val nodes as its tuning data."
    ' "not run": not measured on that dataset; "no image": the dataset has no such modality.'
)


def table(results: dict[str, dict[str, dict]], files: str = BASELINE_FILES) -> str:
    """The markdown table: one column per dataset, one row per model, with its caption; a model
    not measured on a dataset says so (``files``: where the ‡ rows' raw numbers are)."""
    names = list(results)
    seeds = len(next(iter(next(iter(results.values())).values()))["test"])
    lines = [f"Test accuracy (%), mean ± sd over {seeds} training seeds; split seed 42, stratified 60/20/20", ""]
    lines += ["| model | " + " | ".join(names) + " |", "| --- | " + " | ".join("---" for _ in names) + " |"]
    labels = list(dict.fromkeys(r for rows in results.values() for r in rows))
    for label in labels:
        cells = [cell(results[n][label]) if label in results[n] else NOT_RUN for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    rows = [row for rows in results.values() for row in rows.values()]
    if any(row.get("earlier") for row in rows):
        lines += ["", "† from an earlier run, under the defaults of that time (the row's JSON says which)"]
    if any(row.get("baseline") for row in rows):
        lines += ["", BASELINE_NOTE.format(files=files)]
    return "\n".join(lines) + "\n"


def write_docs(results: dict[str, dict[str, dict]], page: Path = DOCS_PAGE, lockbox: bool = False) -> Path:
    """Put the accuracy table into its documentation page between the markers (``lockbox``: the
    lockbox's own markers); the rest stays."""
    begin, end, files = (LOCKBOX_BEGIN, LOCKBOX_END, LOCKBOX_FILES) if lockbox else (BEGIN, END, BASELINE_FILES)
    page.write_text(splice(page.read_text(encoding="utf-8"), table(results, files), begin, end), encoding="utf-8")
    return page


def _stat(stat: dict) -> str:
    sd = stat.get("sd")
    return f"{stat['mean']:.3f} ± {sd:.3f}" if sd is not None else f"{stat['mean']:.3f}"


def link_table(payload: dict) -> str:
    """Test MRR and Hits@10 per dataset and decoder, the GNN beside the no-graph scorer; the best
    figure of each dataset (either side) in bold."""
    lines = [
        "| dataset | decoder | MRR | Hits@10 | no-graph MRR | no-graph Hits@10 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in payload["results"].items():
        rows = result["decoders"]
        best = {
            metric: max(row[side][metric]["mean"] for row in rows.values() for side in ("test", "no_graph_mlp_test"))
            for metric in ("mrr", "hits_at_10")
        }
        for decoder, row in rows.items():
            cells = []
            for side in ("test", "no_graph_mlp_test"):
                for metric in ("mrr", "hits_at_10"):
                    text = _stat(row[side][metric])
                    cells.append(f"**{text}**" if row[side][metric]["mean"] == best[metric] else text)
            lines.append(f"| {name} | {decoder} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_link_docs(payload: dict, page: Path = LINK_PAGE) -> Path:
    """Put the link-prediction table into its documentation page between the markers."""
    text = splice(page.read_text(encoding="utf-8"), link_table(payload), LINK_BEGIN, LINK_END)
    page.write_text(text, encoding="utf-8")
    return page
