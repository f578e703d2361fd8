"""Crash-safe files: every write goes to a temporary file that is renamed over the target, so a reader only
ever sees the old or the new content; a file that cannot be read at start is moved aside, never deleted.

Used for settings, gallery entries, result PNGs, the wardrobe and caches.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from engine.errors import OmfaError


class StorageError(OmfaError, OSError):
    """Writing failed (disk full, read-only folder, no permission). The message says which and where."""


def describe_os_error(e: OSError, path: str | Path) -> str:
    """One line a person can act on, for a failed write to ``path``."""
    reasons = {errno.ENOSPC: "the disk is full", errno.EROFS: "the drive is read-only",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EDQUOT: "the disk quota is exceeded", errno.ENAMETOOLONG: "the path is too long"}
    reason = reasons.get(e.errno, e.strerror or str(e))
    return f"could not write {path}: {reason}"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    On any failure the temporary file is removed and ``path`` is untouched; OS errors become
    :class:`StorageError` with a readable message.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise StorageError(e.errno, describe_os_error(e, path)) from e
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, path)
    except OSError as e:
        tmp_path.unlink(missing_ok=True)
        raise StorageError(e.errno, describe_os_error(e, path)) from e
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextmanager
def staging_folder(root: str | Path, prefix: str) -> Iterator[Path]:
    """Yield a new hidden folder ``root/<prefix>…`` to fill with a record's files; the caller renames it into
    place as the block's last step (the commit point: before it the record does not exist, after it it is
    complete). If a write fails, the folder is removed and the OS error becomes :class:`StorageError`.
    Leftovers of a killed process keep the prefix, so the store can find them at its next start."""
    import shutil

    root = Path(root)
    stage = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        yield stage
    except OSError as e:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        if isinstance(e, StorageError):
            raise
        raise StorageError(e.errno, describe_os_error(e, root)) from e
    # anything else (an interruption) leaves the folder as a kill would: the store moves it aside at start


def _fsync(path: Path) -> None:
    # The data must be on disk before the rename, or a power cut can leave an empty file under the new name.
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=1))


def quarantine(path: str | Path) -> Path:
    """Move a damaged file (or folder) aside as ``name.damaged-YYYYmmdd-HHMMSS`` and return the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, target)
    return target


def read_json(path: str | Path, expect: type = dict) -> tuple[Any, str]:
    """(data, note). A missing file gives (None, ""). A file that is not valid JSON of type ``expect`` is
    moved aside (:func:`quarantine`) and gives (None, a note saying where it went)."""
    path = Path(path)
    if not path.exists():
        return None, ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, expect):
            raise ValueError(f"expected a JSON {expect.__name__}, found {type(data).__name__}")
        return data, ""
    except (OSError, ValueError, UnicodeDecodeError) as e:
        try:
            moved = quarantine(path)
            where = f"it was moved aside to {moved.name}"
        except OSError as err:
            where = f"it could not be moved aside ({err.strerror or err})"
        return None, f"{path} was damaged ({e}); {where}"
