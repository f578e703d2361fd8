import threading

import numpy as np
import pytest
import torch

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


def test_odd_sized_images_are_fitted_to_their_panels_by_the_pipeline(pipe, rng):
    from engine.images import fit

    person, head, guide = rand_image(rng, 45, 61), rand_image(rng, 13, 7), rand_image(rng, 33, 31)
    r = pipe.run(TryOnRequest(person=person, head=head, pose_guides=[guide], steps=2, seed=3))
    assert r.ok and r.outputs[0].shape == (32, 32, 3)
    assert np.array_equal(r.images["person"][0], fit(person, 32, 32))  # letterboxed, as the model saw it
    assert np.array_equal(r.images["head"][0], fit(head, 32, 32))
    assert (r.images["person"][0][:, :4] == 255).all()  # a tall photo gets white bars at its sides
    fitted = pipe.run(TryOnRequest(person=fit(person, 32, 32), head=fit(head, 32, 32),
                                   pose_guides=[fit(guide, 32, 32)], steps=2, seed=3))
    assert np.array_equal(r.outputs[0], fitted.outputs[0])  # the same as fitting before the call


def test_model_info_is_frozen_plain_data(pipe):
    import dataclasses

    info = pipe.info(folder="/models/tiny", vae_error="no VAE there")
    assert info.panel_sizes == {"person": (32, 32), "garment": (32, 32), "head": (32, 32)}
    assert info.panels == ("person", "garment", "head") and "ddim" in info.schedulers
    assert info.folder == "/models/tiny" and info.vae == "" and info.vae_error == "no VAE there"
    assert info.parameters == pipe.model.num_parameters() and info.device == "cpu" and not info.fallback
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.trained = True


def test_bad_request_is_refused_before_work(pipe, rng):
    with pytest.raises(RequestError) as e:
        pipe.run(TryOnRequest(person=rand_image(rng, 40, 32)[..., :2], steps=2))
    assert e.value.field == "person"
    with pytest.raises(RequestError, match="precision"):
        pipe.run(TryOnRequest(person=rand_image(rng, 32, 32), steps=2, precision="fp16"))


def test_multi_view_on_shared_canvases_puts_each_guide_on_its_own_person_panel(rng):
    m = tiny_model()
    m.config.views_per_canvas = 2  # as a model trained on two-view canvases records
    pipe = Pipeline(m, select_device("cpu"))
    guides = [rand_image(rng, 32, 32) for _ in range(3)]
    seen = []
    orig = m.forward
    m.forward = lambda x, t: (seen.append(x.clone()), orig(x, t))[1]
    r = pipe.run(TryOnRequest(task="multi-view", garment=rand_image(rng, 32, 32), pose_guides=guides, num_views=3,
                              steps=2, guidance=2.0))
    assert r.ok and len(r.images["person"]) == 3 and r.settings["views_per_canvas"] == 2
    # 3 views -> 2 canvases p1 p2 | garment | head (the second padded with view 3), cond + uncond: 4 rows of
    # 4 panels (32 latent columns) instead of 6 rows of 3 panels
    assert [x.shape for x in seen] == [(4, 9, 8, 32)] * 2
    z = pipe._encode(torch.from_numpy(np.stack(guides)).permute(0, 3, 1, 2).float().div(127.5).sub(1))
    cond = seen[0][2:]
    for canvas, slots in ((0, (0, 1)), (1, (2, 2))):
        for slot, view in enumerate(slots):
            assert torch.allclose(cond[canvas, 4:8, :, slot * 8:(slot + 1) * 8], z[view], atol=1e-5)
        assert (cond[canvas, 8, :, :16] == 1).all() and (cond[canvas, 8, :, 16:] == 0).all()  # mask
    # the same request on one canvas per view, and more views per canvas than the model knows
    rows = []
    m.forward = lambda x, t: (rows.append(tuple(x.shape)), orig(x, t))[1]
    one = pipe.run(TryOnRequest(task="multi-view", garment=rand_image(rng, 32, 32), pose_guides=guides,
                                num_views=3, steps=1, views_per_canvas=1))
    assert one.ok and rows == [(6, 9, 8, 24)] and one.settings["views_per_canvas"] == 1
    with pytest.raises(RequestError, match="at most 2 view"):
        pipe.run(TryOnRequest(task="multi-view", garment=rand_image(rng, 32, 32), pose_guides=guides,
                              num_views=3, steps=1, views_per_canvas=3))


def test_shared_canvas_round_trip_keeps_view_order():
    m = tiny_model()
    pipe = Pipeline(m, select_device("cpu"))
    b, k = 5, 2
    x = torch.randn(b, 4, 8, 24)
    x[..., 8:] = x[:1, :, :, 8:]  # clean panels are the same for every view
    shared, _, _, mask = pipe._share_canvas(k, x, torch.zeros_like(x), torch.randn_like(x))
    assert shared.shape == (3, 4, 8, 32) and mask.shape == (1, 1, 8, 32)
    assert torch.equal(pipe._unshare_canvas(k, shared, b), x)


def test_a_zero_snr_model_samples_and_refuses_a_sampler_it_cannot_follow(rng):
    m = tiny_model()
    m.config.noise_schedule.update(prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                   timestep_spacing="trailing")
    pipe = Pipeline(m, select_device("cpu"))
    person = rand_image(rng, 32, 32)
    with pytest.raises(RequestError, match="scheduler.*must be one of ddim.*not 'heun'"):
        pipe.run(TryOnRequest(task="try-off", person=person, steps=2, scheduler="heun"))
    for name in ("dpm++2m", "ddim", "euler"):  # euler starts from sigma 4096: still a finite image
        r = pipe.run(TryOnRequest(task="try-off", person=person, steps=3, scheduler=name))
        assert r.ok and r.outputs[0].std() > 0, name


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


