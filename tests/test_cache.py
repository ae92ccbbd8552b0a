"""The embedding cache: hits, misses, changed items and encoders, corrupt entries, two writers,
interrupted runs resuming from their last shard, and pruning. Real weight-free encoders (tfidf)."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cache import EmbeddingCache, content_digest, encoder_fingerprint, entry_key, parse_age, parse_size, prune
from pipeline.cli import app
from pipeline.encoders.tfidf import TfidfTextEncoder
from pipeline.features.runner import embed

pytestmark = pytest.mark.unit

TEXTS = [
    f"product {i}: a {colour} {thing}"
    for i, (colour, thing) in enumerate(
        [(c, t) for c in ("red", "blue", "green", "black", "white") for t in ("shirt", "lamp", "chair", "mug")]
    )
]


def items(texts: list[str]) -> list[tuple[str, str]]:
    return [(content_digest(t), t) for t in texts]


@pytest.fixture(scope="module")
def tfidf() -> TfidfTextEncoder:
    return TfidfTextEncoder(dim=8).fit(TEXTS)


def test_miss_then_hit_gives_the_same_vectors(tmp_path: Path, tfidf: TfidfTextEncoder) -> None:
    cache = EmbeddingCache(tmp_path)
    first = embed(items(TEXTS), tfidf, cache, shard_size=7)
    assert (first.encoded, first.stats.hits, first.stats.misses, first.stats.written) == (20, 0, 20, 20)
    again = embed(items(TEXTS), tfidf, EmbeddingCache(tmp_path), shard_size=7)
    assert (again.encoded, again.stats.hits, again.stats.misses) == (0, 20, 0)
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_allclose(first.x, tfidf.encode(TEXTS).numpy(), rtol=1e-6)


def test_one_changed_item_is_the_only_one_encoded(tmp_path: Path, tfidf: TfidfTextEncoder) -> None:
    embed(items(TEXTS), tfidf, EmbeddingCache(tmp_path))
    changed = list(TEXTS)
    changed[5] = "product 5: a blue lamp, now on sale"
    result = embed(items(changed), tfidf, EmbeddingCache(tmp_path))
    assert (result.encoded, result.stats.hits) == (1, 19)
    np.testing.assert_allclose(result.x[5], tfidf.encode([changed[5]]).numpy()[0], rtol=1e-6)
    # Duplicated content is encoded once and shared.
    dup = embed(items(["brand new", "brand new"]), tfidf, EmbeddingCache(tmp_path))
    assert dup.encoded == 1 and np.array_equal(dup.x[0], dup.x[1])


def test_another_encoder_or_setting_encodes_everything(tmp_path: Path, tfidf: TfidfTextEncoder) -> None:
    embed(items(TEXTS), tfidf, EmbeddingCache(tmp_path))
    other = TfidfTextEncoder(dim=4).fit(TEXTS)
    assert embed(items(TEXTS), other, EmbeddingCache(tmp_path)).encoded == 20
    refit = TfidfTextEncoder(dim=8).fit(TEXTS[:10])  # another train split: another fitted state
    assert embed(items(TEXTS), refit, EmbeddingCache(tmp_path)).encoded == 20
    assert encoder_fingerprint("a", "1", {"size": 224}) != encoder_fingerprint("a", "1", {"size": 256})
    assert encoder_fingerprint("a", "1", {}) != encoder_fingerprint("a", "2", {})


def test_corrupt_entries_are_detected_removed_and_recomputed(tmp_path: Path, tfidf: TfidfTextEncoder) -> None:
    first = embed(items(TEXTS), tfidf, EmbeddingCache(tmp_path))
    fingerprint = encoder_fingerprint(tfidf.name, tfidf.version, tfidf.settings)
    paths = [EmbeddingCache(tmp_path).path(entry_key(content_digest(TEXTS[i]), fingerprint)) for i in (0, 1, 2)]
    blob = bytearray(paths[0].read_bytes())
    blob[20] ^= 0xFF  # a flipped bit in the vector
    paths[0].write_bytes(bytes(blob))
    paths[1].write_bytes(paths[1].read_bytes()[:-9])  # truncated
    paths[2].write_bytes(b"")  # emptied
    cache = EmbeddingCache(tmp_path)
    result = embed(items(TEXTS), tfidf, cache)
    assert (result.stats.corrupt, result.encoded, result.stats.hits) == (3, 3, 17)
    np.testing.assert_array_equal(result.x, first.x)
    assert all(p.stat().st_size > 0 for p in paths)  # rewritten whole


def _writer(root: str, offset: int, count: int) -> None:
    cache = EmbeddingCache(root)
    for i in range(offset, offset + count):
        cache.put(f"{i:064x}", np.full(16, float(i), dtype=np.float32))


def test_two_concurrent_writers_leave_only_whole_entries(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(str(tmp_path), offset, 300)) for offset in (0, 150)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    cache = EmbeddingCache(tmp_path)
    for i in range(450):
        vector = cache.get(f"{i:064x}", 16)
        assert vector is not None and np.all(vector == float(i))
    assert cache.stats.corrupt == 0
    assert not list(tmp_path.rglob("*.tmp"))


class Interrupted(Exception):
    pass


class DiesAfter:
    """The real encoder, killed (an exception) when its third shard starts: a crashed run."""

    def __init__(self, encoder: TfidfTextEncoder, shards: int) -> None:
        self.encoder, self.left = encoder, shards
        self.name, self.dim, self.version, self.settings = encoder.name, encoder.dim, encoder.version, encoder.settings

    def encode(self, texts: list[str]):  # noqa: ANN201
        if self.left == 0:
            raise Interrupted
        self.left -= 1
        return self.encoder.encode(texts)


def test_an_interrupted_run_resumes_from_its_last_finished_shard(tmp_path: Path, tfidf: TfidfTextEncoder) -> None:
    with pytest.raises(Interrupted):
        embed(items(TEXTS), DiesAfter(tfidf, shards=2), EmbeddingCache(tmp_path), shard_size=6)
    resumed = embed(items(TEXTS), tfidf, EmbeddingCache(tmp_path), shard_size=6)
    assert (resumed.stats.hits, resumed.encoded) == (12, 8)


def test_prune_by_age_and_size(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    for i in range(10):
        cache.put(f"{i:064x}", np.zeros(64, dtype=np.float32))
    old = time.time() - 40 * 86400
    for i in range(4):
        os.utime(cache.path(f"{i:064x}"), (old, old))
    report = prune(tmp_path, older_than=parse_age("30d"))
    assert (report.removed, report.kept) == (4, 6)
    entry = cache.path(f"{9:064x}").stat().st_size
    runner = CliRunner()
    result = runner.invoke(app, ["cache", "prune", "--max-size", f"{3 * entry}B", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "removed 3 entries" in result.output and "kept 3" in result.output
    assert runner.invoke(app, ["cache", "prune", "--dir", str(tmp_path)]).exit_code == 1
    assert parse_size("1.5GiB") == int(1.5 * 1024**3) and parse_age("12h") == 43200
    with pytest.raises(ValueError, match="unit"):
        parse_size("ten gigs")
