"""Sampling presets and guidance over part of the schedule: fewer UNet rows, the same images where they must be."""
import numpy as np
import pytest

from engine.cost import guided_steps, omfa_plan
from engine.device import select_device
from engine.pipeline import Pipeline
from engine.presets import SAMPLING_PRESETS, matching_preset, preset_settings, with_preset
from engine.request import RequestError, TryOnRequest

from omfa_testing import count_rows, rand_image, tiny_model


@pytest.fixture
def counted(rng):
    pipe = Pipeline(tiny_model(), select_device("cpu"))
    rows = count_rows(pipe)
    return pipe, rows, rand_image(rng, 32, 32)


def test_guidance_on_the_first_part_of_the_schedule_only(counted):
    pipe, rows, person = counted
    pipe.run(TryOnRequest(person=person, steps=10, guidance=2.0, guidance_until=0.3))
    assert rows == [2] * 3 + [1] * 7  # CFG pairs for 3 steps, then the conditional branch alone
    rows.clear()
    pipe.run(TryOnRequest(person=person, steps=10, guidance=1.0, guidance_until=0.3))
    assert rows == [1] * 10


def test_guidance_until_one_is_the_paper_sampler_exactly(counted):
    pipe, rows, person = counted
    a = pipe.run(TryOnRequest(person=person, steps=4, seed=3)).outputs[0]
    b = pipe.run(TryOnRequest(person=person, steps=4, seed=3, guidance_until=1.0)).outputs[0]
    c = pipe.run(TryOnRequest(person=person, steps=4, seed=3, guidance_until=0.5)).outputs[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, True, "half"])
def test_guidance_until_is_validated(counted, bad):
    pipe, _, person = counted
    with pytest.raises(RequestError) as e:
        pipe.run(TryOnRequest(person=person, steps=2, guidance_until=bad))
    assert e.value.field == "guidance_until"


def test_presets_fill_the_sampler_fields_and_are_recognised():
    fast = with_preset(TryOnRequest(), "fast")
    assert (fast.scheduler, fast.steps, fast.guidance_until) == ("dpm++2m", 20, 0.5)
    assert matching_preset(fast.settings()) == "fast"
    assert matching_preset(with_preset(fast, "paper").settings()) == "paper"
    assert matching_preset({**fast.settings(), "steps": 21}) == "custom"
    with pytest.raises(ValueError, match="presets are fast, paper"):
        preset_settings("warp")


def test_the_fast_preset_against_the_paper_sampler_on_the_same_canvas():
    from engine.cost import paper_reference, shipped_panels

    # like with like: the shipped SDXL canvas (person|garment|head 384) under both samplers
    assert shipped_panels("sdxl") == {"person": 768, "garment": 768, "head": 384}
    paper = paper_reference().flops()["total"]
    f = SAMPLING_PRESETS["fast"]
    fast = omfa_plan("fast", steps=f["steps"], guidance_until=f["guidance_until"]).flops()["total"]
    assert 1.40e15 < paper < 1.41e15  # 1,386.5 TFLOP of UNet + 16.6 of VAE
    assert 0.30 < fast / paper < 0.32  # 30 forwards instead of 100, plus the same VAE work
    assert guided_steps(20, 2.0, 0.5) == 10 and guided_steps(20, 1.0, 0.5) == 0 and guided_steps(15, 2.0, 0.4) == 6


def test_peers_are_counted_from_their_pipelines():
    from engine.cost import peer_plans

    idm, cat = peer_plans()
    # IDM-VTON: GarmentNet at every step, TryonNet self-attention over person + garment tokens (an independent
    # count gave about 582 TFLOP; counting the GarmentNet once and joint attention gave 320)
    assert idm.unet[1][4] == 30 and idm.unet[0][5]["attention"] == "concat"
    assert 575e12 < idm.flops()["total"] < 590e12
    assert 840e12 < cat.flops()["total"] < 850e12  # SD1.5 on person|garment, no cross-attention, x 100
    f = SAMPLING_PRESETS["fastest"]
    fastest = omfa_plan("fastest", steps=f["steps"], guidance_until=f["guidance_until"]).flops()["total"]
    assert fastest < idm.flops()["total"]


def test_multi_view_reaches_5x_only_with_the_clean_panels_computed_once():
    from engine.cost import reference_multiview_plan

    f = dict(steps=20, guidance_until=0.5)
    one = omfa_plan("", **f).flops()["total"]
    joint = omfa_plan("", views=8, views_per_canvas=4, **f).flops()["total"] / one
    assert 5.3 < joint < 5.5  # the shipped design: each canvas recomputes garment and head
    ref_one = reference_multiview_plan("", 1, 1, **f).flops()["total"]
    shared = reference_multiview_plan("", 8, 4, **f).flops()["total"]
    assert shared / ref_one <= 5.0 and shared / one <= 5.0


def test_multi_view_plan_shares_the_garment_and_head_columns_between_views():
    panels = {"person": 768, "garment": 768, "head": 384}
    one = omfa_plan("", steps=20, guidance_until=0.5, views=8, panels=panels)
    shared = omfa_plan("", steps=20, guidance_until=0.5, views=8, views_per_canvas=2, panels=panels)
    assert one.unet == [("sdxl", 1920, 1024, None, 8 * 30)]
    assert shared.unet == [("sdxl", 2688, 1024, None, 4 * 30)]  # p1 p2 | garment | head, 4 canvases
    odd = omfa_plan("", steps=20, guidance_until=0.5, views=3, views_per_canvas=2, panels=panels)
    assert odd.unet[0][4] == 2 * 30  # the last canvas is padded, not dropped
