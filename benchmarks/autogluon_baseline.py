"""AutoGluon-Tabular as a practitioner's baseline, fitted in an interpreter of its own.

AutoGluon 1.6 cannot share GraphFuse's environment (it needs pandas < 2.4 and, for its neural
networks, torch < 2.14; the project pins pandas 3.1 and torch 2.14.1), so it lives in a separate
venv (``pyproject.toml``'s ``bench`` extra names the version; see docs/accuracy.md)::

    python3.11 -m venv /work/agvenv && /work/agvenv/bin/pip install "autogluon.tabular[all]==1.6.0"

``accuracy_baselines.py --autogluon-python /work/agvenv/bin/python`` writes the features, labels
and split to an ``.npz`` under ``--work`` (:func:`export_features`), runs this file as a script in
that interpreter, and reads its JSON: no pickle crosses between the two (``allow_pickle=False``).
This file imports only the standard library and numpy at the top, so both interpreters load it.

The fit: ``TabularPredictor(problem_type="multiclass", eval_metric="accuracy")`` with the
``medium_quality`` preset (no bagging, no stacking), ``time_limit`` seconds (120 by default), on
the train nodes, with the validation nodes as ``tuning_data`` (early stopping and the weighted
ensemble are chosen on them); the test nodes are only predicted, once, by the final predictor.
TabularPredictor has no global seed (autogluon#2734): each seed is set as the seed
hyperparameter of every model of the ``default`` config (the one ``medium_quality`` uses; LightGBM
``seed``, CatBoost ``random_seed``, RF/XT ``random_state``, ...), which AutoGluon's
``AbstractModel.init_random_seed`` reads. Model folders go to ``--models`` (inside ``--work``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

LABEL = "label"
SPLITS = ("train", "val", "test")
#: The preset and time limit the issue names (issue 17, item 8).
PRESET = "medium_quality"
TIME_LIMIT = 120


def export_features(path: Path, x: np.ndarray, y: np.ndarray, masks: dict[str, np.ndarray], dataset: str) -> Path:
    """Write the features, labels and split (boolean masks) as a plain ``.npz`` (no objects)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{split}_mask": np.asarray(masks[split], dtype=bool) for split in SPLITS}
    np.savez(
        path, x=np.asarray(x, dtype=np.float32), y=np.asarray(y, dtype=np.int64), dataset=np.str_(dataset), **arrays
    )
    return path


def load_features(path: Path) -> dict[str, np.ndarray]:
    """Read :func:`export_features`' file back, refusing objects and inconsistent shapes."""
    with np.load(path, allow_pickle=False) as file:
        data = {key: file[key] for key in file.files}
    missing = {"x", "y", "dataset", *(f"{s}_mask" for s in SPLITS)} - set(data)
    if missing:
        raise ValueError(f"{path}: missing arrays {sorted(missing)}")
    n = data["x"].shape[0]
    for key in ("y", *(f"{s}_mask" for s in SPLITS)):
        if data[key].shape != (n,):
            raise ValueError(f"{path}: {key} has shape {data[key].shape}, expected ({n},) like x's rows")
    if (sum(data[f"{s}_mask"].astype(int) for s in SPLITS) > 1).any():
        raise ValueError(f"{path}: the train/val/test masks overlap")
    return data


def seeded_hyperparameters(seed: int) -> dict:
    """AutoGluon's ``default`` model configs with every model's own seed hyperparameter set."""
    from autogluon.tabular.configs.hyperparameter_configs import get_hyperparameter_config
    from autogluon.tabular.registry import ag_model_registry

    seeded = {}
    for key, value in get_hyperparameter_config("default").items():
        seed_name = ag_model_registry.key_to_cls(key).seed_name
        configs = value if isinstance(value, list) else [value]
        seeded[key] = [{**config, seed_name: seed} if seed_name else config for config in configs]
    return seeded


class LoadSampler:
    """The 1-minute load average, sampled every ``every`` seconds while a fit runs."""

    def __init__(self, every: float = 10.0) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        return {"mean": round(float(np.mean(self.samples)), 2), "max": round(max(self.samples), 2)}


