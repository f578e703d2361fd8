"""The offline BlazePose estimator on the synthetic mannequin: landmarks on the figure, nothing on a blank."""
import numpy as np
import pytest

from engine.body.blazepose import LANDMARK_NAMES, BlazePose, available
from engine.images import load_image
from engine.paths import SAMPLES

pytestmark = pytest.mark.skipif(bool(available()), reason="BlazePose runtime or models missing")


@pytest.fixture(scope="module")
def bp():
    return BlazePose()


def test_landmarks_land_on_the_person(bp):
    from PIL import Image

    img = load_image(SAMPLES / "demo_000_person.png")
    big = np.asarray(Image.fromarray(img).resize((img.shape[1] * 4, img.shape[0] * 4), Image.BICUBIC))
    lm = bp.estimate(big)
    assert lm is not None and lm.detection_score > 0.5 and lm.presence > 0.5
    figure = (big < 245).any(-1)
    for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee"):
        x, y = lm.image_xy[LANDMARK_NAMES.index(name)].round().astype(int)
        assert figure[max(0, y - 6):y + 7, max(0, x - 6):x + 7].any(), name
    # a person facing the camera: their left shoulder is on the image's right; shoulders above hips above knees
    ls, rs = lm.image_xy[11], lm.image_xy[12]
    assert ls[0] > rs[0] and lm.image_xy[11, 1] < lm.image_xy[23, 1] < lm.image_xy[25, 1]
    # world landmarks in metres: a plausible hip width and leg length
    hip_width = np.linalg.norm(lm.world[23] - lm.world[24])
    assert 0.1 < hip_width < 0.45 and 0.5 < lm.world[27, 1] - lm.world[23, 1] < 1.1  # y down
    x0, y0, x1, y1 = lm.box
    assert 0 <= x0 < x1 <= big.shape[1] and 0 <= y0 < y1 <= big.shape[0]


@pytest.mark.parametrize("kind", ["white", "noise"])
def test_no_person_no_landmarks(bp, kind):
    rng = np.random.default_rng(0)
    img = np.full((256, 192, 3), 255, np.uint8) if kind == "white" else rng.integers(0, 256, (256, 192, 3), np.uint8)
    assert bp.estimate(img) is None
