"""Input slots: an image the user gives (open dialog or drag and drop), shown as a thumbnail."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from omfa_desktop.qtutil import ImageView

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"


class ImageSlot(QFrame):
    """One image input.

    Signals
    -------
    changed()               the image was set or cleared
    error(message, details) a file could not be used (the slot keeps its previous image)
    notice(message)         a file was used but had to be changed (rotated, reduced to 8 bits, first frame...)
    refused(message)        ``person_check`` slots: the person gate (engine.body.gate) found nobody in the image; the
                            slot keeps its previous image and says so on itself, with "Use anyway"
    """

    changed = Signal()
    error = Signal(str, str)
    notice = Signal(str)
    refused = Signal(str)

    def __init__(self, key: str, title: str, hint: str = "", optional: bool = False,
                 parent: QWidget | None = None, person_check: bool = False) -> None:
        super().__init__(parent)
        self.key = key
        self.title = title
        self.optional = optional
        self.person_check = person_check
        self._refused: tuple | None = None  # (pixels, label, path) of the image the gate refused
        self.image: np.ndarray | None = None
        self.path: Path | None = None
        self.label = ""
        self.last_dir = ""
        self.setObjectName("imageSlot")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._set_style(False)

        self.caption = QLabel(f"<b>{title}</b><br><span style='font-size:10px; color:gray'>"
                              f"{'optional' if optional else 'required'}</span>")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view = ImageView("drop an\nimage here", min_size=(72, 96))
        self.view.setToolTip(hint)
        self.name_label = QLabel("—")
        self.name_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name_label.setStyleSheet("font-size: 10px; color: palette(mid);")
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip(f"Choose the {title.lower()} image (or drag one onto this box)")
        self.clear_button = QPushButton("✕")
        self.clear_button.setFixedWidth(28)
        self.clear_button.setToolTip("Clear")
        self.open_button.clicked.connect(self.open_dialog)
        self.clear_button.clicked.connect(self.clear)
        # the person gate's refusal, said on the slot itself (a message bar far away is easy to miss)
        self.problem = QLabel()
        self.problem.setObjectName("slotProblem")
        self.problem.setWordWrap(True)
        self.problem.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.problem.setStyleSheet("#slotProblem { color: #b42318; font-size: 10px; font-weight: 600; }")
        self.problem.hide()
        self.use_anyway = QPushButton("Use anyway")
        self.use_anyway.setToolTip("Use the image although no person was found in it")
        self.use_anyway.setStyleSheet("font-size: 10px;")
        self.use_anyway.clicked.connect(self.accept_refused)
        self.use_anyway.setAutoDefault(False)  # in a dialog, Return must not "use anyway" a hidden refusal
        self.use_anyway.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.open_button, 1)
        row.addWidget(self.clear_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        lay.addWidget(self.caption)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.name_label)
        lay.addWidget(self.problem)
        lay.addWidget(self.use_anyway)
        lay.addLayout(row)
        self.setMinimumWidth(112)
        self.setMaximumWidth(150)

    def _set_style(self, highlight: bool, bad: bool = False) -> None:
        color = "#b42318" if bad else ("#1d6fd1" if highlight else "palette(mid)")
        width = 2 if (highlight or bad) else 1
        self.setStyleSheet(f"#imageSlot {{ border: {width}px {'dashed' if highlight else 'solid'} {color}; "
                           "border-radius: 6px; }")

    def set_used(self, used: bool) -> None:
        """Dim a slot the task does not read; its Open and Clear buttons and drops keep working."""
        self.caption.setEnabled(used)
        self.view.setEnabled(used)
        self.name_label.setEnabled(used)

    def mark_invalid(self, bad: bool = True) -> None:
        """Outline the slot in red (e.g. a request error names this input)."""
        self._set_style(False, bad)

    # ------------------------------------------------------------------ setting the image
    def set_path(self, path: str | Path, shipped: bool = False) -> bool:
        """Load an image file; on failure emit ``error`` and change nothing (image, path, label stay).
        ``shipped``: one of the app's own samples, which the person gate is known to pass (a test checks
        every one), so start-up does not spend its interpreter time checking them again."""
        from engine.images import ImageError, read_image

        path = Path(path)
        try:
            read = read_image(path)
        except ImageError as e:  # the message names the file and the problem; the full path goes in details
            self.error.emit(f"{self.title}: {path.name} {e.reason}", str(path))
            return False
        except Exception as e:  # noqa: BLE001 - read_image should catch everything; a bug must not kill the GUI
            import traceback

            self.error.emit(f"{self.title}: {path.name} could not be read ({e.__class__.__name__}: {e})",
                            traceback.format_exc())
            return False
        self.last_dir = str(path.parent)
        if not shipped and not self._admit(read.pixels, path.name, path):
            return False
        self.path = path
        self.set_image(read.pixels, path.name)
        if read.notes:  # e.g. rotated upright, first frame of an animation: usable, but the user should know
            self.notice.emit(f"{self.title}: {path.name}: {'; '.join(read.notes)}.")
        return True

    def _admit(self, pixels: np.ndarray, label: str, path: Path | None = None) -> bool:
        """The person gate on an image the user gives: False (and the refusal shown on the slot) when it finds
        nobody. A gate that cannot run here (no BlazePose runtime) lets the image through."""
        if not self.person_check:
            return True
        from engine.body.blazepose import BlazePoseUnavailable
        from engine.body.gate import find_person

        try:
            found = find_person(pixels).found  # ~50-100 ms, like decoding the file just before it
        except BlazePoseUnavailable:
            return True
        if found:
            return True
        self._refused = (pixels, label, path)
        message = f"No person found in {label}."
        self.problem.setText(message)
        self.problem.setToolTip(f"The person check found nobody in {path or label}; the slot keeps "
                                "its image. Choose a photo of a person, or 'Use anyway'.")
        self.problem.show()
        self.use_anyway.show()
        self._set_style(False, True)
        self.refused.emit(f"{self.title}: no person found in {label}; choose a photo of a person, or 'Use anyway'")
        return False

    def accept_refused(self) -> bool:
        """'Use anyway': put the image the person gate refused into the slot. False when there is none."""
        if self._refused is None:
            return False
        pixels, label, path = self._refused
        self.set_image(pixels, label)
        self.path = path
        if path is not None:
            self.name_label.setToolTip(f"{path} ({pixels.shape[1]}×{pixels.shape[0]}; used without a person)")
        return True

    def _hide_problem(self) -> None:
        self._refused = None
        self.problem.hide()
        self.use_anyway.hide()

    def set_image(self, img: np.ndarray | None, label: str = "") -> None:
        self._hide_problem()
        self.image = None if img is None else np.asarray(img, np.uint8)
        if img is None:
            self.path = None
        self.label = label if img is not None else ""
        self.view.set_image(self.image)
        if img is None:
            self.name_label.setText("—")
        else:
            h, w = self.image.shape[:2]
            self._name = (label, f"{w}×{h}")
            self._update_name()
            self.name_label.setToolTip(f"{self.path or label} ({w}×{h})")
        self._set_style(False)
        self.changed.emit()

    def _update_name(self) -> None:
        """File name elided in the middle to the slot's width, then the size: 'demo…son.png 96×128'."""
        if self.image is None:
            return
        label, size = getattr(self, "_name", ("", ""))
        fm = self.name_label.fontMetrics()
        room = max(10, self.name_label.width() - fm.horizontalAdvance(" " + size) - 6)
        name = fm.elidedText(label, Qt.TextElideMode.ElideMiddle, room) if label else ""
        self.name_label.setText(f"{name} {size}".strip())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._update_name()

    def clear(self) -> None:
        self.set_image(None)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Open {self.title.lower()}", self.last_dir, IMAGE_FILTER)
        if path:
            self.set_path(path)

    # ------------------------------------------------------------------ drag and drop
    @staticmethod
    def _local_file(mime) -> str | None:
        if mime.hasUrls():
            for url in mime.urls():
                if url.isLocalFile():
                    return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._local_file(event.mimeData()) or event.mimeData().hasImage():
            self._set_style(True)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_style(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        self._set_style(False)
        mime = event.mimeData()
        path = self._local_file(mime)
        if path:
            self.set_path(path)
            event.acceptProposedAction()
        elif mime.hasImage():
            from omfa_desktop.qtutil import from_qimage

            img = from_qimage(mime.imageData())
            if self._admit(img, "the dropped image"):
                self.set_image(img, "dropped image")
            event.acceptProposedAction()
        else:
            event.ignore()
