"""Images out of a benchmark's archive (tar, tar.gz, zip) or folder, safely.

Nothing is extracted by the name the archive gives it: each member's file name (its last path
part) names a node, through ``node_for``, and is written as ``images/<node id><suffix>`` in the
new dataset. So ``../../etc/passwd``, absolute paths and links cannot write anywhere else
(zip-slip), links and devices are never followed, and every byte read is counted against limits
(per image and in total), whatever sizes the archive's headers claim (zip bombs). Every image
is decoded once as the pipeline will decode it; what is skipped is counted with the reason.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from pipeline.errors import DatasetError
from pipeline.images import load_rgb
from pipeline.importers.node_ids import NotANode

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
_COPY_BLOCK = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    max_image_bytes: int = 64 << 20  # one image larger than this is skipped
    max_total_bytes: int = 64 << 30  # all images together; beyond this the import stops
    max_members: int = 20_000_000


DEFAULT_LIMITS = ArchiveLimits()


@dataclass
class ImageReport:
    written: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count

    def lines(self, source: str) -> list[str]:
        out = [f"{source}: {self.written} images imported"]
        out += [f"{source}: {n} member(s) skipped: {why}" for why, n in sorted(self.skipped.items())]
        return out


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _members(source: Path) -> Iterator[tuple[str, str, int, Callable[[], IO[bytes]] | None]]:
    """(name, kind, claimed size, opener) per member; kind is 'file' or why it is not one."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_symlink():
                yield path.name, "a link", 0, None
            elif path.is_file():
                yield path.name, "file", path.stat().st_size, lambda p=path: p.open("rb")
        return
    if source.name.lower().endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                mode = info.external_attr >> 16
                if info.is_dir():
                    continue
                if stat.S_ISLNK(mode):
                    yield info.filename, "a link", 0, None
                else:
                    yield info.filename, "file", info.file_size, lambda i=info: archive.open(i)
        return
    with tarfile.open(source, "r:*") as archive:
        for member in archive:
            if member.isdir():
                continue
            if not member.isfile():
                yield member.name, "a link or special file", 0, None
            else:
                yield member.name, "file", member.size, lambda m=member: archive.extractfile(m)


def _copy_capped(opener: Callable[[], IO[bytes]], target: Path, cap: int) -> int | None:
    """Copy at most ``cap`` bytes; None (and no file) if the member holds more."""
    total = 0
    with opener() as src, target.open("wb") as dst:
        while block := src.read(_COPY_BLOCK):
            total += len(block)
            if total > cap:
                break
            dst.write(block)
    if total > cap:
        target.unlink()
        return None
    return total


def import_images(
    source: Path,
    images_dir: Path,
    node_for: Callable[[str], str | NotANode | None],
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> tuple[dict[str, str], ImageReport]:
    """Write each image whose file stem ``node_for`` maps to a node; return node id -> file name.
    ``node_for`` gives None (no such node) or :class:`NotANode` (the reason) for a name it refuses."""
    images_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, str] = {}
    report = ImageReport()
    total = 0
    try:
        for count, (name, kind, claimed, opener) in enumerate(_members(source), start=1):
            if count > limits.max_members:
                raise DatasetError(source, f"more than {limits.max_members} members: refused (raise the limit)")
            base = PurePosixPath(name.replace("\\", "/")).name
            suffix = PurePosixPath(base).suffix.lower()
            if opener is None:
                report.skipped[f"{kind}, never followed"] += 1
                continue
            if suffix not in IMAGE_SUFFIXES:
                report.skipped["not an image file name"] += 1
                continue
            node = node_for(PurePosixPath(base).stem)
            if node is None or isinstance(node, NotANode):
                report.skipped[node.reason if node else "its name is no node of the graph"] += 1
                continue
            if node in found:
                report.skipped["a second image for the same node"] += 1
                continue
            if claimed > limits.max_image_bytes:
                report.skipped[f"larger than {limits.max_image_bytes} bytes"] += 1
                continue
            target = images_dir / f"{node}{suffix}"
            written = _copy_capped(opener, target, min(limits.max_image_bytes, limits.max_total_bytes - total))
            if written is None:
                if total + limits.max_image_bytes > limits.max_total_bytes:
                    raise DatasetError(source, f"the images exceed {limits.max_total_bytes} bytes in all: refused")
                report.skipped[f"larger than {limits.max_image_bytes} bytes"] += 1
                continue
            total += written
            try:
                load_rgb(target)  # decoded as validate will: a broken image is skipped here, not fatal later
            except DatasetError as exc:
                target.unlink()
                report.skipped[f"cannot be decoded ({exc.message.split(':')[0]})"] += 1
                continue
            found[node] = target.name
            report.written += 1
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(source, f"cannot read the image archive: {exc}") from exc
    return found, report


def image_column(
    sources: list[Path],
    images_dir: Path,
    num_nodes: int,
    node_for: Callable[[str], str | NotANode | None],
    limits: ArchiveLimits,
) -> tuple[list[str], dict[str, int], list[str]]:
    """The image cell of each node (index = node id) from every source; counts and notes per source."""
    cells = [""] * num_nodes
    counts: dict[str, int] = {}
    notes: list[str] = []
    for source in sources:
        found, report = import_images(source, images_dir, node_for, limits)
        for node, file in found.items():
            cells[int(node)] = cells[int(node)] or file
        notes.extend(report.lines(source.name)[1:])
        counts[f"images from {source.name}"] = report.written
    return cells, counts, notes
