"""Is the tracking store usable? Asked once, quickly, before a stage does any work.

Without this, a tracking server that is down costs minutes of MLflow's HTTP retries and then
hundreds of lines of tracebacks, after the stage has already overwritten its outputs. The probe
is bounded: one HTTP request to the server's ``/health`` with a short timeout, one connection
to a database, or (for the embedded SQLite file) a write lock taken and released, retried with
backoff while another writer holds it.

Settings (environment): ``GRAPHFUSE_TRACKING_PROBE_TIMEOUT`` seconds for one probe (default 5),
``GRAPHFUSE_SQLITE_BUSY_TIMEOUT`` seconds to wait for a busy SQLite store (default 20, the
busy timeout MLflow itself sets on its SQLite sessions).
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pipeline.errors import GraphFuseError
from pipeline.redact import redact_text, redact_uri

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_SQLITE_BUSY_S = 20.0
_DATABASES = ("postgresql", "mysql", "mssql")


class TrackingUnavailable(GraphFuseError):
    """The tracking store cannot be reached or written; nothing was run."""


def _seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def check_tracking_store(uri: str) -> None:
    """Raise :class:`TrackingUnavailable` (one line, credentials masked) unless ``uri`` answers."""
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    timeout = _seconds("GRAPHFUSE_TRACKING_PROBE_TIMEOUT", DEFAULT_TIMEOUT_S)
    if scheme in ("http", "https"):
        _check_http(uri, timeout)
    elif scheme == "sqlite":
        _check_sqlite(uri, _seconds("GRAPHFUSE_SQLITE_BUSY_TIMEOUT", DEFAULT_SQLITE_BUSY_S))
    elif scheme in _DATABASES:
        _check_database(uri, timeout)


def _unavailable(uri: str, problem: str, hint: str) -> TrackingUnavailable:
    return TrackingUnavailable(
        f"MLflow tracking store {redact_uri(uri)}: {redact_text(problem)}; {hint}. Nothing was run or overwritten"
    )


def _check_http(uri: str, timeout: float) -> None:
    parts = urlsplit(uri)
    # /health needs no login; urllib cannot take user:password@ in a URL, so it is left out.
    url = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path.rstrip("/") + "/health", "", ""))
    hint = "start the server, or unset MLFLOW_TRACKING_URI to use the project's mlflow.db"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
            if response.status != 200:
                raise _unavailable(uri, f"/health answered HTTP {response.status}", hint)
    except urllib.error.HTTPError as exc:
        raise _unavailable(uri, f"/health answered HTTP {exc.code}", hint) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _unavailable(uri, f"not answering ({reason}; probe timeout {timeout:g} s)", hint) from None


def _check_sqlite(uri: str, busy_s: float) -> None:
    path = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if path is None or str(path) in ("", ":memory:"):
        return
    if not path.parent.is_dir():
        raise _unavailable(uri, f"folder {path.parent} does not exist", "create it or fix MLFLOW_TRACKING_URI")
    if not path.exists():
        if not os.access(path.parent, os.W_OK):
            raise _unavailable(uri, f"folder {path.parent} is not writable", "fix its permissions")
        return  # MLflow creates it
    delay, waited, tries = 0.05, 0.0, 0
    while True:
        tries += 1
        try:
            connection = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")  # the write lock MLflow will need
                connection.execute("ROLLBACK")
                return
            finally:
                connection.close()
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy:
                raise _unavailable(uri, f"cannot open the database ({exc})", "check the file") from None
            if waited >= busy_s:
                raise _unavailable(
                    uri,
                    f"the database is locked by another writer (waited {waited:.1f} s over {tries} tries)",
                    "let the other GraphFuse or MLflow process finish, then run again",
                ) from None
        pause = min(delay, max(busy_s - waited, 0.0))
        time.sleep(pause)
        waited += pause
        delay = min(delay * 2, 2.0)


def _check_database(uri: str, timeout: float) -> None:
    import sqlalchemy

    scheme = uri.split(":", 1)[0]
    connect_args = {"connect_timeout": max(1, int(timeout))} if scheme.startswith(("postgresql", "mysql")) else {}
    try:
        engine = sqlalchemy.create_engine(uri, connect_args=connect_args, pool_pre_ping=False)
    except Exception as exc:  # an unknown driver is the user's to fix
        raise _unavailable(uri, f"cannot use this database URL ({type(exc).__name__}: {exc})", "check it") from None
    try:
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - every driver has its own error types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _unavailable(uri, f"cannot connect within {timeout:g} s ({first})", "start the database") from None
    finally:
        engine.dispose()


def ensure_tracking_reachable(root: str | Path = ".") -> str:
    """The URI :func:`connect_tracking` would use for ``root``, after checking it answers."""
    from pipeline.tracking.runs import tracking_uri_for

    uri = tracking_uri_for(root)
    check_tracking_store(uri)
    return uri
