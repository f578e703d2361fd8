"""The full-size run: an SDXL-architecture OMFA model with random weights, at the real geometry, runs one
complete request (encode the clean panels and the pose guide, one denoising step with classifier-free
guidance as the default sampler does it, decode the generated panel) through :class:`engine.pipeline.Pipeline`
in a memory mode and precision, on the CPU. No download: the weights are random (built on the meta device,
then materialised in the run's precision, so a 10 GB fp32 UNet never exists twice).

What is measured
----------------
- wall time of the request (and of its encode / denoise / decode parts), on this CPU;
- peak resident memory of the process (``ru_maxrss``: model build included, one configuration per process);
- the bytes of live tensors at their peak, counted by :class:`TensorCounter` (a TorchDispatchMode that sees
  every tensor an op makes and frees it from the count when its storage dies), twice: in the run's own dtype,
  and as the same run would hold them on a GPU at fp16 (every floating tensor at 2 bytes, the SDXL VAE at
  4 bytes because its config says ``force_upcast``, as :func:`engine.model.load_model` does for fp16).
  In the "offload" mode only the module that runs is on the GPU (engine.pipeline ``_placed``), so its GPU
  figure is the peak of that module's weights plus the live activations, phase by phase.

The attention kernel is the one thing that differs between devices: this CPU's SDPA runs a flash kernel
(``_scaled_dot_product_flash_attention_for_cpu``: no attention matrix), as CUDA's flash / memory-efficient
kernels do, in every memory mode. What a mode does to the modules (SDPA, the VAE's 512-px tiles in "low" and
"offload") is engine.memory_modes, which the pipeline runs and the meta-device count counts.
"""
from __future__ import annotations

import math
import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from engine.errors import OmfaError
from engine.memcount import COUNT_VERSION, TensorCounter, count_request

MEMORY_MODES = ("standard", "low", "offload")
PRECISIONS = ("fp32", "bf16")
GiB = 1024 ** 3


class FullsizeError(OmfaError, RuntimeError):
    """A full-size configuration cannot run (unknown geometry, precision or mode; not enough memory)."""


@dataclass(frozen=True)
class Geometry:
    """A model architecture and the canvas it runs on."""

    name: str
    unet: dict
    vae: dict
    panel_width: int
    height: int
    panels: tuple[str, ...] = ("person", "garment", "head")
    text_tokens: int = 77

    @property
    def factor(self) -> int:
        return 2 ** (len(self.vae["block_out_channels"]) - 1)


def geometries() -> dict[str, Geometry]:
    from engine.cost import SD_VAE
    from engine.model import UNET_PRESETS

    # The SDXL VAE is the SD VAE architecture with its config: scaling factor, force_upcast, sample_size 1024
    # (diffusers' own tile size; the low-memory modes tile in 512-px tiles whatever it says, engine.memory_modes).
    sdxl_vae = dict(SD_VAE, scaling_factor=0.13025, force_upcast=True, sample_size=1024)
    tiny_unet = dict(UNET_PRESETS["sdxl"], block_out_channels=(32, 64), layers_per_block=1,
                     down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                     up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), transformer_layers_per_block=(1, 1),
                     attention_head_dim=(2, 4), cross_attention_dim=32, addition_time_embed_dim=8,
                     projection_class_embeddings_input_dim=6 * 8 + 1280, norm_num_groups=32, sample_size=16)
    tiny_vae = dict(block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2,
                    up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, layers_per_block=1,
                    norm_num_groups=32, scaling_factor=0.13025, force_upcast=True)
    sd_vae = dict(SD_VAE, scaling_factor=0.18215, force_upcast=True, sample_size=512)
    return {"sdxl": Geometry("sdxl", dict(UNET_PRESETS["sdxl"]), sdxl_vae, 768, 1024),
            "sd15": Geometry("sd15", dict(UNET_PRESETS["sd15"]), sd_vae, 384, 512),
            "tiny": Geometry("tiny", tiny_unet, tiny_vae, 32, 32, text_tokens=8)}


