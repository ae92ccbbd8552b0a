"""A content-addressed embedding cache: an item is encoded once per encoder and settings, ever.

Keys hash the item's content (image bytes, text string) with the encoder's name, version and
preprocessing settings (:mod:`pipeline.cache.keys`); entries are one small checksummed file
each, written by rename, so concurrent writers and killed runs are safe (:mod:`.store`);
:mod:`.prune` bounds it by age or size. It lives outside DVC's outputs on purpose.
"""

from pipeline.cache.keys import content_digest, encoder_fingerprint, entry_key
from pipeline.cache.prune import PruneReport, parse_age, parse_size, prune
from pipeline.cache.store import CacheStats, EmbeddingCache

__all__ = [
    "CacheStats",
    "EmbeddingCache",
    "PruneReport",
    "content_digest",
    "encoder_fingerprint",
    "entry_key",
    "parse_age",
    "parse_size",
    "prune",
]
