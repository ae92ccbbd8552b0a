"""One reproduced project for the whole session, so the suite pays for one full ``dvc repro`` of
the node-classification pipeline instead of one per end-to-end module, and one for all of
``make test``'s workers: the first to need it builds it under a lock, the others wait and read it.

``reproduced_project`` is a private git copy of this repo on a 30-country slice after
``graphfuse repro`` (what ``make run`` does: ``dvc repro`` with every stage on one Prefect server).
Tests that only read it share it; a test that changes it (the deployment's stack) takes its own
``copy_project`` copy, git history, DVC cache and outputs included.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from tests.helpers import BIN, project_env
from tests.project_copy import make_project, run_ok

SETTINGS = {"max_epochs": 60, "patience": 20}  # 30 countries, the repo's model otherwise
# Two seeds still give the spread's sd that test_dvc_pipeline reads; every evaluate of the project
# and its copies (the shared build, the clone's two, the deployment's retraining) trains 3 fewer.
EVALUATE = {"seeds": 2}


@dataclass(frozen=True)
class Reproduced:
    root: Path
    output: str  # what `graphfuse repro` printed (DVC names each stage it ran)
    shell_path: str  # the PATH it ran under: without the venv's bin


def _reproduce(root: Path) -> Reproduced:
    # test_dvc_pipeline's own settings before it was shared: its predict test needs evaluate's numbers
    # unsmoothed (`predict --dataset` has no training labels), which `smoothing: auto` picks on these.
    make_project(root, per_class=6, train=SETTINGS, evaluate=EVALUATE)
    # As from a plain shell: `.venv/bin/graphfuse repro` with the venv NOT on PATH (DVC's stages
    # run a bare `graphfuse`, which must still find this install).
    env = project_env()
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p and Path(p) != BIN)
    result = run_ok([str(BIN / "graphfuse"), "repro"], root, env)
    return Reproduced(root, result.stdout + result.stderr, env["PATH"])


@pytest.fixture(scope="session")
def reproduced_project(tmp_path_factory: pytest.TempPathFactory) -> Reproduced:
    """Read-only for tests: copy it (``copy_project``) before changing anything in it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # one process: its own temporary folder
        return _reproduce(tmp_path_factory.mktemp("reproduced") / "graphfuse")
    shared = tmp_path_factory.getbasetemp().parent  # the session's folder, common to its workers
    with FileLock(str(shared / "reproduced.lock")):
        built = shared / "reproduced.json"
        if built.is_file():
            fields = json.loads(built.read_text())
            return Reproduced(Path(fields.pop("root")), **fields)
        reproduced = _reproduce(shared / "reproduced" / "graphfuse")
        built.write_text(json.dumps(asdict(reproduced) | {"root": str(reproduced.root)}))
        return reproduced
