"""Partial diffusion: noise only the panels being generated; the others stay clean and act as the prompt.

With m the component mask (1 over generated panels), x0 the clean joint latent and eps ~ N(0, I):

- forward noising   x_t = m * q(x0, eps, t) + (1 - m) * x0        (clean panels bit-exact: torch.where)
- training loss     sum(m * w_t * (target - pred)^2) / sum(m)      (clean panels get exactly zero gradient)
- sampling          after every scheduler step the clean panels are put back exactly; classifier-free
                    guidance runs cond and uncond as ONE batch, the uncond branch with the clean panels and
                    the pose latent zeroed.

Any diffusers scheduler works: the UNet input is ``scheduler.scale_model_input(x_t)`` with the clean panels
re-imposed after scaling, so the UNet sees clean panels exactly as in training whatever the scheduler.
"""
from __future__ import annotations

import math

import threading
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from engine.errors import ModelError
from engine.integrity import check_output_finite
from engine.presets import SCHEDULERS  # re-exported: the names live in a torch-free module (omfa --help)
from engine.request import RequestError

# step (1-based), total steps, the current x0 estimate (B, C, h, W) on the model device.
ProgressFn = Callable[[int, int, torch.Tensor], None]


def make_scheduler(name: str, noise_schedule: dict):
    """A diffusers scheduler by short name (see SCHEDULERS) configured with the model's noise schedule."""
    import diffusers

    if name not in SCHEDULERS:
        raise RequestError("scheduler", f"must be one of {', '.join(SCHEDULERS)}, not {name!r}")
    cls = getattr(diffusers, SCHEDULERS[name])
    if noise_schedule.get("rescale_betas_zero_snr") and not _supports_zero_snr(cls):
        raise RequestError("scheduler", f"the {name} sampler cannot follow this model's zero-terminal-SNR noise "
                                        f"schedule; choose one of {', '.join(zero_snr_schedulers())}")
    return cls.from_config(noise_schedule)


def _supports_zero_snr(cls) -> bool:
    import inspect

    return "rescale_betas_zero_snr" in inspect.signature(cls.__init__).parameters


def zero_snr_schedulers() -> list[str]:
    """The samplers that support a zero-terminal-SNR schedule (Lin et al. 2024, rescaled betas)."""
    import diffusers

    return [n for n, c in SCHEDULERS.items() if _supports_zero_snr(getattr(diffusers, c))]


def schedulers_for(noise_schedule: dict) -> list[str]:
    """The samplers a model with this noise schedule can use."""
    return zero_snr_schedulers() if noise_schedule.get("rescale_betas_zero_snr") else list(SCHEDULERS)


def training_scheduler(noise_schedule: dict):
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(noise_schedule)


# ----------------------------------------------------------------------------- forward process and loss
def partial_noise(x0: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor, timesteps: torch.Tensor,
                  scheduler) -> torch.Tensor:
    """Noise the generated panels only.

    Parameters
    ----------
    x0 : (B, C, h, W) clean joint latent
    noise : (B, C, h, W)
    mask : (B or 1, 1, h, W) component mask, 1 = generated
    timesteps : (B,) long

    Returns
    -------
    (B, C, h, W) x_t whose clean panels are bit-identical to x0.
    """
    noisy = scheduler.add_noise(x0, noise, timesteps)
    return torch.where(mask.bool(), noisy, x0)


def training_target(x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor, scheduler) -> torch.Tensor:
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(x0, noise, timesteps)
    if kind == "sample":
        return x0
    raise ModelError(f"unsupported prediction_type {kind!r} (epsilon, v_prediction or sample)")


def min_snr_weights(timesteps: torch.Tensor, scheduler, gamma: float = 5.0, v_floor: bool = False) -> torch.Tensor:
    """Min-SNR-gamma loss weights (Hang et al. 2023) for each sample, shape (B,).

    ``v_floor`` (v-prediction only): weight ``min(SNR + 1, gamma) / (SNR + 1)`` instead of
    ``min(SNR, gamma) / (SNR + 1)``. Both clamp the easy low-noise steps alike; the plain form also gives
    high-noise steps almost no weight (zero at SNR = 0, the last step of a zero-terminal-SNR schedule),
    and those are the steps that decide an image's overall colours. With the floor they keep a full
    v-loss weight of 1.
    """
    abar = scheduler.alphas_cumprod.to(timesteps.device)[timesteps].float()
    snr = abar / (1 - abar).clamp(min=1e-12)
    kind = scheduler.config.prediction_type
    if kind == "v_prediction" and v_floor:
        return torch.clamp(snr + 1, max=gamma) / (snr + 1)
    w = torch.clamp(snr, max=gamma)
    if kind == "epsilon":
        return w / snr
    if kind == "v_prediction":
        return w / (snr + 1)
    return w


