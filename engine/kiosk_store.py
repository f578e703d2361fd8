"""Kiosk mode's headless rules: the administrator PIN, customer sessions and their purge, the drop folder,
the idle clock and the store's export folder. No Qt here, so every rule is unit-tested without a display
(omfa_desktop/kiosk/ is the touch screen built on it).

Privacy model
-------------
A customer's photo and everything made from it live in ONE folder, ``<kiosk root>/session-<random>/``,
and nowhere else: no gallery, no wardrobe, no recent files, no thumbnails written by the app. Ending a
session (the Done button, the idle timeout, a failed job) deletes that folder; starting the app deletes any
left over by a crash or a power cut. The log says how many files/sessions were purged and why, never a
name or a path that could hold customer data (session folder names are random, but are still not logged:
a log line must not let anyone pair a log entry with a customer's files).

PIN
---
Stored as ``pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`` (PBKDF2-HMAC-SHA256, 16-byte random salt,
600,000 iterations by default as OWASP recommends for this hash), compared in constant time. A PIN has few
possible values, so the hash only slows down someone who has copied the settings file; what protects the
kiosk in front of the screen is :class:`PinGuard`'s lockout after wrong attempts.

The fact that a PIN was ever set, and the wrong-attempt count, live in a second small file,
``<data>/kiosk-pin-state.json`` (:class:`PinState`), apart from the settings: a damaged settings file is moved
aside and its PIN is lost, but the kiosk still knows one existed and waits for staff ("needs staff") instead
of offering PIN *setup* to whoever stands at the screen (:func:`start_page`). A damaged or unreadable state
file counts as "a PIN was set" (fail closed). A restart keeps the lockout count and what is left of a pause.
"""
from __future__ import annotations

import errno
import hashlib
import hmac
import logging
import math
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from engine.errors import OmfaError
from engine.persist import StorageError

log = logging.getLogger("omfa.kiosk")

# ============================================================================================ PIN
PIN_SCHEME = "pbkdf2-sha256"
PIN_ITERATIONS = 600_000        # OWASP 2023 for PBKDF2-HMAC-SHA256; about 0.3 s here, once per PIN entry
PIN_MIN_ITERATIONS = 200_000    # records with fewer are refused (a hand-edited or downgraded settings file)
PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 12
FREE_ATTEMPTS = 3               # wrong PINs before the first pause


def pin_problem(pin: str) -> str:
    """Why ``pin`` cannot be a PIN ("" when it can): digits only, 4 to 12 of them, not all the same."""
    if not pin.isdigit() or not pin.isascii():
        return "a PIN is made of digits only"
    if not PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH:
        return f"a PIN has {PIN_MIN_LENGTH} to {PIN_MAX_LENGTH} digits"
    if len(set(pin)) == 1:
        return "a PIN cannot be one digit repeated"
    return ""


class PinError(OmfaError, ValueError):
    """A kiosk PIN, or its stored record, that cannot be used; ``field`` is the kiosk_pin setting."""

    field = "kiosk_pin"


def hash_pin(pin: str, iterations: int = PIN_ITERATIONS, salt: Optional[bytes] = None) -> str:
    """The stored form of ``pin``: ``pbkdf2-sha256$iterations$salt$hash`` (hex). PinError (a ValueError) for
    a bad PIN."""
    problem = pin_problem(pin)
    if problem:
        raise PinError(problem)
    if iterations < PIN_MIN_ITERATIONS:
        raise PinError(f"at least {PIN_MIN_ITERATIONS} iterations")
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return f"{PIN_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def parse_pin_record(record: str) -> tuple[int, bytes, bytes]:
    """(iterations, salt, digest) of a stored PIN; PinError (a ValueError) saying what is wrong with it."""
    parts = record.split("$")
    if len(parts) != 4 or parts[0] != PIN_SCHEME:
        raise PinError(f"not a {PIN_SCHEME} record (expected {PIN_SCHEME}$iterations$salt$hash)")
    try:
        iterations, salt, digest = int(parts[1]), bytes.fromhex(parts[2]), bytes.fromhex(parts[3])
    except ValueError:
        raise PinError("the iterations, salt or hash of the PIN record cannot be read") from None
    if iterations < PIN_MIN_ITERATIONS or iterations > 100_000_000:
        raise PinError(f"the PIN record's iteration count {iterations} is out of range "
                         f"({PIN_MIN_ITERATIONS} or more)")
    if len(salt) < 8 or len(digest) != 32:
        raise PinError("the PIN record's salt or hash has the wrong length")
    return iterations, salt, digest