def frame(data: dict[str, np.ndarray], split: str, with_label: bool = True):
    """One split's rows as the DataFrame AutoGluon reads (numeric columns f0..fN, then the label)."""
    import pandas as pd

    mask = data[f"{split}_mask"]
    table = pd.DataFrame(data["x"][mask], columns=[f"f{i}" for i in range(data["x"].shape[1])])
    if with_label:
        table[LABEL] = data["y"][mask]
    return table


def ensemble_weights(predictor) -> dict[str, float]:
    """The members of the chosen model with their weights (the model itself, weight 1, if no ensemble)."""
    best = predictor.model_best
    children = predictor.model_info(best).get("children_info") or {}
    weights = next((c["model_weights"] for c in children.values() if "model_weights" in c), {best: 1.0})
    return {name: round(float(w), 4) for name, w in weights.items()}


def fit_seed(data: dict[str, np.ndarray], seed: int, time_limit: float, models: Path, quiet: bool) -> dict:
    """One AutoGluon fit (train, tuned on val) and its test accuracy; test is read once, at the end."""
    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor(
        label=LABEL,
        problem_type="multiclass",
        eval_metric="accuracy",
        path=str(models / f"seed{seed}"),
        verbosity=0 if quiet else 2,
    )
    start = time.perf_counter()
    with LoadSampler() as load:
        predictor.fit(
            frame(data, "train"),
            tuning_data=frame(data, "val"),
            presets=PRESET,
            time_limit=time_limit,
            hyperparameters=seeded_hyperparameters(seed),
        )
    seconds = time.perf_counter() - start
    board = predictor.leaderboard(silent=True)  # score_val: accuracy on the tuning (val) nodes
    predicted = predictor.predict(frame(data, "test", with_label=False)).to_numpy()
    truth = data["y"][data["test_mask"]]
    return {
        "seed": seed,
        "test_accuracy": float((predicted == truth).mean()),
        "val_accuracy": float(board.loc[board["model"] == predictor.model_best, "score_val"].iloc[0]),
        "best_model": predictor.model_best,
        "ensemble_weights": ensemble_weights(predictor),
        "models": {row.model: round(float(row.score_val), 4) for row in board.itertuples()},
        "fit_seconds": round(seconds, 1),
        "load": load.summary(),
    }


def main(argv: list[str] | None = None) -> None:
    """Run in AutoGluon's interpreter: one fit per seed, the JSON rewritten after each one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=Path, required=True, help="the .npz export_features wrote")
    parser.add_argument("--out", type=Path, required=True, help="the JSON results (rewritten after every seed)")
    parser.add_argument("--models", type=Path, required=True, help="folder for AutoGluon's model folders")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    args = parser.parse_args(argv)
    import autogluon.tabular

    quiet = bool(os.environ.get("CI"))
    if quiet:
        import warnings

        warnings.simplefilter("ignore")
    data = load_features(args.features)
    result = {"autogluon_version": autogluon.tabular.__version__, "preset": PRESET, "time_limit": args.time_limit}
    result |= {"dataset": str(data["dataset"]), "seeds": []}
    for seed in range(args.seeds):
        result["seeds"].append(fit_seed(data, seed, args.time_limit, args.models, quiet))
        args.out.write_text(json.dumps(result, indent=1))
        if not quiet:
            done = result["seeds"][-1]
            print(f"seed {seed}: test {done['test_accuracy']:.3f} ({done['best_model']})", flush=True)


def run_autogluon(python: str, features: Path, models: Path, seeds: int, time_limit: float) -> dict:
    """Run :func:`main` in ``python`` (AutoGluon's venv) on ``features``; its JSON results."""
    out = features.with_suffix(".json")
    out.unlink(missing_ok=True)
    command = [python, str(Path(__file__).resolve()), "--features", str(features), "--out", str(out)]
    command += ["--models", str(models), "--seeds", str(seeds), "--time-limit", str(time_limit)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run(command, env=env, timeout=seeds * (3 * time_limit + 300))
    if done.returncode != 0:
        raise RuntimeError(f"AutoGluon ({python}) failed with exit {done.returncode}; partial results: {out}")
    return json.loads(out.read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
