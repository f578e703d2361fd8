"""The person box for pose estimation: the photo with a rectangle the user drags around the person."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from omfa_desktop.qtutil import to_qimage

MIN_SIDE = 16  # pixels of the photo; a smaller box is refused by the engine anyway


class BoxCanvas(QWidget):
    """Shows an image and a box in image pixels; dragging draws a new box."""

    boxChanged = Signal()

    def __init__(self, image: np.ndarray, box: Optional[tuple[float, float, float, float]] = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = np.asarray(image, np.uint8)
        self._qimage = to_qimage(self.image)
        h, w = self.image.shape[:2]
        self.box = tuple(float(v) for v in box) if box is not None else (0.0, 0.0, float(w), float(h))
        self._anchor: Optional[QPointF] = None
        self.setMinimumSize(240, 320)
        self.setCursor(Qt.CursorShape.CrossCursor)

    # image pixels <-> widget pixels
    def _frame(self) -> tuple[float, float, float]:
        h, w = self.image.shape[:2]
        s = min(self.width() / w, self.height() / h)
        return s, (self.width() - w * s) / 2, (self.height() - h * s) / 2

    def to_image(self, p: QPointF) -> tuple[float, float]:
        s, ox, oy = self._frame()
        h, w = self.image.shape[:2]
        return min(max((p.x() - ox) / s, 0.0), w), min(max((p.y() - oy) / s, 0.0), h)

    def set_box(self, box: tuple[float, float, float, float]) -> None:
        h, w = self.image.shape[:2]
        x0, x1 = sorted((min(max(box[0], 0.0), w), min(max(box[2], 0.0), w)))
        y0, y1 = sorted((min(max(box[1], 0.0), h), min(max(box[3], 0.0), h)))
        self.box = (x0, y0, x1, y1)
        self.update()
        self.boxChanged.emit()

    def valid(self) -> bool:
        x0, y0, x1, y1 = self.box
        return x1 - x0 >= MIN_SIDE and y1 - y0 >= MIN_SIDE

    def mousePressEvent(self, e) -> None:  # noqa: N802 - Qt override
        self._anchor = e.position()

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        if self._anchor is not None:
            (x0, y0), (x1, y1) = self.to_image(self._anchor), self.to_image(e.position())
            self.set_box((x0, y0, x1, y1))

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        self.mouseMoveEvent(e)
        self._anchor = None

    def paintEvent(self, _) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        s, ox, oy = self._frame()
        h, w = self.image.shape[:2]
        p.drawImage(QRectF(ox, oy, w * s, h * s), self._qimage)
        x0, y0, x1, y1 = self.box
        rect = QRectF(ox + x0 * s, oy + y0 * s, (x1 - x0) * s, (y1 - y0) * s)
        shade = QColor(0, 0, 0, 90)  # dim what is outside the box
        for r in (QRectF(ox, oy, w * s, rect.top() - oy), QRectF(ox, rect.bottom(), w * s, oy + h * s - rect.bottom()),
                  QRectF(ox, rect.top(), rect.left() - ox, rect.height()),
                  QRectF(rect.right(), rect.top(), ox + w * s - rect.right(), rect.height())):
            p.fillRect(r, shade)
        p.setPen(QPen(QColor("#1d6fd1" if self.valid() else "#b42318"), 2))
        p.drawRect(rect)
        p.end()


class PersonBoxDialog(QDialog):
    """Drag a box around the person (or keep the whole photo), then Estimate."""

    def __init__(self, image: np.ndarray, box=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Person box for pose estimation")
        self.canvas = BoxCanvas(image, box)
        hint = QLabel("Drag a box around the person whose pose you want. The estimator looks only inside it.")
        hint.setWordWrap(True)
        self.size_label = QLabel()
        whole = QPushButton("Whole photo")
        whole.clicked.connect(lambda: self.canvas.set_box((0, 0, image.shape[1], image.shape[0])))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Estimate")
        self.buttons.addButton(whole, QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(hint)
        lay.addWidget(self.canvas, 1)
        lay.addWidget(self.size_label)
        lay.addWidget(self.buttons)
        self.canvas.boxChanged.connect(self._update)
        self._update()
        self.resize(420, 600)

    def _update(self) -> None:
        x0, y0, x1, y1 = self.canvas.box
        ok = self.canvas.valid()
        self.size_label.setText(f"box {x0:.0f},{y0:.0f} – {x1:.0f},{y1:.0f} ({x1 - x0:.0f}×{y1 - y0:.0f} px)"
                                + ("" if ok else f" — too small, at least {MIN_SIDE} px on each side"))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.canvas.box
