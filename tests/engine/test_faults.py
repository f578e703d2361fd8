"""Faults during a run: out of memory (injected on CPU), the low-memory mode it offers, and recovery."""
import dataclasses

import numpy as np
import pytest
import torch

from engine.device import OutOfMemory, is_out_of_memory, select_device
from engine.pipeline import Pipeline
from engine.request import RequestError, TryOnRequest

from omfa_testing import count_rows, rand_image, tiny_model


@pytest.fixture
def pipe():
    return Pipeline(tiny_model(), select_device("cpu"))


def _multi_view(rng, n=3, **kw):
    guides = [rand_image(rng, 32, 32) for _ in range(n)]
    return TryOnRequest(task="multi-view", garment=rand_image(rng, 32, 32), head=rand_image(rng, 32, 32),
                        pose_guides=guides, num_views=n, steps=3, seed=4, **kw)


def test_low_memory_mode_gives_the_same_images_with_smaller_model_calls(pipe, rng):
    req = _multi_view(rng)
    calls = count_rows(pipe)
    standard = pipe.run(req)
    sizes_standard, calls[:] = list(calls), []
    processors = {k: type(v) for k, v in pipe.model.unet.attn_processors.items()}
    low = pipe.run(dataclasses.replace(req, memory="low"))
    assert max(sizes_standard) == 6 and max(calls) == 1  # 3 views x CFG pair, then one row at a time
    for a, b in zip(standard.outputs, low.outputs):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # same sample up to float reassociation
    # the speed mode is back afterwards
    assert {k: type(v) for k, v in pipe.model.unet.attn_processors.items()} == processors


def test_an_unknown_memory_mode_is_a_request_error(pipe, rng):
    with pytest.raises(RequestError) as e:
        pipe.run(TryOnRequest(person=rand_image(rng, 32, 32), steps=1, memory="tiny"))
    assert e.value.field == "memory"


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("MPS backend out of memory"), MemoryError()])
def test_out_of_memory_becomes_one_clear_error_offering_the_low_memory_mode(pipe, rng, error, monkeypatch):
    assert is_out_of_memory(error)
    person = rand_image(rng, 32, 32)
    forward = pipe.model.forward
    state = {"n": 0}

    def flaky(x_in, t):
        state["n"] += 1
        if state["n"] == 2:  # fail mid-run, after a step has already been taken
            raise error
        return forward(x_in, t)

    monkeypatch.setattr(pipe.model, "forward", flaky)
    with pytest.raises(OutOfMemory) as e:
        pipe.run(TryOnRequest(person=person, steps=3))
    assert "out of memory on cpu" in str(e.value) and "low-memory mode" in str(e.value)
    assert not e.value.low_memory_tried
    # the pipeline is usable afterwards, and the low-memory retry runs
    assert pipe.run(TryOnRequest(person=person, steps=2, memory="low")).ok
    state["n"] = 1
    with pytest.raises(OutOfMemory) as e:
        pipe.run(TryOnRequest(person=person, steps=3, memory="low"))
    assert e.value.low_memory_tried and "low-memory mode" not in str(e.value)


def test_other_errors_are_not_mistaken_for_out_of_memory(pipe, rng, monkeypatch):
    monkeypatch.setattr(pipe.model, "forward", lambda x, t: (_ for _ in ()).throw(RuntimeError("shape mismatch")))
    with pytest.raises(RuntimeError, match="shape mismatch") as e:
        pipe.run(TryOnRequest(person=rand_image(rng, 32, 32), steps=1))
    assert not isinstance(e.value, OutOfMemory)


def test_offload_mode_moves_each_part_to_the_device_only_while_it_runs(rng, monkeypatch):
    """On "cpu:0" (a device string other than "cpu", so offloading engages) the real code path runs."""
    from engine.device import DevicePolicy

    pipe = Pipeline(tiny_model(), DevicePolicy("cpu:0", "fp32"))
    req = TryOnRequest(person=rand_image(rng, 32, 32), steps=2, seed=1)
    standard = pipe.run(req).outputs[0]
    moves = []
    real_to = torch.nn.Module.to

    def spy(self, *a, **k):
        moves.append((type(self).__name__, str(a[0]) if a else str(k.get("device"))))
        return real_to(self, *a, **k)

    monkeypatch.setattr(torch.nn.Module, "to", spy)
    offloaded = pipe.run(dataclasses.replace(req, memory="offload")).outputs[0]
    parts = [(n, d) for n, d in moves if n in ("OmfaModel", "TinyCodec", "UNet2DConditionModel")]
    assert parts == [("OmfaModel", "cpu"),                                        # parked
                     ("TinyCodec", "cpu:0"), ("TinyCodec", "cpu"),                # encode
                     ("UNet2DConditionModel", "cpu:0"), ("UNet2DConditionModel", "cpu"),  # denoise
                     ("TinyCodec", "cpu:0"), ("TinyCodec", "cpu"),                # decode
                     ("OmfaModel", "cpu:0")]                                      # back for standard runs
    assert np.array_equal(standard, offloaded)
