"""Edit → Estimate pose from photo: the built-in estimator fills the photo's pose guide; failures are messages."""
import numpy as np
import pytest

from engine.body.blazepose import available


@pytest.mark.skipif(bool(available()), reason="BlazePose runtime missing")
def test_estimate_pose_from_the_sample_photo_fills_the_photo_guide(qtbot, make_window):
    from PIL import Image

    w = make_window()
    person = w.slots["person"].image
    w.slots["person"].set_image(np.asarray(Image.fromarray(person).resize((384, 512), Image.BICUBIC)), "big.png")
    before = w.slots["photo_guide"].image
    w.estimate_action.trigger()
    qtbot.waitUntil(lambda: getattr(w, "_estimate_token", 1) is None, timeout=120_000)
    assert "estimated with the built-in BlazePose estimator" in w.messages.message()
    guide = w.slots["photo_guide"].image
    assert guide.shape == (128, 96, 3) and not np.array_equal(guide, before)
    assert w.slots["photo_guide"].label == "estimated (blazepose)"
    assert w.estimated_pose["backend"] == "blazepose"
    # the message offers the estimate as the target pose; one click poses the mannequin like the photo
    button = next(b for b in w.messages.action_buttons if b.text() == "Pose the mannequin like this")
    assert not np.allclose(w.pose.state.body_pose, w.estimated_pose["state"].body_pose)
    button.click()
    assert np.allclose(w.pose.state.body_pose, w.estimated_pose["state"].body_pose) and w.pose.edited


def test_estimate_without_a_person_says_so_and_changes_nothing(qtbot, make_window):
    w = make_window()
    w.slots["person"].set_image(np.full((256, 192, 3), 255, np.uint8), "blank.png")
    before = w.slots["photo_guide"].image.copy()
    w.estimate_action.trigger()
    qtbot.waitUntil(lambda: getattr(w, "_estimate_token", 1) is None, timeout=120_000)
    assert "could not be estimated" in w.messages.message() and "no person" in w.messages.message()
    assert np.array_equal(w.slots["photo_guide"].image, before)
    w.slots["person"].clear()
    assert w.estimate_photo_pose() is None and "open a person photo first" in w.messages.message()


def test_person_box_dialog_draws_a_box_in_image_pixels(qtbot):
    from PySide6.QtCore import QPointF

    from omfa_desktop.boxdialog import PersonBoxDialog

    img = np.zeros((400, 300, 3), np.uint8)
    dlg = PersonBoxDialog(img)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.box == (0.0, 0.0, 300.0, 400.0)  # the whole photo by default
    c = dlg.canvas
    s, ox, oy = c._frame()
    press, release = QPointF(ox + 50 * s, oy + 60 * s), QPointF(ox + 20 * s, oy + 360 * s)  # dragged up-left
    c._anchor = press
    class E:  # a mouse event's position, as Qt gives it
        def __init__(self, p): self._p = p
        def position(self): return self._p
    c.mouseReleaseEvent(E(release))
    x0, y0, x1, y1 = dlg.box
    assert abs(x0 - 20) < 1 and abs(y0 - 60) < 1 and abs(x1 - 50) < 1 and abs(y1 - 360) < 1
    c.set_box((10, 10, 15, 300))  # too thin: Estimate is disabled and the label says why
    assert not dlg.buttons.buttons()[0].isEnabled() or "too small" in dlg.size_label.text()
    assert "too small" in dlg.size_label.text()


@pytest.mark.skipif(bool(available()), reason="BlazePose runtime missing")
def test_estimate_in_a_box_passes_the_box_to_the_estimator(qtbot, make_window):
    from PIL import Image

    w = make_window()
    person = w.slots["person"].image
    big = np.asarray(Image.fromarray(person).resize((384, 512), Image.BICUBIC))
    canvas = np.full((512, 768, 3), 255, np.uint8)
    canvas[:, 384:] = big  # the person on the right half of a wider photo
    w.slots["person"].set_image(canvas, "wide.png")

    class Box:  # the dialog, answered by a user who drew a box around the right half
        def __init__(self, image, box, parent):
            self.box = (380.0, 0.0, 768.0, 512.0)
        def exec(self):
            return True

    w.estimate_in_box(dialog_cls=Box)
    qtbot.waitUntil(lambda: getattr(w, "_estimate_token", 1) is None, timeout=120_000)
    x0, y0, x1, y1 = w.estimated_pose["box"]
    assert x0 >= 380 and x1 <= 768 and f"person box {round(x0)}," in w.messages.message()
