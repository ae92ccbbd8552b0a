"""The accuracy table as the documentation shows it: rendered from ``accuracy_table.py``'s raw
numbers (``--json``) and written into ``docs/accuracy.md`` between its markers, so the page never
holds a hand-copied figure. Pure functions over the JSON, tested without training anything.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import splice  # noqa: E402

BEGIN = "<!-- accuracy:begin (written by benchmarks/accuracy_table.py; do not edit by hand) -->"
END = "<!-- accuracy:end -->"
DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "accuracy.md"


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
    """Put the table into the documentation page between the markers; the rest of it stays."""
    page.write_text(splice(page.read_text(encoding="utf-8"), table(results), BEGIN, END), encoding="utf-8")
    return page
