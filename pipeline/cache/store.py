"""The cache on disk: one checksummed file per embedding, written by rename.

Layout: ``ROOT/v1/ab/abcdef....emb`` (two-letter fan-out keeps folders small). An entry is a
16-byte header (magic, dim), the float32 vector, and a BLAKE2b digest of both; a read that finds
the wrong length or digest counts it as corrupt, deletes it and reports a miss, so the item is
simply encoded again. Writers write a private temporary file in the same folder and
``os.replace`` it into place: two processes writing the same key both write the same bytes and
the last rename wins, with no locks. The same layout works on a shared volume (NFS, EFS, SMB),
and maps one-to-one onto object-store keys (see the README).
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LAYOUT = "v1"
MAGIC = b"GFEMB\x00\x01\x00"
HEADER = struct.Struct("<8sQ")
DIGEST_SIZE = 16
SUFFIX = ".emb"
TMP_SUFFIX = ".tmp"


@dataclass
class CacheStats:
    """What one run found: ``hits`` served from the cache, ``misses`` encoded, ``corrupt`` redone."""

    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    written: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt, "written": self.written}


def _digest(header: bytes, payload: bytes) -> bytes:
    return hashlib.blake2b(header + payload, digest_size=DIGEST_SIZE).digest()


class EmbeddingCache:
    """Get and put float32 vectors by key under ``root``; a missing root is created on first put."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.entries = self.root / LAYOUT
        self.stats = CacheStats()

    def path(self, key: str) -> Path:
        return self.entries / key[:2] / f"{key}{SUFFIX}"

    def get(self, key: str, dim: int) -> np.ndarray | None:
        """The vector, or None when absent or corrupt (a corrupt entry is removed and counted)."""
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            self.stats.misses += 1
            return None
        vector = self._decode(blob, dim)
        if vector is None:
            self.stats.corrupt += 1
            self.stats.misses += 1
            path.unlink(missing_ok=True)
            return None
        self.stats.hits += 1
        try:
            os.utime(path)  # last use, for `graphfuse cache prune --older-than`
        except OSError:
            pass
        return vector

    @staticmethod
    def _decode(blob: bytes, dim: int) -> np.ndarray | None:
        expected = HEADER.size + 4 * dim + DIGEST_SIZE
        if len(blob) != expected:
            return None
        header, payload, digest = blob[: HEADER.size], blob[HEADER.size : -DIGEST_SIZE], blob[-DIGEST_SIZE:]
        magic, stored_dim = HEADER.unpack(header)
        if magic != MAGIC or stored_dim != dim or _digest(header, payload) != digest:
            return None
        return np.frombuffer(payload, dtype="<f4").copy()

    def put(self, key: str, vector: np.ndarray) -> None:
        """Write one entry atomically (temporary file in the same folder, then rename)."""
        payload = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        header = HEADER.pack(MAGIC, len(payload) // 4)
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=TMP_SUFFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header + payload + _digest(header, payload))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.stats.written += 1

    def get_many(self, keys: list[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """``(x [n, dim] float32, found [n] bool)``; rows not found are zeros."""
        x = np.zeros((len(keys), dim), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        for i, key in enumerate(keys):
            vector = self.get(key, dim)
            if vector is not None:
                x[i] = vector
                found[i] = True
        return x, found

    def put_many(self, keys: list[str], x: np.ndarray) -> None:
        for key, row in zip(keys, x, strict=True):
            self.put(key, row)
