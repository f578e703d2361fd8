"""What the job dialogs share: hint labels, a wrapping label, OK/Cancel buttons, a path field and an
image slot with its own message line."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QApplication, QDialog, QDialogButtonBox,
                               QFileDialog, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from engine.batch import IMAGE_SUFFIXES
from omfa_desktop.inputs import ImageSlot

ERROR_STYLE = "color: #b42318;"
POSE_FILTER = ("Pose files (*.json " + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;Body state (*.json);;"
               "Pose guide image (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)")
CSV_FILTER = "CSV files (*.csv);;All files (*)"


def hint_style() -> str:
    """Small, and halfway to the background: readable on light and dark themes (palette(mid) is too faint)."""
    pal = QApplication.palette()
    fg, bg = pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window)
    mix = [round(0.62 * a + 0.38 * b) for a, b in zip(fg.getRgb()[:3], bg.getRgb()[:3])]
    return "color: #{:02x}{:02x}{:02x}; font-size: 11px;".format(*mix)


def hint_label(text: str) -> QLabel:
    """A small grey explanation under a field."""
    label = WrapLabel(text)
    label.setStyleSheet(hint_style())
    return label


class WrapLabel(QLabel):
    """A word-wrapped label whose minimum height is that of its text wrapped at its current width.

    A plain wrapped QLabel tells the layout one guessed line; the top-level layout then gives it more lines'
    height anyway and squeezes its neighbours below their minimum (image slots drawn over their buttons).
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._placed = False  # resized while shown: its width is the layout's, not Qt's default

    def _width_known(self) -> bool:
        return self._placed or self.minimumWidth() == self.maximumWidth()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        size = super().minimumSizeHint()
        if self._width_known() and self.text():
            size.setHeight(max(size.height(), self.heightForWidth(self.width())))
        return size

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.isVisible() and (not self._placed or event.oldSize().width() != event.size().width()):
            self._placed = True
            self.updateGeometry()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        self.updateGeometry()


def ok_buttons(dialog: QDialog, ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    """OK (the default button: Enter presses it when it is enabled) and Cancel (Esc)."""
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    ok.setDefault(True)
    box.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box, ok


def no_default(*buttons: QPushButton) -> None:
    """Buttons inside a dialog: Enter must not press them (it is OK's key)."""
    for b in buttons:
        b.setAutoDefault(False)
        b.setDefault(False)


class PathField(QWidget):
    """A path typed or chosen with Browse… (a folder, an existing file, or a folder that may not exist yet).

    ``changed(text)`` on every edit. The file dialog opens only from Browse…; :meth:`set_text` sets it directly.
    """

    changed = Signal(str)

    def __init__(self, mode: str, caption: str, placeholder: str = "", tip: str = "", file_filter: str = "",
                 start_dir: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        assert mode in ("dir", "file")
        self.mode, self.caption, self.file_filter, self.start_dir = mode, caption, file_filter, start_dir
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.edit.setToolTip(tip)
        self.edit.textChanged.connect(self.changed)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip(f"{caption}: choose with a file dialog")
        no_default(self.browse_button)
        self.browse_button.clicked.connect(self.browse)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.browse_button)

    def text(self) -> str:
        return self.edit.text().strip()

    def set_text(self, text: str | Path | None) -> None:
        self.edit.setText("" if text is None else str(text))

    def _start(self) -> str:
        p = Path(self.text()).expanduser() if self.text() else None
        if p is not None and (p.is_dir() or p.parent.is_dir()):
            return str(p)
        return self.start_dir

    def browse(self) -> None:
        if self.mode == "dir":
            path = QFileDialog.getExistingDirectory(self, self.caption, self._start())
        else:
            path, _ = QFileDialog.getOpenFileName(self, self.caption, self._start(), self.file_filter)
        if path:
            self.set_text(path)


class SlotBox(QWidget):
    """An :class:`ImageSlot` (Browse…, drag and drop, preview) sized for a dialog, with its problems said
    under it: a file that cannot be used shows its :class:`engine.images.ImageError` message in red (the slot
    keeps its previous image); a file that had to be changed (rotated, first frame...) a grey note."""

    def __init__(self, key: str, title: str, hint: str, width: int = 190, start_dir: str = "",
                 optional: bool = False, parent: QWidget | None = None, person_check: bool = False) -> None:
        super().__init__(parent)
        self.slot = ImageSlot(key, title, hint, optional=optional, person_check=person_check)
        self.slot.setMinimumWidth(width)
        self.slot.setMaximumWidth(width)
        self.slot.view.setMinimumSize(width - 24, int((width - 24) * 4 / 3))
        self.slot.view.setToolTip(hint)
        self.slot.open_button.setText("Browse…")
        self.slot.last_dir = start_dir
        no_default(self.slot.open_button, self.slot.clear_button)
        self.message = WrapLabel()
        self.message.setFixedWidth(width)
        self.message.hide()
        # bound methods, not lambdas: a lambda holding ``self`` on a child's signal makes a cycle that PySide6
        # may free in the wrong order (a crash when the dialog is collected)
        self.slot.error.connect(self._error)
        self.slot.notice.connect(self._notice)
        self.slot.changed.connect(self._changed)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.slot, 1)
        lay.addWidget(self.message)

    def _error(self, text: str, _details: str = "") -> None:
        self._say(text, ERROR_STYLE)

    def _notice(self, text: str) -> None:
        self._say(text, hint_style())

    def _say(self, text: str, style: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(style)
        self.message.show()

    def _changed(self) -> None:  # a new image: what was said about the last file is stale (a note follows)
        self.message.hide()
        self.message.clear()

    def error(self) -> str:
        """The error shown under the slot ("" when none)."""
        return self.message.text() if self.message.isVisibleTo(self) and self.message.styleSheet() == ERROR_STYLE \
            else ""

    # the slot's state, for the dialogs
    @property
    def image(self) -> Optional[np.ndarray]:
        return self.slot.image

    @property
    def path(self) -> Optional[Path]:
        return self.slot.path

    def set_path(self, path: str | Path) -> bool:
        """Load an image file: True when loaded; else the message shows under the slot and nothing changes."""
        return self.slot.set_path(path)

    def set_image(self, img: Optional[np.ndarray], label: str = "") -> None:
        self.slot.set_image(img, label)
        if img is not None:
            self.slot.path = None  # given as pixels: no file behind it


# ====================================================================== batch
