import threading

import pytest
import torch

from engine.diffusion import (drop_conditions, make_scheduler, masked_loss, partial_noise, sample,
                              training_scheduler, unet_input)
from engine.layout import PanelLayout
from engine.model import DEFAULT_NOISE_SCHEDULE

LAY = PanelLayout({"person": 32, "garment": 32, "head": 32}, 32, 4)


def _latents(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 4, LAY.latent_height, LAY.latent_width, generator=g)


def test_noising_leaves_clean_panels_bit_exact():
    sched = training_scheduler(DEFAULT_NOISE_SCHEDULE)
    x0 = _latents()
    mask = LAY.mask("try-off")
    t = torch.tensor([999, 500])
    xt = partial_noise(x0, torch.randn_like(x0), mask, t, sched)
    clean = ~mask.bool().expand_as(x0)
    assert torch.equal(xt[clean], x0[clean])
    assert not torch.allclose(xt[~clean], x0[~clean])


def test_loss_gives_clean_panels_exactly_zero_gradient():
    pred = torch.randn(2, 4, LAY.latent_height, LAY.latent_width, requires_grad=True)
    target = torch.randn_like(pred)
    mask = LAY.mask("try-on")
    loss = masked_loss(pred, target, mask, weights=torch.tensor([0.5, 2.0]))
    loss.backward()
    parts = LAY.split(pred.grad)
    assert torch.count_nonzero(parts["garment"]) == 0
    assert torch.count_nonzero(parts["head"]) == 0
    assert torch.count_nonzero(parts["person"]) > 0
    # Only the generated panel counts: changing a clean panel's prediction does not change the loss.
    with torch.no_grad():
        pred2 = pred.clone()
        pred2[..., LAY.slices()["garment"]] += 10
    assert masked_loss(pred2, target, mask, torch.tensor([0.5, 2.0])) == loss


def test_drop_conditions_zeroes_clean_panels_and_pose_per_sample():
    x, pose, mask = _latents(), _latents(seed=1), LAY.mask("try-off")
    xd, pd = drop_conditions(x, pose, mask, torch.tensor([True, False]), torch.tensor([False, True]))
    gen = mask.bool().expand_as(x)
    assert torch.equal(xd[0][gen[0]], x[0][gen[0]]) and torch.count_nonzero(xd[0][~gen[0]]) == 0
    assert torch.equal(xd[1], x[1])
    assert torch.equal(pd[0], pose[0]) and torch.count_nonzero(pd[1]) == 0


def test_sampling_keeps_clean_panels_exact(model):
    x0, pose = _latents(), _latents(seed=1)
    mask = LAY.mask("try-off")
    for name in ("ddim", "euler", "dpm++2m"):
        out = sample(model, x0, pose, mask, make_scheduler(name, DEFAULT_NOISE_SCHEDULE), steps=4, guidance=2.0,
                     generator=torch.Generator().manual_seed(0))
        clean = ~mask.bool().expand_as(x0)
        assert torch.equal(out.latents[clean], x0[clean]), name
        assert torch.isfinite(out.latents).all()


class _Recorder:
    def __init__(self, model):
        self.model, self.batches = model, []

    def __call__(self, x, t):
        self.batches.append(x.shape[0])
        return self.model(x, t)


def _reference_sample(model, x0, pose, mask, steps, w, noise):
    """Two separate forwards per step (uncond: clean panels and pose zeroed)."""
    sched = make_scheduler("ddim", DEFAULT_NOISE_SCHEDULE)
    sched.set_timesteps(steps)
    m = mask.bool().expand_as(x0)
    x = torch.where(m, noise, x0)
    mf = mask.expand(x0.shape[0], -1, -1, -1)
    for t in sched.timesteps:
        tt = t.expand(x0.shape[0])
        c = model(unet_input(torch.where(m, x, x0), pose, mf), tt)
        if w != 1.0:
            u = model(unet_input(torch.where(m, x, torch.zeros_like(x0)), torch.zeros_like(pose), mf), tt)
            c = u + w * (c - u)
        x = torch.where(m, sched.step(c, t, x).prev_sample, x0)
    return x


