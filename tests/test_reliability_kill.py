"""``kill -9`` during a stage, then the same stage again: it completes, nothing truncated is ever
an output, folders are whole or absent, and the results equal an uninterrupted run (CPU, same seed).

One driver process imports the library once, then runs every stage in a forked child (so a
SIGKILL ends only that child): first an uninterrupted reference run, then a victim project
where each stage is killed at a write, checked, and rerun. Kills are injected at exact points
by replacing the ``os`` functions :mod:`pipeline.atomic` calls, in the child only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.conftest import REPO_ROOT, write_countries_subset
from tests.helpers import project_env

pytestmark = pytest.mark.integration

#: Tiny on purpose: the point is the files and the run records, not the model (3 trainings run).
FAST_TRAIN = {"max_epochs": 5, "patience": 5, "hidden_dim": 16, "projection_dim": 8}

DRIVER = r'''
import json, os, resource, shutil, signal, sys, time, types
from pathlib import Path
START, TIMES = time.perf_counter(), []

import mlflow  # everything imported before the first fork; the parent itself runs no torch op
import torch

import pipeline.atomic as atomic
from pipeline.config import load_params
from pipeline.paths import Paths
from pipeline.stages.registry import REGISTRY

STAGES = {spec.name: spec.function() for spec in REGISTRY if spec.name != "preprocess_embedding"}
IMPORTS_S = round(time.perf_counter() - START, 1)


def run_stage(root, name, kill_on=None):
    """Run a stage in a forked child; ``kill_on=(fn, n)`` SIGKILLs it at atomic's n-th call of os.fn."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if kill_on:
                fn_name, nth = kill_on
                real, calls = getattr(os, fn_name), [0]

                def dying(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == nth:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return real(*args, **kwargs)

                atomic.os = types.SimpleNamespace(**{**vars(os), fn_name: dying})
            STAGES[name](load_params(Path(root) / "params.yaml"), Paths(Path(root)))
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    TIMES.append((name, kill_on, round(time.perf_counter() - START, 1), round(cpu.ru_utime + cpu.ru_stime, 1)))
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def listing(root):
    out = []
    for base in ("data/processed", "models", "metrics", "plots"):
        for path in sorted((Path(root) / base).rglob("*")) if (Path(root) / base).exists() else []:
            if path.is_file():
                out.append(str(path.relative_to(root)))
    return out


def statuses(root):
    mlflow.set_tracking_uri(f"sqlite:///{Path(root).resolve() / 'mlflow.db'}")
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    return sorted(r.info.status for r in runs)


ref, victim = Path(sys.argv[1]), Path(sys.argv[2])
report = {"reference": {}, "kills": []}
for name in STAGES:
    report["reference"][name] = run_stage(ref, name)

def kill_then_rerun(name, kill_on):
    entry = {"stage": name, "kill_on": list(kill_on), "exit": run_stage(victim, name, kill_on)}
    entry["files_after_kill"] = listing(victim)
    entry["rerun"] = run_stage(victim, name)
    report["kills"].append(entry)

kill_then_rerun("validate", ("replace", 1))  # mid-folder: the dataset folder must be absent
kill_then_rerun("preprocess_text", ("rename", 1))  # folder outputs: absent or whole
kill_then_rerun("preprocess_image", ("rename", 1))
kill_then_rerun("preprocess_tabular", ("replace", 1))  # between its folder and its state file
kill_then_rerun("build_graph", ("replace", 1))  # while staging the graph folder
kill_then_rerun("build_graph", ("rename", 2))  # between moving the old graph aside and the new one in
kill_then_rerun("train", ("replace", 1))  # MLflow run open, model folder staged
report["statuses_after_train"] = statuses(victim)
kill_then_rerun("evaluate", ("replace", 1))  # before metrics.json
report["statuses_final"] = statuses(victim)
report["files_final"] = listing(victim)
report["times"] = TIMES
report["imports_s"] = IMPORTS_S
print("REPORT " + json.dumps(report))
'''


def _params(root: Path, dataset: Path) -> None:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["dataset"]["dir"] = str(dataset)
    params["train"].update(FAST_TRAIN)
    params["preprocess_image"]["image_size"] = 64
    params["preprocess_text"]["device"] = params["preprocess_image"]["device"] = params["train"]["device"] = "cpu"
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    ref, victim = tmp_path_factory.mktemp("reference"), tmp_path_factory.mktemp("victim")
    countries = write_countries_subset(tmp_path_factory.mktemp("countries_4") / "countries", per_class=4)
    # Tabular only: the encoders' own tests cover them; here the point is files and run records,
    # and the text and image stages still run and are killed (writing their empty feature files).
    spec = yaml.safe_load((countries / "dataset.yaml").read_text())
    spec.update(text_columns=[], image_column=None)
    (countries / "dataset.yaml").write_text(yaml.safe_dump(spec))
    for root in (ref, victim):
        _params(root, countries)
    (victim / "data/processed/features").mkdir(parents=True)
    env = project_env()
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(ref), str(victim)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-5000:]
    return ref, victim, json.loads(lines[-1].removeprefix("REPORT "))


def test_the_reference_run_completes(killed: tuple[Path, Path, dict]) -> None:
    assert set(killed[2]["reference"].values()) == {0}


def test_every_kill_was_a_sigkill_and_every_rerun_completed(killed: tuple[Path, Path, dict]) -> None:
    for entry in killed[2]["kills"]:
        assert entry["exit"] == -9, entry
        assert entry["rerun"] == 0, entry


def test_a_killed_stage_leaves_its_folder_whole_or_absent(killed: tuple[Path, Path, dict]) -> None:
    kills = killed[2]["kills"]
    by_stage = {(k["stage"], tuple(k["kill_on"])): set(k["files_after_kill"]) for k in kills}
    assert not any(f.startswith("data/processed/dataset") for f in by_stage[("validate", ("replace", 1))])
    for point in (("replace", 1), ("rename", 2)):
        assert not any(f.startswith("data/processed/graph") for f in by_stage[("build_graph", point)])
    assert not any(f.startswith("models/") for f in by_stage[("train", ("replace", 1))])
    assert "metrics/metrics.json" not in by_stage[("evaluate", ("replace", 1))]
    for modality in ("text", "image"):
        assert (
            f"data/processed/features/{modality}/manifest.json"
            not in by_stage[(f"preprocess_{modality}", ("rename", 1))]
        )
    tabular = by_stage[("preprocess_tabular", ("replace", 1))]
    assert "data/processed/features/tabular/x.npy" in tabular  # complete (renamed whole) ...
    assert "data/processed/features/tabular_state.json" not in tabular  # ... its partner not yet
    features = tuple(f"data/processed/features/{m}/" for m in ("text", "image", "tabular"))
    folders = ("data/processed/dataset/", *features, "data/processed/graph/", "models/")  # folder outputs
    for files in by_stage.values():  # no temporary or half-written file inside a folder output
        assert not [f for f in files if f.startswith(folders) and Path(f).name.startswith(".")], files
    assert not [f for f in killed[2]["files_final"] if "/." in f], "the reruns cleaned every temporary"


def test_the_run_a_kill_left_running_is_marked_killed(killed: tuple[Path, Path, dict]) -> None:
    assert killed[2]["statuses_after_train"] == ["FINISHED", "KILLED"]
    assert killed[2]["statuses_final"] == ["FINISHED", "KILLED"]


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


@pytest.mark.parametrize(
    "output",
    [
        "data/processed/dataset/nodes.parquet",
        "data/processed/dataset/edges.parquet",
        "data/processed/dataset/dataset.json",
        "data/processed/features/text/manifest.json",
        "data/processed/features/image/manifest.json",
        "data/processed/features/tabular/x.npy",
        "data/processed/features/tabular/mask.npy",
        "data/processed/features/tabular/manifest.json",
        "data/processed/features/tabular_state.json",
        "data/processed/graph/graph.safetensors",
        "data/processed/graph/graph.json",
        "models/model.safetensors",
        "models/model.json",
        "metrics/training_history.csv",
        "metrics/metrics.json",
        "metrics/registry.json",
        "plots/confusion_test.csv",
    ],
)
def test_results_after_kills_equal_the_uninterrupted_run(killed: tuple[Path, Path, dict], output: str) -> None:
    ref, victim, _ = killed
    if output.endswith(".safetensors"):
        a, b = _tensors(ref / output), _tensors(victim / output)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), output
    else:
        assert (ref / output).read_bytes() == (victim / output).read_bytes(), output
