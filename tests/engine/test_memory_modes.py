"""Memory traps of large requests: bounded codec calls for many views, SDPA attention in every memory mode;
what a memory mode does to the modules, defined once (engine.memory_modes) for the pipeline and the count."""
import contextlib

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


# ============================================================ one definition of a memory mode: run and count
def _sdxl_like_vae(channels=(8, 8, 8, 8)) -> VaeCodec:
    """A factor-8 AutoencoderKL whose config says sample_size 1024, as the SDXL VAE's does (diffusers would tile
    only images larger than 1024 px), small enough to decode a 768x640 panel in a fraction of a second."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=channels, latent_channels=4, norm_num_groups=4, layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        sample_size=1024)
    return VaeCodec(vae.eval())


def _module_state(model) -> tuple:
    """What a memory mode may change on the modules: attention processors, the VAE's slicing and tiling."""
    vae = getattr(model.codec, "vae", None)
    procs = tuple(sorted({type(p).__name__ for m in (model.unet, vae) if m is not None
                          for p in m.attn_processors.values()}))
    tiles = None if vae is None else (vae.use_slicing, vae.use_tiling, vae.tile_sample_min_size,
                                      vae.tile_latent_min_size, vae.tile_overlap_factor)
    return procs, tiles


@pytest.mark.parametrize("memory", ["standard", "low", "offload"])
def test_the_count_sees_the_modules_as_the_pipeline_runs_them(memory):
    """engine.memcount counts a mode (README's table, Edit -> Models..., omfa models list) with the modules as
    engine.pipeline runs that mode. Failed before: the count sliced attention the pipeline no longer slices."""
    from engine.memcount import count_request

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    model = tiny_model()
    model.codec = _tiny_vae()
    pipe = Pipeline(model, select_device("cpu"))
    seen = {"run": set(), "count": set()}
    phase = ["run"]
    hook = model.unet.register_forward_pre_hook(lambda *_: seen[phase[0]].add(_module_state(model)))
    try:
        assert pipe.run(TryOnRequest(person=rand_image(rng, 32, 32), steps=1, memory=memory)).ok
        phase[0] = "count"
        count_request(model, memory)
    finally:
        hook.remove()
    assert len(seen["run"]) == 1 and seen["count"] == seen["run"]
    procs, tiles = next(iter(seen["run"]))
    assert procs == ("AttnProcessor2_0",)
    assert tiles[:2] == ((True, True) if memory != "standard" else (False, False))


def test_the_low_memory_modes_decode_a_768px_panel_in_512px_tiles_that_standard_decodes_whole():
    """The SDXL VAE's config says sample_size 1024, so diffusers' own tiling decoded a 768x1024 panel whole
    even in "low"; the low-memory modes tile in 512-px tiles (latent 64) whatever the config says."""
    torch.set_num_threads(1)
    model = tiny_model()
    model.codec = _sdxl_like_vae()
    pipe = Pipeline(model, select_device("cpu"))
    tiles: list = []
    hook = model.codec.vae.decoder.register_forward_pre_hook(lambda m, a: tiles.append(tuple(a[0].shape[-2:])))
    z = torch.randn(1, 4, 96, 80, generator=torch.Generator().manual_seed(0))   # a 768x640 panel
    try:
        for memory in ("standard", "low", "offload"):
            tiles.clear()
            with pipe._memory_mode(memory):
                out = model.codec.decode(z)
            assert out.shape == (1, 3, 768, 640)
            if memory == "standard":
                assert tiles == [(96, 80)]                   # whole
            else:   # rows and columns start every 48 latents (64 - diffusers' 25 % overlap): 2 x 2 tiles
                assert tiles == [(64, 64), (64, 32), (48, 64), (48, 32)]
    finally:
        hook.remove()