def test_batched_cfg_equals_two_separate_forwards(model):
    x0, pose, mask = _latents(), _latents(seed=1), LAY.mask("try-on")
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3))
    rec = _Recorder(model)
    with torch.no_grad():
        out = sample(rec, x0, pose, mask, make_scheduler("ddim", DEFAULT_NOISE_SCHEDULE), steps=3, guidance=2.0,
                     noise=noise)
        ref = _reference_sample(model, x0, pose, mask, 3, 2.0, noise)
    assert rec.batches == [4, 4, 4]  # cond + uncond of 2 samples in ONE forward per step
    # fp32 kernels for a batch of 4 and of 2 round differently on some CPUs (up to 1.6e-5 seen on one CI-class machine),
    # and guidance multiplies that by 1 + w; a batching mistake (rows mixed up) is off by O(0.1)
    torch.testing.assert_close(out.latents, ref, atol=1e-4, rtol=1e-4)


def test_guidance_one_is_the_conditional_branch(model):
    x0, pose, mask = _latents(), _latents(seed=1), LAY.mask("try-off")
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(4))
    rec = _Recorder(model)
    with torch.no_grad():
        out = sample(rec, x0, pose, mask, make_scheduler("ddim", DEFAULT_NOISE_SCHEDULE), steps=3, guidance=1.0,
                     noise=noise)
        ref = _reference_sample(model, x0, pose, mask, 3, 1.0, noise)
    assert rec.batches == [2, 2, 2]
    torch.testing.assert_close(out.latents, ref, atol=1e-6, rtol=1e-6)


def test_cancel_stops_within_one_step(model):
    x0, pose, mask = _latents(1), _latents(1, seed=1), LAY.mask("try-off")
    cancel = threading.Event()
    seen = []

    def progress(step, total, x0_hat):
        seen.append(step)
        assert x0_hat.shape == x0.shape
        if step == 3:
            cancel.set()

    rec = _Recorder(model)
    with torch.no_grad():
        out = sample(rec, x0, pose, mask, make_scheduler("ddim", DEFAULT_NOISE_SCHEDULE), steps=50,
                     generator=torch.Generator().manual_seed(0), progress=progress, cancel=cancel)
    assert out.cancelled and out.steps_done == 3 and seen == [1, 2, 3] and len(rec.batches) == 3


# ------------------------------------------------------------------ zero terminal SNR (demo recipe v2)
ZERO_SNR = {**DEFAULT_NOISE_SCHEDULE, "prediction_type": "v_prediction", "rescale_betas_zero_snr": True,
            "timestep_spacing": "trailing"}


def test_zero_snr_schedule_ends_in_pure_noise_and_samplers_start_there():
    sched = training_scheduler(ZERO_SNR)
    assert float(sched.alphas_cumprod[-1]) == 0.0  # SD's own schedule keeps sqrt(0.0047) = 7 % of the image
    assert float(training_scheduler(DEFAULT_NOISE_SCHEDULE).alphas_cumprod[-1]) > 0.004
    x0, noise = _latents(1), _latents(1, seed=1)
    x_t = partial_noise(x0, noise, LAY.mask("try-off"), torch.tensor([999]), sched)
    gen = LAY.mask("try-off").bool().expand_as(x0)
    assert torch.equal(x_t[gen], noise[gen]) and torch.equal(x_t[~gen], x0[~gen])
    for name in ("ddim", "dpm++2m", "euler", "unipc"):
        s = make_scheduler(name, ZERO_SNR)
        s.set_timesteps(20)
        assert int(s.timesteps[0]) == 999, name  # trailing spacing: the first step is the pure-noise one


def test_a_sampler_without_zero_snr_support_is_refused_by_name():
    from engine.diffusion import zero_snr_schedulers

    with pytest.raises(ValueError, match="heun sampler cannot follow .* zero-terminal-SNR.*ddim"):
        make_scheduler("heun", ZERO_SNR)
    assert "heun" not in zero_snr_schedulers() and "dpm++2m" in zero_snr_schedulers()
    make_scheduler("heun", DEFAULT_NOISE_SCHEDULE)  # SD's schedule: every sampler


def test_min_snr_v_floor_keeps_high_noise_steps_weighted():
    from engine.diffusion import min_snr_weights

    sched = training_scheduler(ZERO_SNR)
    t = torch.tensor([999, 900, 500, 10])
    plain = min_snr_weights(t, sched, 5.0)
    floor = min_snr_weights(t, sched, 5.0, v_floor=True)
    assert float(plain[0]) == 0.0 and float(floor[0]) == 1.0  # the last step: plain min-SNR ignores it
    abar = sched.alphas_cumprod[t]
    snr = abar / (1 - abar)
    assert torch.allclose(floor, torch.clamp(snr + 1, max=5.0) / (snr + 1))
    assert float(floor[-1]) == pytest.approx(float(plain[-1]), rel=1e-5)  # low noise: the same gamma clamp
    assert (floor >= plain - 1e-6).all()
