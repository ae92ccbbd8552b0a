"""A new SQLite tracking store comes into being whole, or not at all.

MLflow builds a new store by running its schema migrations, several seconds of them; a process
killed in the middle (the first ``train`` of a project, ``kill -9``) left a half-migrated
``mlflow.db`` on which every later command failed ("table ... already exists"). So the store is
built in a temporary file beside it and linked into place in one step; a second process that
raced us simply uses the one that won.
"""

from __future__ import annotations

import os
from pathlib import Path


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI (None for other stores and in-memory ones)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def create_whole(uri: str, artifact_root: str) -> None:
    """Create the SQLite store ``uri`` names, if it does not exist yet, without ever leaving half of one."""
    path = sqlite_path(uri)
    if path is None or path.exists() or not path.parent.is_dir():
        return  # not a file store, already there, or a folder problem the health check reports
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    staging = path.with_name(f".{path.name}.{os.getpid()}.creating")
    staging.unlink(missing_ok=True)
    try:
        store = SqlAlchemyStore(f"sqlite:///{staging}", artifact_root)
        store.engine.dispose()
        try:
            os.link(staging, path)  # fails if another process created it meanwhile: theirs is whole too
        except FileExistsError:
            pass
    finally:
        staging.unlink(missing_ok=True)
