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
from typing import Any, Iterator, Optional

from engine.errors import OmfaError


NAME_MAX = 255      # bytes in one file or folder name on every filesystem the app supports
PATH_MAX = 4096


class StorageError(OmfaError, OSError):
    """Writing failed (disk full, read-only folder, no permission). The message says which and where.

    ``StorageError(errno, message, path=...)``: ``errno`` as OSError keeps it; ``str()`` is the message only
    (not OSError's "[Errno 28] ..." form, which is for programmers)."""

    def __init__(self, code: int | None, message: str = "", *, path: str | Path | None = None,
                 hint: str | None = None) -> None:
        OSError.__init__(self, code, message)
        if path is not None:
            self.path = str(path)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return str(self.strerror if self.strerror is not None else self.args[0] if self.args else "")


def describe_os_error(e: OSError, path: str | Path) -> str:
    """One line a person can act on, for a failed write to ``path``."""
    reasons = {errno.ENOSPC: "the disk is full", errno.EROFS: "the drive is read-only",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EDQUOT: "the disk quota is exceeded", errno.ENAMETOOLONG: "the path is too long",
               errno.EISDIR: "it is a folder", errno.ENOTDIR: "part of the path is a file, not a folder",
               errno.EEXIST: "part of the path is a file, not a folder"}
    reason = reasons.get(e.errno, e.strerror or str(e))
    return f"could not write {path}: {reason}"


def _fail(e: OSError, path: str | Path) -> StorageError:
    return StorageError(e.errno, describe_os_error(e, path), path=path)


def _part_prefix(name: str) -> str:
    # the writer's process id is in the name, so a later start can tell a dead writer's leftover from a
    # file another running process is writing right now
    return f".{name}.{os.getpid()}."


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    On any failure the temporary file is removed and ``path`` is untouched; OS errors become
    :class:`StorageError` with a readable message.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_part_prefix(path.name), suffix=".part", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise _fail(e, path) from e
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, path)
    except OSError as e:
        tmp_path.unlink(missing_ok=True)
        if isinstance(e, StorageError):
            raise
        raise _fail(e, path) from e
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
        raise _fail(e, root) from e
    # anything else (an interruption) leaves the folder as a kill would: the store moves it aside at start


def check_writable(path: str | Path, folder: bool = False, need_bytes: int = 0) -> Path:
    """Check, before any work, that ``path`` can be written: a file (``folder=False``) or a folder to fill.

    Refused with one line naming the path (:class:`StorageError`): a file path that is a folder, a folder
    path that is a file, a path under a regular file, a name over 255 bytes or a path over 4096, a folder
    that cannot take a new file (read-only drive, no permission) and a disk with less than ``need_bytes``
    free. Creates the (parent) folder as the write would, and removes leftover ``*.part`` files of dead
    writers there. Returns the path, ``~`` expanded.
    """
    path = Path(path).expanduser()
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise StorageError(errno.ENAMETOOLONG, f"cannot write {_short(path)}: the name '{_short(part)}' is "
                               f"longer than {NAME_MAX} bytes", path=path, hint="use a shorter name")
    if len(os.fsencode(str(path.absolute()))) > PATH_MAX:
        raise StorageError(errno.ENAMETOOLONG, f"cannot write {_short(path)}: the path is longer than "
                           f"{PATH_MAX} bytes", path=path)
    if not folder and path.is_dir():
        raise StorageError(errno.EISDIR, f"cannot write {path}: it is a folder; give a file name "
                           f"(e.g. {path / 'result.png'})", path=path)
    if folder and path.exists() and not path.is_dir():
        raise StorageError(errno.ENOTDIR, f"cannot write into {path}: it is a file, not a folder", path=path)
    where = path if folder else path.parent
    absolute = where.absolute()
    for up in [*reversed(absolute.parents), absolute]:
        if up.exists() and not up.is_dir():
            raise StorageError(errno.ENOTDIR, f"cannot write {path}: {up} is a file, not a folder", path=path)
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=_part_prefix("probe"), suffix=".part", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise _fail(e, path) from e
    if need_bytes:
        try:
            st = os.statvfs(where)
            free = st.f_bavail * st.f_frsize
        except (OSError, AttributeError):  # no statvfs (Windows): the write itself will say
            free = need_bytes
        if free < need_bytes:
            raise StorageError(errno.ENOSPC, f"cannot write {path}: the disk is full ({free // 1024} KB free, "
                               f"about {max(1, need_bytes // 1024)} KB needed)", path=path)
    remove_leftover_parts(where)
    return path


