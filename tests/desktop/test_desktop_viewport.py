"""The posing viewport: orbit by drag, joint picking, rotation with bit-exact undo, presets, guides.

GL tests need a display (pytest-xvfb starts Xvfb) and EGL for both Qt and PyOpenGL; they are skipped
where the viewport cannot be created. The maths at the end runs everywhere.
"""
import numpy as np
import pytest
from desktop_testing import gl_available

gl = pytest.mark.skipif(not gl_available(), reason="no OpenGL viewport here (needs Xvfb/X11 and EGL)")


def _mouse(widget, kind, x, y, button=None, buttons=None):
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}
    button = Qt.MouseButton.LeftButton if button is None else button
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == "release" else button
    if kind == "move":
        button = Qt.MouseButton.NoButton
    pos = QPointF(x, y)
    ev = QMouseEvent(types[kind], pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def _drag(widget, x0, y0, x1, y1, steps=5, **kw):
    _mouse(widget, "press", x0, y0, **kw)
    for i in range(1, steps + 1):
        _mouse(widget, "move", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps, **kw)
    _mouse(widget, "release", x1, y1, **kw)


@pytest.fixture
def viewport(qtbot, make_window):
    w = make_window(with_viewport=True)
    vp = w.viewport
    assert vp is not None, "the viewport was not created"
    qtbot.waitUntil(lambda: vp.ready, timeout=60_000)
    w.set_task("new-pose")
    vp.view.set_view("front")
    vp.view.frame_all()
    vp.view.grab()  # make sure it has been initialised and drawn once
    assert vp.view.error == ""
    return w, vp


@gl
def test_the_viewport_draws_the_body(viewport):
    from omfa_desktop.qtutil import from_qimage

    w, vp = viewport
    img = from_qimage(vp.view.grabFramebuffer())
    h, wid = img.shape[:2]
    centre = img[h // 4: 3 * h // 4, wid // 3: 2 * wid // 3].reshape(-1, 3).astype(int)
    background = np.array([237, 240, 245])
    assert (np.abs(centre - background).sum(1) > 40).mean() > 0.1  # the body covers the centre
    assert vp.view.last_frame_ms > 0


@gl
def test_a_left_drag_on_the_background_orbits_the_camera(viewport):
    w, vp = viewport
    view = vp.view
    cam = view.camera
    yaw0, pitch0, target0 = cam.yaw, cam.pitch, cam.target.copy()
    _drag(view, 10, view.height() - 10, 60, view.height() - 30)  # from a corner: no joint there
    assert cam.yaw == pytest.approx((yaw0 - 50 * cam.ORBIT_DEG_PER_PX) % 360)
    assert cam.pitch == pytest.approx(pitch0 - 20 * cam.ORBIT_DEG_PER_PX)
    assert np.array_equal(cam.target, target0) and vp.selected is None
    from PySide6.QtCore import Qt

    _drag(view, 10, 10, 40, 10, button=Qt.MouseButton.RightButton)  # right drag pans
    assert not np.array_equal(cam.target, target0)
    d0 = cam.distance
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(view, QWheelEvent(QPointF(50, 50), QPointF(50, 50), QPoint(0, 0), QPoint(0, 120),
                                             Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                             Qt.ScrollPhase.NoScrollPhase, False))
    assert cam.distance == pytest.approx(d0 * 0.88)


@gl
@pytest.mark.parametrize("name", ["left_wrist", "right_knee", "head"])
def test_clicking_a_joint_selects_it(viewport, name):
    from engine.body.skeleton import JOINT_NAMES

    w, vp = viewport
    x, y = vp.view.joint_pixel(JOINT_NAMES.index(name))
    _mouse(vp.view, "press", x + 2, y - 1)
    _mouse(vp.view, "release", x + 2, y - 1)
    assert vp.selected_name() == name
    assert vp.view.selected == JOINT_NAMES.index(name)
    assert name.replace("_", " ") in vp.joint_label.text() and vp.spins[0].isEnabled()
    # a click on the background deselects
    _mouse(vp.view, "press", 5, 5)
    _mouse(vp.view, "release", 5, 5)
    assert vp.selected is None


@gl
def test_rotate_a_joint_by_dragging_then_undo_restores_the_pose_bit_exact(qtbot, viewport):
    from PySide6.QtCore import Qt

    from engine.body.skeleton import JOINT_NAMES

    w, vp = viewport
    before = w.pose.state.copy()
    entries = len(vp.history.undo_stack)
    j = JOINT_NAMES.index("left_elbow")
    x, y = vp.view.joint_pixel(j)
    _drag(vp.view, x, y, x + 40, y - 25, steps=8)
    after = w.pose.state.copy()
    assert vp.selected_name() == "left_elbow"
    assert not np.array_equal(after.joint_rotation("left_elbow"), before.joint_rotation("left_elbow"))
    # only the dragged joint's rotation changed; the drag is ONE undo step
    diff = np.abs(after.full_pose() - before.full_pose()).sum(1)
    assert np.nonzero(diff)[0].tolist() == [JOINT_NAMES.index("left_elbow")]
    assert len(vp.history.undo_stack) == entries + 1 and w.pose.edited and "(edited)" in w.pose.describe()
    # Ctrl+Z on the viewport
    vp.view.setFocus()
    qtbot.keyClick(vp.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.pose.state == before  # BodyState == compares arrays exactly
    for name in ("body_pose", "global_orient", "left_hand_pose", "right_hand_pose", "jaw_pose", "betas", "transl"):
        assert getattr(w.pose.state, name).tobytes() == getattr(before, name).tobytes()
    qtbot.keyClick(vp.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.pose.state == after
    # the guides follow the edited pose
    qtbot.waitUntil(lambda: w.pose.current_guides() is not None, timeout=30_000)


@gl
def test_numeric_fields_rotate_in_local_axes_and_undo(viewport):
    from engine.body.skeleton import JOINT_NAMES
    from omfa_desktop.viewport.math3d import joint_euler

    w, vp = viewport
    before = w.pose.state.copy()
    j = JOINT_NAMES.index("right_shoulder")
    vp.select(j)
    vp.spins[2].setValue(-40.0)
    e = joint_euler(w.pose.state, j)
    assert e[2] == pytest.approx(-40.0, abs=1e-3)
    vp.reset_joint()
    assert np.allclose(w.pose.state.joint_rotation("right_shoulder"), 0)
    assert vp.undo() and vp.undo()
    assert w.pose.state == before


@gl
def test_presets_and_mirror_are_undoable_edits(viewport):
    from engine.body.presets import load_preset

    w, vp = viewport
    w.pose.set_preset("waving")
    assert w.pose.state == load_preset("waving") and vp.history.current.state == load_preset("waving")
    w.pose.mirror_button.click()
    assert w.pose.state == load_preset("waving").mirrored() and w.pose.mirrored
    vp.undo()
    assert w.pose.state == load_preset("waving") and not w.pose.mirrored
    vp.undo()
    assert w.pose.state == load_preset("walking") and w.pose.preset_combo.currentData() == "walking"


@gl
def test_guide_toggle_shows_the_exact_guide_images(qtbot, viewport):
    from omfa_desktop.qtutil import from_qimage

    w, vp = viewport
    w.set_task("multi-view")
    w.views.setValue(3)
    qtbot.waitUntil(lambda: w.pose.current_guides() is not None and len(w.pose.current_guides()[0]) == 3,
                    timeout=30_000)
    qtbot.waitUntil(lambda: len(vp.guide_views) == 3, timeout=5_000)
    vp.guide_check.setChecked(True)
    assert vp.stack.currentWidget() is vp.guide_page
    guides, cams = w.pose.current_guides()
    for v, g in zip(vp.guide_views, guides):
        assert np.array_equal(from_qimage(v.image()), g)
    assert len(vp.view.cameras) == 3 and "3 cameras" in vp.cameras_label.text()
    vp.guide_check.setChecked(False)
    assert vp.stack.currentWidget() is vp.view


@gl
def test_photo_overlay_follows_the_person_input(viewport):
    w, vp = viewport
    assert np.array_equal(vp.view.overlay, w.slots["person"].image)
    vp.overlay_check.setChecked(True)
    vp.view.grab()
    assert vp.view.show_overlay and vp.view.error == ""


# ---------------------------------------------------------------------------------------------- maths
def test_rotating_a_joint_in_world_turns_its_subtree_about_it():
    from engine.body.model import BodyModel
    from engine.body.presets import load_preset
    from engine.body.skeleton import JOINT_NAMES
    from omfa_desktop.viewport.math3d import axis_rotation, rotate_joint_in_world

    model = BodyModel.load_mannequin()
    state = load_preset("walking")
    j = JOINT_NAMES.index("left_elbow")
    wrist = JOINT_NAMES.index("left_wrist")
    delta = axis_rotation([0.3, 1.0, 0.2], 35.0)
    _, J0 = model.forward(state)
    _, J1 = model.forward(rotate_joint_in_world(state, j, delta))
    expected = J0[j] + delta @ (J0[wrist] - J0[j])
    assert np.allclose(J1[wrist], expected, atol=1e-4)
    assert np.allclose(J1[:j], J0[:j], atol=1e-6)  # ancestors and earlier joints stay


def test_euler_and_axis_angle_round_trip():
    from omfa_desktop.viewport.math3d import aa_to_mat, euler_to_mat, mat_to_aa, mat_to_euler

    rng = np.random.default_rng(0)
    for _ in range(50):
        aa = rng.normal(0, 1.2, 3)
        assert np.allclose(aa_to_mat(mat_to_aa(aa_to_mat(aa))), aa_to_mat(aa), atol=1e-9)
        e = rng.uniform(-80, 80, 3)
        assert np.allclose(mat_to_euler(euler_to_mat(e)), e, atol=1e-6)


def test_history_groups_a_drag_into_one_entry():
    from engine.body.state import BodyState
    from omfa_desktop.viewport.editing import PoseHistory, PoseSnapshot

    h = PoseHistory(PoseSnapshot(BodyState()))
    h.begin()
    for k in range(5):
        s = BodyState()
        s.set_joint_rotation("left_knee", [0.1 * (k + 1), 0, 0])
        h.push(PoseSnapshot(s, edited=True))
    h.commit()
    assert len(h.undo_stack) == 1
    assert h.undo().state == BodyState() and h.redo().state.joint_rotation("left_knee")[0] == np.float32(0.5)
