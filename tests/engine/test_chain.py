"""Chained jobs (person to person, outfits, turntables) and starting a generation from an image (strength)."""
import threading

import numpy as np
import pytest

from engine.chain import Chain, Link, Stage, outfit, person_to_person, run_chain, turntable
from engine.device import select_device
from engine.pipeline import Pipeline
from engine.request import RequestError, TryOnRequest

from omfa_testing import count_rows, rand_image, tiny_model


@pytest.fixture
def pipe():
    return Pipeline(tiny_model(), select_device("cpu"))


def img(rng):
    return rand_image(rng, 32, 32)


# ---------------------------------------------------------------------------------------- strength
def test_strength_runs_only_the_tail_of_the_schedule_and_starts_from_the_image(pipe, rng):
    garment, guide, start = img(rng), img(rng), img(rng)
    rows = count_rows(pipe)
    full = pipe.run(TryOnRequest(task="try-on", garment=garment, pose_guides=[guide], steps=8, seed=3))
    n_full = len(rows)
    part = pipe.run(TryOnRequest(task="try-on", garment=garment, pose_guides=[guide], steps=8, seed=3,
                                 person=start, strength=0.25))
    assert n_full == 8 and len(rows) - n_full == 2 and part.steps_done == 2
    assert part.settings["strength"] == 0.25 and part.settings["steps_run"] == 2
    # starting from another image changes the result; the same start gives the same result
    other = pipe.run(TryOnRequest(task="try-on", garment=garment, pose_guides=[guide], steps=8, seed=3,
                                  person=img(rng), strength=0.25))
    again = pipe.run(TryOnRequest(task="try-on", garment=garment, pose_guides=[guide], steps=8, seed=3,
                                  person=start, strength=0.25))
    assert not np.array_equal(part.outputs[0], other.outputs[0])
    assert np.array_equal(part.outputs[0], again.outputs[0])
    assert not np.array_equal(part.outputs[0], full.outputs[0])


@pytest.mark.parametrize("scheduler", ["ddim", "dpm++2m", "euler"])
def test_low_strength_stays_close_to_the_start(pipe, rng, scheduler):
    """At a small strength the result is the start image, lightly re-noised and denoised (whatever the model:
    at the last, least-noisy timestep the estimate is mostly the input): much closer to the start's codec
    round trip than a generation from pure noise is."""
    from engine.codec import to_tensor, to_uint8

    garment, guide, start = img(rng), img(rng), img(rng)
    ref = to_uint8(pipe.model.codec.decode(pipe.model.codec.encode(to_tensor(start))))[0].astype(float)
    common = dict(task="try-on", garment=garment, pose_guides=[guide], steps=10, seed=0, scheduler=scheduler)
    near = pipe.run(TryOnRequest(**common, person=start, strength=0.1)).outputs[0].astype(float)
    far = pipe.run(TryOnRequest(**common)).outputs[0].astype(float)
    assert np.abs(near - ref).mean() < 0.25 * np.abs(far - ref).mean()


def test_strength_rules_are_checked(pipe, rng):
    with pytest.raises(RequestError, match="strength: below 1 starts from an existing person"):
        pipe.run(TryOnRequest(task="try-on", garment=img(rng), pose_guides=[img(rng)], strength=0.5, steps=2))
    with pytest.raises(RequestError, match="generates the person; do not pass one"):
        pipe.run(TryOnRequest(task="try-on", garment=img(rng), pose_guides=[img(rng)], person=img(rng), steps=2))
    for bad in (0.0, 1.5, True, "0.5"):
        with pytest.raises(RequestError, match="strength"):
            TryOnRequest(person=img(rng), strength=bad).validate(pipe.layout)


# ---------------------------------------------------------------------------------------- chains
def test_person_to_person_chains_try_off_into_try_on_with_consistent_metadata(pipe, rng):
    photo_a, head_b, guide_b = img(rng), img(rng), img(rng)
    chain = person_to_person(photo_a, [guide_b], head_b, sampling=TryOnRequest(steps=3, seed=7), label="A to B")
    seen = []
    res = run_chain(pipe, chain, progress=lambda i, n, p: seen.append((i, n, p.step)))
    assert res.ok and len(res.results) == 2
    off, on = res.results
    assert off.settings["task"] == "try-off" and on.settings["task"] == "try-on"
    # the try-on's garment input is exactly the try-off's output
    assert np.array_equal(on.images["garment"][0], off.images["garment"][0])
    assert np.array_equal(on.images["head"][0], head_b)
    for i, r in enumerate(res.results):
        c = r.settings["chain"]
        assert c["id"] == chain.id and c["kind"] == "person-to-person" and c["stage"] == i and c["of"] == 2
        assert r.settings["seed"] == 7 and r.settings["steps"] == 3
    assert on.settings["chain"]["links"] == [{"field": "garment", "stage": 0, "panel": "garment", "view": 0}]
    assert seen[0] == (0, 2, 1) and seen[-1] == (1, 2, 3)
    assert chain.settings()["stages"][1]["request"]["inputs"]["garment"] is False  # filled at run time


