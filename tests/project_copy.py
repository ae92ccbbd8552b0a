"""A private git copy of this project on a small slice of countries, for end-to-end tests of the
real user paths (DVC, Prefect deployments, team mode)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT, write_countries_subset

FAST_TRAIN = {"max_epochs": 30, "patience": 10, "hidden_dim": 16, "projection_dim": 8}
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


def run_ok(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a user's command in the project copy; a failure shows its whole output."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


#: Datasets no test project reads (each project gets its own countries slice): the lockbox
#: (data/raw/unihan, 1,962 pictures) and emoji (1,918 files) would only be copied, committed and cloned.
NOT_COPIED = ("data/raw/countries/", "data/raw/unihan/", "data/raw/emoji/")


def tracked_files(leave_out: str | tuple[str, ...] = NOT_COPIED) -> list[str]:
    """The repo's files as git sees them (committed or not, never ignored), less ``leave_out``."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [f for f in out if f and not f.startswith(leave_out) and (REPO_ROOT / f).is_file()]


def make_project(root: Path, per_class: int = 4, train: dict | None = None, evaluate: dict | None = None) -> Path:
    """The repo's files in a new, committed git repo, params pointing at a tiny countries slice."""
    for name in tracked_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, root / name)
    write_countries_subset(root / "data" / "raw" / "small", per_class=per_class)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["dataset"]["dir"] = "data/raw/small"
    # The search (train.search: auto, the shipped default) is off unless ``train`` turns it on.
    params["train"].update({"search": "off"} | (FAST_TRAIN if train is None else train))
    params["evaluate"].update(evaluate or {})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "dvc.lock").unlink(missing_ok=True)  # the committed lock is the countries run's
    for args in (["git", "init", "-q"], [*GIT, "add", "-A"], [*GIT, "commit", "-qm", "copy"]):
        subprocess.run(args, cwd=root, check=True, capture_output=True)
    return root


def copy_project(source: Path, dest: Path) -> Path:
    """A private copy of a project: its git history, DVC cache, outputs and MLflow store.

    ``cp -a`` keeps the files' times, so DVC finds the outputs unchanged. DVC's own scratch
    (``.dvc/tmp``: locks, the hash state keyed by inode) is left behind, and so is the Prefect
    server's state but for its database: the copy starts its own server on the database a project
    that has run before has (a new one first runs every migration, ~10 s on two cores).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)
    shutil.rmtree(dest / ".dvc" / "tmp", ignore_errors=True)
    prefect = dest / ".prefect"
    for entry in prefect.iterdir() if prefect.is_dir() else ():
        if not entry.name.startswith("prefect.db"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return dest
