"""The target pose: a BodyState edited by presets, mirror and (when available) the 3D viewport, and the
exact guide images the model will get, rendered on the guide thread.

The guide strip is never a look-alike: it shows the images of ``engine.body.guide.pose_guides`` at the
model's panel size and render style, for the current views and elevation — the same arrays a job sends.
"""
from __future__ import annotations

import hashlib

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget)

from omfa_desktop.qtutil import ImageView
from omfa_desktop.worker import GuideService


CUSTOM = "custom"   # the preset box's entry once joints were edited by hand (the pose is no preset's)


def preset_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def body_label(name: str) -> str:
    """"mannequin" -> "OMFA mannequin", "smplx-male" -> "SMPL-X (male)"."""
    if name.startswith("smplx-"):
        return f"SMPL-X ({name[6:]})"
    return "OMFA mannequin" if name == "mannequin" else name


class PosePanel(QWidget):
    """Preset + mirror + reset, an optional viewport, and the guide renders for the current parameters.

    Signals
    -------
    stateChanged()            the body state changed (preset, mirror, reset, viewport edit)
    guidesReady()             the guides for the current parameters are available
    bodyModelChanged(name, note)  the body model the guides were rendered with changed ("mannequin" or
                              "smplx-<gender>"; ``note`` says why a chosen SMPL-X was not used, else "")
    """

    stateChanged = Signal()
    guidesReady = Signal()
    error = Signal(str, str)
    bodyModelChanged = Signal(str, str)

    def __init__(self, guides: GuideService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from engine.body.presets import list_presets
        from engine.body.state import BodyState

        self.service = guides
        self.state = BodyState()
        self.preset = ""
        self.mirrored = False
        self.edited = False
        self.params = {"width": 96, "height": 128, "style": "parts_shaded", "views": 1, "elevation": 0.0}
        self.render_enabled = False          # set once a model's panel size and render style are known
        self.guides: list[np.ndarray] | None = None
        self.cameras: list[dict] | None = None
        self._guides_key: str | None = None
        self._pending: dict[int, str] = {}  # token -> key
        self._waiters: list = []            # callbacks waiting for the current key's guides
        self.viewport = None
        self.body = ("", "neutral")          # (SMPL-X folder, gender); "" = the shipped mannequin
        self.body_name = ""                  # the body model of the guides shown ("" until the first render)
        self.body_note = ""                  # why the chosen SMPL-X was not used ("" = it was, or none chosen)

        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Rest pose (T)", "")
        for name in list_presets():
            self.preset_combo.addItem(preset_label(name), name)
        self.preset_combo.addItem("Custom (edited)", CUSTOM)
        self.preset_combo.currentIndexChanged.connect(self._preset_chosen)
        self.mirror_button = QPushButton("Mirror")
        self.mirror_button.setToolTip("Swap left and right")
        self.mirror_button.clicked.connect(self.mirror)
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(lambda: self.preset_combo.setCurrentIndex(0)
                                          if self.preset_combo.currentIndex() else self.set_state(BodyState(), ""))
        top = QHBoxLayout()
        top.addWidget(QLabel("Preset"))
        top.addWidget(self.preset_combo, 1)
        top.addWidget(self.mirror_button)
        top.addWidget(self.reset_button)

        self.viewport_box = QVBoxLayout()
        self.viewport_box.setContentsMargins(0, 0, 0, 0)
        self.guide_grid = QGridLayout()
        self.guide_grid.setSpacing(3)
        self.guide_views: list[ImageView] = []
        self.status = QLabel("Guides appear when the model is loaded.")
        self.status.setStyleSheet("font-size: 10px; color: palette(mid);")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addLayout(self.viewport_box)
        lay.addLayout(self.guide_grid)
        lay.addWidget(self.status)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)  # coalesce bursts of edits (dragging a joint) into one render
        self._timer.timeout.connect(self._request)
        guides.rendered.connect(self._on_rendered)
        guides.failed.connect(self._on_failed)

    # ------------------------------------------------------------------ state
    def set_state(self, state, preset: str = "", mirrored: bool = False, edited: bool = False,
                  from_viewport: bool = False) -> None:
        """Make ``state`` the target pose (an undoable step in the viewport, when there is one)."""
        self.state = state.copy()
        self.preset = preset
        self.mirrored = mirrored
        self.edited = edited
        if self.viewport is not None and not from_viewport:
            self.viewport.set_state(self.state, preset, mirrored, edited)
        i = self.preset_combo.findData(CUSTOM if edited else preset)
        if i >= 0 and i != self.preset_combo.currentIndex():
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(i)
            self.preset_combo.blockSignals(False)
        self.stateChanged.emit()
        self.schedule()

    def set_preset(self, name: str) -> None:
        i = self.preset_combo.findData(name)
        if i < 0:
            return
        if i == self.preset_combo.currentIndex():
            self._preset_chosen(i)
        else:
            self.preset_combo.setCurrentIndex(i)

    def _preset_chosen(self, index: int) -> None:
        from engine.body.presets import PresetError, load_preset
        from engine.body.state import BodyState

        name = self.preset_combo.itemData(index) or ""
        if name == CUSTOM:  # choosing "Custom" keeps the pose as it is
            return
        try:
            state = load_preset(name) if name else BodyState()
        except PresetError as e:
            self.error.emit(str(e), "")
            return
        self.set_state(state, name, False)

    def mirror(self) -> None:
        self.set_state(self.state.mirrored(), self.preset, not self.mirrored, self.edited)

    def describe(self) -> str:
        name = preset_label(self.preset) if self.preset else "rest pose"
        return f"{name}{' (mirrored)' if self.mirrored else ''}{' (edited)' if self.edited else ''}"

    def set_body_model(self, folder: str = "", gender: str = "neutral") -> None:
        """Pose and render a user's SMPL-X from ``folder`` ("" = the shipped mannequin); the viewport follows.
        A folder that cannot be loaded falls back to the mannequin, reported by ``bodyModelChanged``."""
        body = (folder or "", gender or "neutral")
        if body == self.body:
            return
        self.body = body
        if self.viewport is not None:
            self.viewport.set_body_model(*body)
        self.schedule()

    # ------------------------------------------------------------------ guides
    def set_params(self, **params) -> None:
        """width, height, style (from the model), views, elevation (from the generation settings)."""
        changed = {k: v for k, v in params.items() if self.params.get(k) != v}
        if not changed:
            return
        self.params.update(changed)
        self.schedule()

    def key(self) -> str:
        p = self.params
        h = hashlib.sha1(np.concatenate([self.state.full_pose().ravel(), self.state.betas, self.state.transl])
                         .astype(np.float32).tobytes()).hexdigest()
        return (f"{h}|{p['width']}x{p['height']}|{p['style']}|{p['views']}|{float(p['elevation']):.3f}"
                f"|{self.body[0]}|{self.body[1] if self.body[0] else ''}")

    def current_guides(self) -> tuple[list[np.ndarray], list[dict]] | None:
        """The guides for the current state and parameters, if rendered."""
        if self.guides is not None and self._guides_key == self.key():
            return self.guides, self.cameras
        return None

    def when_guides_ready(self, callback) -> None:
        """Call ``callback(images, cameras)`` once the current guides exist (now, if they do)."""
        cur = self.current_guides()
        if cur is not None:
            callback(*cur)
            return
        self._waiters.append((self.key(), callback))
        self._request(keep=True)

    def schedule(self) -> None:
        if self.render_enabled:
            self.status.setText("rendering the guide…")
            self._timer.start()

    def _request(self, keep: bool = False) -> None:
        if not self.render_enabled:
            return
        key = self.key()
        if not keep and key in self._pending.values():
            return
        spec = {**self.params, "state": self.state.copy(), "keep": keep, "body_folder": self.body[0],
                "body_gender": self.body[1]}
        token = self.service.request(spec)
        self._pending[token] = key

    def _on_rendered(self, token: int, images, cameras, body: dict | None = None) -> None:
        key = self._pending.pop(token, None)
        if key is None:
            return
        if key == self.key():
            self.guides, self.cameras, self._guides_key = images, cameras, key
            self._show(images)
            body = body or {}
            name, note = body.get("body_model", ""), body.get("body_error", "")
            changed = (name, note) != (self.body_name, self.body_note)
            self.body_name, self.body_note = name, note
            p = self.params
            self.status.setText(f"What the model gets: {len(images)} guide{'s' if len(images) > 1 else ''}, "
                                f"{p['width']}×{p['height']} px, style {p['style']}"
                                + (f", elevation {p['elevation']:g}°" if p["elevation"] else "")
                                + (f"; body: {body_label(name)}" if name else "")
                                + (" (the chosen SMPL-X could not be loaded)" if note else ""))
            if changed:
                self.bodyModelChanged.emit(name, note)
            self.guidesReady.emit()
        waiting = [(k, cb) for k, cb in self._waiters if k == key]
        self._waiters = [(k, cb) for k, cb in self._waiters if k != key]
        for _, cb in waiting:
            cb(images, cameras)

    def _on_failed(self, token: int, message: str, details: str) -> None:
        key = self._pending.pop(token, None)
        if key is None:
            return
        self.status.setText(f"guide render failed: {message}")
        self.error.emit(f"The pose guide could not be rendered: {message}", details)
        self._waiters = [(k, cb) for k, cb in self._waiters if k != key]

    def _show(self, images: list[np.ndarray]) -> None:
        if self.viewport is not None:  # the viewport's "Guide" page shows them, larger
            for v in self.guide_views:
                v.hide()
            return
        while len(self.guide_views) > len(images):
            v = self.guide_views.pop()
            self.guide_grid.removeWidget(v)
            v.hide()  # deleteLater waits for the event loop; until then it would still paint
            v.deleteLater()
        while len(self.guide_views) < len(images):
            v = ImageView(min_size=(36, 48))
            self.guide_views.append(v)
        cols = min(len(images), 4) if len(images) > 1 else 1
        size = (72, 96) if len(images) == 1 else (48, 64)
        for i, (v, img) in enumerate(zip(self.guide_views, images)):
            v.setMinimumSize(*size)
            v.set_image(img)
            v.setToolTip(f"guide, view {i}")
            self.guide_grid.addWidget(v, i // cols, i % cols, Qt.AlignmentFlag.AlignCenter)
