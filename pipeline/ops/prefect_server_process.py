"""The Prefect server's own process: a new project's database from the template, then uvicorn.

Run as ``python -m pipeline.ops.prefect_server_process UVICORN_ARGS`` by
:func:`pipeline.ops.prefect_server.spawn_server`; the arguments go to uvicorn's command line
unchanged. Preparing the database here costs no extra start: this process imports Prefect anyway.
"""

from __future__ import annotations

import logging
import os
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

    with temporary_settings(updates=skip if copied else {}):  # the server's event loop inherits it
        try:
            uvicorn.main.main(argv, prog_name="uvicorn")
        except SystemExit as stopped:  # uvicorn has shut down: the app's lifespan ended, the database is closed
            _exit_now(stopped.code)


def _exit_now(code: int | str | None) -> None:
    """Leave without the interpreter's finalisation. What is left to do there is a garbage collection
    of Prefect's server heap, which took 1-2 s of CPU after every stop (seen by faulthandler at
    SIGTERM + 0.3/0.6/0.9 s: "Garbage-collecting"), while `graphfuse repro` waited for it to end."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


if __name__ == "__main__":
    main(sys.argv[1:])
