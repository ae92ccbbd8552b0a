"""Bounding the cache: ``graphfuse cache prune --older-than 30d --max-size 20GB``.

Age is time since last use (a hit refreshes an entry's mtime). Size pruning removes the least
recently used entries first. Temporary files a killed writer left behind are removed when
older than an hour. Safe while other runs use the cache: a removed entry is just a miss.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.cache.store import LAYOUT, SUFFIX, TMP_SUFFIX

STALE_TMP_SECONDS = 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZES = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12}
_SIZES |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '45s', '2w' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise ValueError(f"age {text!r}: expected a number and a unit s, m, h, d or w (e.g. 30d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_size(text: str) -> int:
    """'20GB', '500MB', '1.5GiB', '1000' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text.lower())
    if not match or match.group(2) not in _SIZES:
        raise ValueError(f"size {text!r}: expected a number and a unit B, KB, MB, GB, TB (or KiB, MiB, GiB)")
    return int(float(match.group(1)) * _SIZES[match.group(2)])


@dataclass
class PruneReport:
    removed: int = 0
    freed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    stale_temporaries: int = 0


def prune(root: str | Path, *, older_than: float | None = None, max_size: int | None = None) -> PruneReport:
    """Remove entries unused for ``older_than`` seconds, then the oldest until under ``max_size`` bytes."""
    report = PruneReport()
    entries_dir = Path(root) / LAYOUT
    if not entries_dir.is_dir():
        return report
    now = time.time()
    entries: list[tuple[float, int, str]] = []
    for dirpath, _, filenames in os.walk(entries_dir):
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                info = os.stat(full)
            except FileNotFoundError:
                continue
            if name.endswith(TMP_SUFFIX):
                if now - info.st_mtime > STALE_TMP_SECONDS:
                    _remove(full)
                    report.stale_temporaries += 1
            elif name.endswith(SUFFIX):
                entries.append((info.st_mtime, info.st_size, full))
    entries.sort()  # oldest first
    keep: list[tuple[float, int, str]] = []
    for mtime, size, full in entries:
        if older_than is not None and now - mtime > older_than:
            report.removed += 1
            report.freed_bytes += size if _remove(full) else 0
        else:
            keep.append((mtime, size, full))
    total = sum(size for _, size, _ in keep)
    start = 0
    if max_size is not None:
        while start < len(keep) and total > max_size:
            _, size, full = keep[start]
            report.removed += 1
            report.freed_bytes += size if _remove(full) else 0
            total -= size
            start += 1
    report.kept = len(keep) - start
    report.kept_bytes = total
    return report


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
