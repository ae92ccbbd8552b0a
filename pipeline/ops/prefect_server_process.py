"""The Prefect server's own process: a new project's database from the template, then uvicorn.

Run as ``python -m pipeline.ops.prefect_server_process UVICORN_ARGS`` by
:func:`pipeline.ops.prefect_server.spawn_server`; the arguments go to uvicorn's command line
unchanged. Preparing the database here costs no extra start: this process imports Prefect anyway.
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str]) -> None:
    # Stopped while it starts (a no-op `graphfuse repro` needs no API): leave through SystemExit, so
    # that a template half built or copied is cleaned up. uvicorn installs its own handler later.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    from prefect.settings import (
        PREFECT_API_BLOCKS_REGISTER_ON_START,
        PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION,
        get_current_settings,
        temporary_settings,
    )

    from pipeline.ops.prefect_db_template import prepare, sqlite_file

    url = get_current_settings().server.database.connection_url
    database = sqlite_file(url.get_secret_value()) if url is not None else None
    copied = database is not None and prepare(database)
    # A copy holds the block types already: Prefect's registration (and the hashing of every block
    # class its memo does first) would rewrite the same rows, ~0.7 s before the server answers.
    skip = {PREFECT_API_BLOCKS_REGISTER_ON_START: False, PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION: False}
    import uvicorn.main

    from pipeline.ops.processes import main_then_exit

    with temporary_settings(updates=skip if copied else {}):  # the server's event loop inherits it
        # uvicorn's exit is the server's: its lifespan has ended and the database is closed, so it
        # leaves without the interpreter's finalisation (a 1-2 s garbage collection of its heap).
        main_then_exit(lambda: uvicorn.main.main(argv, prog_name="uvicorn"))


if __name__ == "__main__":
    main(sys.argv[1:])
