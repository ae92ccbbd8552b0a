"""Atomic writes: a stage that fails (or is killed) half-way leaves no half-written output behind.

Every file goes to a temporary sibling first and is renamed into place, which is atomic on
POSIX file systems. A multi-file output (a folder) is built whole in a temporary sibling folder
and swapped in, so it is always the old set or the new set, never a mix. Outputs get the
permissions a plain ``open()`` would give them (0666/0777 less the umask), not the 0600/0700
that temporary files are created with.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import GraphFuseError

#: No space left, a quota, or a file-size limit: the user's to fix, not a bug.
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
TMP_SUFFIX = ".tmp"
OLD_SUFFIX = ".old"


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (threads see no blip)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _normal_permissions(path: Path) -> None:
    """What the user's umask gives a new file or folder (the whole tree for a folder)."""
    mask = current_umask()
    if path.is_dir():
        os.chmod(path, 0o777 & ~mask)
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o777 & ~mask)
            for name in filenames:
                full = os.path.join(dirpath, name)
                if not os.path.islink(full):
                    os.chmod(full, (os.stat(full).st_mode & 0o111 | 0o666) & ~mask)
    else:
        os.chmod(path, 0o666 & ~mask)


def remove_stale_temporaries(target: str | Path) -> None:
    """Temporaries a killed writer left beside ``target`` (``.NAME.*.tmp``/``.old``) are removed."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    ours = re.compile(rf"^\.{re.escape(target.name)}\.[A-Za-z0-9_]{{8}}({TMP_SUFFIX}|{OLD_SUFFIX})$")
    for sibling in target.parent.glob(f".{target.name}.*"):
        if ours.match(sibling.name):
            if sibling.is_dir() and not sibling.is_symlink():
                shutil.rmtree(sibling, ignore_errors=True)
            else:
                sibling.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _normal_permissions(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise GraphFuseError(
                f"{target}: cannot write it, {exc.strerror or 'the disk is full'}; free some space and rerun "
                f"(the previous {target.name}, if any, is intact)"
            ) from exc
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty folder named like ``target`` inside a temporary sibling; on success it
    replaces ``target`` whole. A failure (or a kill) leaves the previous ``target`` untouched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    holder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent))
    staged = holder / target.name
    staged.mkdir()
    try:
        yield staged
        _normal_permissions(staged)
        _swap_in(staged, target)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _swap_in(staged: Path, target: Path) -> None:
    """Move ``staged`` onto ``target``: the old folder is renamed aside first (between the two
    renames ``target`` is absent, never half-written), then removed."""
    if target.is_symlink() or target.is_file():
        target.unlink()
    if not target.exists():
        os.rename(staged, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=OLD_SUFFIX, dir=target.parent))
    os.rmdir(aside)
    os.rename(target, aside)
    os.rename(staged, target)
    shutil.rmtree(aside, ignore_errors=True)


def write_with(target: str | Path, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result onto ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_text(target: str | Path, text: str) -> Path:
    return write_with(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(target: str | Path, obj: Any) -> Path:
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
