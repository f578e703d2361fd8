"""Compute per image, counted (not estimated): every network is built on the meta device (no weights, no
memory) and run once under torch's FlopCounterMode; a sampling plan then says how many times each runs.

A plan is what a request costs: UNet forwards per step (2 with classifier-free guidance, 1 without), the
steps that use guidance, the canvas (panel widths), VAE encodes of the clean panels and the pose guide, and a
VAE decode of the generated panel. Peer designs (IDM-VTON-like, CatVTON-like) are plans too, recounted from
their public inference pipelines (which network runs how often, on which tokens), so every row of the
benchmark table is counted the same way.

Like with like: a ratio is only quoted between plans that make the same thing — one try-on image of the same
panel size — and a sampler's saving is quoted against the paper's sampler on the *same* canvas
(:func:`paper_reference`), so a narrower canvas is never passed off as a faster sampler.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch

# The SD/SDXL VAE geometry (AutoencoderKL config of both; SDXL's only differs in scaling_factor).
SD_VAE = dict(block_out_channels=(128, 256, 512, 512), latent_channels=4, layers_per_block=2,
              down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)

#: How self-attention is counted. "joint": over the canvas's own tokens (OMFA). "concat": another image's
#: tokens (as wide as ``ref_width``) join the sequence — queries, keys, values and output projections for all,
#: the extra outputs thrown away (IDM-VTON's TryonNet with its GarmentNet's features). "kv": another pass's
#: keys/values are attended to but not projected again (a reference computed once per step and shared).
ATTENTION_MODES = ("joint", "concat", "kv")


class _CountingAttention:
    """An attention processor for counting on the meta device only: the diffusers SDPA processor, with
    self-attention widened by reference tokens (``mode``) and cross-attention optionally skipped."""

    def __init__(self, ref_fraction: float, mode: str, cross: bool) -> None:
        from diffusers.models.attention_processor import AttnProcessor2_0

        self.base, self.ref_fraction, self.mode, self.cross = AttnProcessor2_0(), ref_fraction, mode, cross

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        import torch.nn.functional as F

        if encoder_hidden_states is not None:  # cross-attention (text)
            return self.base(attn, hidden_states, encoder_hidden_states, attention_mask, temb) if self.cross \
                else hidden_states
        if self.mode == "joint" or self.ref_fraction <= 0:
            return self.base(attn, hidden_states, None, attention_mask, temb)
        b, n, c = hidden_states.shape
        m = max(1, round(n * self.ref_fraction))
        if self.mode == "concat":
            both = torch.cat([hidden_states, hidden_states.new_zeros(b, m, c)], 1)
            return self.base(attn, both, None, attention_mask, temb)[:, :n]
        q = attn.to_q(hidden_states)
        k, v = attn.to_k(hidden_states), attn.to_v(hidden_states)
        ref = k.new_zeros(b, m, k.shape[-1])  # the reference's keys/values: projected in its own pass
        k, v = torch.cat([k, ref], 1), torch.cat([v, ref], 1)
        h = attn.heads
        split = lambda t: t.view(b, -1, h, t.shape[-1] // h).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(b, n, -1)
        return attn.to_out[1](attn.to_out[0](out))


@functools.lru_cache(maxsize=64)
def _unet_flops(preset: str, latent_h: int, latent_w: int, in_channels: int | None, cross_attention: bool,
                attention: str = "joint", ref_latent_w: int = 0) -> int:
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    from engine.model import PRESET_DEFAULTS, UNET_PRESETS

    cfg = dict(UNET_PRESETS[preset])
    if in_channels is not None:
        cfg["in_channels"] = in_channels
    if attention not in ATTENTION_MODES:
        raise ValueError(f"attention must be one of {ATTENTION_MODES}, not {attention!r}")
    with torch.device("meta"):
        unet = UNet2DConditionModel(**cfg)
        if attention != "joint" or not cross_attention:
            unet.set_attn_processor(_CountingAttention(ref_latent_w / latent_w, attention, cross_attention))
        x = torch.zeros(1, cfg["in_channels"], latent_h, latent_w)
        tokens = PRESET_DEFAULTS[preset]["text_tokens"] if cross_attention else 1
        ehs = torch.zeros(1, tokens, cfg["cross_attention_dim"])
        kw = {}
        if cfg.get("addition_embed_type") == "text_time":
            kw["added_cond_kwargs"] = {"text_embeds": torch.zeros(1, 1280), "time_ids": torch.zeros(1, 6)}
        counter = FlopCounterMode(display=False)
        with counter:
            unet(x, torch.zeros(1, dtype=torch.long), encoder_hidden_states=ehs, **kw)
    return int(counter.get_total_flops())


def unet_forward_flops(preset: str, width: int, height: int, factor: int = 8, in_channels: int | None = None,
                       cross_attention: bool = True, attention: str = "joint", ref_width: int = 0) -> int:
    """One forward, batch 1, on a canvas of ``width`` x ``height`` pixels (latent = pixels / factor);
    ``attention``/``ref_width``: see :data:`ATTENTION_MODES` (cross-attention skipped when not
    ``cross_attention``; with it, the preset's text tokens)."""
    return _unet_flops(preset, height // factor, width // factor, in_channels, cross_attention, attention,
                       ref_width // factor)


@functools.lru_cache(maxsize=32)
def vae_flops(width: int, height: int, part: str) -> int:
    """The SD/SDXL VAE's ``part`` ("encode" or "decode") on one width x height image."""
    from diffusers import AutoencoderKL
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        vae = AutoencoderKL(**SD_VAE)
        counter = FlopCounterMode(display=False)
        with counter:
            if part == "encode":
                vae.encode(torch.zeros(1, 3, height, width))
            else:
                vae.decode(torch.zeros(1, 4, height // 8, width // 8))
    return int(counter.get_total_flops())


@dataclass
class Plan:
    """What one request costs: UNet runs plus VAE runs.

    unet : list of (preset, canvas width, height, in_channels or None, runs[, options]) — runs per request;
        options (a dict, optional): ``attention`` and ``ref_width`` (:data:`ATTENTION_MODES`), ``cross``
        (False: no text cross-attention)
    vae : list of (width, height, "encode" | "decode", runs)
    images : images the request makes (views), for per-image figures
    """

    name: str
    unet: list = field(default_factory=list)
    vae: list = field(default_factory=list)
    note: str = ""
    images: int = 1

    def flops(self) -> dict[str, float]:
        u = 0
        for p, w, h, c, n, *opt in self.unet:
            o = opt[0] if opt else {}
            u += unet_forward_flops(p, w, h, in_channels=c, cross_attention=o.get("cross", True),
                                    attention=o.get("attention", "joint"), ref_width=o.get("ref_width", 0)) * n
        v = sum(vae_flops(w, h, part) * n for w, h, part, n in self.vae)
        return {"unet": u, "vae": v, "total": u + v}


def guided_steps(steps: int, guidance: float, guidance_until: float) -> int:
    """Steps that run the unconditional branch too (the first ``guidance_until`` of the schedule)."""
    if guidance == 1.0:
        return 0
    return min(steps, math.ceil(steps * guidance_until - 1e-9))


def shipped_panels(preset: str = "sdxl") -> dict[str, int]:
    """The panel widths a new model of ``preset`` gets (engine.model.PRESET_DEFAULTS)."""
    from engine.model import PRESET_DEFAULTS

    return dict(PRESET_DEFAULTS[preset]["layout"].widths)


def omfa_plan(name: str, steps: int = 50, guidance: float = 2.0, guidance_until: float = 1.0,
              panels: dict[str, int] | None = None, height: int = 1024, task: str = "try-on",
              preset: str = "sdxl", views: int = 1, views_per_canvas: int = 1) -> Plan:
    """An OMFA generation on SDXL, partial diffusion (clean panels encoded once): one joint canvas per view,
    or ``views_per_canvas`` person panels sharing each canvas's garment and head (multi-view). ``panels``:
    default the shipped layout of ``preset`` (:func:`shipped_panels`)."""
    panels = panels or shipped_panels(preset)
    k = max(1, min(views_per_canvas, views))
    canvas = sum(panels.values()) + (k - 1) * panels["person"]
    forwards = -(-views // k) * (steps + guided_steps(steps, guidance, guidance_until))
    generated = "garment" if task == "try-off" else "person"
    clean = [w for p, w in panels.items() if p != generated]
    vae = [(w, height, "encode", 1) for w in clean]                  # clean panels: once, shared by the views
    vae.append((panels["person"], height, "encode", views if task != "try-off" else 1))  # pose guide per view
    vae.append((panels[generated], height, "decode", views))
    return Plan(name, [(preset, canvas, height, None, forwards)], vae,
                f"{steps} steps, CFG {guidance} on {guided_steps(steps, guidance, guidance_until)} of them, "
                f"canvas {'|'.join(f'{p} {w}' for p, w in panels.items())} x {height}"
                + (f", {views} views, {k} per canvas" if views > 1 else ""), images=views)


def paper_reference(panels: dict[str, int] | None = None, height: int = 1024, task: str = "try-on",
                    preset: str = "sdxl") -> Plan:
    """The paper's sampler (DDIM 50, CFG 2.0 on every step) on the given canvas: what a faster sampler on
    that canvas is compared with."""
    from engine.presets import SAMPLING_PRESETS

    p = SAMPLING_PRESETS["paper"]
    return omfa_plan("paper sampler", p["steps"], p["guidance"], p["guidance_until"], panels, height, task, preset)


def peer_plans(width: int = 768, height: int = 1024) -> list[Plan]:
    """Peer designs recounted from their public inference pipelines, at the same output size (one try-on).

    IDM-VTON (yisol/IDM-VTON, ``src/tryon_pipeline.py``; 30 steps, guidance 2.0 in its README): at *every*
    step the GarmentNet (an SDXL UNet, 4 input channels) runs on the garment latent at batch 1 (its features
    are zeroed for the unconditional half), and the TryonNet (SDXL-inpainting, 13 input channels: latent, mask,
    masked person, DensePose) runs at batch 2 with each self-attention over its own tokens *and* the
    garment's (concatenated, then the garment half of the output dropped). VAE: masked person, garment and
    DensePose encoded, one decode. The IP-Adapter's CLIP image encoder (once, ~0.2 TFLOP) is not counted.

    CatVTON (Zheng-Chong/CatVTON; 50 steps, guidance 2.5): an SD1.5-inpainting UNet (9 channels) on person
    and garment concatenated along the width, batch 2 on every step, its text cross-attention removed. VAE:
    masked person and garment encoded separately, only the person half decoded.
    """
    idm = Plan("IDM-VTON-like (30 steps)",
               [("sdxl", width, height, 13, 30 * 2, {"attention": "concat", "ref_width": width}),
                ("sdxl", width, height, 4, 30)],
               [(width, height, "encode", 3), (width, height, "decode", 1)],
               "TryonNet (SDXL-inpainting, self-attention over person + garment tokens) x 60 + GarmentNet "
               "(SDXL UNet) x 30, every step; IP-Adapter image encoder not counted")
    cat = Plan("CatVTON-like (50 steps)",
               [("sd15", 2 * width, height, 9, 50 * 2, {"cross": False})],
               [(width, height, "encode", 2), (width, height, "decode", 1)],
               "SD1.5-inpainting UNet without cross-attention on a person|garment canvas x 100")
    return [idm, cat]


def reference_multiview_plan(name: str, views: int, views_per_canvas: int, steps: int = 20,
                             guidance: float = 2.0, guidance_until: float = 0.5,
                             panels: dict[str, int] | None = None, height: int = 1024,
                             preset: str = "sdxl") -> Plan:
    """A multi-view design that computes the clean garment and head once per step for all views: the
    garment|head panels run as their own pass (attending to themselves only) and every canvas of
    ``views_per_canvas`` persons attends to its own tokens plus their keys/values.

    Not what the shipped models do — their clean panels also attend to the persons, so each canvas
    recomputes them — and it needs a model trained with this attention (one-way from persons to the clean
    panels); counted so the saving is known before such a model is trained.
    """
    panels = panels or shipped_panels(preset)
    k = max(1, min(views_per_canvas, views))
    ref = sum(w for p, w in panels.items() if p != "person")
    per_step = steps + guided_steps(steps, guidance, guidance_until)  # cond + uncond branches
    canvases = -(-views // k)
    unet = [(preset, k * panels["person"], height, None, canvases * per_step, {"attention": "kv", "ref_width": ref}),
            (preset, ref, height, None, per_step)]  # the reference pass, once per branch and step
    clean = [w for p, w in panels.items() if p != "person"]
    vae = [(w, height, "encode", 1) for w in clean] + [(panels["person"], height, "encode", views),
                                                       (panels["person"], height, "decode", views)]
    return Plan(name, unet, vae, f"{views} views, {k} per canvas; garment|head computed once per step and "
                f"branch (a model trained for it)", images=views)
