"""A new project's Prefect database comes from a template Prefect itself migrated once (issue 16,
row 6): the first stage of a new project no longer waits ~6 s for Prefect's migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from pipeline.ops.prefect_db_template import (
    EXPECTED_TABLES,
    OFF_ENV,
    _migrate,
    prepare,
    sqlite_file,
    template_dir,
    template_key,
)

pytestmark = pytest.mark.integration


def _filled_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n for n in names if conn.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone()}  # noqa: S608


def _block_types_written(path: Path) -> tuple[str, int]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT max(updated), count(*) FROM block_type").fetchone()


def _revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_an_existing_database_or_a_server_database_is_never_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    existing = tmp_path / "prefect.db"
    existing.write_bytes(b"a user's database")

    assert not prepare(existing, template_key())
    assert existing.read_bytes() == b"a user's database"
    assert sqlite_file("postgresql+asyncpg://graphfuse@127.0.0.1:5432/prefect") is None
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file(f"sqlite+aiosqlite:///{existing}") == existing

    monkeypatch.setenv(OFF_ENV, "0")
    assert not prepare(tmp_path / "new" / "prefect.db", template_key())
    assert not (tmp_path / "new").exists() and not (tmp_path / "cache").exists()


def test_the_first_new_project_makes_the_template_and_later_ones_copy_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.ops.prefect_server import healthy, spawn_server
    from pipeline.ops.processes import terminate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no template yet: this server makes it
    monkeypatch.delenv(OFF_ENV, raising=False)
    for name in ("PREFECT_HOME", "PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"):
        monkeypatch.delenv(name, raising=False)
    first, second = tmp_path / "a" / ".prefect" / "prefect.db", tmp_path / "b" / ".prefect" / "prefect.db"
    server, wait = spawn_server(tmp_path / "a", None, tied=True, ui=False, services=False, home=first.parent)
    try:
        wait()  # the server process built the template, copied it, then served on its copy
        assert healthy(server.url)
    finally:
        terminate(server.pid)
    template = template_dir() / f"prefect-{template_key()}.db"
    built_at = template.stat().st_mtime_ns
    # The server on its copy registered no block types again: the rows are the template's, untouched.
    assert _block_types_written(first) == _block_types_written(template)
    assert not (first.parent / "memo_store.toml").exists()

    assert prepare(second, template_key())

    assert template.stat().st_mtime_ns == built_at  # built once, then only copied
    for database in (template, second):
        assert _filled_tables(database) <= EXPECTED_TABLES  # no run, no setting, no key
        assert "block_type" in _filled_tables(database)
        assert database.stat().st_mode & 0o077 == 0
    assert "block_type" in _filled_tables(first)
    # What a server does on start (Prefect's migrations, its block registration) changes nothing.
    revision = _revision(second)
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{second}"))
    assert _revision(second) == revision and _filled_tables(second) <= EXPECTED_TABLES
