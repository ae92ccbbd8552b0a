"""Which tracking store a command means, read from the environment without importing MLflow.

``graphfuse predict`` decides from this whether it can read the registry's SQLite file itself
(:mod:`pipeline.tracking.local_registry`) before paying for MLflow's import.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

# mlflow.set_tracking_uri / set_registry_uri export their value to the environment, so after our
# first call MLFLOW_TRACKING_URI holds our own default. Remember what we exported, so that only a
# value the user set counts as the user's choice (and a later call for another root still works).
# Every value we exported counts (a caller may restore an older one of ours, as test fixtures do).
_EXPORTED_BY_US: dict[str, set[str]] = {}


def user_setting(name: str) -> str | None:
    """The environment's ``name`` when the user set it (not one of our own exports), else None."""
    value = os.environ.get(name)
    return None if not value or value in _EXPORTED_BY_US.get(name, set()) else value


def export_uri(name: str, setter: Callable[[str], None], uri: str) -> None:
    """Call MLflow's ``setter`` (which exports ``name``) and remember the export as ours, unless the
    value is the one the user set."""
    users = user_setting(name)
    setter(uri)
    if name in os.environ and os.environ[name] != users:  # the user's own value stays the user's
        _EXPORTED_BY_US.setdefault(name, set()).add(os.environ[name])


def tracking_uri_for(root: str | Path = ".") -> str:
    """``$MLFLOW_TRACKING_URI`` when the user set it, else the embedded ``ROOT/mlflow.db``."""
    return user_setting("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def registry_uri_for(root: str | Path = ".") -> str:
    """The registry follows the tracking store unless the user set ``$MLFLOW_REGISTRY_URI``."""
    return user_setting("MLFLOW_REGISTRY_URI") or tracking_uri_for(root)
