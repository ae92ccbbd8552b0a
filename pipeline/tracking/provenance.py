"""Where a model came from, as registry tags: code, data, split, params, orchestrator run."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import yaml

from pipeline.run_context import ENV_FLOW_RUN_ID, flow_run_id

__all__ = ["FLOW_RUN_ENV", "dvc_data_hash", "file_hash", "flow_run_id", "git_commit", "params_tag"]

FLOW_RUN_ENV = ENV_FLOW_RUN_ID  # the older name of the constant
#: MLflow tag values are limited in length; longer params are stored as their hash.
MAX_TAG = 5000


def git_commit(root: Path) -> str:
    """The commit of the project checkout (with ``+dirty`` when files differ), or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def dvc_data_hash(root: Path, dataset_dir: str) -> str:
    """The md5 dvc.lock records for the dataset folder (the validate stage's dependency)."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return "unknown"
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    for dep in stages.get("validate", {}).get("deps", []):
        if Path(dep.get("path", "")) == Path(dataset_dir):
            return str(dep.get("md5", "unknown"))
    return "unknown"


def file_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def params_tag(params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return text if len(text) <= MAX_TAG else "sha256:" + hashlib.sha256(text.encode()).hexdigest()
