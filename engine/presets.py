"""Sampling presets: named settings of the sampler fields of a request (torch-free, like the scheduler names).

- "fast" (the app's and CLI's default): DPM-Solver++(2M) at 20 steps, guidance on the first half of the
  schedule only: 30 UNet forwards per view instead of the paper's 100.
- "paper": the paper's DDIM, 50 steps, CFG 2.0 on every step (kept for comparison and reproduction).
- "turbo": the model's few-step student (``omfa distill``; models that carry one, e.g. the demo model):
  one conditional UNet call (the step count chosen on val for the demo model's student; 2 and 4 are in
  Advanced), the teacher's "fast" guidance built in; a model without a student refuses it.
- "fastest": DPM-Solver++(2M) at 15 steps, guidance on the first 40%: 21 forwards, 0.22x the paper sampler's
  TFLOP on the same 768x1024 canvas (307.7 TFLOP; an IDM-VTON-like design: 581.7); SSIM 0.985 against the
  paper's output on the demo model, against 0.988 for "fast".

``benchmarks/bench_cost.py`` measures both (TFLOP per image, CPU time, SSIM against the paper's output).
"""
from __future__ import annotations

import dataclasses

from engine.errors import OmfaError

# The samplers by short name -> diffusers class. Here, not in engine.diffusion, so that the CLI's parser and
# the window can list them without importing torch (engine.diffusion re-exports it).
SCHEDULERS: dict[str, str] = {
    "ddim": "DDIMScheduler",
    "ddpm": "DDPMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "dpm++2m": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "heun": "HeunDiscreteScheduler",
}

SAMPLING_PRESETS: dict[str, dict] = {
    "fast": dict(scheduler="dpm++2m", steps=20, guidance=2.0, guidance_until=0.5),
    "paper": dict(scheduler="ddim", steps=50, guidance=2.0, guidance_until=1.0),
    "fastest": dict(scheduler="dpm++2m", steps=15, guidance=2.0, guidance_until=0.4),
    # The model's few-step student (engine.distill; only models that have one): 1 conditional UNet call,
    # the teacher's "fast" guidance built in. One step is what the demo model's student was chosen at on val
    # (its card); `omfa distill` trains 1, 2 and 4 by default.
    "turbo": dict(scheduler="student", steps=1, guidance=1.0, guidance_until=1.0),
}
DEFAULT_PRESET = "fast"
PRESET_LABELS = {"fast": "Fast (DPM++ 20 steps, guidance on the first half)",
                 "paper": "Paper (DDIM 50 steps, guidance on every step)",
                 "fastest": "Fastest (DPM++ 15 steps, guidance on the first 40%)",
                 "turbo": "Turbo (the model's distilled student, 1 step)"}
STUDENT_PRESETS = ("turbo",)  # need a model with a few-step student (Pipeline.has_student)


class PresetError(OmfaError, ValueError):
    """An unknown sampling preset name."""

    field = "preset"


def preset_settings(name: str) -> dict:
    """The sampler fields of preset ``name``; PresetError (a ValueError) naming the presets otherwise."""
    if name not in SAMPLING_PRESETS:
        raise PresetError(f"unknown sampling preset {name!r}; presets are {', '.join(SAMPLING_PRESETS)}")
    return dict(SAMPLING_PRESETS[name])


def with_preset(request, name: str):
    """A copy of ``request`` with preset ``name``'s sampler fields."""
    return dataclasses.replace(request, **preset_settings(name))


def matching_preset(settings: dict) -> str:
    """The preset whose fields ``settings`` has exactly, or "custom"."""
    for name, fields in SAMPLING_PRESETS.items():
        if all(settings.get(k) == v for k, v in fields.items()):
            return name
    return "custom"
