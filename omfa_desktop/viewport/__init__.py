"""The SMPL-X posing viewport: a 3D view of the body with joint editing, undo/redo, and the exact guides.

:class:`PoseViewport` sits inside the window's :class:`omfa_desktop.pose.PosePanel`; the panel owns the
body state that jobs use, the viewport edits it (every edit through :class:`editing.PoseHistory`).
``create_viewport`` returns None where OpenGL cannot draw (no display, offscreen Qt, no EGL): the panel
then still offers presets, mirror and the guide renders.
"""
from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QStackedWidget, QVBoxLayout, QWidget)

from engine.body.skeleton import JOINT_NAMES
from omfa_desktop.qtutil import ImageView, fill
from omfa_desktop.viewport.editing import PoseHistory, PoseSnapshot
from omfa_desktop.viewport.math3d import axis_rotation, joint_euler, rotate_joint_in_world, set_joint_euler

DRAG_DEG_PER_PX = 0.5


def create_viewport(pose_panel) -> "PoseViewport | None":
    from omfa_desktop.glenv import STATE

    if not STATE.get("viewport_ok"):
        pose_panel.status.setText(f"3D viewport off: {STATE.get('reason') or 'OpenGL not configured'}. "
                                  "Presets, mirror and guides work.")
        return None
    try:
        import OpenGL.GL  # noqa: F401
        from PySide6.QtOpenGLWidgets import QOpenGLWidget  # noqa: F401
    except ImportError as e:
        pose_panel.status.setText(f"3D viewport off: {e}")
        return None
    vp = PoseViewport(pose_panel)
    pose_panel.viewport = vp
    pose_panel.viewport_box.addWidget(vp)
    return vp


class _Loader(QObject):
    """Loads the body model (torch + smplx) off the GUI thread; the answer arrives as a queued signal.

    The body is the user's SMPL-X when a folder is given and loads, else the shipped mannequin
    (``omfa_desktop.worker.resolve_body_model``). ``done(model, error, note, token)``: ``error`` when no body
    could be loaded at all, ``note`` when the chosen SMPL-X fell back to the mannequin.
    """

    done = Signal(object, str, str, int)

    def start(self, folder: str = "", gender: str = "neutral", token: int = 0) -> None:
        threading.Thread(target=self._run, args=(folder, gender, token), name="omfa-body-load", daemon=True).start()

    def _run(self, folder: str, gender: str, token: int) -> None:
        try:
            from engine.warmup import wait, wait_model

            # the engine's imports and the model load first: a usable model matters more than the 3D body
            wait(60)
            wait_model(20)
            from omfa_desktop.worker import resolve_body_model

            model, note = resolve_body_model(folder, gender)
            model.forward(model_state_zero())  # warm up (first call allocates)
        except Exception as e:  # noqa: BLE001
            self.done.emit(None, f"{e.__class__.__name__}: {e}", "", token)
            return
        self.done.emit(model, "", note, token)


def model_state_zero():
    from engine.body.state import BodyState

    return BodyState()


