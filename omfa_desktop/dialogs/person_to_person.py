"""The person-to-person dialog: the garment one person wears, on another person."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QButtonGroup, QDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QRadioButton, QVBoxLayout, QWidget)

from omfa_desktop.dialogs.common import SlotBox, WrapLabel, hint_label, hint_style, ok_buttons


class PersonToPersonDialog(QDialog):
    """Garment from one person onto another: photo A (wearing it) and photo B (to dress), B's head, the pose.

    ``PersonToPersonDialog(parent=None, photo_a=None, photo_b=None, start_dir="")``: ``photo_a`` / ``photo_b``
    prefill the slots (an RGB uint8 array, or an image path). Results: ``.photo_a``, ``.photo_b``, ``.head``
    (arrays; ``head`` None when B's head is cropped from the photo), ``.pose_source`` ("own" | "viewport"),
    ``.paths`` ({"photo_a", "photo_b", "head"}: file paths, None for an image given as pixels).
    Setters: ``set_photo_a(path)``, ``set_photo_b(path)``, ``set_head(path)`` (each True when loaded),
    ``set_head_source("crop" | "image")``, ``set_pose_source("own" | "viewport")``.
    """

    def __init__(self, parent: QWidget | None = None, photo_a=None, photo_b=None, start_dir: str = "",
                 label_a: str = "current person photo", label_b: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Garment from one person onto another")
        intro = hint_label("Takes the garment off the person in photo A, then puts it on the person in photo B "
                           "(two generations, both kept in the gallery).")
        self.box_a = SlotBox("photo_a", "Photo A", "Photo of the person wearing the garment", start_dir=start_dir,
                             person_check=True)
        self.box_b = SlotBox("photo_b", "Photo B", "Photo of the person to dress", start_dir=start_dir,
                             person_check=True)
        self.box_head = SlotBox("head", "Head of B", "A head image of B (instead of the crop from photo B)",
                                width=150, start_dir=start_dir)
        captions = {self.box_a: "Photo of the person wearing the garment",
                    self.box_b: "Photo of the person to dress",
                    self.box_head: "B's head, if not cropped from photo B"}
        top = QGridLayout()
        top.setHorizontalSpacing(12)
        for col, box in enumerate((self.box_a, self.box_b, self.box_head)):
            cap = WrapLabel(captions[box])
            cap.setFixedWidth(box.slot.maximumWidth())
            cap.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
            top.addWidget(cap, 0, col, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
            top.addWidget(box, 1, col, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)

        head_box, self.head_group, (self.head_crop, self.head_image) = self._choice("Head", (
            ("Crop B's head from the photo", "The head is found in photo B with the pose estimator and cropped"),
            ("Use a head image…", "Use the head image on the right (Browse… or drop one there)")))
        pose_box, self.pose_group, (self.pose_own, self.pose_viewport) = self._choice("Target pose", (
            ("B's own pose (estimated from the photo)", "B is dressed in the pose of photo B"),
            ("The pose in the viewport", "B is dressed in the pose set in the pose panel / 3D viewport")))
        choices = QHBoxLayout()
        choices.addWidget(head_box, 1)
        choices.addWidget(pose_box, 1)

        self.status = QLabel()
        self.status.setStyleSheet(hint_style())
        self.buttons, self.ok_button = ok_buttons(self, "Dress B")
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(top)
        lay.addLayout(choices)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)

        for box in (self.box_a, self.box_b, self.box_head):
            box.slot.changed.connect(self._update)
        self.head_image.toggled.connect(self._update)
        self.head_image.clicked.connect(self._head_clicked)
        self._prefill(self.box_a, photo_a, label_a)
        self._prefill(self.box_b, photo_b, label_b or "given photo")
        self._update()
        # an explicit size: Qt's own first size follows the previews' pixmaps, which are scaled to the size a
        # widget has before it is laid out (640x480), and comes out far too tall
        self.resize(self.minimumSizeHint().width(), self.minimumSizeHint().height() + 20)

    @staticmethod
    def _prefill(box: SlotBox, value, label: str) -> None:
        if value is None:
            return
        if isinstance(value, (str, Path)):
            box.set_path(value)
        else:
            box.set_image(np.asarray(value, np.uint8), label)

    def _head_clicked(self) -> None:  # the user chose "Use a head image…" and none is there yet: ask for one
        if self.box_head.image is None:
            self.box_head.slot.open_dialog()

    def _choice(self, title: str, options: tuple[tuple[str, str], ...]
                ) -> tuple[QGroupBox, QButtonGroup, list[QRadioButton]]:
        """A titled box of exclusive radio buttons, one per (text, tooltip), the first checked."""
        box, group = QGroupBox(title), QButtonGroup(self)
        col = QVBoxLayout(box)
        buttons = []
        for text, tip in options:
            b = QRadioButton(text)
            b.setToolTip(tip)
            group.addButton(b)
            col.addWidget(b)
            buttons.append(b)
        buttons[0].setChecked(True)
        return box, group, buttons

    # ------------------------------------------------------------------ setters
    def set_photo_a(self, path: str | Path) -> bool:
        return self.box_a.set_path(path)

    def set_photo_b(self, path: str | Path) -> bool:
        return self.box_b.set_path(path)

    def set_head(self, path: str | Path) -> bool:
        """Load a head image and choose "Use a head image"."""
        ok = self.box_head.set_path(path)
        if ok:
            self.head_image.setChecked(True)
        return ok

    def set_head_source(self, source: str) -> None:
        """"crop" (from photo B) or "image" (the head image slot)."""
        (self.head_image if source == "image" else self.head_crop).setChecked(True)

    def set_pose_source(self, source: str) -> None:
        """"own" (B's pose, estimated from photo B) or "viewport"."""
        (self.pose_viewport if source == "viewport" else self.pose_own).setChecked(True)

    # ------------------------------------------------------------------ results
    @property
    def photo_a(self) -> Optional[np.ndarray]:
        return self.box_a.image

    @property
    def photo_b(self) -> Optional[np.ndarray]:
        return self.box_b.image

    @property
    def head(self) -> Optional[np.ndarray]:
        return self.box_head.image if self.head_image.isChecked() else None

    @property
    def head_source(self) -> str:
        return "image" if self.head_image.isChecked() else "crop"

    @property
    def pose_source(self) -> str:
        return "viewport" if self.pose_viewport.isChecked() else "own"

    @property
    def paths(self) -> dict:
        return {"photo_a": self.box_a.path, "photo_b": self.box_b.path,
                "head": self.box_head.path if self.head_image.isChecked() else None}

    def missing(self) -> list[str]:
        """What is still needed before OK."""
        need = []
        if self.photo_a is None:
            need.append("photo A (the person wearing the garment)")
        if self.photo_b is None:
            need.append("photo B (the person to dress)")
        if self.head_image.isChecked() and self.box_head.image is None:
            need.append("the head image")
        return need

    def _update(self, *_) -> None:
        self.box_head.setEnabled(self.head_image.isChecked())
        need = self.missing()
        self.status.setText("Still needed: " + ", ".join(need) + "." if need else "Ready: A's garment onto B.")
        self.ok_button.setEnabled(not need)

    def accept(self) -> None:
        if self.missing():
            return
        super().accept()


# ====================================================================== layer
