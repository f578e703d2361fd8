"""The kiosk's screens, one widget each, in the order a customer meets them: Start → Photo → Garment → Pose →
Working → Result; and the staff's: PIN pad, Admin, "needs staff". They only lay out and show; the flow (what a
button does, what a session holds) is :class:`omfa_desktop.kiosk.window.KioskWindow`'s.

Portrait 1080×1920 first: one column, the next action at the bottom where a thumb reaches it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QScrollArea, QScroller, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

from omfa_desktop.qtutil import fill, scaled_pixmap, to_qimage

MARGIN = 64


class Picture(QLabel):
    """An image fitted inside its rounded white frame (drawn within the style's padding, never over the
    frame's corners), rescaled with the widget; a placeholder text when empty."""

    def __init__(self, placeholder: str = "", min_size: tuple[int, int] = (96, 128)) -> None:
        super().__init__()
        self.setObjectName("picture")
        self._image: Optional[QImage] = None
        self._placeholder = placeholder
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(*min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setText(placeholder)

    def set_image(self, img: "np.ndarray | QImage | None") -> None:
        self._image = None if img is None else (img if isinstance(img, QImage) else to_qimage(img))
        self._refresh()

    def image(self) -> Optional[QImage]:
        return self._image

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._refresh()

    def _refresh(self) -> None:
        if self._image is None or self._image.isNull():
            self.setPixmap(QPixmap())
            self.setText(self._placeholder)
            return
        r = self.contentsRect()
        self.setPixmap(scaled_pixmap(self._image, max(8, r.width()), max(8, r.height())))


class Stepper(QWidget):
    """A number with touch-sized − and + buttons (a spin box's arrows are too small for a finger)."""

    def __init__(self, lo: int, hi: int, step: int, suffix: str = "") -> None:
        super().__init__()
        self.lo, self.hi, self.step, self.suffix = lo, hi, step, suffix
        self._value = lo
        self.minus = button("−", "", "stepMinus")
        self.plus = button("+", "", "stepPlus")
        for b in (self.minus, self.plus):
            b.setFixedWidth(112)
        self.text = label("", "body", wrap=False, center=True)
        self.text.setMinimumWidth(160)
        fill(QHBoxLayout(self), self.minus, self.text, self.plus, 1, margins=0, spacing=16)
        self.minus.clicked.connect(lambda: self.setValue(self._value - self.step))
        self.plus.clicked.connect(lambda: self.setValue(self._value + self.step))
        self.setValue(lo)

    def value(self) -> int:
        return self._value

    def setValue(self, v: int) -> None:  # noqa: N802 - like QSpinBox
        self._value = max(self.lo, min(self.hi, int(v)))
        self.text.setText(f"{self._value}{self.suffix}")
        self.minus.setEnabled(self._value > self.lo)
        self.plus.setEnabled(self._value < self.hi)


def label(text: str = "", role: str = "body", wrap: bool = True, center: bool = False) -> QLabel:
    w = QLabel(text)
    w.setProperty("role", role)
    w.setWordWrap(wrap)
    if center:
        w.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return w


def button(text: str, role: str = "", name: str = "") -> QPushButton:
    b = QPushButton(text)
    if role:
        b.setProperty("role", role)
    if name:
        b.setObjectName(name)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a touch screen: no focus rings, Enter never "presses" by surprise
    b.setCursor(Qt.CursorShape.PointingHandCursor)
    return b


class MessageLabel(QLabel):
    """A friendly line (a failure, a reminder); hidden when empty."""

    def __init__(self) -> None:
        super().__init__()
        self.setProperty("role", "message")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hide()

    def show_text(self, text: str, kind: str = "warning") -> None:
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setText(text)
        self.setVisible(bool(text))

    def message(self) -> str:
        return self.text() if self.isVisible() else ""


class Page(QWidget):
    """Step caption, title, subtitle, a body, a message line and a footer of buttons."""

    def __init__(self, title: str, subtitle: str = "", step: str = "") -> None:
        super().__init__()
        self.setObjectName("kioskPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.step = label(step, "step", center=True)
        self.step.setVisible(bool(step))
        self.title = label(title, "title", center=True)
        self.subtitle = label(subtitle, "subtitle", center=True)
        self.subtitle.setVisible(bool(subtitle))
        self.message = MessageLabel()
        self.body = QVBoxLayout()
        self.body.setSpacing(28)
        self.footer = QHBoxLayout()
        self.footer.setSpacing(28)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(MARGIN, 72, MARGIN, 64)
        lay.setSpacing(28)
        lay.addWidget(self.step)
        lay.addWidget(self.title)
        lay.addWidget(self.subtitle)
        lay.addLayout(self.body, 1)
        lay.addWidget(self.message)
        lay.addLayout(self.footer)


# ============================================================================================ customer
class StartPage(Page):
    def __init__(self) -> None:
        super().__init__("Try it on", "See our garments on you — from one photo, in about a minute.")
        self.teaser = QGridLayout()
        self.teaser.setSpacing(20)
        self.teaser_views: list[Picture] = []
        for i in range(6):
            v = Picture(min_size=(280, 360))
            v.hide()
            self.teaser_views.append(v)
            self.teaser.addWidget(v, i // 3, i % 3)
        self.body.addSpacing(24)
        self.body.addLayout(self.teaser)
        steps = label("1  Send a photo of yourself\n2  Choose a garment\n3  Choose a pose — or see all sides\n"
                      "4  See yourself wearing it", "panel")
        self.body.addWidget(steps)
        self.body.addStretch(1)
        self.start_button = button("Touch to start", "primary", "startButton")
        self.privacy = label("Your photo stays on this screen only for your visit and is deleted when you finish "
                             "or walk away.", "small", center=True)
        self.staff_button = button("Staff", "quiet", "staffButton")
        col = QVBoxLayout()
        col.setSpacing(20)
        col.addWidget(self.start_button)
        row = QHBoxLayout()
        row.addWidget(self.privacy, 1)
        row.addWidget(self.staff_button)
        col.addLayout(row)
        self.footer.addLayout(col)

    def set_teaser(self, images: list[QImage]) -> None:
        for v, img in zip(self.teaser_views, images + [None] * 6):
            v.set_image(img)
            v.setVisible(img is not None)

    def set_ready(self, ready: bool, text: str = "") -> None:
        self.start_button.setEnabled(ready)
        self.start_button.setText("Touch to start" if ready else (text or "Getting ready…"))


class PhotoPage(Page):
    def __init__(self) -> None:
        super().__init__("Your photo", "A full-length photo, facing the camera, works best.", "STEP 1 OF 3")
        self.camera_box = QVBoxLayout()        # a camera view goes here when there is one
        self.body.addLayout(self.camera_box)
        self.instructions = label("", "panel", center=True)
        self.instructions.setTextFormat(Qt.TextFormat.RichText)
        self.body.addWidget(self.instructions)
        self.preview = Picture("Waiting for your photo…", min_size=(480, 640))
        self.body.addWidget(self.preview, 1)
        self.back_button = button("Back", "", "photoBack")
        self.capture_button = button("Take photo", "", "captureButton")
        self.capture_button.hide()
        self.use_button = button("Use this photo", "primary", "usePhoto")
        self.use_button.setEnabled(False)
        self.footer.addWidget(self.back_button)
        self.footer.addWidget(self.capture_button)
        self.footer.addWidget(self.use_button, 1)

    def set_instructions(self, hint: str, folder_ok: bool, camera: bool) -> None:
        if camera:
            text = "Stand in front of the screen and touch <b>Take photo</b>."
            if folder_ok:
                text += f"<br><br>Or send a photo: {hint}"
        elif folder_ok:
            text = f"<b>Send us a photo of yourself.</b><br><br>{hint}<br><br>It appears here in a moment."
        else:
            text = "<b>This screen is not set up for photos yet.</b><br><br>Please ask our staff."
        self.instructions.setText(text)
        self.capture_button.setVisible(camera)

    def set_photo(self, img: Optional[np.ndarray]) -> None:
        self.preview.set_image(img)
        self.use_button.setEnabled(img is not None)


class GarmentPage(Page):
    chosen = Signal(str)

    COLUMNS = 3
    ICON = QSize(240, 312)

    def __init__(self) -> None:
        super().__init__("Choose a garment", "Touch the one you would like to try on.", "STEP 2 OF 3")
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(24)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.grid_host)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        QScroller.grabGesture(self.scroll.viewport(), QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        self.body.addWidget(self.scroll, 1)
        self.empty = label("No garments yet — please ask our staff.", "panel", center=True)
        self.empty.hide()
        self.body.addWidget(self.empty)
        self.back_button = button("Back", "", "garmentBack")
        self.footer.addWidget(self.back_button)
        self.footer.addStretch(1)
        self.cards: dict[str, QToolButton] = {}

    def set_items(self, items: list[tuple[str, str, QPixmap]]) -> None:
        """(id, name, picture) of every garment offered."""
        for card in self.cards.values():
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards = {}
        for i, (item_id, name, pix) in enumerate(items):
            card = QToolButton()
            card.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            card.setIcon(QIcon(pix))
            card.setIconSize(self.ICON)
            card.setText(_elide(name, 22))
            card.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            # Ignored: the three columns share the width the page has (a long name must not widen its card
            # past the screen: the horizontal scroll bar is off)
            card.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            card.clicked.connect(lambda _=False, i=item_id: self.chosen.emit(i))
            self.grid.addWidget(card, i // self.COLUMNS, i % self.COLUMNS)
            self.cards[item_id] = card
        self.grid.setRowStretch(len(items) // self.COLUMNS + 1, 1)
        self.scroll.setVisible(bool(items))
        self.empty.setVisible(not items)


class PosePage(Page):
    chosen = Signal(str)   # "own", a preset name, or "turntable"

    def __init__(self) -> None:
        super().__init__("Choose a pose", "See yourself in your own pose, a new one, or from all sides.",
                         "STEP 3 OF 3")
        self.grid = QGridLayout()
        self.grid.setSpacing(24)
        self.body.addLayout(self.grid)
        self.turntable_button = button("Turntable — see it from 8 sides", "", "turntableButton")
        self.turntable_button.setMinimumHeight(150)
        self.turntable_button.clicked.connect(lambda: self.chosen.emit("turntable"))
        self.body.addWidget(self.turntable_button)
        self.body.addStretch(1)
        self.back_button = button("Back", "", "poseBack")
        self.footer.addWidget(self.back_button)
        self.footer.addStretch(1)
        self.cards: dict[str, QToolButton] = {}

    def set_poses(self, poses: list[tuple[str, str]]) -> None:
        """(key, label) of each pose card, "own" first."""
        for card in self.cards.values():
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards = {}
        for i, (key, text) in enumerate(poses):
            card = QToolButton()
            card.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            card.setIconSize(QSize(240, 320))
            card.setText(text)
            card.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            # Ignored: the three columns share the width the page has (a long name must not widen its card
            # past the screen: the horizontal scroll bar is off)
            card.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            card.clicked.connect(lambda _=False, k=key: self.chosen.emit(k))
            self.grid.addWidget(card, i // 3, i % 3)
            self.cards[key] = card

    def set_icon(self, key: str, img: Optional[np.ndarray | QImage]) -> None:
        card = self.cards.get(key)
        if card is not None:
            card.setIcon(QIcon(scaled_pixmap(img, 240, 320)) if img is not None else QIcon())


class WorkingPage(Page):
    def __init__(self) -> None:
        super().__init__("Creating your look…", "This takes about a minute. Watch it appear!")
        self.preview = Picture("", min_size=(480, 640))
        self.body.addWidget(self.preview, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.status = label("Getting ready…", "subtitle", center=True)
        self.body.addWidget(self.progress)
        self.body.addWidget(self.status)
        self.cancel_button = button("Cancel", "", "cancelButton")
        self.footer.addStretch(1)
        self.footer.addWidget(self.cancel_button)
        self.footer.addStretch(1)

    def reset(self, what: str) -> None:
        self.preview.set_image(None)
        self.progress.setRange(0, 0)
        self.status.setText(what)
        self.cancel_button.setEnabled(True)


class ResultPage(Page):
    def __init__(self) -> None:
        super().__init__("Here you are!", "")
        self.view = Picture("", min_size=(600, 800))
        self.body.addWidget(self.view, 1)
        self.view_label = label("", "small", center=True)
        self.body.addWidget(self.view_label)
        row = QHBoxLayout()
        row.setSpacing(24)
        self.photo_thumb = Picture("", min_size=(150, 200))
        self.garment_thumb = Picture("", min_size=(150, 200))
        for v in (self.photo_thumb, self.garment_thumb):
            v.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            v.setFixedSize(150, 200)
        row.addStretch(1)
        row.addWidget(self.photo_thumb)
        row.addWidget(label("+", "title"))
        row.addWidget(self.garment_thumb)
        row.addStretch(1)
        self.body.addLayout(row)
        self.note = label("Done deletes your photo and results from this screen.", "small", center=True)
        self.body.addWidget(self.note)
        self.save_button = button("Save to USB", "", "saveButton")
        self.again_button = button("Another garment", "", "againButton")
        self.done_button = button("Done", "primary", "doneButton")
        col = QVBoxLayout()
        col.setSpacing(24)
        top = QHBoxLayout()
        top.setSpacing(24)
        top.addWidget(self.save_button, 1)
        top.addWidget(self.again_button, 1)
        col.addLayout(top)
        col.addWidget(self.done_button)
        self.footer.addLayout(col)

    def clear(self) -> None:
        for v in (self.view, self.photo_thumb, self.garment_thumb):
            v.set_image(None)
        self.view_label.setText("")
        self.message.show_text("")


# ============================================================================================ staff
class PinPage(Page):
    """A numeric keypad. ``entered(pin)`` on OK; the window decides what the PIN is for."""

    entered = Signal(str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__("Staff only", "Enter the PIN.")
        self.digits = ""
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.dots = label("", "dots", wrap=False, center=True)
        self.body.addStretch(1)
        self.body.addWidget(self.dots)
        grid = QGridLayout()
        grid.setSpacing(24)
        self.keys: dict[str, QPushButton] = {}
        for i, k in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0", "OK"]):
            b = button(k, "key", f"key_{k}")
            b.clicked.connect(lambda _=False, k=k: self.press(k))
            grid.addWidget(b, i // 3, i % 3)
            self.keys[k] = b
        host = QHBoxLayout()
        host.addStretch(1)
        host.addLayout(grid)
        host.addStretch(1)
        self.body.addLayout(host)
        self.body.addStretch(1)
        self.cancel_button = button("Cancel", "", "pinCancel")
        self.cancel_button.clicked.connect(self.cancelled)
        self.footer.addStretch(1)
        self.footer.addWidget(self.cancel_button)
        self.footer.addStretch(1)
        self._refresh()

    def ask(self, title: str, subtitle: str) -> None:
        self.title.setText(title)
        self.subtitle.setText(subtitle)
        self.subtitle.show()
        self.clear()
        self.message.show_text("")

    def clear(self) -> None:
        self.digits = ""
        self._refresh()

    def press(self, key: str) -> None:
        if key == "⌫":
            self.digits = self.digits[:-1]
        elif key == "OK":
            if self.digits:
                pin, self.digits = self.digits, ""
                self._refresh()
                self.entered.emit(pin)
                return
        elif len(self.digits) < 12:
            self.digits += key
        self._refresh()

    def set_locked(self, seconds: float) -> None:
        """Disable the keys while the guard is locked (``seconds`` > 0)."""
        for b in self.keys.values():
            b.setEnabled(seconds <= 0)
        if seconds > 0:
            self.message.show_text(f"Too many wrong PINs. Try again in {int(seconds + 0.999)} s.")

    def keyPressEvent(self, event) -> None:  # noqa: N802 - a staff keyboard works too
        t = event.text()
        if t.isdigit() and t.isascii():
            self.press(t)
        elif event.key() == Qt.Key.Key_Backspace:
            self.press("⌫")
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.press("OK")
        else:
            super().keyPressEvent(event)

    def _refresh(self) -> None:
        self.dots.setText("●" * len(self.digits) if self.digits else "–")


class AdminPage(Page):
    """Staff settings behind the PIN. Plain text fields (no file dialogs: they would open the file system)."""

    def __init__(self) -> None:
        super().__init__("Staff settings", "Changes apply as soon as you save.")
        form = QFormLayout()
        form.setVerticalSpacing(22)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.idle = Stepper(15, 3600, 15, " s")
        self.drop = QLineEdit()
        self.drop.setPlaceholderText("a folder only the kiosk uses")
        self.hint = QLineEdit()
        self.hint.setPlaceholderText("e.g. AirDrop to ‘Boutique screen’")
        self.export = QLineEdit()
        self.export.setPlaceholderText("e.g. /media/usb (empty: no Save button)")
        self.wardrobe = QLineEdit()
        self.wardrobe.setPlaceholderText("empty: this computer's wardrobe")
        self.camera = QCheckBox("Use a camera when there is one")
        self.start_kiosk = QCheckBox("Start in kiosk mode")
        for text, w in (("Idle timeout", self.idle), ("Photo drop folder", self.drop), ("Photo hint", self.hint),
                        ("Export folder", self.export), ("Wardrobe folder", self.wardrobe), ("", self.camera),
                        ("", self.start_kiosk)):
            name = label(text, "body", wrap=False) if text else QLabel()
            name.setMinimumHeight(80)
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            form.addRow(name, w)
        self.body.addLayout(form)
        self.status = label("", "panel")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.body.addWidget(self.status)
        self.body.addStretch(1)
        self.pin_button = button("Change PIN", "", "changePin")
        self.save_button = button("Save", "", "adminSave")
        self.quit_button = button("Quit the app", "", "quitButton")
        self.back_button = button("Back to the kiosk", "primary", "adminBack")
        col = QVBoxLayout()
        col.setSpacing(24)
        row = QHBoxLayout()
        row.setSpacing(24)
        for b in (self.save_button, self.pin_button, self.quit_button):
            b.setProperty("role", "compact")
            row.addWidget(b, 1)
        col.addLayout(row)
        col.addWidget(self.back_button)
        self.footer.addLayout(col)


class NeedsStaffPage(Page):
    """Shown instead of the kiosk when it cannot serve safely (the PIN record was lost or damaged)."""

    def __init__(self) -> None:
        super().__init__("This screen needs our staff", "")
        self.text = label("", "panel", center=True)
        self.body.addStretch(1)
        self.body.addWidget(self.text)
        self.body.addStretch(1)


def _elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def pixmap_of(img: np.ndarray, size: QSize) -> QPixmap:
    return scaled_pixmap(to_qimage(img), size.width(), size.height())


class IdleOverlay(QFrame):
    """"Still there?" with a countdown, over everything; any touch dismisses it (the idle clock restarts)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("idleOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        card = QFrame()
        card.setObjectName("idleCard")
        card.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.title = label("Still there?", "title", center=True)
        self.text = label("", "subtitle", center=True)
        self.button = button("I'm still here", "primary", "stillHere")
        fill(QVBoxLayout(card), self.title, self.text, self.button, margins=56, spacing=32)
        fill(QVBoxLayout(self), 1, card, 1, margins=(96, 0, 96, 0))
        self.hide()

    def show_remaining(self, seconds: float) -> None:
        self.text.setText(f"To keep your photo private, this screen clears itself in {int(seconds + 0.999)} s.")
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()
