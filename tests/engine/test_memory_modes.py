"""Memory traps of large requests: bounded codec calls for many views, SDPA attention in every memory mode."""
import numpy as np
import pytest
import torch

import engine.codec as codec_mod
from engine.codec import TinyCodec, VaeCodec, decode_in_chunks, encode_in_chunks, images_per_call
from engine.device import select_device
from engine.pipeline import Pipeline
from engine.request import TryOnRequest

from omfa_testing import rand_image, tiny_model


def _tiny_vae() -> VaeCodec:
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(32, 32, 32), latent_channels=4, norm_num_groups=32, layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3)
    return VaeCodec(vae.eval())


def test_images_per_call_bounds_the_pixels_of_one_codec_call():
    assert images_per_call(1024, 768) == 2          # SDXL size: two views per call (~4 GB in fp32), not 8
    assert images_per_call(128, 96) == 128          # the demo model: a whole multi-view batch in one call
    assert images_per_call(4096, 4096) == 1         # never zero
    assert images_per_call(128, 96, "low") == images_per_call(128, 96, "offload") == 1


@pytest.mark.parametrize("make", [lambda: TinyCodec().eval(), _tiny_vae], ids=["tiny", "vae"])
def test_chunked_codec_calls_give_the_one_call_result(make):
    codec = make()
    torch.manual_seed(1)
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    whole = codec.encode(images)
    for per_call in (1, 2, 5):
        z = encode_in_chunks(codec, images, per_call)
        assert z.shape == whole.shape and torch.allclose(z, whole, atol=1e-5)
        x = decode_in_chunks(codec, whole, per_call)
        assert torch.allclose(x, codec.decode(whole), atol=1e-5)


def test_a_multi_view_batch_is_decoded_in_bounded_calls_with_the_same_images(monkeypatch):
    rng = np.random.default_rng(0)
    pipe = Pipeline(tiny_model(), select_device("cpu"))
    req = TryOnRequest(task="multi-view", garment=rand_image(rng, 32, 32), num_views=5, steps=2,
                       pose_guides=tuple(rand_image(rng, 32, 32) for _ in range(5)))
    codec = pipe.model.codec
    sizes = {"encode": [], "decode": []}
    enc, dec = codec.encode, codec.decode
    monkeypatch.setattr(codec, "encode", lambda x: (sizes["encode"].append(x.shape[0]), enc(x))[1])
    monkeypatch.setattr(codec, "decode", lambda z: (sizes["decode"].append(z.shape[0]), dec(z))[1])
    one_call = pipe.run(req).images["person"]
    assert max(sizes["decode"]) == 5 and max(sizes["encode"]) == 5  # 32x32 panels: all views fit one call
    sizes["encode"].clear(), sizes["decode"].clear()
    monkeypatch.setattr(codec_mod, "CODEC_PIXELS_PER_CALL", 2 * 32 * 32)  # as SDXL's 768x1024 views do
    chunked = pipe.run(req).images["person"]
    assert sizes["decode"] == [2, 2, 1] and sizes["encode"] == [1, 2, 2, 1]  # garment, then the 5 guides
    assert len(chunked) == 5
    for a, b in zip(one_call, chunked):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


@pytest.mark.parametrize("memory", ["standard", "low", "offload"])
@pytest.mark.parametrize("with_vae", [False, True], ids=["tiny-codec", "vae"])
def test_attention_stays_sdpa_in_every_memory_mode(memory, with_vae):
    from diffusers.models.attention_processor import AttnProcessor2_0

    rng = np.random.default_rng(0)
    model = tiny_model()
    if with_vae:
        model.codec = _tiny_vae()
    pipe = Pipeline(model, select_device("cpu"))
    seen: set = set()

    def processors(_p) -> None:  # during the run, after the memory mode is set up
        mods = [model.unet] + ([model.codec.vae] if with_vae else [])
        seen.update(type(p).__name__ for m in mods for p in m.attn_processors.values())

    r = pipe.run(TryOnRequest(person=rand_image(rng, 32, 32), steps=2, memory=memory), progress=processors)
    assert r.ok and seen == {AttnProcessor2_0.__name__}
    assert {type(p).__name__ for p in model.unet.attn_processors.values()} == {AttnProcessor2_0.__name__}
