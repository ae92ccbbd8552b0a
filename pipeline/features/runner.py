"""Encode items through the embedding cache, in shards: only what the cache lacks is encoded.

An item is ``(digest, payload)``: the content hash (of the image bytes or the text) and what the
encoder takes (a path, a string). Misses are deduplicated by key and encoded shard by shard;
each finished shard is written to the cache at once, so an interrupted run resumes from its last
finished shard. ``map_shards`` fans shards out (default: one after another here; the Dask
runner in ``flows/dask_shards.py`` sends them to a cluster, whose workers write the same cache).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cache import EmbeddingCache, encoder_fingerprint, entry_key
from pipeline.cache.store import CacheStats
from pipeline.encoders.base import Encoder, progress_enabled

#: ``map_shards(fn, shards)`` -> ``[fn(shard) for shard in shards]``, in order, anywhere.
MapShards = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


@dataclass
class ShardResult:
    """One shard's vectors and the positions (within the shard) the encoder could not read."""

    x: np.ndarray
    failed: dict[int, str] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)


@dataclass
class EmbedResult:
    x: np.ndarray
    ok: np.ndarray  # False where the encoder could not read the item (see ``failed``)
    failed: dict[int, str]
    stats: CacheStats
    encoded: int
    notes: dict[str, int]


def fingerprint_of(encoder: Encoder) -> str:
    """Name, version and settings: another value of any of them re-encodes everything."""
    return encoder_fingerprint(
        encoder.name, str(getattr(encoder, "version", "unversioned")), dict(getattr(encoder, "settings", {}))
    )


def encode_shard(encoder: Encoder, cache_root: str | None, keys: Sequence[str], payloads: Sequence[Any]) -> ShardResult:
    """Encode one shard and store its good rows in the cache (safe from any process)."""
    checked = getattr(encoder, "encode_checked", None)
    if checked is not None:
        x, failed, notes = checked(list(payloads))
    else:
        x, failed, notes = encoder.encode(list(payloads)), {}, {}
    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float32)
    if cache_root is not None:
        cache = EmbeddingCache(cache_root)
        good = [i for i in range(len(keys)) if i not in failed]
        cache.put_many([keys[i] for i in good], x[good])
    return ShardResult(x, dict(failed), dict(notes))


def local_map(fn: Callable[[Any], Any], shards: list[Any], *, progress: bool = False, desc: str = "") -> list[Any]:
    """Shards one after another in this process, with a bar over shards when asked."""
    if progress_enabled(progress) and len(shards) > 1:
        from tqdm.auto import tqdm

        return [fn(shard) for shard in tqdm(shards, desc=desc, unit="shard")]
    return [fn(shard) for shard in shards]


def embed(
    items: Sequence[tuple[str, Any]],
    encoder: Encoder,
    cache: EmbeddingCache | None,
    *,
    shard_size: int = 1024,
    map_shards: MapShards | None = None,
    progress: bool = False,
) -> EmbedResult:
    """``x [len(items), dim]`` float32: cached rows read, the rest encoded shard by shard."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    dim = int(encoder.dim)
    fingerprint = fingerprint_of(encoder)
    keys = [entry_key(digest, fingerprint) for digest, _ in items]
    if cache is not None:
        x, found = cache.get_many(keys, dim)
        stats = cache.stats
    else:
        x, found = np.zeros((len(items), dim), dtype=np.float32), np.zeros(len(items), dtype=bool)
        stats = CacheStats(misses=len(items))
    first: dict[str, int] = {}  # one encode per distinct key, even if many nodes share the content
    for i in np.flatnonzero(~found):
        first.setdefault(keys[i], int(i))
    todo = list(first.values())
    shards = [todo[s : s + shard_size] for s in range(0, len(todo), shard_size)]
    cache_root = str(cache.root) if cache is not None else None
    work = [([keys[i] for i in shard], [items[i][1] for i in shard]) for shard in shards]
    fn = functools.partial(_run_shard, encoder, cache_root)
    if map_shards is None:
        results = local_map(fn, work, progress=progress, desc=f"encode ({encoder.name})")
    else:
        results = map_shards(fn, work)
    failed_keys: dict[str, str] = {}
    notes: dict[str, int] = {}
    for shard, result in zip(shards, results, strict=True):
        for j, i in enumerate(shard):
            if j in result.failed:
                failed_keys[keys[i]] = result.failed[j]
            else:
                x[i] = result.x[j]
        for name, count in result.notes.items():
            notes[name] = notes.get(name, 0) + count
        if cache is not None:
            stats.written += len(shard) - len(result.failed)
    ok = np.ones(len(items), dtype=bool)
    failed: dict[int, str] = {}
    for i in np.flatnonzero(~found):
        if keys[i] in failed_keys:
            ok[i] = False
            failed[int(i)] = failed_keys[keys[i]]
        elif first[keys[i]] != i:
            x[i] = x[first[keys[i]]]
    return EmbedResult(x, ok, failed, stats, encoded=len(todo), notes=notes)


def _run_shard(encoder: Encoder, cache_root: str | None, work: tuple[list[str], list[Any]]) -> ShardResult:
    keys, payloads = work
    return encode_shard(encoder, cache_root, keys, payloads)


def cache_for(directory: str | Path | None) -> EmbeddingCache | None:
    """The cache at ``directory``; None (no cache) when the param is empty."""
    return EmbeddingCache(directory) if directory else None
