"""Start importing the engine's heavy modules (torch, diffusers' UNet and samplers) at process start.

The app's first seconds are spent importing: torch ~1 s, diffusers' UNet and samplers ~1.5-2.5 s more
(diffusers pulls in torch._dynamo and scipy.stats), the Qt window ~1 s. Started first, on a thread of its
own, the engine's share begins while Qt is still loading instead of after the window is built, and the
engine thread's model load then finds the modules imported. Code that needs these modules on another thread
calls :func:`wait` first: diffusers' lazily-filled package is not safe to import from two threads at once
(a concurrent ``from diffusers import UNet2DConditionModel`` fails). Nothing here changes what is imported,
only when.
"""
from __future__ import annotations

import threading
import time

MODULES = ("torch", "diffusers.models.unets.unet_2d_condition", "engine.pipeline")  # what a model load needs
_STATE: dict = {}


def prefetch() -> threading.Thread:
    """Start the imports on a daemon thread (once per process); returns the thread."""
    if "thread" not in _STATE:
        _STATE["t0"] = time.perf_counter()
        t = threading.Thread(target=_run, name="omfa-import", daemon=True)
        _STATE["thread"] = t
        t.start()
    return _STATE["thread"]


def _run() -> None:
    import importlib

    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - the real import on the engine thread reports it properly
            _STATE["error"] = f"{name}: {e}"
            break
    _STATE["seconds"] = time.perf_counter() - _STATE["t0"]


def wait(timeout: float | None = None) -> bool:
    """Block until the prefetch is done (True), or ``timeout`` passed (False); True if none was started.

    For work that should not compete with the engine's imports for the interpreter (the viewport's body
    model): it waits, then runs.
    """
    t = _STATE.get("thread")
    if t is None:
        return True
    t.join(timeout)
    return not t.is_alive()


# The first model load of the process, tracked so that other start-up work (the viewport's 3D body) can run
# after it instead of competing with it for the interpreter: a usable model is what the user waits for.
_MODEL_LOAD = {"pending": threading.Event(), "settled": threading.Event()}


def model_load_started() -> None:
    """Called when a model load is queued (the GUI thread's request)."""
    if not _MODEL_LOAD["settled"].is_set():
        _MODEL_LOAD["pending"].set()


def model_load_settled() -> None:
    """Called when that load ended, loaded or failed (the engine thread)."""
    _MODEL_LOAD["settled"].set()


def wait_model(timeout: float = 20.0) -> bool:
    """Block until the first model load has ended (True), or ``timeout`` passed (False); True at once when no
    load was started (tests, tools without an engine)."""
    if not _MODEL_LOAD["pending"].is_set():
        return True
    return _MODEL_LOAD["settled"].wait(timeout)
