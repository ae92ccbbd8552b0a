"""The Prefect server's own process: a new project's database from the template, then uvicorn.

Run as ``python -m pipeline.ops.prefect_server_process UVICORN_ARGS`` by
:func:`pipeline.ops.prefect_server.spawn_server`; the arguments go to uvicorn's command line
unchanged. Preparing the database here costs no extra start: this process imports Prefect anyway.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    import prefect
    from prefect.settings import get_current_settings

    from pipeline.ops.prefect_db_template import prepare, sqlite_file

    url = get_current_settings().server.database.connection_url
    if url is not None and (database := sqlite_file(url.get_secret_value())) is not None:
        prepare(database, prefect.__version__)
    import uvicorn.main

    uvicorn.main.main(argv, prog_name="uvicorn")


if __name__ == "__main__":
    main(sys.argv[1:])
