"""The per-run report: one self-contained HTML file (plots inlined), readable offline anywhere."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from pipeline.evaluation.metrics import HEADLINE


def _fmt(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{name}"><figcaption>{name}</figcaption></figure>'


def metrics_rows(metrics: dict, spread: dict) -> list[list[str]]:
    """One row per split and metric: the registered model's value, and mean ± sd over seeds."""
    rows = []
    for split in ("val", "test"):
        for name in HEADLINE:
            stat = spread["summary"].get(split, {}).get(name, {})
            rows.append([split, name, _fmt(metrics[split][name]), f"{_fmt(stat.get('mean'))} ± {_fmt(stat.get('sd'))}"])
    return rows


def ablation_rows(table: dict) -> list[list[str]]:
    return [
        [
            name,
            f"{_fmt(row['accuracy'])} ± {_fmt(row.get('accuracy_sd'))}",
            f"{_fmt(row['macro_f1'])} ± {_fmt(row.get('macro_f1_sd'))}",
            _fmt(row.get("delta_accuracy")),
            _fmt(row.get("delta_macro_f1")),
        ]
        for name, row in table.items()
    ]


def write_report(
    *,
    title: str,
    facts: dict[str, str],
    metrics: dict,
    spread: dict,
    ablation: dict,
    modality_weights: dict | None,
    notes: list[str],
    plots: list[Path],
) -> str:
    """Render the report; returns the HTML (the caller writes it atomically)."""
    parts = [f"<h1>{html.escape(title)}</h1>", _table(["", ""], [[k, v] for k, v in facts.items()])]
    seeds = ", ".join(str(s) for s in spread["seeds"])
    parts.append(f"<h2>Metrics</h2><p>Registered model, and mean ± sd over training seeds {seeds} (same split).</p>")
    parts.append(_table(["split", "metric", "registered model", "mean ± sd over seeds"], metrics_rows(metrics, spread)))
    per_class = [
        [name, _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), str(v["support"])]
        for name, v in metrics["test"]["per_class"].items()
    ]
    parts.append("<h3>Per class (test)</h3>" + _table(["class", "precision", "recall", "F1", "support"], per_class))
    header = ["condition", "accuracy", "macro-F1", "Δ accuracy", "Δ macro-F1"]
    parts.append(
        f"<h2>Modality ablation (test)</h2><p>Mean ± sd over the {len(spread['seeds'])} training seed(s); "
        "Δ against the full input.</p><h3>Masked at inference</h3>"
    )
    parts.append(_table(header, ablation_rows(ablation["inference"])))
    if "retrained" in ablation:
        parts.append("<h3>Retrained without it</h3>" + _table(header, ablation_rows(ablation["retrained"])))
    if modality_weights:
        names = sorted({m for row in modality_weights.values() for m in row})
        rows = [[cls] + [_fmt(row.get(m)) for m in names] for cls, row in modality_weights.items()]
        parts.append("<h3>Mean modality weights per class</h3>" + _table(["class", *names], rows))
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("<h2>Plots</h2>" + "".join(_image(p) for p in plots if p.is_file()))
    return html_page(title, parts)


def html_page(title: str, parts: list[str]) -> str:
    """One self-contained HTML page of the given parts, with the report's style."""
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )
