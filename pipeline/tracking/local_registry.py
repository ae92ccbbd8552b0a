"""A registered version's folder, and the list of versions, read from the project's own SQLite
registry without MLflow.

``graphfuse predict --model models:/NAME@ALIAS`` of a few nodes spent seconds importing MLflow
and its SQL store and copying the version's files to a temporary folder (issue 19's bar: 10 s
in all). When the tracking store is a SQLite file that is the registry too (the embedded
``ROOT/mlflow.db`` by default; no workspace) and the version's files are a local folder, the alias or version is
looked up with :mod:`sqlite3` in a read-only connection and the files are read where they lie.
Anything else (a server, another store, a stage or ``latest``, a deleted or pending version, a
schema this reader does not know, an error) answers None, and MLflow does the job as before.

``graphfuse registry list`` spent ~10 s the same way (MLflow's import and SQL store set-up) to
print a few rows (issue 19's bar: 2 s). :func:`local_versions` reads them from the same embedded
store under the same conditions, with the query MLflow's ``search_model_versions`` runs (deleted
versions left out, its default limit) and the registered model's aliases; anything else is None
and MLflow answers.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.tracking.store_file import sqlite_path
from pipeline.tracking.uris import registry_uri_for, tracking_uri_for, user_setting
from pipeline.tracking.version_rows import version_rows

#: models:/NAME@ALIAS and models:/NAME/VERSION; other forms (stages, latest, ids) go to MLflow.
_BY_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_BY_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[0-9]+)$")
_VERSION_ROW = (
    "SELECT v.storage_location, v.status, v.current_stage FROM model_versions v "
    "WHERE v.name = ? AND v.version = ? AND v.workspace = 'default'"
)
_ALIAS_ROW = (
    "SELECT a.version FROM registered_model_aliases a WHERE a.name = ? AND a.alias = ? AND a.workspace = 'default'"
)
#: MLflow's search_model_versions(name='NAME'): its default order and limit, deleted versions left out.
_VERSIONS = (
    "SELECT v.version FROM model_versions v WHERE v.name = ? AND v.workspace = 'default' "
    "AND v.current_stage != 'Deleted_Internal' ORDER BY v.last_updated_time DESC, v.name ASC, v.version DESC "
    "LIMIT 10000"
)
_TAGS = "SELECT t.version, t.key, t.value FROM model_version_tags t WHERE t.name = ? AND t.workspace = 'default'"
_ALIASES = "SELECT a.alias, a.version FROM registered_model_aliases a WHERE a.name = ? AND a.workspace = 'default'"


def _embedded_store(root: Path) -> Path | None:
    """The project's SQLite file when it is both the tracking and the registry store, else None."""
    if user_setting("MLFLOW_WORKSPACE") or os.environ.get("MLFLOW_WORKSPACE"):
        return None
    uri = tracking_uri_for(root)
    if registry_uri_for(root) != uri:
        return None
    path = sqlite_path(uri)
    return path if path is not None and path.is_file() else None


def _version_location(db: Path, model_uri: str) -> str | None:
    """The storage location of the READY version ``model_uri`` names, or None."""
    by_alias, by_version = _BY_ALIAS.match(model_uri), _BY_VERSION.match(model_uri)
    if by_alias is None and by_version is None:
        return None
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5) as connection:
            if by_alias is not None:
                name = by_alias["name"]
                found = connection.execute(_ALIAS_ROW, (name, by_alias["alias"])).fetchone()
                if found is None:
                    return None
                version = int(found[0])
            else:
                name, version = by_version["name"], int(by_version["version"])  # type: ignore[index]
            row = connection.execute(_VERSION_ROW, (name, version)).fetchone()
    except sqlite3.Error:  # locked, another schema, not a database: MLflow knows better
        return None
    if row is None or row[1] != "READY" or row[2] == "Deleted_Internal":
        return None
    return row[0]


def local_model_dir(model_uri: str, root: str | Path = ".") -> Path | None:
    """The folder holding the files of the registered version ``model_uri`` names (its ``MLmodel``
    inside), read from the project's own registry; None when MLflow has to answer."""
    db = _embedded_store(Path(root))
    location = _version_location(db, model_uri) if db is not None else None
    if not location or not location.startswith("file://"):
        return None
    parsed = urlparse(location)
    if parsed.netloc not in ("", "localhost"):
        return None
    folder = Path(unquote(parsed.path))
    return folder if (folder / "MLmodel").is_file() else None


def local_versions(name: str, root: str | Path = ".") -> list[dict[str, str]] | None:
    """``graphfuse registry list``'s rows for model ``name`` (as :func:`pipeline.tracking.registry.list_versions`
    gives them), read from the project's own registry; None when MLflow has to answer."""
    db = _embedded_store(Path(root))
    if db is None or "'" in name or "\\" in name:  # a name MLflow's filter syntax reads otherwise
        return None
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5) as connection:
            versions = [int(row[0]) for row in connection.execute(_VERSIONS, (name,))]
            tags: dict[int, dict[str, str]] = {version: {} for version in versions}
            for version, key, value in connection.execute(_TAGS, (name,)):
                if int(version) in tags:
                    tags[int(version)][key] = value
            aliases = dict(connection.execute(_ALIASES, (name,)).fetchall()) if versions else {}
    except (sqlite3.Error, ValueError, TypeError):  # locked, another schema, not a database: MLflow knows better
        return None
    return version_rows([(str(version), tags[version]) for version in versions], aliases)
