"""Starting the Qt side, in one place: the QApplication, the last-resort error hook, and running a window
until it closes. The main window (:mod:`omfa_desktop.app`), the kiosk (:mod:`omfa_desktop.kiosk`) and the
screenshot scripts all start through here, so the application is set up the same way everywhere.
"""
from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Callable, Optional

APP_NAME = "OMFA Desktop"


def qt_application():
    """The process's QApplication, made (and named) on the first call; later calls return the same one."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "omfa-desktop"])
        app.setApplicationName(APP_NAME)
        app._omfa_gc = GuiThreadGC(app)  # noqa: SLF001 - lives as long as the application
    return app


class GuiThreadGC:
    """Python's cycle collector runs in whichever thread happens to allocate when its threshold trips. When
    that is the engine or guide thread and the garbage holds Qt objects of the GUI thread, Qt deletes them on
    the wrong thread, which can crash the process (seen: a segfault "Garbage-collecting" on the engine thread
    while it built a UNet). So automatic collection is off while this lives, and a timer collects on the GUI
    thread instead: the young generation every ``interval_ms``, everything every tenth time."""

    def __init__(self, parent, interval_ms: int = 500) -> None:
        from PySide6.QtCore import QTimer

        self._ticks = 0
        self.timer = QTimer(parent)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect)
        gc.disable()
        self.timer.start()

    def collect(self) -> None:
        self._ticks += 1
        gc.collect(2 if self._ticks % 10 == 0 else 0)

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()


def run_window(win, show: Callable[[], None], log_file: Optional[Path] = None, what: str = "exit") -> int:
    """Show ``win`` (by calling ``show``), run the event loop until it closes, shut the window down (its
    threads, its model) and return the exit code. Unexpected errors meanwhile go to ``win.show_message``."""
    install_excepthook(win, log_file)
    show()
    code = qt_application().exec()
    win.shutdown()
    logging.getLogger("omfa").info("%s %s", what, code)
    return code


def install_excepthook(win, log_file=None) -> None:
    """An unexpected error anywhere in the GUI is logged and shown in the window's message bar; the app
    stays open and keeps what the user has (inputs, queue, gallery)."""
    import threading
    import traceback

    from PySide6.QtCore import QObject, Signal

    class Relay(QObject):  # errors on other threads reach the window through a queued signal
        error = Signal(str, str, str)

    relay = Relay(win)
    relay.error.connect(win.show_message)
    log = logging.getLogger("omfa.app")

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error: %s", details)
        where = f" It was written to the log ({log_file})." if log_file else ""
        try:
            relay.error.emit(f"Something went wrong: {exc_type.__name__}: {exc}. Your inputs and results are "
                             f"kept; you can go on.{where}", details, "error")
        except RuntimeError:  # the window is gone (shutting down); the log has it
            pass

    sys.excepthook = hook
    threading.excepthook = lambda a: hook(a.exc_type, a.exc_value, a.exc_traceback)
