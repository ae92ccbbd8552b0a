"""Encoding shards fanned out over a Dask cluster through prefect-dask's DaskTaskRunner.

``preprocess.runner: dask`` makes the preprocess flows hand this to the stage; each shard is a
Prefect task run on a Dask worker, which encodes it and writes its entries to the shared
embedding cache (safe under concurrent writers), and returns the vectors. With
``preprocess.dask_address: tcp://scheduler:8786`` the shards go to that running cluster (start
one with ``dask scheduler`` and ``dask worker tcp://scheduler:8786`` on each machine, all
seeing the same dataset folder and cache directory); without it a temporary LocalCluster of
``preprocess.dask_workers`` workers lives for the duration of the stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipeline.features.runner import MapShards


def _encode(fn: Callable[[Any], Any], shard: Any) -> Any:
    return fn(shard)


encode_shard_task = task(_encode, name="encode-shard", cache_policy=NO_CACHE)


def dask_map_shards(address: str | None = None, n_workers: int = 2, *, processes: bool = True) -> MapShards:
    """A ``map_shards`` that runs every shard as a task on Dask, results in shard order."""
    from prefect_dask import DaskTaskRunner

    def run(fn: Callable[[Any], Any], shards: list[Any]) -> list[Any]:
        if not shards:
            return []
        if address:
            runner = DaskTaskRunner(address=address)
        else:
            runner = DaskTaskRunner(
                cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 1, "processes": processes}
            )

        @flow(name="encode-shards", task_runner=runner)
        def encode_shards() -> list[Any]:
            futures = [encode_shard_task.submit(fn, shard) for shard in shards]
            return [future.result() for future in futures]

        return encode_shards()

    return run
