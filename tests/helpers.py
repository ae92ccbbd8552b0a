"""Helpers every kind of test shares: where this install's programs live, and a user's environment
without the developer's MLflow/Prefect settings (tests use their own stores, never a configured server)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # graphfuse, dvc, torchrun of the venv running the tests
TRACKING_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def forget_tracking_env(env: pytest.MonkeyPatch) -> None:
    """Drop a configured (or earlier-exported) MLflow URI, so the project's own SQLite store is used."""
    for name in TRACKING_ENV:
        env.delenv(name, raising=False)


def store_client(uri: str):
    """An MLflow client of one store, its registry included: an in-process stage earlier in the
    session leaves MLflow's global registry URI on its own project, and a client given only a
    tracking URI would read that project's registry instead."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextmanager
def own_tracking_store() -> Iterator[pytest.MonkeyPatch]:
    """In-process stages against the project's own store; MLflow's exports are undone afterwards."""
    with pytest.MonkeyPatch.context() as env:
        forget_tracking_env(env)
        yield env


def project_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no developer MLflow/Prefect settings, the venv on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(CI="1", DO_NOT_TRACK="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode next to the code is not a change (.dvcignore)
    return env | extra