def verify_pin(pin: str, record: str) -> bool:
    """Whether ``pin`` matches ``record``; False (never an error) for a malformed PIN or record."""
    try:
        iterations, salt, digest = parse_pin_record(record)
    except ValueError:
        return False
    if not pin.isdigit() or not pin.isascii() or len(pin) > PIN_MAX_LENGTH:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return hmac.compare_digest(candidate, digest)


class PinGuard:
    """Rate-limited PIN checks: after ``free_attempts`` wrong PINs in a row, each further wrong one locks the
    keypad for ``base_lockout`` seconds, doubling up to ``max_lockout``. A right PIN resets the count.

    While locked, :meth:`attempt` refuses without hashing (so a locked keypad costs no CPU and leaks no
    timing). ``clock`` is injectable for tests (monotonic seconds).
    """

    def __init__(self, record: str, free_attempts: int = FREE_ATTEMPTS, base_lockout: float = 30.0,
                 max_lockout: float = 15 * 60.0, clock: Callable[[], float] = time.monotonic,
                 state: Optional["PinState"] = None) -> None:
        self.record = record
        self.free_attempts = free_attempts
        self.base_lockout = base_lockout
        self.max_lockout = max_lockout
        self.clock = clock
        self.state = state
        self.failures = 0
        self.locked_until = 0.0
        if state is not None:  # a restart (or a pulled plug) must not reset the count or end a pause
            failures, left = state.lockout(free_attempts)
            self.failures = failures
            if left > 0:
                self.locked_until = self.clock() + min(left, max_lockout)

    def _save(self) -> None:
        if self.state is not None:
            self.state.save_lockout(self.failures, self.locked_for())

    def locked_for(self) -> float:
        """Seconds until the keypad unlocks (0 when it is not locked)."""
        return max(0.0, self.locked_until - self.clock())

    def attempts_left(self) -> int:
        """Wrong PINs allowed before the next lockout."""
        return max(0, self.free_attempts - self.failures)

    def attempt(self, pin: str) -> str:
        """"ok", "wrong" or "locked"."""
        if self.locked_for() > 0:
            return "locked"
        if self.record and verify_pin(pin, self.record):
            if self.failures:
                self.failures = 0
                self._save()
            return "ok"
        self.failures += 1
        over = self.failures - self.free_attempts
        if over >= 0:
            self.locked_until = self.clock() + min(self.max_lockout, self.base_lockout * 2 ** over)
            log.warning("kiosk: %d wrong PIN attempts in a row; keypad locked for %.0f s", self.failures,
                        self.locked_for())
        self._save()
        return "wrong"


def pin_state_path() -> Path:
    from engine.paths import user_data_dir

    return user_data_dir() / "kiosk-pin-state.json"


class PinState:
    """What must survive a damaged settings file: that a PIN was ever set here, and the lockout.

    ``kiosk-pin-state.json`` holds ``{"pin_set": true, "failures": n, "locked_until": <wall-clock s>}`` and
    never the PIN or its hash. Missing file: no PIN was ever set. A file that exists but cannot be read or
    parsed counts as a set PIN with the keypad one wrong attempt from a pause (fail closed). ``wall`` is
    injectable for tests (epoch seconds: a pause must outlive a restart, which a monotonic clock does not).
    """

    def __init__(self, path: str | Path | None = None, wall: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path is not None else pin_state_path()
        self.wall = wall

    def read(self) -> Optional[dict]:
        """The state; None when there is no file; ``{"damaged": True}`` when it cannot be read."""
        import json

        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):
            return {"damaged": True}
        if not isinstance(data, dict) or data.get("pin_set") is not True:
            return {"damaged": True}
        return data

    def pin_was_set(self) -> bool:
        return self.read() is not None

    def lockout(self, free_attempts: int) -> tuple[int, float]:
        """(wrong attempts in a row, seconds of pause left) as the last run left them."""
        data = self.read()
        if data is None:
            return 0, 0.0
        if data.get("damaged"):
            return free_attempts, 0.0
        failures, until = data.get("failures", 0), data.get("locked_until", 0)
        if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0 \
                or not isinstance(until, (int, float)) or isinstance(until, bool) or not math.isfinite(until):
            return free_attempts, 0.0
        return min(failures, 10_000), max(0.0, float(until) - self.wall())

    def _write(self, failures: int, seconds_left: float) -> bool:
        from engine.persist import StorageError, write_json

        try:
            write_json(self.path, {"pin_set": True, "failures": int(failures),
                                   "locked_until": self.wall() + seconds_left if seconds_left > 0 else 0})
            return True
        except StorageError as e:  # the kiosk keeps working; the log says the count will not survive
            log.error("kiosk: the PIN state could not be saved (%s)", e)
            return False

    def mark_pin_set(self, keep_lockout: bool = True) -> bool:
        """Record that a PIN exists (after it is stored; and at start for settings older than this file).
        ``keep_lockout=False`` (a new PIN set by staff) clears the count."""
        data = self.read()
        if keep_lockout and data is not None and not data.get("damaged"):
            return True  # already recorded: nothing to write
        failures, left = self.lockout(FREE_ATTEMPTS) if keep_lockout else (0, 0.0)
        return self._write(failures, left)

    def save_lockout(self, failures: int, seconds_left: float) -> None:
        self._write(failures, seconds_left)


