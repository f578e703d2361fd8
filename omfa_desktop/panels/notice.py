"""The demo model's notice: what the shipped model is, and a loud warning when it is untrained."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

DEMO_NOTICE = (
    "<b>About the demo model.</b> OMFA Desktop ships a small demo model (~11 M parameters) trained by this "
    "project on its own synthetic world: a procedural mannequin in SMPL-X format wearing procedural T-shirts "
    "(stripes, checks, dots, prints, letters…) at 96×128 pixels. It shows the whole loop — try-off, try-on in a "
    "new pose, multi-view — offline on a CPU. It is <b>not</b> a model for real photos: for those, load a real "
    "OMFA checkpoint under Edit → Models.")
UNTRAINED_NOTICE = (
    "<br><span style='color:#b42318'><b>The model loaded now is UNTRAINED</b> (random weights): the demo model "
    "is not in resources/models/demo yet, so a stand-in of the same size is used and <b>every output is noise"
    "</b>. The app, queue and gallery work; the pictures do not mean anything yet.</span>")


class NoticeBanner(QFrame):
    """The prominent, dismissable explanation of the demo model."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setStyleSheet("#notice { background: #fff8e1; border: 1px solid #e0b000; border-radius: 6px; }"
                           "#notice QLabel { color: #3d3000; }")
        self.text = QLabel(DEMO_NOTICE)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.close_button = QPushButton("Got it")
        self.close_button.clicked.connect(self.dismiss)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

    def set_untrained(self, untrained: bool, description: str = "") -> None:
        # The model's own description (omfa_config.json) says how far it is trained, e.g. the demo's status.
        extra = f"<br><i>This model: {html.escape(description)}</i>" if description and not untrained else ""
        self.text.setText(DEMO_NOTICE + (UNTRAINED_NOTICE if untrained else extra))

    def show_outside_world(self, line: str) -> None:
        """Back, whatever was dismissed before: an input does not look like the demo model's world."""
        text = self.text.text().split("<br><b id='outside'")[0]  # the line of the last such input only
        self.text.setText(f"{text}<br><b id='outside' style='color:#c2410c'>{html.escape(line[0].upper() + line[1:])}"
                          ".</b>")
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