# ============================================================================================ the model
def _init_random(module: nn.Module, seed: int) -> None:
    """Random weights with sane scales (fan-in normal, norms at 1, biases at 0), so activations stay finite
    and the run costs what a trained model's does (no NaN or denormal fast paths)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).mul_(1 / math.sqrt(fan_in)))
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.fill_(1.0)
        for b in module.buffers():
            b.zero_()


def build_random(geometry: Geometry, dtype: torch.dtype = torch.float32, seed: int = 0, meta: bool = False,
                 vae_dtype: Optional[torch.dtype] = None):
    """An OMFA model of ``geometry`` with random weights in ``dtype``, made without a download and without
    ever holding the weights twice (meta device, then ``to_empty`` in the final dtype). ``meta``: leave it on
    the meta device (no memory; for counting)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.utils import logging as diffusers_logging

    from engine.codec import VaeCodec
    from engine.layout import PanelLayout
    from engine.model import IN_CHANNELS, ModelConfig, OmfaModel

    if geometry.unet["in_channels"] < IN_CHANNELS:
        raise FullsizeError(f"an OMFA UNet has {IN_CHANNELS} input channels, not {geometry.unet['in_channels']}")
    diffusers_logging.set_verbosity_error()  # its "cast with to()" advice is for from_pretrained, not this
    with torch.device("meta"):
        unet = UNet2DConditionModel(**geometry.unet)
        vae = AutoencoderKL(**geometry.vae)
    unet, vae = unet.to(dtype), vae.to(vae_dtype or dtype)
    if not meta:
        unet, vae = unet.to_empty(device="cpu"), vae.to_empty(device="cpu")
        _init_random(unet, seed)
        _init_random(vae, seed + 1)
    layout = PanelLayout({p: geometry.panel_width for p in geometry.panels}, geometry.height, geometry.factor)
    config = ModelConfig(name=f"{geometry.name} random weights (full-size bench)", preset="sdxl",
                         layout=layout.to_dict(), trained=False)
    with torch.device("meta" if meta else "cpu"):
        hidden = torch.zeros(1, geometry.text_tokens, geometry.unet["cross_attention_dim"], dtype=dtype)
        pooled = torch.zeros(1, geometry.unet["projection_class_embeddings_input_dim"]
                             - 6 * geometry.unet["addition_time_embed_dim"], dtype=dtype) \
            if geometry.unet.get("addition_embed_type") == "text_time" else None
    model = OmfaModel(unet.eval(), VaeCodec(vae.eval()), config, hidden, pooled)
    return model.requires_grad_(False)


def meta_count(geometry: Geometry, memory: str) -> TensorCounter:
    """:func:`engine.memcount.count_request` for ``geometry`` on the meta device, at fp16 (what ``omfa models``
    shows): no memory, seconds."""
    vae_dtype = torch.float32 if geometry.vae.get("force_upcast", False) else torch.float16
    model = build_random(geometry, torch.float16, meta=True, vae_dtype=vae_dtype)
    return count_request(model, memory)


def meta_estimate(geometry: Geometry, memory: str) -> int:
    """The GPU fp16 bytes counted on the meta device, to set beside the count of the real run."""
    return meta_count(geometry, memory).gpu_need(memory)


def meta_rows(geometry: Geometry) -> list[dict[str, Any]]:
    """GPU fp16 need per memory mode counted on the meta device, with where the peak is (UNet or VAE)."""
    rows = []
    for memory in MEMORY_MODES:
        c = meta_count(geometry, memory)
        rows.append({"geometry": geometry.name, "memory": memory, "gpu_fp16_peak_bytes": c.gpu_need(memory),
                     "gpu_fp16_weights_bytes": c.weights_gpu,
                     "gpu_fp16_activations_peak_bytes": c.peak_activations_gpu,
                     "canvas": f"{'|'.join(geometry.panels)} {geometry.panel_width * len(geometry.panels)}x"
                               f"{geometry.height}", "counted_on": "meta device (no memory, no weights)",
                     "count_version": COUNT_VERSION, "modules": modules_described(memory),
                     "date": time.strftime("%Y-%m-%d %H:%M")})
    return rows


def modules_described(memory: str) -> str:
    """What ``memory`` mode runs (engine.memory_modes), for the results file."""
    from engine.memory_modes import LOW_MEMORY_MODES, VAE_TILE_PIXELS

    if memory in LOW_MEMORY_MODES:
        return f"SDPA attention, VAE sliced and in {VAE_TILE_PIXELS}-px tiles, one image per UNet / VAE call"
    return "SDPA attention, VAE whole, classifier-free guidance batched"


