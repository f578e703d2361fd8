"""Kiosk mode (``omfa-desktop --kiosk``): a full-screen, touch-only try-on for an unattended shop screen.

- :mod:`.window`: KioskWindow, the flow (Start → Photo → Garment → Pose → Working → Result) and its rules
- :mod:`.pages`: the screens; :mod:`.style`: touch-sized look; :mod:`.lockdown`: keys that would leave the app
- :mod:`.camera`: an optional Qt Multimedia camera; :mod:`.screens`: screenshots for the docs
- headless rules (PIN, sessions and their purge, drop folder, idle clock, export): :mod:`engine.kiosk_store`
"""
from __future__ import annotations

import sys


def kiosk_enabled() -> bool:
    """The "start in kiosk mode" setting, read without side effects (load_settings would move a damaged file
    aside before the window that reports it gets to see it). False when the file is missing or unreadable."""
    import json

    from omfa_desktop.model.app_settings import settings_path

    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kiosk") is True


def run_kiosk(model: str | None = None, device: str | None = None, precision: str | None = None) -> int:
    """Open the kiosk full screen and run until staff close it. Returns the exit code."""
    from engine.logs import setup_logging
    from omfa_desktop.kiosk.window import KioskWindow
    from omfa_desktop.startup import qt_application, run_window

    log_file = setup_logging()
    qt_application()
    win = KioskWindow(model_folder=model, device=device, precision=precision, fullscreen=True)
    return run_window(win, win.present, log_file, "kiosk exit")


def set_pin_interactive(stdin=None, out=None) -> int:
    """``omfa-desktop --set-kiosk-pin``: ask for the PIN twice (no echo on a terminal; one line each from a
    pipe, for deployment scripts) and store its salted hash in the settings. Returns the exit code."""
    import dataclasses
    import getpass

    from engine.kiosk_store import hash_pin, pin_problem
    from engine.persist import StorageError
    from omfa_desktop.model.app_settings import load_settings, save_settings, settings_path

    stdin = stdin or sys.stdin
    out = out or sys.stderr

    def ask(prompt: str) -> str:
        if stdin.isatty():
            return getpass.getpass(prompt)
        return stdin.readline().strip()

    pin = ask("New kiosk staff PIN (4-12 digits): ")
    problem = pin_problem(pin)
    if problem:
        print(f"Not set: {problem}.", file=out)
        return 2
    if ask("The same PIN again: ") != pin:
        print("Not set: the two PINs were different.", file=out)
        return 2
    settings, _ = load_settings()
    try:
        save_settings(dataclasses.replace(settings, kiosk_pin=hash_pin(pin)))
    except StorageError as e:
        print(f"Not set: {e}", file=out)
        return 1
    from engine.kiosk_store import PinState

    if not PinState().mark_pin_set(keep_lockout=False):
        print("Warning: the PIN is set, but the kiosk's PIN state file could not be written.", file=out)
    print(f"The kiosk PIN is set (stored salted and hashed in {settings_path()}).", file=out)
    return 0
