"""Resumable training state: tensors in safetensors, everything else in JSON. No pickle.

A checkpoint holds the model, optimiser, scheduler and gradient-scaler state, the best weights
so far, the history and the RNG states, so that training resumed from epoch ``e`` takes
exactly the steps an uninterrupted run takes after ``e``. A fingerprint of the model, the
options and the data guards against resuming a different run.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from pipeline.atomic import read_json, write_json, write_with

TENSORS_FILE = "checkpoint.safetensors"
STATE_FILE = "checkpoint.json"


@dataclass
class TrainState:
    """Everything the loop carries from one epoch to the next."""

    epoch: int
    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    scaler: dict[str, Any] | None
    best_state: dict[str, Tensor] | None
    best_score: list[float] | None
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _rng_tensors() -> dict[str, Tensor]:
    out = {"rng.cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = state
    return out


def _restore_rng(tensors: dict[str, Tensor]) -> None:
    torch.set_rng_state(tensors["rng.cpu"])
    cuda = [tensors[f"rng.cuda.{i}"] for i in range(torch.cuda.device_count()) if f"rng.cuda.{i}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def save_checkpoint(directory: Path, state: TrainState, fingerprint: str) -> None:
    """Write atomically: tensors first, then the JSON that points at them (read last, trusted last)."""
    opt_tensors, opt_meta = _split_optimizer(state.optimizer)
    tensors = {f"model.{k}": v for k, v in state.model.items()}
    tensors |= {f"best.{k}": v for k, v in (state.best_state or {}).items()}
    tensors |= opt_tensors | _rng_tensors()
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    write_with(directory / TENSORS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    write_json(
        directory / STATE_FILE,
        {
            "fingerprint": fingerprint,
            "epoch": state.epoch,
            "optimizer": opt_meta,
            "scheduler": state.scheduler,
            "scaler": state.scaler,
            "best_score": state.best_score,
            "best_epoch": state.best_epoch,
            "history": state.history,
        },
    )


def load_checkpoint(directory: Path, fingerprint: str) -> TrainState | None:
    """The saved state if it belongs to this run (same fingerprint), else ``None``.

    Restores the RNG states as a side effect, so call it where training would seed.
    """
    state_path, tensors_path = directory / STATE_FILE, directory / TENSORS_FILE
    if not state_path.is_file() or not tensors_path.is_file():
        return None
    meta = read_json(state_path)
    if meta.get("fingerprint") != fingerprint:
        return None
    tensors = load_file(str(tensors_path))
    _restore_rng(tensors)
    model = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    best = {k.removeprefix("best."): v for k, v in tensors.items() if k.startswith("best.")}
    return TrainState(
        epoch=int(meta["epoch"]),
        model=model,
        optimizer=_join_optimizer(tensors, meta["optimizer"]),
        scheduler=meta["scheduler"],
        scaler=meta["scaler"],
        best_state=best or None,
        best_score=meta["best_score"],
        best_epoch=int(meta["best_epoch"]),
        history=list(meta["history"]),
    )


def clear_checkpoint(directory: Path) -> None:
    """Training finished: the checkpoint has served its purpose."""
    shutil.rmtree(directory, ignore_errors=True)