def _short(text: str | Path, keep: int = 60) -> str:
    text = str(text)
    return text if len(text) <= keep else text[:keep // 2] + "…" + text[-keep // 2:]


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process (or no way to tell): leave its file alone
    return True


def remove_leftover_parts(folder: str | Path, recursive: bool = False, max_age: float = 3600.0) -> int:
    """Delete ``.<name>.<pid>.<random>.part`` files of interrupted writes in ``folder`` (and below, with
    ``recursive``): those whose writer process is gone, and old ones without a process id (older versions).
    Called at start (the app's data folder, a command's output folder). Returns how many were removed."""
    import re

    folder = Path(folder)
    pattern = re.compile(r"^\..+\.(\d+)\.[^.]+\.part$")
    removed = 0
    try:
        candidates = folder.rglob(".*.part") if recursive else folder.glob(".*.part")
        for p in candidates:
            m = pattern.match(p.name)
            try:
                if not p.is_file() or p.is_symlink():
                    continue
                if m and _pid_alive(int(m.group(1))):
                    continue
                if not m and time.time() - p.stat().st_mtime < max_age:
                    continue
                p.unlink()
                removed += 1
            except OSError:
                continue
    except OSError:
        return removed
    if removed:
        import logging

        logging.getLogger("omfa").info("removed %d leftover partial file(s) of interrupted writes in %s",
                                       removed, folder)
    return removed


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


MAX_JSON_DEPTH = 32             # our files nest 4 deep at most; deeper is damage or an attack
MAX_JSON_BYTES = 64 << 20       # settings, configs and states are kilobytes; a larger file is not one of ours


class JsonError(OmfaError, ValueError):
    """A JSON file that cannot be used: not JSON, too deep, too large, NaN where JSON has none. Names the file
    and, for deep nesting, the top-level field it starts under; ``reason`` is the message without the file."""

    reason: str = ""

    def __init__(self, where: str, reason: str, path: str | Path | None = None, field: str | None = None) -> None:
        super().__init__(f"{where} {reason}", path=path, field=field)
        self.reason = reason


def _depth_problem(data: Any, limit: int) -> Optional[str]:
    """The top-level key (or index) under which ``data`` nests deeper than ``limit``, or None. Iterative:
    walking a hostile structure must not itself recurse."""
    tops = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in tops:
        stack = [(value, 2)]
        while stack:
            item, depth = stack.pop()
            if depth > limit:
                return str(key)
            if isinstance(item, dict):
                stack.extend((v, depth + 1) for v in item.values())
            elif isinstance(item, list):
                stack.extend((v, depth + 1) for v in item)
    return None


def _no_constant(name: str):
    raise ValueError(f"it holds {name}, which is not a number JSON allows")


def parse_json(text: str | bytes, path: str | Path | None = None, allow_nan: bool = False,
               max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for files a person or a program may have damaged: :class:`JsonError` naming ``path``
    for invalid JSON, nesting deeper than ``max_depth`` (200,000 levels would crash the parser with a
    RecursionError) and NaN/Infinity (unless ``allow_nan``)."""
    where = str(path) if path is not None else "the JSON text"
    try:
        data = json.loads(text) if allow_nan else json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        import re

        # the parser gave up somewhere down; the first key of the object is where the nesting starts
        head = text[:300].decode("utf-8", "replace") if isinstance(text, bytes) else text[:300]
        m = re.match(r'\s*\{\s*"([^"\\]{1,80})"\s*:', head)
        field = m.group(1) if m else None
        under = f": '{field}' goes" if field else ": it goes"
        raise JsonError(where, f"is nested too deeply to be read{under} more than {max_depth} levels deep",
                        path=path, field=field) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise JsonError(where, f"is invalid JSON: {e}", path=path) from None
    field = _depth_problem(data, max_depth)
    if field is not None:
        raise JsonError(where, f"is nested too deeply to be read: '{field}' goes more than {max_depth} levels "
                               "deep", path=path, field=field)
    return data


def load_json(path: str | Path, allow_nan: bool = False, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read and :func:`parse_json` a file. Refuses what is not a regular file (a FIFO would block the read
    forever, a device never ends) and files over ``max_bytes``; OSError (e.g. FileNotFoundError) passes
    through for the caller to word."""
    import stat

    path = Path(path)
    with open(path, "rb", opener=_nonblocking_opener) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise JsonError(str(path), "is not a regular file (a named pipe, a device or a folder)", path=path)
        if st.st_size > max_bytes:
            raise JsonError(str(path), f"is {st.st_size // (1 << 20)} MB; a file of this kind is at most "
                                       f"{max_bytes // (1 << 20)} MB", path=path)
        raw = f.read(max_bytes + 1)
    if b"\x00" in raw[:8192]:
        raise JsonError(str(path), "is a binary file, not JSON text", path=path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise JsonError(str(path), "is not UTF-8 text (a binary file?)", path=path) from None
    return parse_json(text, path, allow_nan=allow_nan)


def _nonblocking_opener(path: str, flags: int) -> int:
    # O_NONBLOCK: opening a FIFO for reading with no writer would otherwise wait forever (regular files
    # ignore the flag). O_NOCTTY: a terminal device never becomes our controlling terminal.
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))


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
        data = load_json(path, allow_nan=True)
        if not isinstance(data, expect):
            raise ValueError(f"expected a JSON {expect.__name__}, found {type(data).__name__}")
        return data, ""
    except JsonError as e:
        why = f"it {e.reason}"
    except (OSError, ValueError, UnicodeDecodeError) as e:
        why = str(e)
    try:
        moved = quarantine(path)
        where = f"it was moved aside to {moved.name}"
    except OSError as err:
        where = f"it could not be moved aside ({err.strerror or err})"
    return None, f"{path} was damaged ({why}); {where}"