def start_page(record: str, notes: list[str], state: PinState) -> str:
    """Where a starting kiosk goes: "start" (a readable PIN), "setup" (first start: no PIN was ever set on this
    computer) or "needs-staff" (a PIN was set but cannot be read now: a damaged or hand-edited settings file,
    or one moved aside; only ``omfa-desktop --set-kiosk-pin``, run from the OS, unlocks it)."""
    if record:
        try:
            parse_pin_record(record)
        except ValueError:
            return "needs-staff"
        state.mark_pin_set()
        return "start"
    lost = any(n.startswith("setting kiosk_pin") or "was damaged" in n for n in notes)
    if lost or state.pin_was_set():
        return "needs-staff"
    return "setup"


# ============================================================================================ sessions
SESSION_PREFIX = "session-"


def kiosk_root() -> Path:
    from engine.paths import user_data_dir

    return user_data_dir() / "kiosk"


@dataclass
class Session:
    """One customer's visit: its folder holds their photo and results, nothing of theirs is anywhere else."""

    folder: Path
    started: float = field(default_factory=time.monotonic)
    _names: int = 0

    def path(self, stem: str, suffix: str = ".png") -> Path:
        """A new file name in the session folder (``stem_03.png``); names never hold customer data."""
        self._names += 1
        return self.folder / f"{stem}_{self._names:02d}{suffix}"

    def files(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.rglob("*") if p.is_file())
        except OSError:
            return []


def _remove_tree(folder: Path) -> tuple[int, int]:
    """Delete ``folder`` and everything in it: (files removed, files that could not be removed)."""
    removed = failed = 0
    if not folder.exists():
        return 0, 0
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            p = Path(dirpath) / name
            try:
                p.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError:
                try:  # a read-only file (copied from a camera card): make it writable, then delete it
                    os.chmod(p, 0o600)
                    p.unlink()
                    removed += 1
                except OSError:
                    failed += 1
        for name in dirnames:
            try:
                (Path(dirpath) / name).rmdir()
            except OSError:
                pass
    try:
        folder.rmdir()
    except OSError:
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)
    return removed, failed