# ============================================================================================ one run
def _proc_kib(path: str, key: str) -> Optional[int]:
    """The ``key:`` line of a Linux /proc file (in KiB there), as bytes; None where there is no /proc."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _rss_bytes() -> Optional[int]:
    """This process's resident memory now (Linux /proc), None elsewhere."""
    return _proc_kib("/proc/self/status", "VmRSS")


def _cpu_seconds() -> float:
    """This process's CPU time (user + system): on a shared machine, what the run cost, whatever else ran."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if platform.system() == "Darwin" else rss * 1024)  # macOS says bytes, Linux KiB


def available_bytes() -> Optional[int]:
    return _proc_kib("/proc/meminfo", "MemAvailable")


def weight_bytes(geometry: Geometry, precision: str) -> int:
    """Parameters x bytes of ``geometry`` (counted on the meta device: nothing allocated)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    with torch.device("meta"):
        n = sum(p.numel() for p in UNet2DConditionModel(**geometry.unet).parameters())
        n += sum(p.numel() for p in AutoencoderKL(**geometry.vae).parameters())
    return n * (4 if precision == "fp32" else 2)


def request_for(geometry: Geometry, memory: str, seed: int = 0):
    """A try-on request of the default sampler's kind, one step: garment and head and a pose guide encoded,
    the person panel generated with classifier-free guidance, decoded."""
    from engine.presets import DEFAULT_PRESET, preset_settings
    from engine.request import TryOnRequest

    rng = np.random.default_rng(seed)
    img = lambda: rng.integers(0, 256, (geometry.height, geometry.panel_width, 3), dtype=np.uint8)  # noqa: E731
    s = preset_settings(DEFAULT_PRESET)
    return TryOnRequest(task="try-on", garment=img(), head=img(), pose_guides=[img()], steps=1,
                        guidance=s["guidance"], guidance_until=s["guidance_until"], scheduler=s["scheduler"],
                        seed=seed, memory=memory, noise_prior=False, precision="auto", device="cpu")


