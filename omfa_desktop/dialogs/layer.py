"""The layer dialog: another garment over a try-on result, at a chosen strength."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QFrame, QHBoxLayout, QLabel,
                               QSlider, QVBoxLayout, QWidget)

from omfa_desktop.qtutil import ImageView, fill
from omfa_desktop.dialogs.common import SlotBox, hint_label, ok_buttons


class LayerDialog(QDialog):
    """Layer another garment over a result: the result is the starting image of a generation (strength < 1).

    ``LayerDialog(parent=None, base=None, garment=None, strength=0.75, start_dir="")``: ``base`` is the result
    (RGB uint8), ``garment`` an optional prefilled garment (array or path). Results: ``.garment`` (array),
    ``.strength`` (float, 0.30–1.00), ``.garment_path`` (None for a garment given as pixels). Setters:
    ``set_garment(path)`` (True when loaded), ``set_strength(value)``.
    """

    STRENGTH_RANGE = (0.30, 1.00)

    def __init__(self, parent: QWidget | None = None, base: Optional[np.ndarray] = None, garment=None,
                 strength: float = 0.75, start_dir: str = "", garment_label: str = "given garment") -> None:
        super().__init__(parent)
        self.setWindowTitle("Layer another garment over this result")
        intro = hint_label("The result below is the starting point: the new garment is generated over it, so "
                           "the layer underneath can still show (e.g. a jacket over a shirt).")
        self.base = None if base is None else np.asarray(base, np.uint8)
        self.base_view = ImageView("no result", min_size=(166, 221))
        self.base_view.set_image(self.base)
        self.base_view.setToolTip("The result to layer over (the layer below)")
        base_frame = QFrame()  # framed like the garment slot beside it
        base_frame.setObjectName("baseFrame")
        base_frame.setStyleSheet("#baseFrame { border: 1px solid palette(mid); border-radius: 6px; }")
        base_frame.setMaximumWidth(300)
        base_cap = QLabel("<b>This result</b><br><span style='font-size:10px; color:gray'>the layer below</span>")
        base_cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        size = QLabel("—" if self.base is None else "{1}×{0}".format(*self.base.shape[:2]))
        size.setAlignment(Qt.AlignmentFlag.AlignCenter)
        size.setStyleSheet("font-size: 10px; color: palette(mid);")
        fill(QVBoxLayout(base_frame), base_cap, (self.base_view, 1), size, margins=6, spacing=4)
        self.box = SlotBox("garment", "Garment", "The garment to put over the result (a flat garment image)",
                           start_dir=start_dir)
        plus = QLabel("+")
        plus.setStyleSheet("font-size: 22px; color: palette(mid);")
        top = QHBoxLayout()
        top.addWidget(base_frame, 1)
        top.addWidget(plus)
        top.addWidget(self.box, 0, Qt.AlignmentFlag.AlignTop)

        lo, hi = (round(v * 100) for v in self.STRENGTH_RANGE)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(5)
        self.slider.setTickInterval(10)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("How much the generation may change the result: lower keeps more of the layer "
                               "below; 1.0 ignores it (a fresh try-on)")
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(36)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Strength"))
        srow.addWidget(self.slider, 1)
        srow.addWidget(self.value_label)
        self.buttons, self.ok_button = ok_buttons(self, "Layer it")
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(top, 1)
        lay.addLayout(srow)
        lay.addWidget(hint_label("Lower keeps more of the layer below; 1.0 ignores it."))
        lay.addWidget(self.buttons)
        self.slider.valueChanged.connect(self._update)
        self.box.slot.changed.connect(self._update)
        if isinstance(garment, (str, Path)):
            self.box.set_path(garment)
        elif garment is not None:
            self.box.set_image(np.asarray(garment, np.uint8), garment_label)
        self.set_strength(strength)
        self._update()
        self.resize(max(540, self.minimumSizeHint().width()), 560)  # see PersonToPersonDialog's resize

    def set_garment(self, path: str | Path) -> bool:
        return self.box.set_path(path)

    def set_strength(self, value: float) -> None:
        lo, hi = self.STRENGTH_RANGE
        self.slider.setValue(round(min(max(float(value), lo), hi) * 100))

    @property
    def strength(self) -> float:
        return self.slider.value() / 100.0

    @property
    def garment(self) -> Optional[np.ndarray]:
        return self.box.image

    @property
    def garment_path(self) -> Optional[Path]:
        return self.box.path

    def _update(self, *_) -> None:
        self.value_label.setText(f"{self.strength:.2f}")
        self.ok_button.setEnabled(self.garment is not None)

    def accept(self) -> None:
        if self.garment is None:
            return
        super().accept()
