"""What keeps a customer in the kiosk, as far as an application can: an event filter on the QApplication that
eats the keys that would leave it or open something (Escape, F-keys, Alt/Ctrl/Meta shortcuts) and reports
every touch, click and key as activity for the idle clock.

It cannot stop what the operating system handles before the app sees it (Ctrl+Alt+Del, Alt+Tab and Alt+F4
in most window managers, the Super key, edge swipes): that needs the OS kiosk mode (README, "Kiosk mode").
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt

K = Qt.Key
M = Qt.KeyboardModifier

# Keys that are never harmless on a kiosk, whatever the modifiers: they close dialogs, toggle full screen,
# open help, or ask the system to do something.
_ALWAYS = {K.Key_Escape, K.Key_Meta, K.Key_Super_L, K.Key_Super_R, K.Key_Menu, K.Key_Hyper_L, K.Key_Hyper_R,
           K.Key_Close, K.Key_Exit, K.Key_Sleep, K.Key_PowerOff, K.Key_Suspend, K.Key_Hibernate, K.Key_Standby,
           K.Key_WakeUp, K.Key_Help, K.Key_Explorer, K.Key_HomePage, K.Key_LaunchMedia, K.Key_Launch0,
           K.Key_Launch1, K.Key_Terminal, K.Key_Print, K.Key_SysReq, K.Key_Tab, K.Key_Backtab}
_F_KEYS = {getattr(K, f"Key_F{i}") for i in range(1, 36)}
# Text-editing shortcuts a member of staff needs in the admin fields (only while unlocked).
_EDITING = {K.Key_A, K.Key_C, K.Key_V, K.Key_X, K.Key_Z, K.Key_Left, K.Key_Right, K.Key_Home, K.Key_End,
            K.Key_Backspace, K.Key_Delete}

_KEY_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride)
_ACTIVITY = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease,
             QEvent.Type.MouseMove, QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.Wheel,
             QEvent.Type.TabletPress)


def is_blocked(key: int, modifiers, editing: bool = False) -> bool:
    """Whether a key press must not reach the app. ``editing``: staff are typing in the admin screen, so
    Ctrl+A/C/V/X/Z and Ctrl+arrows pass (Ctrl+Q, Ctrl+W, Alt+anything still do not)."""
    mods = modifiers if isinstance(modifiers, M) else M(int(modifiers))
    mods &= ~(M.KeypadModifier | M.ShiftModifier)
    if key in _ALWAYS or key in _F_KEYS:
        return True
    if mods & (M.AltModifier | M.MetaModifier | M.GroupSwitchModifier):
        return True
    if mods & M.ControlModifier:
        return not (editing and key in _EDITING)
    return False


class KioskEventFilter(QObject):
    """Install on the QApplication: ``activity()`` on every user input; blocked keys never arrive.

    ``blocked`` counts the keys eaten (tests and the admin screen's status)."""

    def __init__(self, activity: Callable[[], None], editing: Callable[[], bool] = lambda: False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.activity = activity
        self.editing = editing
        self.blocked = 0
        self.last_blocked = ""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        t = event.type()
        if t in _ACTIVITY:
            self.activity()
        if t in _KEY_EVENTS:
            if is_blocked(event.key(), event.modifiers(), self.editing()):
                if t == QEvent.Type.KeyPress:
                    self.blocked += 1
                    self.last_blocked = f"{event.modifiers()!r} {event.key()!r}"
                event.accept()
                return True
        return False
