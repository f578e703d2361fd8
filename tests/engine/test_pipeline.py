import threading

import numpy as np
import pytest

from engine.device import DeviceError, select_device
from engine.export import read_png_metadata, save_png
from engine.pipeline import Pipeline
from engine.request import RequestError, TryOnRequest

from omfa_testing import rand_image, tiny_model


@pytest.fixture
def pipe():
    return Pipeline(tiny_model(), select_device("cpu"))


def test_try_off_returns_the_garment_and_keeps_inputs(pipe, rng):
    person, head = rand_image(rng, 32, 32), rand_image(rng, 32, 32)
    seen = []
    r = pipe.run(TryOnRequest(task="try-off", person=person, head=head, steps=3), progress=seen.append)
    assert r.ok and r.generated == ("garment",) and r.steps_done == 3
    assert len(r.outputs) == 1 and r.outputs[0].shape == (32, 32, 3) and r.outputs[0].dtype == np.uint8
    assert r.images["person"][0] is person  # clean panels come back as given
    assert [p.step for p in seen] == [1, 2, 3] and seen[-1].preview.shape == (8, 24, 3)
    assert set(r.timings) >= {"encode", "sample", "decode", "total", "per_step"}
    assert r.settings["device"] == "cpu" and r.settings["precision"] == "fp32" and r.settings["steps"] == 3


def test_same_seed_same_image_other_seed_other_image(pipe, rng):
    person = rand_image(rng, 32, 32)
    a = pipe.run(TryOnRequest(person=person, steps=2, seed=1)).outputs[0]
    b = pipe.run(TryOnRequest(person=person, steps=2, seed=1)).outputs[0]
    c = pipe.run(TryOnRequest(person=person, steps=2, seed=2)).outputs[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_multi_view_is_one_batch_with_one_person_per_view(pipe, rng):
    guides = [rand_image(rng, 32, 32) for _ in range(3)]
    calls = []
    model = pipe.model
    orig = model.forward
    model.forward = lambda x, t: (calls.append(x.shape[0]), orig(x, t))[1]
    r = pipe.run(TryOnRequest(task="multi-view", garment=rand_image(rng, 32, 32), pose_guides=guides, num_views=3,
                              steps=2))
    assert r.ok and len(r.images["person"]) == 3 and calls == [6, 6]  # 3 views x (cond + uncond), one forward
    assert not np.array_equal(r.images["person"][0], r.images["person"][1])


def test_cancel_returns_cleanly_and_the_pipeline_runs_again(pipe, rng):
    cancel = threading.Event()
    person = rand_image(rng, 32, 32)

    def progress(p):
        if p.step == 2:
            cancel.set()

    r = pipe.run(TryOnRequest(person=person, steps=40), progress=progress, cancel=cancel)
    assert r.status == "cancelled" and r.steps_done == 2 and r.outputs == []
    assert pipe.run(TryOnRequest(person=person, steps=2)).ok


def test_bad_request_is_refused_before_work(pipe, rng):
    with pytest.raises(RequestError) as e:
        pipe.run(TryOnRequest(person=rand_image(rng, 40, 32), steps=2))
    assert e.value.field == "person"
    with pytest.raises(RequestError, match="precision"):
        pipe.run(TryOnRequest(person=rand_image(rng, 32, 32), steps=2, precision="fp16"))


def test_device_policy():
    assert select_device("cpu").precision == "fp32"
    assert select_device("auto").device in ("cpu", "cuda", "mps")
    with pytest.raises(DeviceError, match="GPU"):
        select_device("cpu", "fp16")
    with pytest.raises(DeviceError, match="precision"):
        select_device("cpu", "fp8")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA"):
            select_device("cuda")


def test_png_metadata_round_trip(tmp_path, pipe, rng):
    req = TryOnRequest(person=rand_image(rng, 32, 32), steps=2, seed=5)
    r = pipe.run(req)
    path = save_png(r.outputs[0], tmp_path / "out.png", {"request": req.settings(), "result": r.metadata()})
    meta = read_png_metadata(path)
    restored = TryOnRequest.from_settings(meta["request"], person=req.person)
    assert restored.settings() == req.settings() and restored.seed == 5
    assert meta["result"]["timings"]["total"] > 0
    (tmp_path / "plain.png").write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="not a readable PNG|no OMFA"):
        read_png_metadata(tmp_path / "plain.png")
