"""Where shipped resources and per-user data live."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bundle_dir() -> Path | None:
    """The folder a frozen (PyInstaller) app unpacked its data into (onedir: ``<app>/_internal``), else None."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if getattr(sys, "frozen", False) and base else None


def resource_dir() -> Path:
    """The shipped ``resources/`` folder: $OMFA_RESOURCES, else the frozen bundle's, else the source tree's."""
    if os.environ.get("OMFA_RESOURCES"):
        return Path(os.environ["OMFA_RESOURCES"])
    bundle = bundle_dir()
    return (bundle if bundle is not None else ROOT) / "resources"


RESOURCES = resource_dir()
DEMO_MODEL = RESOURCES / "models" / "demo"
SAMPLES = RESOURCES / "samples"
APP_NAME = "OMFA Desktop"


def user_data_dir() -> Path:
    """Per-user data (gallery, settings); OMFA_DATA_DIR overrides (tests, portable installs)."""
    if os.environ.get("OMFA_DATA_DIR"):
        return Path(os.environ["OMFA_DATA_DIR"])
    from platformdirs import user_data_dir as _udd

    return Path(_udd(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    """Per-user configuration (the model registry): OMFA_CONFIG_DIR, else OMFA_DATA_DIR (tests and portable
    installs keep everything in one folder), else the platform's config folder."""
    if os.environ.get("OMFA_CONFIG_DIR"):
        return Path(os.environ["OMFA_CONFIG_DIR"])
    if os.environ.get("OMFA_DATA_DIR"):
        return Path(os.environ["OMFA_DATA_DIR"])
    from platformdirs import user_config_dir as _ucd

    return Path(_ucd(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    """The rotating logs; OMFA_LOG_DIR overrides, else OMFA_DATA_DIR/logs, else the platform's log folder."""
    if os.environ.get("OMFA_LOG_DIR"):
        return Path(os.environ["OMFA_LOG_DIR"])
    if os.environ.get("OMFA_DATA_DIR"):
        return Path(os.environ["OMFA_DATA_DIR"]) / "logs"
    from platformdirs import user_log_dir as _uld

    return Path(_uld(APP_NAME, appauthor=False))


def sample_paths() -> dict[str, Path]:
    """The first shipped sample of each kind: person, garment, head, guide (those that exist)."""
    out = {}
    for kind in ("person", "garment", "head", "guide", "guide_b"):
        hits = sorted(SAMPLES.glob(f"*_{kind}.png"))
        if hits:
            out[kind] = hits[0]
    return out
