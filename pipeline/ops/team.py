"""Team mode on one machine: PostgreSQL holding MLflow's and Prefect's databases, an MLflow
tracking server serving the artifacts, a Prefect server, a process worker and a DVC remote.

Everything binds to 127.0.0.1. The database password comes from ``GRAPHFUSE_DB_PASSWORD`` and
reaches the servers only through their environment (``PGPASSWORD`` for MLflow's psycopg,
``PREFECT_SERVER_DATABASE_PASSWORD`` for Prefect's asyncpg): never argv, a URL, a log or stdout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import GraphFuseError
from pipeline.ops.prefect_server import healthy, launch_server
from pipeline.ops.processes import (
    Service,
    alive,
    free_port,
    http_ok,
    launch,
    read_state,
    terminate,
    wait_until,
    write_state,
)
from pipeline.ops.tools import child_env, tool

PASSWORD_ENV = "GRAPHFUSE_DB_PASSWORD"
USER_ENV = "GRAPHFUSE_DB_USER"
POOL = "graphfuse"
DATABASES = ("mlflow", "prefect")


@dataclass(frozen=True)
class TeamPaths:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / ".team"

    @property
    def pgdata(self) -> Path:
        """Root cannot run PostgreSQL, and the ``postgres`` user may not reach a private folder, so
        as root the cluster lives under PostgreSQL's own home, one per project."""
        if override := os.environ.get("GRAPHFUSE_TEAM_PGDATA"):
            return Path(override)
        if os.geteuid() == 0:
            key = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:12]
            return Path("/var/lib/postgresql/graphfuse") / key
        return self.home / "pgdata"

    def state(self, name: str) -> Path:
        return self.home / f"{name}.json"

    def log(self, name: str) -> Path:
        return self.home / f"{name}.log"

    @property
    def remote(self) -> Path:
        return self.home / "dvc-remote"

    @property
    def artifacts(self) -> Path:
        return self.home / "mlartifacts"


def pg_bin(program: str) -> Path | None:
    """A PostgreSQL server program from Debian's package (or on PATH)."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"), reverse=True):
        return candidate
    found = shutil.which(program)
    return Path(found) if found else None


def postgres_available() -> bool:
    return pg_bin("initdb") is not None and pg_bin("pg_ctl") is not None


def _credentials() -> tuple[str, str]:
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise GraphFuseError(f"set {PASSWORD_ENV} (the team database password) before `graphfuse team up`")
    return os.environ.get(USER_ENV, "graphfuse"), password


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], *, what: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise GraphFuseError(f"{what} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return result.stdout


def _start_postgres(paths: TeamPaths) -> Service:
    if not postgres_available():
        raise GraphFuseError("PostgreSQL is not installed: `apt-get install postgresql` (as root)")
    pgdata = paths.pgdata
    if os.geteuid() == 0:
        pgdata.mkdir(parents=True, exist_ok=True)
        shutil.chown(pgdata, "postgres", "postgres")
        shutil.chown(pgdata.parent, "postgres", "postgres")
    else:
        pgdata.mkdir(parents=True, exist_ok=True)
    pgdata.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        # Local socket: trust (only its owner reaches it); TCP on loopback: passwords.
        _run(
            _as_postgres(
                [str(pg_bin("initdb")), "-D", str(pgdata), "-U", "postgres", "--auth-local=trust"]
                + ["--auth-host=scram-sha-256", "--encoding=UTF8", "--no-instructions"]
            ),
            what="initdb",
        )
    port = free_port()
    log = pgdata / "server.log"  # inside the cluster folder: the postgres user may write there
    options = f"-p {port} -k {pgdata} -c listen_addresses=127.0.0.1"
    _run(
        _as_postgres([str(pg_bin("pg_ctl")), "-D", str(pgdata), "-l", str(log), "-o", options, "-w", "start"]),
        what="pg_ctl start",
    )
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    return Service(name="postgres", pid=pid, url=f"postgresql://127.0.0.1:{port}", log=str(log))


def _psql(paths: TeamPaths, port: int, sql: str, database: str = "postgres") -> str:
    psql = pg_bin("psql") or Path("psql")
    command = [str(psql), "-h", str(paths.pgdata), "-p", str(port), "-U", "postgres", "-d", database]
    return _run(_as_postgres([*command, "-v", "ON_ERROR_STOP=1", "-qAt"]), what="psql", stdin=sql)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _prepare_databases(paths: TeamPaths, port: int, user: str, password: str) -> None:
    """The role and its two databases; the password travels on psql's stdin only."""
    ident = '"' + user.replace('"', '""') + '"'
    exists = _psql(paths, port, f"SELECT 1 FROM pg_roles WHERE rolname = {_quote(user)};").strip()
    verb = "ALTER" if exists else "CREATE"
    _psql(paths, port, f"{verb} ROLE {ident} LOGIN PASSWORD {_quote(password)};")
    for database in DATABASES:
        if not _psql(paths, port, f"SELECT 1 FROM pg_database WHERE datname = {_quote(database)};").strip():
            _psql(paths, port, f"CREATE DATABASE {database} OWNER {ident};")


