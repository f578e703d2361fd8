"""Small Qt helpers shared by the widgets: numpy <-> QImage, scaled pixmaps, filling a box layout, the inline
message bar."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QBoxLayout, QFrame, QHBoxLayout, QLabel, QLayout, QPlainTextEdit, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)


def to_qimage(img: np.ndarray) -> QImage:
    """RGB uint8 (H, W, 3) -> a QImage that owns its pixels (safe to create on any thread)."""
    a = np.ascontiguousarray(np.asarray(img, np.uint8)[..., :3])
    h, w = a.shape[:2]
    return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage -> RGB uint8 (H, W, 3)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


def scaled_pixmap(img: np.ndarray | QImage, width: int, height: int, smooth: bool = True) -> QPixmap:
    """Fit an image inside width x height, keeping its aspect ratio."""
    q = img if isinstance(img, QImage) else to_qimage(img)
    mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
    return QPixmap.fromImage(q.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio, mode))


def fill(layout: QBoxLayout, *items, margins: int | tuple[int, int, int, int] | None = None,
         spacing: int | None = None) -> QBoxLayout:
    """Fill a box layout in order and return it: a widget or a layout, ``(widget or layout, stretch)``, or an
    int for a stretch; ``margins`` (one for all four sides, or left, top, right, bottom) and ``spacing`` set
    when given (Qt's style defaults otherwise)."""
    if margins is not None:
        layout.setContentsMargins(*((margins,) * 4 if isinstance(margins, int) else margins))
    if spacing is not None:
        layout.setSpacing(spacing)
    for item in items:
        if isinstance(item, int):
            layout.addStretch(item)
            continue
        item, stretch = item if isinstance(item, tuple) else (item, 0)
        (layout.addLayout if isinstance(item, QLayout) else layout.addWidget)(item, stretch)
    return layout


class ImageView(QLabel):
    """A label that shows an image scaled to fit its current size (keeps the original for resizes)."""

    def __init__(self, placeholder: str = "", min_size: tuple[int, int] = (96, 128), smooth: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._placeholder = placeholder
        self._smooth = smooth
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(*min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setText(placeholder)
        self.setObjectName("imageView")

    def set_image(self, img: np.ndarray | QImage | None, smooth: bool | None = None) -> None:
        if smooth is not None:
            self._smooth = smooth
        self._image = None if img is None else (img if isinstance(img, QImage) else to_qimage(img))
        self._refresh()

    def image(self) -> QImage | None:
        return self._image

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._refresh()

    def _refresh(self) -> None:
        if self._image is None or self._image.isNull():
            self.setPixmap(QPixmap())
            self.setText(self._placeholder)
            return
        w, h = max(8, self.width() - 4), max(8, self.height() - 4)
        self.setPixmap(scaled_pixmap(self._image, w, h, self._smooth))


class MessageBar(QFrame):
    """An inline, non-modal message: one readable line, optional details on demand, a close button.

    Used for every error the user can cause (bad file, invalid request, failed job): never a traceback
    dialog. ``kind`` is "error", "warning" or "info".
    """

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.setFlat(True)
        self.close_button = QPushButton("✕")
        self.close_button.setFlat(True)
        self.close_button.setFixedWidth(28)
        self.close_button.setToolTip("Dismiss")
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(160)
        self.details.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        self.action_row = QHBoxLayout()  # optional buttons that fix the problem ("Retry with low memory", ...)
        self.action_row.setContentsMargins(0, 0, 0, 0)
        self.action_buttons: list[QPushButton] = []
        row.addLayout(self.action_row)
        row.addWidget(self.details_button)
        row.addWidget(self.close_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addLayout(row)
        lay.addWidget(self.details)
        self.details_button.toggled.connect(self.details.setVisible)
        self.close_button.clicked.connect(self.dismiss)
        self.kind = "info"
        self.hide()

    def show_message(self, message: str, details: str = "", kind: str = "error", actions=()) -> None:
        """``actions``: (label, callable) pairs shown as buttons; pressing one runs it and dismisses the bar."""
        self.kind = kind
        for b in self.action_buttons:
            self.action_row.removeWidget(b)
            b.hide()
            b.deleteLater()
        self.action_buttons = []
        for label, fn in actions:
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, fn=fn: (self.dismiss(), fn()))
            self.action_row.addWidget(b)
            self.action_buttons.append(b)
        colors = {"error": ("#fde8e8", "#b42318"), "warning": ("#fff4e0", "#9a5b00"), "info": ("#e8f1fd", "#1d4f91")}
        bg, fg = colors.get(kind, colors["info"])
        self.setStyleSheet(f"#messageBar {{ background: {bg}; border: 1px solid {fg}; border-radius: 4px; }}"
                           f"#messageBar QLabel {{ color: {fg}; }}")
        self.text.setText(message)
        self.details.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.details.hide()
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.closed.emit()

    def message(self) -> str:
        return self.text.text() if self.isVisible() else ""


def pump_events(seconds: float = 0.3) -> None:
    """Let Qt run for ``seconds`` outside an event loop (screenshot scripts, not the app)."""
    import time

    from PySide6.QtCore import QCoreApplication, QEventLoop

    t = time.time()
    while time.time() - t < seconds:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
        time.sleep(0.01)


def wait_for(cond, timeout: float = 600.0) -> bool:
    """Process Qt events until ``cond()`` is true or ``timeout`` seconds pass; returns ``cond()``."""
    import time

    from PySide6.QtCore import QCoreApplication, QEventLoop

    t = time.time()
    while not cond() and time.time() - t < timeout:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
    return bool(cond())
