"""The desktop's session model without Qt: requests for each task, restoring from metadata, notifications,
validation. Nothing here may import PySide6 (test_no_qt checks it in a fresh interpreter)."""
import subprocess
import sys

import numpy as np
import pytest

from engine.body.state import BodyState
from engine.layout import PanelLayout
from engine.request import ModelInfo, RequestError, TryOnRequest
from omfa_desktop.model.session import SEED_MAX, Session

INFO = ModelInfo(name="test", describe="test model", trained=True, description="", device="cpu", precision="fp32",
                 policy="cpu fp32", reason="test", render_style="parts_shaded", default_scheduler="ddim",
                 layout=PanelLayout({"person": 96, "garment": 96, "head": 64}, 128, 4),
                 schedulers=("ddim", "dpm++2m", "euler"), parameters=1, preset="demo", views_per_canvas=1)


def img(h=200, w=150, value=0):
    a = np.full((h, w, 3), value, np.uint8)
    a[: h // 2] = 255 - value   # not flat: fitting must keep its content
    return a


def session(**inputs) -> Session:
    s = Session(model_info=INFO)
    for k, v in inputs.items():
        s.set_input(k, v, f"{k}.png")
    return s


def test_no_qt():
    code = ("import sys, omfa_desktop.model.session, omfa_desktop.model.gallery_store, "
            "omfa_desktop.model.app_settings, omfa_desktop.model.jobs; "
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_try_off_request_takes_the_person_and_its_guide_as_given():
    s = session(person=img(), photo_guide=img(value=30), head=img(80, 60))
    req = s.to_request()
    assert isinstance(req, TryOnRequest) and req.task == "try-off" and req.garment is None
    assert req.person is s.person and req.head is s.head  # any size: the pipeline fits them to its panels
    assert len(req.pose_guides) == 1 and req.pose_guides[0] is s.photo_guide
    assert req.label == "person.png" and req.body is None
    assert (req.steps, req.scheduler, req.guidance_until) == (20, "dpm++2m", 0.5)  # the fast preset


def test_try_on_uses_the_photo_guide_and_multi_view_the_rendered_guides():
    s = session(garment=img(), photo_guide=img(value=9))
    s.set_task("try-on")
    req = s.to_request()
    assert req.task == "try-on" and req.person is None and req.garment is s.garment
    assert len(req.pose_guides) == 1 and req.label == "garment.png" and req.body is None

    s.set_task("multi-view")
    s.views = 3
    state = BodyState()
    s.set_pose(state, "walking")
    guides = [img(128, 96, v) for v in (1, 2, 3)]
    cams = [{"azimuth": a} for a in (0, 120, 240)]
    req = s.to_request(guides, cams)
    assert req.task == "multi-view" and req.num_views == 3 and len(req.pose_guides) == 3
    assert req.cameras == cams and req.body == state.to_dict()
    assert s.app_metadata()["preset"] == "walking" and s.app_metadata()["pose"] == "Walking"

    s.set_task("new-pose")
    req = s.to_request([guides[0]], cams[:1])
    assert req.task == "try-on" and req.num_views == 1 and req.body == state.to_dict()


def test_missing_inputs_and_bad_values_name_their_field():
    s = session(garment=img())
    s.set_task("try-on")
    with pytest.raises(RequestError) as e:
        s.to_request()
    assert e.value.field == "photo_guide" and "pose guide of the photo" in e.value.message
    s.set_task("try-off")
    with pytest.raises(RequestError) as e:
        s.to_request()
    assert e.value.field == "person" and e.value.message == "try-off needs a person photo"
    s.set_input("person", img())
    s.steps = 0
    with pytest.raises(RequestError) as e:   # the engine's own validation, against the model's layout
        s.to_request()
    assert e.value.field == "steps"
    s.steps = 20
    s.scheduler = "heun"                      # not one this model offers
    with pytest.raises(RequestError) as e:
        s.to_request()
    assert e.value.field == "scheduler"
    with pytest.raises(RequestError):
        s.set_task("try-everything")
    with pytest.raises(RequestError) as e:
        s.set_input("garment", np.zeros((4, 4), np.float32))
    assert e.value.field == "garment"


@pytest.mark.parametrize("counts, message", [((1, 2, 4), "Turbo samples in 1, 2 or 4 steps, not 3"),
                                             ((1,), "Turbo samples in 1 step, not 3")])
def test_turbo_settings_the_student_cannot_honour_are_refused_by_field(counts, message):
    import dataclasses

    s = Session(model_info=dataclasses.replace(INFO, schedulers=INFO.schedulers + ("student",), student=True,
                                               student_steps=counts))
    s.set_input("person", img())
    s.apply_preset("turbo")
    assert s.to_request().steps == 1
    s.steps = 3
    with pytest.raises(RequestError) as e:
        s.to_request()
    assert (e.value.field, e.value.message) == ("steps", message)
    s.steps, s.guidance = 1, 2.0
    with pytest.raises(RequestError) as e:
        s.to_request()
    assert e.value.field == "guidance"


def test_notifications_name_the_field_and_skip_unchanged_values():
    s = session()
    seen = []
    stop = s.on_change(lambda name, value: seen.append(name))
    s.steps = 20                      # unchanged: no notification
    assert seen == []
    s.steps = 33
    assert seen == ["steps", "preset"] and s.preset == "custom"   # the preset follows the fields
    seen.clear()
    s.apply_preset("paper")
    assert s.preset == "paper" and "preset" in seen and {"steps", "scheduler", "guidance_until"} <= set(seen)
    seen.clear()
    a = img()
    s.set_input("garment", a, "g.png")
    s.set_input("garment", a, "g.png")  # the same array: once
    assert seen == ["garment"] and s.sources["garment"] == "g.png"
    stop()
    s.seed = 5
    assert seen == ["garment"]


def test_a_failing_listener_does_not_silence_the_others():
    s = session()
    seen = []

    def broken(name, value):
        raise RuntimeError("view gone")
    s.on_change(broken)
    s.on_change(lambda n, v: seen.append(n))
    with pytest.raises(RuntimeError):
        s.seed = 9
    assert seen == ["seed"] and s.seed == 9


def test_unlocked_seed_draws_a_new_one():
    s = session()
    s.seed = 7
    assert s.next_seed() == 7
    s.seed_locked = False
    import random

    seeds = {s.next_seed(random.Random(i)) for i in range(5)}
    assert len(seeds) == 5 and all(0 <= x < SEED_MAX for x in seeds)


def test_from_metadata_round_trip():
    s = session(garment=img())
    s.set_task("multi-view")
    s.views, s.elevation, s.seed, s.steps, s.guidance, s.scheduler = 2, 10.0, 4242, 7, 3.5, "euler"
    state = BodyState()
    state.body_pose[3] = 0.4
    s.set_pose(state, "walking", mirrored=True, edited=True)
    req = s.to_request([img(128, 96)] * 2, [{"a": 0}, {"a": 180}])
    meta = {"request": req.settings(), "app": {"mode": s.task, **s.app_metadata()}}
    before = s.settings()

    t = Session(model_info=INFO)
    t.seed_locked = False
    assert t.from_metadata(meta) == []
    assert t.settings() == before and t.seed_locked and t.preset == "custom"
    assert (t.pose.preset, t.pose.mirrored, t.pose.edited) == ("walking", True, True)
    assert np.allclose(t.pose.state.body_pose, state.body_pose)


def test_from_metadata_says_what_it_could_not_restore():
    t = Session(model_info=INFO)
    notes = t.from_metadata({"task": "try-on", "scheduler": "plms", "seed": 2**40, "steps": 4,
                             "body": {"betas": "nonsense"}})
    assert t.task == "new-pose" and t.steps == 4 and t.seed == SEED_MAX
    assert any("plms" in n for n in notes) and any("larger" in n for n in notes)
    assert any("body pose" in n for n in notes)
    assert t.from_metadata({"task": "try-on"}) == [] and t.task == "try-on"
    assert t.guidance_until == 1.0     # older results guided every step
    with pytest.raises(RequestError):
        t.from_metadata(["not", "a", "dict"])


def test_sampler_request_carries_only_the_sampler():
    s = session(person=img())
    s.apply_preset("fastest")
    s.memory, s.precision = "low", "fp32"
    r = s.sampler_request()
    assert (r.steps, r.guidance_until, r.memory, r.precision) == (15, 0.4, "low", "fp32")
    assert r.person is None and r.pose_guides == []