# ------------------------------------------------------------------ a VAE replacing the model's codec
def _save_vae(folder, blocks=3, latent_channels=4, **config):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(block_out_channels=(32,) * blocks, latent_channels=latent_channels, norm_num_groups=32,
                  layers_per_block=1, down_block_types=("DownEncoderBlock2D",) * blocks,
                  up_block_types=("UpDecoderBlock2D",) * blocks, **config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def vae_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vaes")
    return {"f4": _save_vae(root / "f4"), "f2": _save_vae(root / "f2", blocks=2),
            "c8": _save_vae(root / "c8", latent_channels=8), "model": root / "model"}


def test_a_vae_folder_replaces_the_codec_of_a_loaded_model(vae_dirs, rng):
    from engine.codec import TinyCodec, VaeCodec

    tiny_model().save(vae_dirs["model"])
    plain = Pipeline.load(vae_dirs["model"], "cpu")
    assert isinstance(plain.model.codec, TinyCodec) and plain.vae_folder is None
    pipe = Pipeline.load(vae_dirs["model"], "cpu", vae=vae_dirs["f4"])
    assert isinstance(pipe.model.codec, VaeCodec) and pipe.model.codec.factor == 4
    assert pipe.vae_folder == vae_dirs["f4"] and "VAE" in pipe.describe()
    person = rand_image(rng, 32, 32)
    r = pipe.run(TryOnRequest(person=person, steps=2))
    assert r.ok and r.outputs[0].shape == (32, 32, 3) and r.settings["vae"] == str(vae_dirs["f4"])
    assert not np.array_equal(r.outputs[0], plain.run(TryOnRequest(person=person, steps=2)).outputs[0])
    # load_default takes it too (a diffusers pipeline folder with vae/ inside is accepted)
    (vae_dirs["f4"].parent / "pipe").mkdir(exist_ok=True)
    _save_vae(vae_dirs["f4"].parent / "pipe" / "vae")
    pipe2, fallback, _ = Pipeline.load_default(vae_dirs["model"], "cpu", vae=vae_dirs["f4"].parent / "pipe")
    assert not fallback and isinstance(pipe2.model.codec, VaeCodec)


def test_a_vae_of_another_geometry_is_refused_with_a_clear_message(vae_dirs, tmp_path):
    from engine.codec import TinyCodec
    from engine.model import ModelError

    pipe = Pipeline(tiny_model(), select_device("cpu"))
    with pytest.raises(ModelError, match=r"factor 2 .*factor-4 latents"):
        pipe.use_vae(vae_dirs["f2"])
    with pytest.raises(ModelError, match="8 latent channels"):
        pipe.use_vae(vae_dirs["c8"])
    with pytest.raises(ModelError, match="does not exist"):
        pipe.use_vae(tmp_path / "nope")
    with pytest.raises(ModelError, match="config.json is missing"):
        pipe.use_vae(tmp_path)
    assert isinstance(pipe.model.codec, TinyCodec) and pipe.vae_folder is None  # unchanged after a refusal
    tiny_model().save(tmp_path / "m")
    with pytest.raises(ModelError, match="factor 2"):
        Pipeline.load(tmp_path / "m", "cpu", vae=vae_dirs["f2"])


def test_a_vae_follows_load_models_dtype_rules(vae_dirs, tmp_path):
    import torch

    from engine.pipeline import load_vae

    like = tiny_model().codec
    assert next(load_vae(vae_dirs["f4"], like, torch.float32).parameters()).dtype == torch.float32
    # force_upcast (diffusers' default, the original SDXL VAE) stays fp32 next to an fp16 UNet ...
    assert next(load_vae(vae_dirs["f4"], like, torch.float16).parameters()).dtype == torch.float32
    # ... an fp16-fixed VAE (force_upcast false) runs in fp16; bf16 is never upcast
    fixed = _save_vae(tmp_path / "fixed", force_upcast=False)
    assert next(load_vae(fixed, like, torch.float16).parameters()).dtype == torch.float16
    assert next(load_vae(vae_dirs["f4"], like, torch.bfloat16).parameters()).dtype == torch.bfloat16


# ---------------------------------------------------------------------------------------- cropped uncond
def test_uncond_on_the_panel_runs_a_narrow_canvas_and_changes_only_what_it_should(pipe, rng):
    garment, guide = rand_image(rng, 32, 32), rand_image(rng, 32, 32)
    req = TryOnRequest(task="try-on", garment=garment, pose_guides=[guide], steps=3, guidance=2.0, seed=1)
    full = pipe.run(req)
    widths = []
    forward = pipe.model.forward
    pipe.model.forward = lambda x, t: (widths.append((x.shape[0], x.shape[-1])), forward(x, t))[1]
    pipe.optimize(uncond_panel=True)
    narrow = pipe.run(req)
    # per guided step: the uncond on the person panel's 8 latent columns, then the cond on the 24-column canvas
    assert widths == [(1, 8), (1, 24)] * 3 and narrow.settings["uncond_panel"] is True
    assert not np.array_equal(narrow.outputs[0], full.outputs[0])
    # guidance 1.0 has no uncond branch: identical with or without the option
    one = TryOnRequest(task="try-on", garment=garment, pose_guides=[guide], steps=3, guidance=1.0, seed=1)
    a = pipe.run(one).outputs[0]
    pipe.optimize(uncond_panel=False)
    assert np.array_equal(a, pipe.run(one).outputs[0])
