"""What a deployment run leaves for people: its results (from the workspace, or from the DVC
experiment a run with overrides became) and the markdown artifact that says what happened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.ops import dvc_experiment


def read_json(path: Path) -> dict:
    from pipeline.atomic import read_json as read

    return read(path) if path.is_file() else {}


def results(root: Path, experiment: str | None) -> tuple[dict, dict]:
    """(every figure, registry outcome) of a run: the workspace's files, or the experiment's commit."""
    from pipeline.stages.headline import figures, read_figures

    if experiment is None:
        return read_figures(root / "metrics"), read_json(root / "metrics" / "registry.json")
    ref = dvc_experiment.experiment_ref(root, experiment)
    if ref is None:
        return {}, {}
    detail, headline = (
        dvc_experiment.read_json_at(root, ref, f"metrics/{n}") for n in ("metrics_detail.json", "metrics.json")
    )
    return figures(detail, headline), dvc_experiment.read_json_at(root, ref, "metrics/registry.json")


def _registry_line(registry: dict) -> str:
    if registry.get("promoted"):
        state = "now champion"
    else:
        state = f"{registry.get('alias') or 'challenger'}; champion stays v{registry.get('previous_champion')}"
    line = f"**Model:** `{registry['model_name']}` version {registry['version']} ({state})"
    return f"{line}: {registry['reason']}" if registry.get("reason") else line


def markdown(
    outcome: Any,
    overrides: dict[str, Any],
    metrics: dict,
    registry: dict,
    links: dict[str, str],
    experiment: str | None,
) -> str:
    """The run's artifact: what reran or failed, the overrides and experiment, metrics, model, links."""
    lines = ["# GraphFuse run", ""]
    if outcome.failed_stage:
        lines += [f"**Failed** in stage `{outcome.failed_stage}`:", "", "```", outcome.error or "", "```", ""]
    lines += [f"**Reran:** {', '.join(f'`{s}`' for s in outcome.reran) or 'nothing (DVC found no change)'}", ""]
    if overrides:
        shown = ", ".join(f"`{k}={v}`" for k, v in overrides.items())
        lines += [f"**Overrides** (`dvc exp run --temp -S`, the workspace untouched): {shown}", ""]
    if experiment:
        lines += [f"**DVC experiment:** `{experiment}` (`dvc exp show`; `dvc exp apply {experiment}` to keep it)", ""]
    if metrics:
        lines += ["| split | n | accuracy | macro-F1 |", "| --- | --- | --- | --- |"]
        for split in ("train", "val", "test"):
            m = metrics.get(split, {})
            lines.append(f"| {split} | {m.get('n', '')} | {m.get('accuracy', '')} | {m.get('macro_f1', '')} |")
        lines.append("")
    if registry:
        lines.append(_registry_line(registry))
    for name, link in links.items():
        lines.append(f"- {name}: {link}")
    return "\n".join(lines) + "\n"