def run_config(geometry: Geometry | str, precision: str, memory: str, seed: int = 0) -> dict[str, Any]:
    """Build the model, run one request in ``memory`` mode and ``precision`` on the CPU, return the row."""
    from engine.device import DevicePolicy
    from engine.pipeline import Pipeline

    if isinstance(geometry, str):
        if geometry not in geometries():
            raise FullsizeError(f"geometry must be one of {', '.join(geometries())}, not {geometry!r}")
        geometry = geometries()[geometry]
    if precision not in PRECISIONS:
        raise FullsizeError(f"precision must be one of {', '.join(PRECISIONS)} on the CPU, not {precision!r}")
    if memory not in MEMORY_MODES:
        raise FullsizeError(f"memory must be one of {', '.join(MEMORY_MODES)}, not {memory!r}")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    t0 = time.perf_counter()
    model = build_random(geometry, dtype, seed)
    build_s = time.perf_counter() - t0
    rss_built = _rss_bytes()
    pipe = Pipeline(model, DevicePolicy("cpu", precision, reason="full-size bench"))
    request = request_for(geometry, memory, seed)
    force_upcast = bool(geometry.vae.get("force_upcast", False))
    counter = TensorCounter({"unet": model.unet, "codec": model.codec}, {"unet": 2, "codec": 4 if force_upcast else 2})
    forwards = []
    hook = model.unet.register_forward_hook(lambda m, a, o: forwards.append(int(a[0].shape[0])))
    t1, cpu0 = time.perf_counter(), _cpu_seconds()
    try:
        with counter:
            result = pipe.run(request)
    finally:
        counter.close()
        hook.remove()
    wall, cpu = time.perf_counter() - t1, _cpu_seconds() - cpu0
    out = next(iter(result.images.values()))[0]
    lay = model.layout
    return {
        "geometry": geometry.name, "precision": precision, "memory": memory, "device": "cpu",
        "status": result.status, "measured_on": _cpu_name(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
        "canvas": f"{'|'.join(lay.panels)} {lay.width}x{lay.height}", "in_channels": geometry.unet["in_channels"],
        "unet_parameters": sum(p.numel() for p in model.unet.parameters()),
        "vae_parameters": sum(p.numel() for p in model.codec.parameters()),
        "unet_forwards": len(forwards), "unet_batch": forwards, "steps": request.steps,
        "guidance": request.guidance, "scheduler": request.scheduler,
        "build_s": round(build_s, 2), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "timings_s": {k: round(v, 2) for k, v in result.timings.items() if k in ("encode", "sample", "decode")},
        "rss_after_build_bytes": rss_built, "peak_rss_bytes": _peak_rss_bytes(),
        "counted_peak_bytes": counter.peak, "counted_weights_bytes": sum(counter.weights.values()),
        "gpu_fp16_weights_bytes": counter.weights_gpu,
        "gpu_fp16_activations_peak_bytes": counter.peak_activations_gpu,
        "gpu_fp16_peak_bytes": counter.gpu_need(memory),
        "gpu_fp16_meta_estimate_bytes": meta_estimate(geometry, memory),
        "count_version": COUNT_VERSION, "modules": modules_described(memory),
        "output_shape": list(out.shape), "output_finite": bool(np.isfinite(out.astype(np.float64)).all()),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ============================================================================================ results file
def merge_meta(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Put meta-device counts into the results file (key ``meta``), replacing those of the same geometry.
    Replaced rows counted another way (an older engine.memcount.COUNT_VERSION; none recorded is 1) are kept
    under ``meta_superseded``, so a changed count can be read beside the one it replaced."""
    from engine.persist import read_json, write_json

    data, _ = read_json(path)
    data = data or {}
    geometry = rows[0]["geometry"]
    old = [r for r in data.get("meta", []) if r.get("geometry") == geometry]
    superseded = data.get("meta_superseded", [])
    superseded += [r for r in old if r.get("count_version", 1) != COUNT_VERSION and r not in superseded]
    if superseded:
        data["meta_superseded"] = superseded
    data["meta"] = [r for r in data.get("meta", []) if r.get("geometry") != geometry] + rows
    return write_json(path, data)


def merge_result(path: str | Path, row: dict[str, Any]) -> Path:
    """Put ``row`` into the results file, replacing the row of the same geometry, precision and mode."""
    from engine.persist import read_json, write_json

    data, _ = read_json(path)
    rows = [r for r in (data or {}).get("rows", [])
            if (r.get("geometry"), r.get("precision"), r.get("memory"))
            != (row["geometry"], row["precision"], row["memory"])]
    rows.append(row)
    order = {(p, m): i for i, (p, m) in enumerate((p, m) for p in PRECISIONS for m in MEMORY_MODES)}
    rows.sort(key=lambda r: (r.get("geometry", ""), order.get((r.get("precision"), r.get("memory")), 99)))
    return write_json(path, {**(data or {}),
                             "what": "omfa bench fullsize: one try-on request (3 VAE encodes, 1 denoising step "
                                     "with CFG, 1 VAE decode) on a random-weight SDXL-architecture OMFA model",
                             "rows": rows})


def not_run_row(geometry: str, precision: str, memory: str, reason: str) -> dict[str, Any]:
    return {"geometry": geometry, "precision": precision, "memory": memory, "device": "cpu", "status": "not run",
            "reason": reason, "date": time.strftime("%Y-%m-%d %H:%M")}


def _gb(n: Optional[float]) -> str:
    return "—" if n is None else f"{n / GiB:.1f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The README's table: CPU-measured columns and the counted GPU fp16 column."""
    lines = ["| mode | CPU precision | CPU wall time (s) | CPU time (s) | CPU peak RSS (GiB) "
             "| counted tensors at peak, CPU (GiB) | GPU fp16 need, counted (GiB) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r.get("status") != "finished":
            lines.append(f"| {r['memory']} | {r['precision']} | not run: {r.get('reason', r.get('status'))} "
                         "| | | | |")
            continue
        cpu = f"{r['cpu_s']:.0f}" if "cpu_s" in r else "—"
        lines.append(f"| {r['memory']} | {r['precision']} | {r['wall_s']:.0f} | {cpu} | {_gb(r['peak_rss_bytes'])} "
                     f"| {_gb(r['counted_peak_bytes'])} | {r['gpu_fp16_peak_bytes'] / GiB:.2f} |")
    return "\n".join(lines)
