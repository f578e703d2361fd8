"""What a memory mode does to a model's modules, defined once.

engine.pipeline runs every request under :func:`modules_in` and engine.memcount counts a request under the same
context manager, so the GPU memory counted for a mode (README "Which GPU do I need", Edit -> Models...,
``omfa models list``, ``omfa bench fullsize``) is the memory of what that mode runs. (The two used to keep a
copy each, and the count went on slicing attention after the pipeline had stopped.)

In every mode attention runs through torch SDPA: on a GPU its flash / memory-efficient kernels never hold a
score matrix, where diffusers' sliced attention holds one slice of heads' scores at a time (more memory, and
slower). In "low" and "offload" the VAE also runs one image at a time (slicing) and in 512-px tiles (tiling);
what else those modes do (one UNet row per call, moving modules between CPU and GPU) is the pipeline's.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

# diffusers tiles a VAE's input in tiles of the config's sample_size: 1024 px for the SDXL VAE, so a 768x1024
# panel was decoded whole even in the low-memory modes, and 32 px (the AutoencoderKL default) for small test
# VAEs, thousands of tiles. The low-memory modes use 512-px tiles (latent 64 at factor 8, diffusers' own
# default tile), whatever the config says: the SDXL VAE decoding a 768x1024 panel in fp32 then holds about a
# third of the activations it holds whole (counted: README "Which GPU do I need").
VAE_TILE_PIXELS = 512
VAE_TILE_OVERLAP = 0.25  # diffusers' default: tiles overlap by a quarter and are blended across it

LOW_MEMORY_MODES = ("low", "offload")


def _sdpa_everywhere(modules) -> dict:
    """Route the attention of each diffusers module through SDPA; returns what to restore (module -> its
    processors) for those that had anything else."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    from engine.device import use_sdpa

    saved = {}
    for m in modules:
        procs = getattr(m, "attn_processors", None)
        if procs and any(type(p) is not AttnProcessor2_0 for p in procs.values()):
            saved[m] = dict(procs)
            use_sdpa(m)
    return saved


def _tile_vae(vae, factor: int) -> dict:
    """Slice and tile ``vae`` (a diffusers AutoencoderKL) in :data:`VAE_TILE_PIXELS` tiles; returns what to
    restore."""
    names = ("use_slicing", "use_tiling", "tile_sample_min_size", "tile_latent_min_size", "tile_overlap_factor")
    saved = {n: getattr(vae, n) for n in names}
    vae.use_slicing = True
    vae.use_tiling = True
    vae.tile_sample_min_size = VAE_TILE_PIXELS
    vae.tile_latent_min_size = max(1, VAE_TILE_PIXELS // max(1, int(factor)))
    vae.tile_overlap_factor = VAE_TILE_OVERLAP
    return saved


@contextmanager
def modules_in(model, memory: str) -> Iterator[None]:
    """``model`` (an engine.model.OmfaModel, real or on the meta device) set up for ``memory`` mode within the
    block, as it was after (also on an exception). A mode other than "low" / "offload" is the standard one."""
    vae = getattr(model.codec, "vae", None)
    attention = _sdpa_everywhere([model.unet] + ([vae] if vae is not None else []))
    tiling = _tile_vae(vae, model.codec.factor) if vae is not None and memory in LOW_MEMORY_MODES else None
    try:
        yield
    finally:
        for m, procs in attention.items():
            m.set_attn_processor(procs)
        if tiling is not None:
            for name, value in tiling.items():
                setattr(vae, name, value)