def _start_mlflow(paths: TeamPaths, db_port: int, user: str, password: str) -> Service:
    port = free_port()
    paths.artifacts.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": f"postgresql+psycopg://{user}@127.0.0.1:{db_port}/mlflow",
        "PGPASSWORD": password,
        # MLflow's job runner (GenAI jobs, trace roll-ups; GraphFuse uses neither) starts seven
        # huey consumer processes that each import mlflow and then poll: off unless asked for.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": os.environ.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"),
    }
    command = [
        tool("mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--serve-artifacts",
        "--artifacts-destination",
        paths.artifacts.resolve().as_uri(),
    ]
    log = paths.log("mlflow")
    process = launch(command, env=env, log=log, tied=False)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/health"), process, what="MLflow server", log=log, timeout=180)
    return Service(name="mlflow", pid=process.pid, url=url, log=str(log))


def _start_prefect(paths: TeamPaths, db_port: int, user: str, password: str) -> Service:
    database = {
        "PREFECT_SERVER_DATABASE_DRIVER": "postgresql+asyncpg",
        "PREFECT_SERVER_DATABASE_HOST": "127.0.0.1",
        "PREFECT_SERVER_DATABASE_PORT": str(db_port),
        "PREFECT_SERVER_DATABASE_USER": user,
        "PREFECT_SERVER_DATABASE_NAME": "prefect",
        "PREFECT_SERVER_DATABASE_PASSWORD": password,
    }
    return launch_server(paths.root, None, tied=False, ui=True, home=paths.home / "prefect", extra_env=database)


def _client_env(prefect: Service, mlflow: Service) -> dict[str, str]:
    """What a client of the stack needs: two URLs, no secret (MLflow's server holds the DB)."""
    return {"PREFECT_API_URL": prefect.url, "MLFLOW_TRACKING_URI": mlflow.url}


def _start_worker(paths: TeamPaths, client_env: dict[str, str]) -> Service:
    env = {k: v for k, v in os.environ.items() if k not in (PASSWORD_ENV, "PGPASSWORD")}
    env.update(client_env, PREFECT_HOME=str(paths.home / "worker"), PREFECT_WORKER_QUERY_SECONDS="2")
    env = child_env(env)
    prefect = tool("prefect")
    _run([prefect, "work-pool", "create", POOL, "--type", "process", "--overwrite"], what="work-pool create", env=env)
    log = paths.log("worker")
    process = launch([prefect, "worker", "start", "--pool", POOL], env=env, log=log, tied=False, cwd=paths.root)
    return Service(name="worker", pid=process.pid, url=f"pool {POOL}", log=str(log))


def _add_dvc_remote(paths: TeamPaths) -> None:
    """A local-directory DVC remote, in .dvc/config.local so the tracked config stays clean."""
    paths.remote.mkdir(parents=True, exist_ok=True)
    command = [tool("dvc"), "remote", "add", "--local", "--default", "--force", "team", str(paths.remote.resolve())]
    result = subprocess.run(command, cwd=paths.root, capture_output=True, text=True)
    if result.returncode != 0:
        raise GraphFuseError(f"dvc remote add failed:\n{result.stderr.strip()}")


def status(root: str | Path = ".") -> dict[str, Service]:
    """The team services that are up, by name."""
    paths = TeamPaths(Path(root).resolve())
    running = {}
    for name in ("postgres", "mlflow", "prefect", "worker"):
        service = read_state(paths.state(name))
        if service is not None and alive(service.pid):
            running[name] = service
    return running


def up(root: str | Path = ".") -> dict[str, str]:
    """Start the stack (what is already up stays); return the client settings to export."""
    paths = TeamPaths(Path(root).resolve())
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.home.chmod(0o700)
    user, password = _credentials()
    running = status(root)
    try:
        pg = running.get("postgres") or _start_postgres(paths)
        write_state(paths.state("postgres"), pg)
        db_port = int(pg.url.rsplit(":", 1)[1])
        _prepare_databases(paths, db_port, user, password)
        # The two servers need only the database: they start side by side (each takes seconds).
        with ThreadPoolExecutor(max_workers=2) as pool:
            starting = {
                name: pool.submit(lambda n, start: running.get(n) or start(paths, db_port, user, password), name, start)
                for name, start in (("mlflow", _start_mlflow), ("prefect", _start_prefect))
            }
        for name, future in starting.items():  # recorded before any failure is raised, so `down` stops it
            if future.exception() is None:
                write_state(paths.state(name), future.result())
        mlflow, prefect = starting["mlflow"].result(), starting["prefect"].result()
        client_env = _client_env(prefect, mlflow)
        worker = running.get("worker") or _start_worker(paths, client_env)
        write_state(paths.state("worker"), worker)
        _add_dvc_remote(paths)
    except GraphFuseError:
        down(root)  # nothing half-started is left running
        raise
    return client_env


def down(root: str | Path = ".") -> list[str]:
    """Stop the worker, the servers and PostgreSQL, in that order; return what was stopped."""
    paths = TeamPaths(Path(root).resolve())
    stopped = []
    for name in ("worker", "prefect", "mlflow"):
        service = read_state(paths.state(name))
        if service is not None and alive(service.pid):
            terminate(service.pid, group=True)
            stopped.append(name)
        paths.state(name).unlink(missing_ok=True)
    pg = read_state(paths.state("postgres"))
    if pg is not None and alive(pg.pid) and pg_bin("pg_ctl") is not None:
        command = [str(pg_bin("pg_ctl")), "-D", str(paths.pgdata), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_postgres(command), capture_output=True, text=True)
        if alive(pg.pid):
            terminate(pg.pid)
        stopped.append("postgres")
    paths.state("postgres").unlink(missing_ok=True)
    return stopped


def client_env(root: str | Path = ".") -> dict[str, str]:
    running = status(root)
    if "prefect" not in running or "mlflow" not in running:
        raise GraphFuseError("the team stack is not up; run `graphfuse team up`")
    return _client_env(running["prefect"], running["mlflow"])


__all__ = ["client_env", "down", "healthy", "postgres_available", "status", "up"]
