"""The turntable dialog: N views around the pose, batched, exported as GIF, MP4 and a contact sheet."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import partial
from typing import Optional

from PySide6.QtWidgets import (QCheckBox, QDialog, QFormLayout, QHBoxLayout, QLabel,
                               QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from omfa_desktop.dialogs.common import PathField, hint_label, no_default, ok_buttons
from omfa_desktop.model.jobs import plural


@dataclass
class TurntableOptions:
    """A turntable's settings: ``views`` cameras around the body made ``batch`` at a time (one generation
    each), at ``elevation`` degrees; exported at ``fps`` as GIF / MP4 / a contact sheet into ``folder``
    ("" = only the gallery)."""

    views: int = 8
    batch: int = 8
    elevation: float = 0.0
    fps: int = 8
    gif: bool = True
    mp4: bool = True
    sheet: bool = True
    folder: str = ""
    share_canvas: bool = True  # several views side by side on one canvas (as many as the model was trained for)

    @property
    def batches(self) -> int:
        return -(-self.views // max(1, self.batch))


def mp4_available() -> bool:
    """MP4 export needs PyAV (engine.media.save_mp4)."""
    return importlib.util.find_spec("av") is not None


class TurntableDialog(QDialog):
    """Turntable: views around the body, in batches, exported as GIF / MP4 / contact sheet.

    ``TurntableDialog(parent=None, options=None, start_dir="", views_per_canvas=1)`` (``options``: the
    last-used :class:`TurntableOptions`; ``views_per_canvas``: how many views the loaded model takes on one
    canvas — "Share canvases" is offered only when that is more than 1); ``options()`` returns the choice,
    ``set_options()`` sets it.
    """

    def __init__(self, parent: QWidget | None = None, options: Optional[TurntableOptions] = None,
                 start_dir: str = "", views_per_canvas: int = 1) -> None:
        super().__init__(parent)
        self.setWindowTitle("Turntable")
        self._mp4 = mp4_available()
        intro = hint_label("Views all around the body in the current pose, with the current garment and head. "
                           "They go to the gallery; the exports are made from them.")

        self.views = QSpinBox()
        self.views.setRange(2, 72)
        self.views.setToolTip("How many cameras around the body (evenly spaced over 360°)")
        self.quick = {}
        views_row = QHBoxLayout()
        views_row.addWidget(self.views, 1)
        for n in (8, 24):
            b = QPushButton(str(n))
            b.setToolTip(f"{n} views")
            b.setFixedWidth(44)
            no_default(b)
            b.clicked.connect(partial(self.views.setValue, n))  # not a lambda on self: see SlotBox
            views_row.addWidget(b)
            self.quick[n] = b
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setToolTip("Views generated together in one generation (they share the clean panels)")
        self.share = QCheckBox("Share canvases: faster")
        self.share.setToolTip("Put several views side by side on one canvas, so the garment and head are computed "
                              f"once for them (this model: up to {views_per_canvas}). Off: one canvas per view, "
                              "slower and a little closer to the guide")
        # A model trained on one person panel has nothing to share: the option would only mislead.
        self.share.setVisible(views_per_canvas > 1)
        self.elevation = QSpinBox()
        self.elevation.setRange(-30, 45)
        self.elevation.setSingleStep(5)
        self.elevation.setSuffix("°")
        self.elevation.setToolTip("Camera height angle: positive looks down on the body, negative up at it")
        self.fps = QSpinBox()
        self.fps.setRange(1, 30)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Frames per second of the GIF and the MP4")
        self.gif = QCheckBox("GIF")
        self.gif.setToolTip("An animated GIF that loops (turntable.gif)")
        self.mp4 = QCheckBox("MP4")
        self.mp4.setToolTip("An H.264 video (turntable.mp4)" if self._mp4
                            else "MP4 export needs PyAV (pip install av); GIF works without it")
        self.mp4.setEnabled(self._mp4)
        self.sheet = QCheckBox("Contact sheet")
        self.sheet.setToolTip("Every view on one PNG, labelled with its angle (contact_sheet.png)")
        formats = QHBoxLayout()
        for c in (self.gif, self.mp4, self.sheet):
            formats.addWidget(c)
        formats.addStretch(1)
        self.folder = PathField("dir", "Export folder", "optional: empty = only the gallery",
                                "The folder for the GIF, MP4 and contact sheet; empty: the views go only to the "
                                "gallery", start_dir=start_dir)
        self.cost = QLabel()
        self.cost.setStyleSheet("font-weight: bold;")
        self.cost.setToolTip("Each batch is one generation: the time of one multi-view job")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Views", views_row)
        form.addRow("Views per batch", self.batch)
        form.addRow("", hint_label("Each batch is one generation; smaller uses less GPU memory."))
        form.addRow("", self.share)
        form.addRow("Camera elevation", self.elevation)
        form.addRow("Frame rate", self.fps)
        form.addRow("Export", formats)
        form.addRow("Export folder", self.folder)
        self.buttons, self.ok_button = ok_buttons(self, "Make turntable")
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.cost)
        lay.addStretch(1)
        lay.addWidget(self.buttons)
        for spin in (self.views, self.batch, self.fps):
            spin.valueChanged.connect(self._update)
        for c in (self.gif, self.mp4, self.sheet):
            c.toggled.connect(self._update)
        self.folder.changed.connect(self._update)
        self.set_options(options or TurntableOptions())
        self.resize(480, 0)

    def set_options(self, o: TurntableOptions) -> None:
        self.views.setValue(int(o.views))
        self.batch.setValue(int(o.batch))
        self.elevation.setValue(int(round(o.elevation)))
        self.fps.setValue(int(round(o.fps)))
        self.gif.setChecked(bool(o.gif))
        self.mp4.setChecked(bool(o.mp4) and self._mp4)
        self.sheet.setChecked(bool(o.sheet))
        self.share.setChecked(bool(getattr(o, "share_canvas", True)))
        self.folder.set_text(o.folder or "")
        self._update()

    def options(self) -> TurntableOptions:
        return TurntableOptions(views=self.views.value(), batch=self.batch.value(),
                                elevation=float(self.elevation.value()), fps=self.fps.value(),
                                gif=self.gif.isChecked(), mp4=self.mp4.isChecked(), sheet=self.sheet.isChecked(),
                                folder=self.folder.text(), share_canvas=self.share.isChecked())

    def _update(self, *_) -> None:
        o = self.options()
        n, rest = o.batches, o.views % o.batch
        text = f"{o.views} views = {plural(n, 'batch', 'batches')}"
        if n > 1 and rest:
            text += f" (the last of {plural(rest, 'view')})"
        text += f"; a {o.views / o.fps:.1f} s loop at {o.fps} fps"
        if o.folder and not (o.gif or o.mp4 or o.sheet):
            text += "\nNo export format ticked: nothing is written to the export folder."
        self.cost.setText(text)


# ====================================================================== person to person
