import numpy as np
import pytest

from engine.images import ImageError, fit, load_image
from engine.layout import PanelLayout
from engine.request import RequestError, TryOnRequest

LAY = PanelLayout({"person": 32, "garment": 32, "head": 16}, 32, 4)


def img(w=32, h=32, c=3, dtype=np.uint8):
    return np.zeros((h, w, c), dtype) if c else np.zeros((h, w), dtype)


def _field(req):
    with pytest.raises(RequestError) as e:
        req.validate(LAY, ["ddim", "euler"])
    return e.value.field, str(e.value)


def test_valid_requests_pass():
    TryOnRequest(task="try-off", person=img(), head=img(16)).validate(LAY)
    TryOnRequest(task="try-on", garment=img(), pose_guides=[img()]).validate(LAY)
    TryOnRequest(task="multi-view", garment=img(), head=img(16), pose_guides=[img()] * 4, num_views=4).validate(LAY)


@pytest.mark.parametrize("req,field,words", [
    (TryOnRequest(person=img(), steps=0), "steps", "at least 1"),
    (TryOnRequest(person=img(), steps=-5), "steps", "at least 1"),
    (TryOnRequest(person=img(), steps=2.5), "steps", "whole number"),
    (TryOnRequest(person=img(), steps=1000), "steps", "at most 999"),
    (TryOnRequest(person=img(), guidance=float("nan")), "guidance", "finite"),
    (TryOnRequest(person=img(), scheduler="magic"), "scheduler", "ddim, euler"),
    (TryOnRequest(person=img(), seed=-1), "seed", "whole number"),
    (TryOnRequest(person=img(c=4)), "person", "4-channel"),
    (TryOnRequest(person=img(c=0)), "person", "grayscale"),
    (TryOnRequest(person=img(dtype=np.float32)), "person", "uint8"),
    (TryOnRequest(person=img(w=0)), "person", "empty"),
    (TryOnRequest(person=[[0]]), "person", "numpy"),
    (TryOnRequest(task="try-off"), "person", "needs a person"),
    (TryOnRequest(task="try-off", person=img(), garment=img()), "garment", "generates the garment"),
    (TryOnRequest(task="try-on", garment=img(), pose_guides=[]), "pose_guides", "1 pose guide"),
    (TryOnRequest(task="try-on", garment=img(), pose_guides=[img()], num_views=2), "num_views", "multi-view"),
    (TryOnRequest(task="multi-view", garment=img(), pose_guides=[img()] * 2, num_views=3), "pose_guides", "3 pose"),
    (TryOnRequest(task="try-on", garment=img(), pose_guides=[img(c=4)]), "pose_guides[0]", "4-channel"),
])
def test_bad_requests_name_the_field(req, field, words):
    f, msg = _field(req)
    assert f == field and words in msg


def test_any_image_size_is_valid_the_pipeline_fits_it():
    TryOnRequest(task="try-on", garment=img(w=45, h=61), head=img(7, 9), pose_guides=[img(w=31)]).validate(LAY)


def test_task_is_the_enum_and_its_spelling_is_accepted_and_written():
    from engine.layout import Task

    req = TryOnRequest(task="multi-view", garment=img(), pose_guides=[img()] * 2, num_views=2)
    assert req.task is Task.MULTI_VIEW and TryOnRequest(task=Task.TRY_ON).task is Task.TRY_ON
    s = req.settings()
    assert s["task"] == "multi-view" and type(s["task"]) is str  # what older PNGs hold, so they replay
    assert TryOnRequest.from_settings(s).task is Task.MULTI_VIEW
    with pytest.raises(RequestError) as e:
        TryOnRequest(task="dress-up")
    assert e.value.field == "task" and "try-off, try-on, multi-view" in str(e.value)


def test_settings_round_trip_without_pixels():
    req = TryOnRequest(task="try-on", garment=img(), pose_guides=[img()], steps=12, guidance=3.5, seed=7,
                       scheduler="euler", label="x")
    s = req.settings()
    assert s["inputs"] == {"person": False, "garment": True, "head": False} and s["pose_guides"] == 1
    again = TryOnRequest.from_settings(s, garment=img(), pose_guides=[img()])
    assert again.settings() == s


def test_images_load_and_fit(tmp_path):
    from PIL import Image

    rgba = np.zeros((60, 20, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:30, :, 3] = 255  # top half opaque red, bottom transparent -> white
    Image.fromarray(rgba).save(tmp_path / "a.png")
    a = load_image(tmp_path / "a.png")
    assert a.shape == (60, 20, 3) and tuple(a[0, 0]) == (255, 0, 0) and tuple(a[-1, 0]) == (255, 255, 255)
    f = fit(a, 32, 32)
    assert f.shape == (32, 32, 3) and tuple(f[16, 0]) == (255, 255, 255)  # letterboxed sideways
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="not an image file"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")
