"""The application log: a rotating file in the platform's log folder with versions, device and errors.

Only text goes in: settings, timings, messages and tracebacks — never pixels or image file contents, and
no input file names beyond what an error message needs to be acted on.
"""
from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
from pathlib import Path

LOG_NAME = "omfa.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"


def versions() -> dict[str, str]:
    """Versions of Python, the OS and the libraries that matter for a bug report (only those imported or
    importable cheaply: nothing here loads torch if it is not loaded yet)."""
    from importlib import metadata

    out = {"python": platform.python_version(), "os": f"{platform.system()} {platform.release()}",
           "machine": platform.machine()}
    # name in the log -> the distributions that provide it (the project installs PySide6-Essentials and
    # pyrender-maintained, not "PySide6" or "pyrender")
    dists = {"omfa-desktop": ("omfa-desktop",), "torch": ("torch",), "diffusers": ("diffusers",),
             "safetensors": ("safetensors",), "PySide6": ("PySide6-Essentials", "PySide6"),
             "pyrender": ("pyrender-maintained", "pyrender"), "PyOpenGL": ("PyOpenGL",), "numpy": ("numpy",),
             "Pillow": ("Pillow",), "av": ("av",), "smplx": ("smplx",)}
    for name, candidates in dists.items():
        out[name] = "not installed"
        for dist in candidates:
            try:
                out[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def setup_logging(log_dir: str | Path | None = None, level: int = logging.INFO, console: bool = False) -> Path | None:
    """Attach a rotating file handler to the "omfa" logger (once) and log the versions. Returns the log file,
    or None when the folder cannot be written (the app runs on without a log rather than failing)."""
    from engine.paths import user_log_dir

    logger = logging.getLogger("omfa")
    logger.setLevel(level)
    for h in logger.handlers:
        if isinstance(h, logging.handlers.RotatingFileHandler):
            return Path(h.baseFilename)
    folder = Path(log_dir) if log_dir is not None else user_log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / LOG_NAME, maxBytes=MAX_BYTES,
                                                       backupCount=BACKUPS, encoding="utf-8")
    except OSError as e:
        print(f"note: no log file ({folder} is not writable: {e.strerror or e})", file=sys.stderr)
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(stream)
    logger.info("start: %s", " ".join(f"{k}={v}" for k, v in versions().items()))
    return Path(handler.baseFilename)


def close_logging() -> None:
    """Detach and close the file handlers (tests, and the end of a run)."""
    logger = logging.getLogger("omfa")
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
