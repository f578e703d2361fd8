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


def test_the_fast_preset_costs_at_most_40_percent_of_the_paper_default():
    # counted on the meta device at 768x1024, SDXL, person|garment|head (head at half width for fast)
    paper = omfa_plan("paper", panels={"person": 768, "garment": 768}).flops()["total"]
    f = SAMPLING_PRESETS["fast"]
    fast = omfa_plan("fast", steps=f["steps"], guidance_until=f["guidance_until"],
                     panels={"person": 768, "garment": 768, "head": 384}).flops()["total"]
    assert 1.0e15 < paper < 1.1e15  # ≈ 1,068 TFLOP of UNet, as the paper default's known cost
    assert fast / paper <= 0.40
    assert guided_steps(20, 2.0, 0.5) == 10 and guided_steps(20, 1.0, 0.5) == 0 and guided_steps(15, 2.0, 0.4) == 6


def test_the_fastest_preset_costs_less_than_an_idm_vton_like_design():
    from engine.cost import peer_plans

    f = SAMPLING_PRESETS["fastest"]
    fastest = omfa_plan("fastest", steps=f["steps"], guidance_until=f["guidance_until"],
                        panels={"person": 768, "garment": 768, "head": 384}).flops()["total"]
    idm = next(p for p in peer_plans() if p.name.startswith("IDM")).flops()["total"]
    assert fastest < idm


def test_multi_view_plan_shares_the_garment_and_head_columns_between_views():
    panels = {"person": 768, "garment": 768, "head": 384}
    one = omfa_plan("", steps=20, guidance_until=0.5, views=8, panels=panels)
    shared = omfa_plan("", steps=20, guidance_until=0.5, views=8, views_per_canvas=2, panels=panels)
    assert one.unet == [("sdxl", 1920, 1024, None, 8 * 30)]
    assert shared.unet == [("sdxl", 2688, 1024, None, 4 * 30)]  # p1 p2 | garment | head, 4 canvases
    odd = omfa_plan("", steps=20, guidance_until=0.5, views=3, views_per_canvas=2, panels=panels)
    assert odd.unet[0][4] == 2 * 30  # the last canvas is padded, not dropped