class KioskStore:
    """The kiosk root: ``session-<random>/`` folders, one per customer, and nothing else of theirs.

    ``root`` defaults to ``user_data_dir()/kiosk``. Folders are created private to the app's user (0700).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else kiosk_root()
        self.sessions_purged = 0

    def sessions(self) -> list[Path]:
        try:
            return sorted(p for p in self.root.iterdir() if p.name.startswith(SESSION_PREFIX))
        except OSError:
            return []

    def purge_leftovers(self) -> int:
        """Delete every session folder left by an earlier run (a crash, a power cut, a kill): call at start,
        before any new session. Logs the count only. Returns the number of sessions purged."""
        left = self.sessions()
        files = failed = 0
        for folder in left:
            r, f = _remove_tree(folder)
            files += r
            failed += f
        if left:
            log.info("kiosk: purged %d leftover session(s) at start (%d file(s))", len(left), files)
        if failed:
            log.error("kiosk: %d leftover file(s) could not be deleted; they are retried at the next start",
                      failed)
        return len(left)

    def new_session(self) -> Session:
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            folder = self.root / f"{SESSION_PREFIX}{secrets.token_hex(8)}"
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:
                continue
            return Session(folder)
        raise StorageError(errno.EEXIST, f"could not create a session folder in {self.root}", path=self.root)

    def purge(self, session: Optional[Session], reason: str) -> int:
        """Delete the session's folder. ``reason`` ("done", "idle", "failed", "cancelled", ...) goes in the
        log with the file count; nothing else about the session does. Returns the files removed."""
        if session is None:
            return 0
        removed, failed = _remove_tree(session.folder)
        self.sessions_purged += 1
        if failed:
            log.error("kiosk: session ended (%s): %d file(s) deleted, %d could not be (retried at the next "
                      "start)", reason, removed, failed)
        else:
            log.info("kiosk: session ended (%s): purged, %d file(s) deleted", reason, removed)
        return removed


# ============================================================================================ drop folder
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"}


class DropFolder:
    """A folder where customers' photos arrive (AirDrop, a QR-code upload page, a scanner, a phone app).

    It must be the kiosk's own folder: a photo that arrives during a session is *moved* into the session
    folder, and images found in it at any other time (before a session starts, after it ends) belong to no
    one present and are deleted (:meth:`clear`) — so no customer's photo lingers for the next one.

    A file is taken only once it has stopped changing (same size and modification time for ``settle``
    seconds), so a photo still being written by a slow upload is not read half-way.
    """

    def __init__(self, path: str | Path, settle: float = 0.6, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path).expanduser()
        self.settle = settle
        self.clock = clock
        self._seen: dict[Path, tuple[tuple[int, int], float]] = {}

    def available(self) -> bool:
        return self.path.is_dir()

    def images(self) -> list[Path]:
        """Image files directly in the folder (hidden and partial files — ``.name``, ``*.part`` — skipped)."""
        try:
            entries = list(self.path.iterdir())
        except OSError:
            return []
        out = []
        for p in entries:
            if p.name.startswith(".") or p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                if p.is_file():
                    out.append(p)
            except OSError:
                continue
        return sorted(out)

    def poll(self) -> Optional[Path]:
        """The newest image that has settled, or None. Call it on every folder change and on a timer."""
        now = self.clock()
        current: dict[Path, tuple[tuple[int, int], float]] = {}
        ready: list[tuple[int, Path]] = []
        for p in self.images():
            try:
                st = p.stat()
            except OSError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            prev = self._seen.get(p)
            since = prev[1] if prev is not None and prev[0] == sig else now
            current[p] = (sig, since)
            if st.st_size > 0 and now - since >= self.settle:
                ready.append((st.st_mtime_ns, p))
        self._seen = current
        return max(ready)[1] if ready else None

    def take(self, image: Path, session: Session) -> Path:
        """Move ``image`` out of the drop folder into the session folder (copy + delete across drives)."""
        target = session.path("photo", image.suffix.lower() or ".img")
        try:
            os.replace(image, target)
        except OSError:
            shutil.copyfile(image, target)
            image.unlink()
        self._seen.pop(image, None)
        return target

    def clear(self) -> int:
        """Delete every image in the folder (they belong to no current customer). Returns how many."""
        n = 0
        for p in self.images():
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
        self._seen.clear()
        if n:
            log.info("kiosk: deleted %d unclaimed photo(s) from the drop folder", n)
        return n


# ============================================================================================ idle
class IdleClock:
    """When a customer has walked away: ``timeout`` seconds without a touch. The last ``warn`` seconds are
    a warning ("Still there?"). ``pause`` stops the clock (while a job runs the customer is watching it)."""

    def __init__(self, timeout: float, warn: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_warn = float(warn)
        self.timeout = float(timeout)
        self.warn = min(self.base_warn, self.timeout / 2)
        self.clock = clock
        self.last = clock()
        self.paused = False

    def set_timeout(self, timeout: float) -> None:
        self.timeout = float(timeout)
        self.warn = min(self.base_warn, self.timeout / 2)

    def touch(self) -> None:
        self.last = self.clock()

    def pause(self, paused: bool) -> None:
        self.paused = paused
        self.touch()

    def remaining(self) -> float:
        if self.paused:
            return self.timeout
        return max(0.0, self.timeout - (self.clock() - self.last))

    def state(self) -> str:
        """"active", "warning" (the last ``warn`` seconds) or "expired"."""
        r = self.remaining()
        if r <= 0:
            return "expired"
        return "warning" if r <= self.warn else "active"


# ============================================================================================ export
def export_files(files: list[Path], folder: str | Path, prefix: str = "omfa-look") -> list[Path]:
    """Copy ``files`` into the store's export folder (a USB stick) under fresh names with no customer data
    (``omfa-look-20250102-140312-3f2a.png``). Each is written atomically (a pulled stick leaves no half
    file under the final name). Raises engine.persist.StorageError with a message staff can act on."""
    from engine.persist import StorageError, atomic_path

    dest = Path(folder).expanduser()
    if not dest.is_dir():
        raise StorageError(2, f"the export folder {dest} is not available (is the USB stick plugged in?)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = secrets.token_hex(2)
    out = []
    for i, src in enumerate(files):
        suffix = f"-{i + 1}" if len(files) > 1 and src.suffix.lower() == ".png" else ""
        target = dest / f"{prefix}-{stamp}-{tag}{suffix}{src.suffix.lower()}"
        with atomic_path(target) as tmp:
            shutil.copyfile(src, tmp)
        out.append(target)
    return out
