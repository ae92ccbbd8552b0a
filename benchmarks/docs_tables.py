"""Result tables as the documentation shows them, rendered from the raw numbers a benchmark script
wrote (``--json``) and put into a docs page between its markers, so no page holds a hand-copied
figure: ``accuracy_table.py`` -> ``docs/accuracy.md``, ``link_prediction.py`` ->
``docs/link-prediction.md`` (``run.py``'s own table goes to ``docs/benchmarks.md`` through
``report.py``). Pure functions over the JSON, tested without training anything.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import splice  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
BEGIN = "<!-- accuracy:begin (written by benchmarks/accuracy_table.py; do not edit by hand) -->"
END = "<!-- accuracy:end -->"
DOCS_PAGE = DOCS / "accuracy.md"
LINK_BEGIN = "<!-- link-prediction:begin (written by benchmarks/link_prediction.py; do not edit by hand) -->"
LINK_END = "<!-- link-prediction:end -->"
LINK_PAGE = DOCS / "link-prediction.md"


def fmt(values: list[float]) -> str:
    """Accuracies (0..1) as ``mean ± sd`` in % (sample sd; 0 for one seed)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * sd:.1f}"


def cell(row: dict) -> str:
    """``mean ± sd``, the row's note in brackets, and † on a row kept from an earlier run."""
    note = f" ({row['note']})" if "note" in row else ""
    return fmt(row["test"]) + note + (" †" if row.get("earlier") else "")


def table(results: dict[str, dict[str, dict]]) -> str:
    """The markdown table: one column per dataset, one row per model, with its caption."""
    names = list(results)
    seeds = len(next(iter(next(iter(results.values())).values()))["test"])
    lines = [f"Test accuracy (%), mean ± sd over {seeds} training seeds; split seed 42, stratified 60/20/20", ""]
    lines += ["| model | " + " | ".join(names) + " |", "| --- | " + " | ".join("---" for _ in names) + " |"]
    labels = list(dict.fromkeys(r for rows in results.values() for r in rows))
    for label in labels:
        cells = [cell(results[n][label]) if label in results[n] else "" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if any(row.get("earlier") for rows in results.values() for row in rows.values()):
        lines += ["", "† from an earlier run, under the defaults of that time (the row's JSON says which)"]
    return "\n".join(lines) + "\n"


def write_docs(results: dict[str, dict[str, dict]], page: Path = DOCS_PAGE) -> Path:
    """Put the accuracy table into its documentation page between the markers; the rest stays."""
    page.write_text(splice(page.read_text(encoding="utf-8"), table(results), BEGIN, END), encoding="utf-8")
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