def test_tiled_decoding_stays_close_to_whole_decoding_and_standard_is_unchanged():
    """Tiled decoding is not bit-identical: each 512-px tile is decoded on its own (its own GroupNorm
    statistics, its own borders) and tiles are blended over a quarter of a tile. Checked on content of even
    statistics (a noise latent), where what is left is the seams: the decoded panel must stay the same image
    by the project's bar for "the same output" (SSIM >= 0.95, the bar of benchmarks/bench_uncond.py) and within
    two grey levels on average (measured: SSIM 0.999, 0.8 levels). The standard mode must not change a bit."""
    from types import SimpleNamespace

    from engine.codec import to_uint8
    from engine.memory_modes import modules_in
    from engine.metrics import ssim

    torch.set_num_threads(1)
    codec = _sdxl_like_vae()
    model = SimpleNamespace(unet=torch.nn.Identity(), codec=codec)   # a VAE and no attention elsewhere
    z = torch.randn(1, 4, 96, 80, generator=torch.Generator().manual_seed(1))
    whole = codec.decode(z)
    with modules_in(model, "standard"):
        assert torch.equal(codec.decode(z), whole)
    with modules_in(model, "low"):
        tiled = codec.decode(z)
    assert torch.equal(codec.decode(z), whole)                   # restored: whole again, bit for bit
    a, b = to_uint8(whole)[0], to_uint8(tiled)[0]
    assert not np.array_equal(a, b)                              # it did tile
    assert ssim(a, b) >= 0.95
    assert np.abs(a.astype(int) - b.astype(int)).mean() <= 2.0


def test_memory_modes_restore_the_modules_after_the_run_and_after_an_error():
    from diffusers.models.attention_processor import AttnProcessor

    from engine.memory_modes import modules_in

    model = tiny_model()
    model.codec = _sdxl_like_vae()
    model.unet.set_attn_processor(AttnProcessor())        # not SDPA, as a model made elsewhere may be
    vae = model.codec.vae
    vae.tile_overlap_factor = 0.5                         # whatever the caller had set
    before = _module_state(model)
    assert before == (("AttnProcessor", "AttnProcessor2_0"), (False, False, 1024, 128, 0.5))
    for memory in ("standard", "low", "offload"):
        with modules_in(model, memory):
            procs, tiles = _module_state(model)
            assert procs == ("AttnProcessor2_0",)
            assert tiles == ((True, True, 512, 64, 0.25) if memory != "standard" else before[1])
        assert _module_state(model) == before
        with pytest.raises(RuntimeError, match="boom"):
            with modules_in(model, memory):
                raise RuntimeError("boom")
        assert _module_state(model) == before
    # the pipeline's own mode context: restored too
    pipe = Pipeline(model, select_device("cpu"))
    after_init = _module_state(model)
    with pipe._memory_mode("low"):
        assert _module_state(model)[1] == (True, True, 512, 64, 0.25)
    assert _module_state(model) == after_init


def test_a_tiny_vae_config_does_not_tile_a_small_panel_into_thousands_of_tiles():
    """AutoencoderKL's default sample_size (32) made diffusers tile in 32-px tiles; the low modes' 512-px
    tiles leave a panel of 512 px or less whole, whatever the config says."""
    from types import SimpleNamespace

    from engine.memory_modes import modules_in

    codec = _tiny_vae()                                   # sample_size 32, factor 4
    assert codec.vae.tile_sample_min_size == 32
    calls: list = []
    hook = codec.vae.decoder.register_forward_pre_hook(lambda m, a: calls.append(tuple(a[0].shape[-2:])))
    try:
        with modules_in(SimpleNamespace(unet=torch.nn.Identity(), codec=codec), "low"):
            codec.decode(torch.zeros(1, 4, 128, 96))      # a 512x384 panel
    finally:
        hook.remove()
    assert calls == [(128, 96)]


def test_counted_sdpa_holds_no_score_matrix_as_cuda_kernels_do():
    """On the meta device SDPA runs its math kernel (the whole score matrix and its softmax); the count
    models CUDA's flash / memory-efficient kernels, which keep only the output."""
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    from engine.memcount import TensorCounter, _FlashAttention

    tokens, dim = 4096, 64
    with torch.device("meta"):
        attn = Attention(dim, heads=1, dim_head=dim).half()
    attn.set_processor(AttnProcessor2_0())
    x = torch.zeros(1, tokens, dim, device="meta", dtype=torch.float16)
    peaks = {}
    for flash in (False, True):
        counter = TensorCounter({"unet": attn}, {"unet": 2, "codec": 2})
        counter.phase = "unet"
        with torch.no_grad(), (_FlashAttention() if flash else contextlib.nullcontext()), counter:
            attn(x)
        counter.close()
        peaks[flash] = counter.peak_activations_gpu["unet"]
    scores = tokens * tokens * 2                             # one fp16 score matrix
    assert peaks[False] >= 2 * scores                        # math kernel: scores and their softmax
    assert peaks[True] < scores / 4                          # counted as CUDA runs it: q, k, v, out, no scores
    assert peaks[True] >= 4 * tokens * dim * 2
