"""``dvc repro`` with every stage on one Prefect API and one warm stage server: the one way both
``graphfuse repro`` and the deployment flow (:mod:`flows.deployment`) run DVC.

Sets up, once: the project's programs first on the children's PATH (DVC runs a bare
``graphfuse stage``), and the warm server when ``orchestration.warm_stages`` asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipeline.ops.tools import child_env, tool


def warm_stages_wanted(root: Path) -> bool:
    """``orchestration.warm_stages`` from the project's params.yaml (on when there is none)."""
    from pipeline.config import load_params

    params_file = root / "params.yaml"
    return load_params(params_file).orchestration.warm_stages if params_file.is_file() else True


def dvc_command(*args: str) -> list[str]:
    """``dvc ARGS`` with the project's own dvc."""
    return [tool("dvc"), *args]


@contextmanager
def dvc_environment(
    root: Path, env: Mapping[str, str] | None = None, *, warm: bool | None = None
) -> Iterator[dict[str, str]]:
    """The environment for a DVC command run in ``root``, valid for the block: ``env`` (default: ours)
    with the project's programs first on PATH and, when ``warm`` (default: the params' setting),
    the warm stage server's socket."""
    from pipeline.ops.warm_stages import warm_server

    stage_env = child_env(env)
    enabled = warm_stages_wanted(root) if warm is None else warm
    with warm_server(root, stage_env, enabled=enabled) as pointer:
        yield stage_env | pointer


def repro(root: Path, args: Sequence[str]) -> int:
    """`dvc repro ARGS` with every stage on one Prefect server (the running one, or one that lives
    exactly as long as this call); returns DVC's exit code."""
    from pipeline.ops.prefect_server import embedded_defaults, starting_prefect_api
    from pipeline.ops.processes import run_tied
    from pipeline.ops.warm_protocol import ENV_VAR

    embedded_defaults(root)
    with starting_prefect_api(root) as (api_url, wait_for_api):  # first: it is the slowest to start
        warm = warm_stages_wanted(root)  # a bad params.yaml fails here (the server goes with the block)
        # The warm server imports while the Prefect server starts; its URL is fixed already.
        with dvc_environment(root, {**os.environ, "PREFECT_API_URL": api_url}, warm=warm) as env:
            if ENV_VAR not in env:  # no warm server to hold the first stage until the API answers
                wait_for_api()
            # Tied: `kill -9` of this command takes dvc and its stages with it. DVC starts up
            # (~1.5 s) while the Prefect server does; the warm server forks no stage before it
            # answers. A DVC done first (nothing to reproduce) does not wait for it (~6 s).
            command = dvc_command("repro", *args)
            return run_tied(command, cwd=root, env=env, meanwhile=lambda dvc_done: wait_for_api(unless=dvc_done))