def masked_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean squared error over the generated panels only.

    Parameters
    ----------
    pred, target : (B, C, h, W)
    mask : (B or 1, 1, h, W); 0 over clean panels, whose outputs therefore get exactly zero gradient
    weights : optional (B,) per-sample weights (e.g. min-SNR)
    """
    m = mask.to(pred.dtype).expand(pred.shape[0], 1, *pred.shape[-2:])
    err = (pred.float() - target.float()).pow(2) * m
    per_sample = err.sum(dim=(1, 2, 3))
    if weights is not None:
        per_sample = per_sample * weights
    denom = (m.sum() * pred.shape[1]).clamp(min=1.0)
    return per_sample.sum() / denom


def unet_input(x_t: torch.Tensor, pose: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 9, h, W): noisy latent | pose latent | mask."""
    b = x_t.shape[0]
    return torch.cat([x_t, pose.expand(b, -1, -1, -1).to(x_t.dtype),
                      mask.expand(b, -1, -1, -1).to(x_t.dtype)], dim=1)


def drop_conditions(x_t: torch.Tensor, pose: torch.Tensor, mask: torch.Tensor, drop_clean: torch.Tensor,
                    drop_pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The unconditional view: clean panels and/or pose latent zeroed per sample.

    drop_clean, drop_pose : (B,) bool. Returns (x_t, pose) with the dropped conditions set to zero.
    """
    keep_clean = (~drop_clean).view(-1, 1, 1, 1) | mask.bool()
    x_t = torch.where(keep_clean, x_t, torch.zeros_like(x_t))
    pose = torch.where(drop_pose.view(-1, 1, 1, 1), torch.zeros_like(pose), pose)
    return x_t, pose


# ----------------------------------------------------------------------------- sampling
@dataclass
class SampleOutput:
    latents: torch.Tensor          # (B, C, h, W), clean panels equal to the input; the last state if cancelled
    cancelled: bool
    steps_done: int


def predict_x0(model_out: torch.Tensor, x_t: torch.Tensor, t, scheduler) -> torch.Tensor:
    """Tweedie estimate of x0 from one model output, for the preview (DDPM-family alphas)."""
    abar = scheduler.alphas_cumprod.to(x_t.device)[int(t)].to(x_t.dtype)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return (x_t - (1 - abar).sqrt() * model_out) / abar.sqrt()
    if kind == "v_prediction":
        return abar.sqrt() * x_t - (1 - abar).sqrt() * model_out
    return model_out


def sample(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0_clean: torch.Tensor,
           pose: torch.Tensor, mask: torch.Tensor, scheduler, steps: int = 50, guidance: float = 2.0,
           generator: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None,
           progress: Optional[ProgressFn] = None, cancel: Optional[threading.Event] = None,
           max_batch: Optional[int] = None, guidance_until: float = 1.0, init: Optional[torch.Tensor] = None,
           strength: float = 1.0, uncond_panel: bool = False) -> SampleOutput:
    """Partial-diffusion sampling loop.

    Parameters
    ----------
    model : callable (x_in (N, 9, h, W), t (N,)) -> model output (N, C, h, W)
    x0_clean : (B, C, h, W) joint latent; values under the generated panels are ignored
    pose : (B or 1, C, h, W) pose latent (zeros outside the person panel)
    mask : (1 or B, 1, h, W) component mask, 1 = generated
    scheduler : a diffusers scheduler configured with the model's noise schedule
    guidance : classifier-free guidance weight; 1.0 runs the conditional branch only
    noise : optional (B, C, h, W) initial noise; otherwise drawn from ``generator``
    cancel : checked before every step; when set the loop returns at once with ``cancelled=True``
    guidance_until : CFG on the first ``ceil(steps * guidance_until)`` steps only (the late, low-noise steps
        refine detail the conditional branch already has; skipping the uncond pass there halves their cost)
    max_batch : at most this many rows per model call (CFG doubles the rows); None = all at once. Smaller
        lowers peak memory for the same result.
    uncond_panel : run the unconditional branch on the generated panel's columns only. Its clean panels are
        zeros anyway (a dropped condition), so the narrow canvas drops the zero columns and most of the
        uncond cost (a third of the canvas on the demo layout); approximate, since in training the zeros
        were there. Falls back to the full canvas when the generated columns are not one block whose width
        the UNet can take.
    init, strength : when ``init`` (B or 1, C, h, W) is given, the generated panels start from it noised to
        the first timestep that runs (``scheduler.add_noise``) instead of from pure noise. With ``strength``
        = 1 all steps run: ``init`` is the model's latent prior (engine.prior). With ``strength`` < 1 only the
        last ``round(steps * strength)`` steps run: ``init`` is an image to change (SDEdit, as diffusers'
        img2img pipelines do)
    """
    if steps <= 0:
        raise RequestError("steps", f"must be at least 1, not {steps}")
    b = x0_clean.shape[0]
    device, dtype = x0_clean.device, x0_clean.dtype
    m = mask.to(device).expand(b, 1, *x0_clean.shape[-2:]).bool()
    if noise is None:
        noise = torch.randn(x0_clean.shape, generator=generator, device=generator.device if generator else "cpu",
                            dtype=torch.float32)
    noise = noise.to(device, dtype)
    scheduler.set_timesteps(steps, device=device)
    timesteps = scheduler.timesteps
    crop = _generated_columns(m[0, 0], multiple=getattr(model, "width_multiple", 8)) if uncond_panel else None
    if init is not None:
        order = getattr(scheduler, "order", 1)
        keep = steps if strength >= 1.0 else max(1, min(steps, round(steps * strength)))
        timesteps = timesteps[(steps - keep) * order:]
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index((steps - keep) * order)
        start = scheduler.add_noise(init.to(device, dtype).expand(b, -1, -1, -1), noise, timesteps[:1].repeat(b))
        x = torch.where(m, start.to(dtype), x0_clean)
    else:
        x = torch.where(m, noise * scheduler.init_noise_sigma, x0_clean)
    pose = pose.to(device, dtype).expand(b, -1, -1, -1)
    mask_f = m.to(dtype)
    cfg = guidance != 1.0
    if cfg:
        x0_uncond = torch.zeros_like(x0_clean)
        pose_in = torch.cat([torch.zeros_like(pose), pose])
        mask_in = torch.cat([mask_f, mask_f])
    guided = math.ceil(len(timesteps) * guidance_until - 1e-9) if cfg else 0
    for i, t in enumerate(timesteps):
        if cancel is not None and cancel.is_set():
            return SampleOutput(x, True, i)
        scaled = scheduler.scale_model_input(x, t)
        cond = torch.where(m, scaled, x0_clean)
        if i < guided and crop is not None:
            cols = slice(*crop)
            uncond = torch.where(m, scaled, x0_uncond)[..., cols]
            out_u = _call(model, torch.cat([uncond, torch.zeros_like(pose[..., cols]), mask_f[..., cols]], dim=1),
                          t, device, max_batch)
            out_c = _call(model, torch.cat([cond, pose, mask_f], dim=1), t, device, max_batch)
            out = out_c.clone()
            out[..., cols] = out_u + guidance * (out_c[..., cols] - out_u)
        elif i < guided:
            uncond = torch.where(m, scaled, x0_uncond)
            x_in = torch.cat([torch.cat([uncond, cond]), pose_in, mask_in], dim=1)
            out_u, out_c = _call(model, x_in, t, device, max_batch).chunk(2)
            out = out_u + guidance * (out_c - out_u)
        else:
            out = _call(model, torch.cat([cond, pose, mask_f], dim=1), t, device, max_batch)
        out = out.to(dtype)
        check_output_finite(out, f"the UNet's output at step {i + 1} of {len(timesteps)}")  # NaN in, black out
        step = scheduler.step(out, t, x, generator=generator, return_dict=True) \
            if _accepts_generator(scheduler) else scheduler.step(out, t, x, return_dict=True)
        if progress is not None:
            x0_hat = getattr(step, "pred_original_sample", None)
            if x0_hat is None:
                x0_hat = predict_x0(out, cond, t, scheduler)
            progress(i + 1, len(timesteps), torch.where(m, x0_hat.to(dtype), x0_clean))
        x = torch.where(m, step.prev_sample.to(dtype), x0_clean)
    check_output_finite(x, "the sampled latent")  # a broken schedule can turn finite outputs into NaN
    return SampleOutput(x, False, len(timesteps))


def _generated_columns(mask2d: torch.Tensor, multiple: int) -> Optional[tuple[int, int]]:
    """(start, stop) of the one block of latent columns being generated, or None (several blocks, or a width
    the UNet's down-sampling cannot take)."""
    cols = torch.nonzero(mask2d.bool().any(dim=0)).flatten().tolist()
    if not cols or cols[-1] - cols[0] + 1 != len(cols) or len(cols) % multiple:
        return None
    return cols[0], cols[-1] + 1


def _call(model, x_in: torch.Tensor, t: torch.Tensor, device, max_batch: Optional[int]) -> torch.Tensor:
    """The model on ``x_in`` (N, 9, h, W), in chunks of at most ``max_batch`` rows."""
    n = x_in.shape[0]
    if not max_batch or max_batch >= n:
        return model(x_in, t.expand(n).to(device))
    return torch.cat([model(c, t.expand(c.shape[0]).to(device)) for c in x_in.split(max_batch)])


def _accepts_generator(scheduler) -> bool:
    import inspect

    return "generator" in inspect.signature(scheduler.step).parameters