class PoseViewport(QWidget):
    """Toolbar + 3D view (or the exact guide render) + the selected joint's rotation fields."""

    changed = Signal()

    def __init__(self, pose_panel) -> None:
        super().__init__()
        from omfa_desktop.viewport.gl_widget import BodyView

        self.pose = pose_panel
        self.body_model = None
        self.body = tuple(getattr(pose_panel, "body", ("", "neutral")))  # (SMPL-X folder, gender)
        self._load_token = 0
        self.history = PoseHistory(PoseSnapshot(pose_panel.state, pose_panel.preset, pose_panel.mirrored))
        self.selected: int | None = None
        self.last_edit_ms = 0.0

        self.view = BodyView()
        self.view.jointPressed.connect(self._joint_pressed)
        self.view.jointDragged.connect(self._joint_dragged)
        self.view.jointReleased.connect(self._joint_released)
        self.view.emptyClicked.connect(lambda: self.select(None))
        self.view.glFailed.connect(self._gl_failed)
        self.loading = QLabel("Loading the 3D body…")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading.setWordWrap(True)
        self.loading.setMinimumHeight(260)
        self.guide_page = QWidget()
        self.guide_grid = QGridLayout(self.guide_page)
        self.guide_grid.setContentsMargins(0, 0, 0, 0)
        self.guide_grid.setSpacing(4)
        self.guide_views: list[ImageView] = []
        self.guide_page.setToolTip("Exactly what the model gets as its pose guide(s), one per view")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.loading)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.guide_page)

        def button(text: str, tip: str, slot) -> QPushButton:
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            return b

        self.frame_button = button("Frame", "Frame the whole body (or double-click the background)",
                                   self.view.frame_all)
        self.front_button = button("Front", "Look at the front", lambda: self.view.set_view("front"))
        self.side_button = button("Side", "Look at the body's left side", lambda: self.view.set_view("side"))
        self.back_button = button("Back", "Look at the back", lambda: self.view.set_view("back"))
        self.undo_button = button("Undo", "Undo the last pose edit (Ctrl+Z)", self.undo)
        self.redo_button = button("Redo", "Redo (Ctrl+Shift+Z)", self.redo)
        self.overlay_check = QCheckBox("Photo")
        self.overlay_check.setToolTip("Show the person photo, semi-transparent, behind the body")
        self.overlay_check.toggled.connect(self.view.set_overlay_visible)
        self.guide_check = QCheckBox("Guide")
        self.guide_check.setToolTip("Show the exact guide render the model gets instead of the 3D view")
        self.guide_check.toggled.connect(self._show_guide)
        bar = QHBoxLayout()
        bar.setSpacing(3)
        for w in (self.frame_button, self.front_button, self.side_button, self.back_button):
            w.setMaximumWidth(56)
            bar.addWidget(w)
        bar.addSpacing(6)
        for w in (self.undo_button, self.redo_button):
            w.setMaximumWidth(52)
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.overlay_check)
        bar.addWidget(self.guide_check)

        self.joint_label = QLabel("No joint selected: click one")
        self.joint_label.setStyleSheet("font-weight: 600;")
        self.spins = []
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.joint_label, 0, 0, 1, 7)
        for i, axis in enumerate("XYZ"):
            s = QDoubleSpinBox()
            s.setRange(-180.0, 180.0)
            s.setDecimals(1)
            s.setSingleStep(5.0)
            s.setSuffix("°")
            s.setToolTip(f"Rotation about the joint's local {axis} axis (Euler X→Y→Z)")
            s.setEnabled(False)
            s.valueChanged.connect(self._spin_changed)
            grid.addWidget(QLabel(axis), 1, 2 * i)
            grid.addWidget(s, 1, 2 * i + 1)
            self.spins.append(s)
        self.reset_joint_button = button("Zero", "Set the selected joint's rotation to zero", self.reset_joint)
        self.reset_joint_button.setEnabled(False)
        grid.addWidget(self.reset_joint_button, 1, 6)
        self.cameras_label = QLabel("")
        self.cameras_label.setWordWrap(True)
        self.cameras_label.setStyleSheet("font-size: 10px; color: palette(mid);")

        fill(QVBoxLayout(self), bar, (self.stack, 1), grid, self.cameras_label, margins=0, spacing=4)

        pose_panel.guidesReady.connect(self._guides_ready)
        self._update_buttons()
        self._loader = _Loader()
        self._loader.done.connect(self._body_loaded)
        self._loader.start(*self.body, token=self._load_token)

    # ------------------------------------------------------------------ body
    @property
    def ready(self) -> bool:
        return self.body_model is not None

    @property
    def edited(self) -> bool:
        return self.history.current.edited

    def set_body_model(self, folder: str = "", gender: str = "neutral") -> None:
        """Show and pose a user's SMPL-X ("" = the shipped mannequin); loads off the GUI thread."""
        body = (folder or "", gender or "neutral")
        if body == self.body:
            return
        self.body = body
        self._load_token += 1
        self._loader.start(*body, token=self._load_token)

    def _body_loaded(self, model, error: str, note: str = "", token: int = 0) -> None:
        if token != self._load_token:
            return  # a newer body choice is loading
        if model is None:
            if self.body_model is None:
                self.loading.setText(f"The 3D body could not be loaded: {error}")
            return
        first = self.body_model is None
        self.body_model = model
        from omfa_desktop.viewport.skin import GpuSkin

        self._skin = GpuSkin.for_body(model)  # None: a body only smplx poses, on the CPU
        import torch

        # The forward runs on this (GUI) thread: one thread is fastest for a 14k-vertex LBS and leaves the
        # cores to the engine thread (torch's thread count is per calling thread).
        torch.set_num_threads(1)
        from omfa_desktop.pose import body_label

        self.view.faces = None       # another body: new faces and floor
        self.view.floor_y = None
        self._refresh_mesh(faces=True)
        self.view.setToolTip(self.view.toolTip().split("\n\nBody:")[0] + f"\n\nBody: {body_label(model.name)}"
                             + (f" (SMPL-X not used: {note})" if note else ""))
        if first:
            self.view.camera.yaw, self.view.camera.pitch = 335.0, 8.0  # a three-quarter view: depth reads
            self.view.frame_all()
        if self.stack.currentIndex() == 0:
            self.stack.setCurrentIndex(2 if self.guide_check.isChecked() else 1)

    def _gl_failed(self, message: str) -> None:
        self.loading.setText(f"3D view unavailable: {message}. Presets, mirror and guides still work.")
        self.stack.setCurrentIndex(0)

    def _refresh_mesh(self, faces: bool = False) -> None:
        if self.body_model is None:
            return
        import time

        t0 = time.perf_counter()
        state = self.history.current.state
        skin = getattr(self, "_skin", None)
        if skin is not None:  # the GPU skins: only 55 matrices change (omfa_desktop.viewport.skin)
            shaped = skin.set_shape(state.betas)
            _, joints, rest = skin.pose(state)
            self.view.set_skinned(skin, self.body_model.faces, joints, static_changed=shaped or faces,
                                  rest_changed=rest is not None)
        else:
            v, j = self.body_model.forward(state)
            self.view.set_body(v, self.body_model.faces if faces else None, j)
        self.last_edit_ms = (time.perf_counter() - t0) * 1000

    def set_overlay(self, image: np.ndarray | None) -> None:
        self.view.set_overlay(image)

    # ------------------------------------------------------------------ state in/out
    def set_state(self, state, preset: str = "", mirrored: bool = False, edited: bool = False) -> None:
        """The panel changed the pose (preset, mirror, reset, restore): one undoable entry."""
        self.history.push(PoseSnapshot(state, preset, mirrored, edited, f"preset {preset or 'rest'}"))
        self._after_change(notify_panel=False)

    def _apply(self, state, label: str) -> None:
        """An edit made here (joint drag or fields)."""
        cur = self.history.current
        self.history.push(PoseSnapshot(state, cur.preset, cur.mirrored, True, label))
        self._after_change()

    def _after_change(self, notify_panel: bool = True) -> None:
        self._refresh_mesh()
        self._sync_spins()
        self._update_buttons()
        if notify_panel:
            c = self.history.current
            self.pose.set_state(c.state, c.preset, c.mirrored, edited=c.edited, from_viewport=True)
        self.changed.emit()

    def keyPressEvent(self, e) -> None:  # noqa: N802 - Ctrl+Z / Ctrl+Shift+Z while the viewport has focus
        ctrl = e.modifiers() & Qt.KeyboardModifier.ControlModifier
        shift = e.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if e.key() == Qt.Key.Key_Z and ctrl:
            self.redo() if shift else self.undo()
        elif e.key() == Qt.Key.Key_Y and ctrl or e.matches(QKeySequence.StandardKey.Redo):
            self.redo()
        elif e.key() == Qt.Key.Key_F and not ctrl:
            self.view.frame_all()
        else:
            super().keyPressEvent(e)
            return
        e.accept()

    def undo(self) -> bool:
        snap = self.history.undo()
        if snap is None:
            return False
        self._after_change()
        return True

    def redo(self) -> bool:
        snap = self.history.redo()
        if snap is None:
            return False
        self._after_change()
        return True

    def _update_buttons(self) -> None:
        self.undo_button.setEnabled(self.history.can_undo())
        self.redo_button.setEnabled(self.history.can_redo())

    # ------------------------------------------------------------------ joints
    def select(self, joint: int | None) -> None:
        self.selected = joint
        self.view.set_selected(joint)
        for s in self.spins:
            s.setEnabled(joint is not None)
        self.reset_joint_button.setEnabled(joint is not None)
        if joint is None:
            self.joint_label.setText("No joint selected: click one")
        else:
            self.joint_label.setText(f"Joint: {JOINT_NAMES[joint].replace('_', ' ')} (local axes)")
        self._sync_spins()

    def selected_name(self) -> str:
        return "" if self.selected is None else JOINT_NAMES[self.selected]

    def _sync_spins(self) -> None:
        values = joint_euler(self.history.current.state, self.selected) if self.selected is not None else (0, 0, 0)
        for s, v in zip(self.spins, values):
            s.blockSignals(True)
            s.setValue(float(np.round(v, 1)))
            s.blockSignals(False)

    def _spin_changed(self, *_) -> None:
        if self.selected is None:
            return
        degrees = [s.value() for s in self.spins]
        self._apply(set_joint_euler(self.history.current.state, self.selected, degrees),
                    f"set {JOINT_NAMES[self.selected]}")

    def reset_joint(self) -> None:
        if self.selected is not None:
            self._apply(set_joint_euler(self.history.current.state, self.selected, (0, 0, 0)),
                        f"zero {JOINT_NAMES[self.selected]}")

    def rotate_selected(self, dx: float, dy: float) -> None:
        """Turn the selected joint as a mouse drag of (dx, dy) pixels would (about the screen's axes)."""
        if self.selected is None:
            return
        right, up = self.view.camera.axes()
        delta = axis_rotation(up, dx * DRAG_DEG_PER_PX) @ axis_rotation(right, dy * DRAG_DEG_PER_PX)
        self._apply(rotate_joint_in_world(self.history.current.state, self.selected, delta),
                    f"rotate {JOINT_NAMES[self.selected]}")

    def _joint_pressed(self, joint: int) -> None:
        self.select(joint)
        self.history.begin()

    def _joint_dragged(self, dx: float, dy: float) -> None:
        self.rotate_selected(dx, dy)

    def _joint_released(self) -> None:
        self.history.commit()
        self._update_buttons()

    # ------------------------------------------------------------------ guides and cameras
    def _show_guide(self, on: bool) -> None:
        if self.body_model is not None or on:
            self.stack.setCurrentIndex(2 if on else (1 if self.body_model is not None else 0))

    def _guides_ready(self) -> None:
        cur = self.pose.current_guides()
        if cur is None:
            return
        images, cams = cur
        while len(self.guide_views) > len(images):
            v = self.guide_views.pop()
            self.guide_grid.removeWidget(v)
            v.hide()  # deleteLater waits for the event loop; until then it would still paint
            v.deleteLater()
        while len(self.guide_views) < len(images):
            self.guide_views.append(ImageView(min_size=(40, 54)))
        cols = int(np.ceil(np.sqrt(len(images) * 1.5))) if len(images) > 1 else 1
        for i, (v, img) in enumerate(zip(self.guide_views, images)):
            v.set_image(img, smooth=False)
            v.setToolTip(f"guide of view {i}")
            self.guide_grid.addWidget(v, i // cols, i % cols)
        self.view.set_cameras(cams)
        p = self.pose.params
        if cams:
            dist = float(np.linalg.norm(np.asarray(cams[0]["t"])))
            az = ", ".join(f"{360.0 * i / len(cams):g}°" for i in range(len(cams)))
            self.cameras_label.setText(
                f"{len(cams)} camera{'s' if len(cams) > 1 else ''} (red = view 0, the front): azimuth {az}; "
                f"elevation {p['elevation']:g}°; {dist:.1f} m away (drawn closer)")

    def shutdown(self) -> None:
        pass