def test_chain_replays_to_the_same_images(pipe, rng):
    photo_a, head_b, guide_b = img(rng), img(rng), img(rng)
    a = run_chain(pipe, person_to_person(photo_a, [guide_b], head_b, sampling=TryOnRequest(steps=2)))
    b = run_chain(pipe, person_to_person(photo_a, [guide_b], head_b, sampling=TryOnRequest(steps=2)))
    assert np.array_equal(a.final.outputs[0], b.final.outputs[0])


def test_outfit_layers_start_from_the_previous_result(pipe, rng):
    g1, g2, guide, head = img(rng), img(rng), img(rng), img(rng)
    rows = count_rows(pipe)
    requests = []
    run = pipe.run
    pipe.run = lambda r, *a: (requests.append(r), run(r, *a))[1]
    res = run_chain(pipe, outfit([g1, g2], guide, head, strength=0.5, sampling=TryOnRequest(steps=6)))
    assert res.ok and len(res.results) == 2
    first, second = res.results
    # the second layer starts from the first result, with the second garment, the same head and pose
    assert requests[1].person is first.outputs[0] and requests[1].garment is g2 and requests[1].head is head
    assert second.settings["strength"] == 0.5 and second.steps_done == 3 and len(rows) == 6 + 3
    assert second.settings["chain"]["links"][0] == {"field": "person", "stage": 0, "panel": "person", "view": 0}
    # and the start matters: the same stage from another start image gives another picture
    other = run(TryOnRequest(task="try-on", garment=g2, head=head, pose_guides=[guide], steps=6, strength=0.5,
                             person=img(rng)))
    assert not np.array_equal(other.outputs[0], second.outputs[0])


def test_turntable_runs_batches_of_views_sharing_clean_panels(pipe, rng):
    guides = [img(rng) for _ in range(10)]
    rows = count_rows(pipe)
    encodes = []
    enc = pipe._encode
    pipe._encode = lambda x, *a, **k: (encodes.append(x.shape[0]), enc(x, *a, **k))[1]
    res = run_chain(pipe, turntable(guides, img(rng), garment=img(rng), batch=4,
                                    sampling=TryOnRequest(steps=2, guidance=2.0)))
    assert res.ok and [r.settings["num_views"] for r in res.results] == [4, 4, 2]
    # one UNet call per step per batch, every view of the batch in it (x2 for guidance)
    assert rows == [8, 8, 8, 8, 4, 4]
    # per batch: the garment and head encoded once (1 row each) and the guides together
    assert encodes == [1, 1, 4, 1, 1, 4, 1, 1, 2]
    assert len(res.outputs()) == 10


def test_turntable_shares_canvases_unless_asked_for_one_canvas_per_view(pipe, rng):
    pipe.model.config.views_per_canvas = 2  # as a model trained on 2-view canvases records
    guides = [img(rng) for _ in range(4)]
    garment, head = img(rng), img(rng)
    for k, want_rows, ran in ((0, [4], 2), (1, [8], 1)):
        rows = count_rows(pipe)
        res = run_chain(pipe, turntable(guides, head, garment=garment, batch=4, views_per_canvas=k,
                                        sampling=TryOnRequest(steps=1, guidance=2.0)))
        assert res.ok and len(res.outputs()) == 4
        assert rows == want_rows and res.results[0].settings["views_per_canvas"] == ran


def test_turntable_from_a_photo_takes_the_garment_off_first(pipe, rng):
    guides = [img(rng) for _ in range(3)]
    res = run_chain(pipe, turntable(guides, img(rng), photo=img(rng), batch=8, sampling=TryOnRequest(steps=2)))
    assert [r.settings["task"] for r in res.results] == ["try-off", "multi-view"]
    assert np.array_equal(res.results[1].images["garment"][0], res.results[0].outputs[0])
    assert len(res.outputs()) == 3


def test_cancel_stops_the_chain(pipe, rng):
    cancel = threading.Event()

    def progress(i, n, p):
        if i == 0 and p.step == 1:
            cancel.set()

    res = run_chain(pipe, person_to_person(img(rng), [img(rng)], img(rng), sampling=TryOnRequest(steps=4)),
                    progress=progress, cancel=cancel)
    assert res.status == "cancelled" and len(res.results) == 1 and res.outputs() == []


def test_bad_chains_and_stages_are_named(pipe, rng):
    with pytest.raises(RequestError, match="does not run before it"):
        Chain("outfit", [Stage("x", TryOnRequest(), [Link("person", 0, "person")])])
    with pytest.raises(RequestError, match="either a garment image or a photo"):
        turntable([img(rng)], None)
    bad = person_to_person(img(rng), [np.zeros((5, 5, 4), np.uint8)], None, sampling=TryOnRequest(steps=2))
    with pytest.raises(RequestError, match=r"stage 2 of 2 \(put it on person B\): .*4-channel"):
        run_chain(pipe, bad)

