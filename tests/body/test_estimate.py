"""Pose from a photo: backend choice, the person box, and the photo guide lined up with the fitted photo."""
import json
import sys

import numpy as np
import pytest

from engine.body.camera import Camera
from engine.body.estimate import EstimatorUnavailable, fit_camera, photo_guide
from engine.body.estimators import estimate_pose
from engine.body.hmr2 import Hmr2Adapter

from test_hmr2 import STAND_IN, _answer


def test_fit_camera_follows_the_letterbox_of_images_fit():
    cam = Camera(600, 800, 1000.0, 1000.0, 300.0, 400.0, np.eye(3), np.array([0.0, 0.0, 5.0]))
    pts = np.array([[0.0, 0.0, 0.0], [0.4, -0.6, 0.2], [-0.3, 0.5, -0.1]])
    uv, _ = cam.project(pts)
    fitted = fit_camera(cam, 96, 128)   # same aspect: a pure scale by 0.16
    np.testing.assert_allclose(fitted.project(pts)[0], uv * 0.16, atol=1e-9)
    wide = fit_camera(cam, 200, 128)    # wider panel: scale 0.16 and centred horizontally (+52 px)
    np.testing.assert_allclose(wide.project(pts)[0], uv * 0.16 + [52, 0], atol=1e-9)


@pytest.fixture
def adapter(tmp_path):
    script = tmp_path / "stand_in_hmr2_child.py"
    script.write_text(f"ANSWER = {json.dumps(_answer())}\n" + STAND_IN)
    return Hmr2Adapter(tmp_path, child=[sys.executable, str(script), str(tmp_path / "req.json"), "ok"])


def test_estimate_with_a_stand_in_hmr2_child_and_its_photo_guide(adapter, tmp_path):
    photo = np.full((800, 600, 3), 255, np.uint8)
    est = estimate_pose(photo, (50, 170, 550, 670), hmr2=adapter, person_check=False)  # a blank stand-in photo
    assert est.backend == "hmr2"
    guide = photo_guide(est, 96, 128)
    figure = (guide < 250).any(-1)
    assert guide.shape == (128, 96, 3) and figure.sum() > 200
    # the figure sits where the estimated camera sees the body: around the box centre hmr2 was given
    ys, xs = np.nonzero(figure)
    box_centre = np.array([300.0, 420.0]) * 0.16
    assert abs(xs.mean() - box_centre[0]) < 12 and abs(ys.mean() - box_centre[1]) < 20


def test_without_a_usable_backend_the_message_says_what_each_needs(tmp_path):
    photo = np.zeros((64, 48, 3), np.uint8)
    with pytest.raises(EstimatorUnavailable, match="no hmr2 folder is set") as e:
        estimate_pose(photo, backend="hmr2", person_check=False)
    assert "viewport" not in str(e.value)  # what to do next is the caller's to say (CLI or app)
    with pytest.raises(EstimatorUnavailable, match="hmr2: the hmr2 folder .* does not exist"):
        estimate_pose(photo, backend="hmr2", hmr2=Hmr2Adapter(tmp_path / "missing"), person_check=False)
    with pytest.raises(EstimatorUnavailable, match="BlazePose found no person in black.png"):
        estimate_pose(photo, person_check=False, name="black.png")  # auto: hmr2 not set up, BlazePose finds nobody


def test_the_person_gate_runs_first_whatever_the_backend(adapter):
    from engine.body.gate import NoPersonFound

    photo = np.zeros((64, 48, 3), np.uint8)
    with pytest.raises(NoPersonFound, match="^no person found in black.png$"):
        estimate_pose(photo, hmr2=adapter, name="black.png")  # hmr2 would answer anything: the gate does not
    with pytest.raises(NoPersonFound, match="no person found in black.png inside the person box"):
        estimate_pose(photo, (0, 0, 40, 60), name="black.png")


def test_blazepose_backend_out_of_the_box_on_a_synthetic_photo():
    from PIL import Image

    from engine.body.blazepose import available
    from engine.images import load_image
    from engine.paths import SAMPLES

    if available():
        pytest.skip("BlazePose runtime missing")
    person = load_image(SAMPLES / "demo_000_person.png")
    photo = np.asarray(Image.fromarray(person).resize((384, 512), Image.BICUBIC))
    est = estimate_pose(photo)  # auto, no hmr2 configured
    assert est.backend == "blazepose" and est.camera.width == 384
    guide = photo_guide(est, 96, 128)
    # the fitted body, seen by the solved camera, overlaps the person in the photo
    person_mask = (person < 245).any(-1)
    guide_mask = (guide < 245).any(-1)
    iou = (person_mask & guide_mask).sum() / (person_mask | guide_mask).sum()
    assert iou > 0.4, iou


@pytest.mark.parametrize("box, words", [((0, 0, 3, 3), "is empty"), (("a", 1, 2, 3), "four numbers"),
                                        ((100, 100, 200, 200), "is empty")])
def test_a_bad_person_box_is_refused(adapter, box, words):
    with pytest.raises(EstimatorUnavailable, match=words):
        estimate_pose(np.zeros((64, 48, 3), np.uint8), box, hmr2=adapter)
