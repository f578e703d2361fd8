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
