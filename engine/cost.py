"""Compute per image, counted (not estimated): every network is built on the meta device (no weights, no
memory) and run once under torch's FlopCounterMode; a sampling plan then says how many times each runs.

A plan is what a request costs: UNet forwards per step (2 with classifier-free guidance, 1 without), the
steps that use guidance, the canvas (panel widths), VAE encodes of the clean panels and the pose guide, and a
VAE decode of the generated panel. Peer designs (IDM-VTON-like, CatVTON-like) are plans too, built from their
public configs, so every row of the benchmark table is counted the same way.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch

# The SD/SDXL VAE geometry (AutoencoderKL config of both; SDXL's only differs in scaling_factor).
SD_VAE = dict(block_out_channels=(128, 256, 512, 512), latent_channels=4, layers_per_block=2,
              down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)


@functools.lru_cache(maxsize=64)
def _unet_flops(preset: str, latent_h: int, latent_w: int, in_channels: int | None, cross_attention: bool) -> int:
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    from engine.model import PRESET_DEFAULTS, UNET_PRESETS

    cfg = dict(UNET_PRESETS[preset])
    if in_channels is not None:
        cfg["in_channels"] = in_channels
    with torch.device("meta"):
        unet = UNet2DConditionModel(**cfg)
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
                       cross_attention: bool = True) -> int:
    """One forward, batch 1, on a canvas of ``width`` x ``height`` pixels (latent = pixels / factor)."""
    return _unet_flops(preset, height // factor, width // factor, in_channels, cross_attention)


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
    """What one image costs: UNet runs plus VAE runs.

    unet : list of (preset, canvas width, height, in_channels or None, runs) — runs per image
    vae : list of (width, height, "encode" | "decode", runs)
    """

    name: str
    unet: list = field(default_factory=list)
    vae: list = field(default_factory=list)
    note: str = ""

    def flops(self) -> dict[str, float]:
        u = sum(unet_forward_flops(p, w, h, in_channels=c) * n for p, w, h, c, n in self.unet)
        v = sum(vae_flops(w, h, part) * n for w, h, part, n in self.vae)
        return {"unet": u, "vae": v, "total": u + v}


def guided_steps(steps: int, guidance: float, guidance_until: float) -> int:
    """Steps that run the unconditional branch too (the first ``guidance_until`` of the schedule)."""
    if guidance == 1.0:
        return 0
    return min(steps, math.ceil(steps * guidance_until - 1e-9))


def omfa_plan(name: str, steps: int = 50, guidance: float = 2.0, guidance_until: float = 1.0,
              panels: dict[str, int] | None = None, height: int = 1024, task: str = "try-on",
              preset: str = "sdxl", views: int = 1, views_per_canvas: int = 1) -> Plan:
    """An OMFA generation on SDXL, partial diffusion (clean panels encoded once): one joint canvas per view,
    or ``views_per_canvas`` person panels sharing each canvas's garment and head (multi-view)."""
    panels = panels or {"person": 768, "garment": 768, "head": 768}
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
                f"canvas {'|'.join(f'{p} {w}' for p, w in panels.items())} x {height}")


def peer_plans(width: int = 768, height: int = 1024) -> list[Plan]:
    """Peer designs from their public configs, at the same output size (one try-on image)."""
    idm = Plan("IDM-VTON-like (30 steps)",
               # main: SDXL-inpainting UNet (13 input channels: latent, mask, masked image, + pose in IDM),
               # guidance 2.0 on all 30 steps; GarmentNet: an SDXL UNet run once on the garment
               [("sdxl", width, height, 13, 30 * 2), ("sdxl", width, height, None, 1)],
               [(width, height, "encode", 3), (width, height, "decode", 1)],
               "SDXL-inpainting main UNet x 60 + SDXL garment UNet x 1 (IP-Adapter's image encoder not counted)")
    cat = Plan("CatVTON-like (50 steps)",
               # SD1.5-inpainting UNet (9 input channels) on person|garment concatenated along the width,
               # CFG on all 50 steps (CatVTON also drops text cross-attention: counted with 1 token)
               [("sd15", 2 * width, height, 9, 50 * 2)],
               [(2 * width, height, "encode", 2), (2 * width, height, "decode", 1)],
               "SD1.5-inpainting UNet on a 2-panel canvas x 100")
    return [idm, cat]
