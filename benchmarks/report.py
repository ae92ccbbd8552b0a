"""The benchmark results as a reader sees them: ratios, targets, the markdown table, regressions.

Pure functions over the rows the scripts write (``bench_rows.row``) and the runner's JSON, so
they are tested on made-up rows without running a benchmark.
"""

from __future__ import annotations

import math
from typing import Any

BEGIN = "<!-- bench:begin (written by benchmarks/run.py; do not edit by hand) -->"
END = "<!-- bench:end -->"
#: A row is reported as a regression when its ratio got this much worse (relative).
THRESHOLD = 0.20


def ratio(row: dict[str, Any]) -> float | None:
    """GraphFuse's figure over the baseline's; None when either is missing or the baseline is 0."""
    ours, base = row.get("graphfuse"), row.get("baseline")
    if ours is None or base is None or base == 0:
        return None
    return ours / base


def holds(row: dict[str, Any]) -> bool | None:
    """Whether the row meets its issue's target: the script's verdict, else the ratio bound."""
    if row.get("holds") is not None:
        return bool(row["holds"])
    target, r = row.get("target") or {}, ratio(row)
    if "ratio" not in target or r is None:
        return None
    return r <= target["ratio"] if target["op"] in ("<=", "<") else r >= target["ratio"]


def target_text(row: dict[str, Any]) -> str:
    target = row.get("target")
    if not target:
        return ""
    if "text" in target:
        bound = target["text"]
    elif "value" in target:  # an absolute bound on GraphFuse's figure (e.g. peak RSS < 16 GiB)
        bound = f"{target['op']} {target['value']:g} {row.get('unit', '')}".strip()
    else:
        bound = f"ratio {target['op']} {target['ratio']:g}"
    return f"{bound} (issue {target['issue']})" if target.get("issue") else bound


def figure(value: float | None, unit: str, sd: float | None = None) -> str:
    """A number at a sensible precision, with its unit (and ± sd when given)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    magnitude = abs(value)
    digits = 0 if magnitude >= 1000 else 1 if magnitude >= 10 else 2 if magnitude >= 0.1 else 3
    text = f"{value:,.{digits}f}"
    if sd is not None:
        text += f" ± {sd:.{max(digits, 1)}f}"
    return f"{text} {unit}".strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(result: dict[str, Any]) -> str:
    """The table (one line per row) and the machine it ran on."""
    lines = [
        "| # | what | size | GraphFuse | baseline | ratio | target | holds |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in result["rows"]:
        if row.get("error"):
            lines.append(f"| {row['n']} | {_cell(row['what'])} | | | | | | error: {_cell(row['error'])} |")
            continue
        r, ok = ratio(row), holds(row)
        lines.append(
            "| "
            + " | ".join(
                [
                    str(row["n"]),
                    _cell(row["what"]),
                    _cell(row.get("size", "")),
                    figure(row["graphfuse"], row["unit"], row.get("graphfuse_sd")),
                    figure(row["baseline"], row["unit"], row.get("baseline_sd")),
                    "n/a" if r is None else f"{r:.2f}x",
                    _cell(target_text(row)),
                    "" if ok is None else ("yes" if ok else "**no**"),
                ]
            )
            + " |"
        )
    m = result["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in m["versions"].items())
    lines += [
        "",
        f"Profile `{result['profile']}`, {result['started']}, {result['seconds'] / 60:.1f} min. "
        f"Machine: {m['cores']} cores ({m['usable_cores']} usable), {m['memory_gib']:.0f} GiB, "
        f"GPU: {m['gpu'] or 'none'}; load average {m['load_start']:.1f} at the start, "
        f"{m['load_end']:.1f} at the end. Commit {m['commit']}. {versions}.",
    ]
    for rerun in result.get("reruns", []):
        lines.append(
            f"Measured again later (`benchmarks/run.py --only {' '.join(rerun['benches'])}`): "
            f"{rerun['started']}, {rerun['seconds'] / 60:.1f} min, commit {rerun['commit']}, "
            f"load average {rerun['load_start']:.1f} at the start, {rerun['load_end']:.1f} at the end."
        )
    return "\n".join(lines) + "\n"


def splice(text: str, table: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with everything between the markers replaced by ``table`` (a generated table inside a
    hand-written documentation page)."""
    if begin not in text or end not in text:
        raise ValueError(f"the markers are missing: add {begin!r} and {end!r} where the table goes")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{table}{end}{tail}"


def regressions(new: dict[str, Any], old: dict[str, Any], threshold: float = THRESHOLD) -> list[dict[str, Any]]:
    """Rows whose ratio got more than ``threshold`` worse than in ``old`` (direction from ``better``).

    Ratios are compared, not absolute times: both sides of a ratio ran under the same load.
    A row measured at another size is still compared, and says so (``same_size``)."""
    before = {row["id"]: row for row in old.get("rows", []) if not row.get("error")}
    found = []
    for row in new["rows"]:
        was = before.get(row["id"])
        if row.get("error") or was is None:
            continue
        r_new, r_old = ratio(row), ratio(was)
        if r_new is None or r_old is None or r_old == 0:
            continue
        change = r_new / r_old - 1
        worse = change > threshold if row["better"] == "lower" else change < -threshold
        if worse:
            found.append(
                {
                    "id": row["id"],
                    "what": row["what"],
                    "old_ratio": r_old,
                    "new_ratio": r_new,
                    "change": change,
                    "same_size": row.get("size") == was.get("size"),
                }
            )
    return found


def regression_report(found: list[dict[str, Any]], against: str) -> str:
    if not found:
        return f"No row is more than {THRESHOLD:.0%} worse than {against}."
    lines = [f"{len(found)} row(s) more than {THRESHOLD:.0%} worse than {against} (a report, not a failure):"]
    for f in found:
        note = "" if f["same_size"] else "  [measured at another size: indicative only]"
        lines.append(f"  {f['id']}: ratio {f['old_ratio']:.3f} -> {f['new_ratio']:.3f} ({f['change']:+.0%}){note}")
    return "\n".join(lines)
