"""Cache keys: what makes two embeddings the same embedding.

An embedding is a function of (content, encoder name, encoder version, preprocessing settings);
the key hashes exactly those, so a changed item, another encoder or another setting misses,
while a renamed or moved file with the same bytes hits.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def content_digest(content: bytes | str) -> str:
    """SHA-256 of the item: a text's UTF-8 bytes, or an image file's raw bytes."""
    data = content.encode("utf-8", errors="surrogatepass") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (a catalogue photo can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def encoder_fingerprint(name: str, version: str, settings: dict[str, Any]) -> str:
    """A hash of everything about the encoder that changes its output."""
    blob = json.dumps({"name": name, "version": version, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def entry_key(digest: str, fingerprint: str) -> str:
    """The cache key of one item under one encoder."""
    return hashlib.sha256(f"{fingerprint}:{digest}".encode("ascii")).hexdigest()
