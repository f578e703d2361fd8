"""A cheaper form of PySide6's per-import check, installed once before the engine's imports begin.

Importing shiboken6 replaces ``builtins.__import__``; after every module import it asks whether the module
uses PySide6 (for the opt-in ``from __feature__ import snake_case`` switches, PYSIDE-2029) by calling
``inspect.getsource`` on it: each module's source is decoded, split into lines and kept in ``linecache``.
torch, diffusers and scipy are some 2,500 modules, imported at start-up on the engine's thread while Qt
loads, so the check cost about 0.6 s of interpreter time before the model was usable (measured: importing
torch + diffusers' UNet took 3.45 s after PySide6, 2.82 s without) and held all those sources in memory
(napari issue 8584 describes the same tax).

The replacement answers the same question (does the file contain "PySide6"?) from the file's bytes, without
decoding or caching it; anything that is not a plain ``.py`` file goes to the original check. We never use
``__feature__``, and for code that does, the answer is unchanged. If a PySide6 release renames these
internals, nothing is patched and start-up is only slower.
"""
from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


def lighten() -> bool:
    """Install the cheaper check (idempotent). True when it is in place."""
    try:
        import shiboken6  # noqa: F401 - installs the import hook and its support module
    except ImportError:  # a broken Qt install: the window reports it where it imports Qt; nothing to lighten
        return False

    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or not callable(original):
        log.info("PySide6's import check was not found; left as it is")
        return False
    if getattr(original, "_omfa_light", False):
        return True

    def uses_pyside(module) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return original(module)
        try:
            with open(path, "rb") as f:
                return b"PySide6" in f.read()
        except OSError:
            return original(module)

    uses_pyside._omfa_light = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside
    return True
