"""A new project's Prefect database, copied from one that Prefect itself migrated before.

Before a new project's Prefect server answers, it runs Prefect's database migrations and registers
its block types: ~6 s on a 2-core machine, which the first stage of every new clone, copy or test
project waits for. What that leaves is the same for every project on one Prefect version: an empty
schema at the latest revision and Prefect's block types, with no flow run, no setting and no
key. So the first new project keeps a copy (Prefect's own migration and block registration, run
into a file nothing else uses) in the user's cache, one per Prefect version, and later new projects
start from a copy of it. The server still runs its migrations on start: a no-op on the copy, an
upgrade if it were behind. Its block registration is skipped on a copy (~0.7 s): the template is
kept per Prefect version *and* installed Prefect collections (whose block types registration
adds), so the copy already holds exactly what registration would write.

Only for the embedded default (a SQLite file under the project's ``PREFECT_HOME``): a database URL
of the user's (team mode's PostgreSQL) is never touched. ``GRAPHFUSE_PREFECT_TEMPLATE=0`` turns it
off; ``XDG_CACHE_HOME`` moves the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

OFF_ENV = "GRAPHFUSE_PREFECT_TEMPLATE"
#: The only tables a fresh, migrated database may hold rows in (checked before a copy is kept).
EXPECTED_TABLES = frozenset({"alembic_version", "block_type", "block_schema", "block_schema_reference"})


def template_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphfuse" / "prefect"


def template_key() -> str:
    """What a template's contents depend on: Prefect's version and the installed Prefect collections
    (the packages whose block types Prefect registers too), e.g. ``3.9.1-1a2b3c4d``."""
    from importlib.metadata import entry_points, version

    points = entry_points(group="prefect.collections")
    collections = sorted(f"{point.name}={point.dist.version if point.dist else '?'}" for point in points)
    digest = hashlib.sha256("\n".join(collections).encode()).hexdigest()[:8]
    return f"{version('prefect')}-{digest}"


def sqlite_file(connection_url: str) -> Path | None:
    """The database file of a ``sqlite+aiosqlite:///PATH`` URL; None for anything else."""
    prefix = "sqlite+aiosqlite:///"
    if not connection_url.startswith(prefix) or ":memory:" in connection_url or "?" in connection_url:
        return None
    return Path(connection_url[len(prefix) :])


def prepare(database: Path, key: str | None = None) -> bool:
    """Give a new project's database a copy of the template for ``key`` (default :func:`template_key`;
    made now if there is none yet); whether it got one, and so needs no block registration. An
    existing database, or any failure, is left to Prefect's own start."""
    if os.environ.get(OFF_ENV, "").strip() == "0" or database.exists():
        return False
    template = template_dir() / f"prefect-{key or template_key()}.db"
    try:
        if not template.is_file():
            _build(template)
        _copy_new(template, database)
        return True
    except (OSError, sqlite3.Error) as exc:
        print(f"graphfuse: no Prefect database template ({type(exc).__name__}: {exc}); Prefect migrates", flush=True)
        return False


def _build(template: Path) -> None:
    """Migrate a new file with Prefect's own code, check it holds nothing but the schema and the
    block types, and keep it as the template (atomically: concurrent builders both succeed)."""
    template.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=template.parent) as work:
        built = Path(work) / "prefect.db"
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{built}"))
        packed = Path(work) / "packed.db"
        with contextlib.closing(sqlite3.connect(built)) as conn:
            _check_only_schema(conn, built)
            conn.execute("VACUUM INTO ?", (str(packed),))  # one self-contained file, no WAL beside it
        os.chmod(packed, 0o600)
        os.replace(packed, template)


async def _migrate(url: str) -> None:
    """Prefect's migrations and block registration on ``url``; Prefect's cached database
    configuration is put back afterwards (the server in this process then opens its own)."""
    from prefect.server.database import provide_database_interface
    from prefect.server.database.configurations import AioSqliteConfiguration
    from prefect.server.database.dependencies import temporary_database_config
    from prefect.server.models.block_registration import run_block_auto_registration
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, temporary_settings

    config = AioSqliteConfiguration(connection_url=url)
    with temporary_settings({PREFECT_API_DATABASE_CONNECTION_URL: url}), temporary_database_config(config):
        db = provide_database_interface()
        await db.create_db()
        async with await db.session() as session:
            await run_block_auto_registration(session=session)
            await session.commit()
        await (await db.engine()).dispose()


def _check_only_schema(conn: sqlite3.Connection, path: Path) -> None:
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    filled = {name for name in tables if conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()}  # noqa: S608
    if unexpected := filled - EXPECTED_TABLES:
        raise sqlite3.DatabaseError(f"{path}: a new Prefect database holds rows in {sorted(unexpected)}")


def _copy_new(template: Path, database: Path) -> None:
    """Copy without ever replacing a database that appeared meanwhile."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=database.parent, prefix=".prefect-db-", delete=False) as handle:
        part = Path(handle.name)
    try:
        shutil.copyfile(template, part)
        os.chmod(part, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(part, database)
    finally:
        part.unlink(missing_ok=True)
