"""One-off runs with overrides as DVC experiments in a temporary workspace, so that the project's
own ``params.yaml``, ``dvc.lock`` and outputs are never touched by them.

``dvc exp run --temp`` runs the pipeline in ``.dvc/tmp/exps/`` on a copy of the workspace (git's
tracked files with their uncommitted changes, DVC's outputs from the cache) and keeps the result
as an experiment ref (``dvc exp show``, ``dvc exp apply NAME``). Files git does not track are not
copied; the ones a run needs (an untracked dataset folder) are named with ``-C``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from pipeline.errors import GraphFuseError

#: Plain override values DVC's ``-S`` grammar (Hydra's) reads as written; anything else is quoted.
_PLAIN = re.compile(r"^[A-Za-z0-9_./:+\-]+$")


def override_value(value: Any) -> str:
    """``value`` as Hydra's override grammar reads it back: YAML's null/true/false, quoted strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in ("null", "true", "false"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def untracked_inputs(root: Path, folder: str | Path) -> list[str]:
    """The untracked (not git-ignored) paths under ``folder`` inside the project, as ``-C`` wants
    them: a wholly untracked folder as one entry, else the untracked files and folders within it."""
    path = Path(folder)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root.resolve())
        except ValueError:
            return []  # outside the project: the experiment reads it where it is
    if not (root / path).exists():
        return []
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--directory", "-z", "--", str(path)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        raise GraphFuseError(f"{root}: git cannot list the files of {path}: {listed.stderr.strip()}")
    return [entry.rstrip("/") for entry in listed.stdout.split("\0") if entry]


def exp_run_command(dvc: str, overrides: dict[str, Any], name: str, copy_paths: list[str]) -> list[str]:
    """``dvc exp run --temp`` named ``name``, with each override as ``-S`` and each path to copy as ``-C``."""
    command = [dvc, "exp", "run", "--temp", "--name", name]
    command += [f"--set-param={key}={override_value(value)}" for key, value in sorted(overrides.items())]
    return command + [f"--copy-paths={path}" for path in copy_paths]


def experiment_ref(root: Path, name: str) -> str | None:
    """The git ref DVC saved the experiment ``name`` under (``refs/exps/../name``), or None."""
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps"], cwd=root, capture_output=True, text=True
    )
    found = [ref for ref in listed.stdout.split() if ref.rsplit("/", 1)[-1] == name]
    return found[-1] if found else None


def read_json_at(root: Path, ref: str, path: str) -> dict:
    """A JSON file as the experiment committed it; {} when it is not in that commit."""
    shown = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=root, capture_output=True, text=True)
    if shown.returncode != 0:
        return {}
    try:
        return json.loads(shown.stdout)
    except json.JSONDecodeError:
        return {}


def experiment_name(flow_run_id: str) -> str:
    """The DVC experiment's name: the flow run's id (its first 8 characters), so one finds the other."""
    return f"graphfuse-{flow_run_id[:8] or time.strftime('%Y%m%d%H%M%S')}"


def store_env(root: Path, experiment: str) -> dict[str, str]:
    """The project's own MLflow store, with ``experiment`` created in it (artifacts beside the
    store, not in the temporary workspace), for stages that run in a temporary workspace."""
    from pipeline.tracking import configure_tracking

    return {"MLFLOW_TRACKING_URI": configure_tracking(root, experiment)}


def _read_at(root: Path, rev: str | None, path: str) -> str | None:
    """A file's text in the workspace (``rev`` None) or at a git revision; None when absent."""
    if rev is None:
        file = root / path
        return file.read_text(encoding="utf-8") if file.is_file() else None
    shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else None


def experiment_to_compare(root: Path, name: str):
    """A DVC experiment (by name), a git revision, or ``workspace``, as ``graphfuse compare`` shows it."""
    import yaml

    from pipeline.comparison import from_metric_files
    from pipeline.stages.headline import figures

    rev = None if name == "workspace" else (experiment_ref(root, name) or name)
    params_text = _read_at(root, rev, "params.yaml")
    if params_text is None:
        raise GraphFuseError(f"{name!r} is neither a DVC experiment (`dvc exp list`) nor a revision with params.yaml")
    loaded = {}
    for key in ("metrics", "metrics_detail", "ablation"):
        text = _read_at(root, rev, f"metrics/{key}.json")
        loaded[key] = json.loads(text) if text else {}
    params = yaml.safe_load(params_text) or {}
    metrics = figures(loaded["metrics_detail"], loaded["metrics"])  # an older commit: metrics.json held them
    return from_metric_files(name, "dvc", params, metrics, loaded["ablation"])
