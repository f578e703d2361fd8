"""Memory counted, not guessed: live tensor bytes at their peak, seen op by op.

:class:`TensorCounter` is a TorchDispatchMode: every op's outputs pass through it; a storage is counted once
(views share it) from when an op makes it until Python frees it (a weakref finalizer takes it off). It counts
real runs (``omfa bench fullsize``) and meta-device runs, where no memory is allocated at all:
:func:`estimate_fp16` builds a model folder's UNet and codec on the meta device from their configs and runs the
parts of one request (encode the clean panels and the pose guide, the UNet with classifier-free guidance,
decode) under the counter, as a GPU at fp16 would, per memory mode. The full-size bench checks these counts
against the same counter on a real CPU run (benchmarks/results/fullsize.json).
"""
from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.weak import WeakIdKeyDictionary

from engine.memory_modes import modules_in
from engine.request import MEMORY_MODES

# Bumped when what is counted changes, so estimates remembered by engine.model_registry are counted again.
# 2: the low-memory modes count SDPA attention (not sliced) and a VAE in 512-px tiles, as the pipeline runs.
COUNT_VERSION = 2


def _storage_key(t: torch.Tensor):
    try:
        return t.untyped_storage()
    except (RuntimeError, NotImplementedError):
        return None  # sparse or otherwise storage-less tensors: not counted


class TensorCounter(TorchDispatchMode):
    """Counts live tensor bytes while active, and their peak.

    Weights (the modules' parameters and buffers) are registered up front by module name ("unet", "codec").
    Each count is kept twice: in the dtype the tensors really have, and as a GPU at fp16 would hold them
    (floating tensors at ``gpu_bytes[phase]`` bytes per element). ``phase`` is "unet" while the UNet's forward
    runs (module hooks), else "codec" (the VAE and the glue around it): it decides that element size and,
    for the offload figure, which module's weights are on the GPU (engine.pipeline moves one at a time).
    """

    def __init__(self, modules: dict[str, nn.Module], gpu_bytes: dict[str, int]) -> None:
        super().__init__()
        self.gpu_bytes = gpu_bytes
        self.phase = "codec"
        self._seen = WeakIdKeyDictionary()
        self.weights = {name: 0 for name in modules}          # real bytes
        self.weights_gpu = {name: 0 for name in modules}      # as fp16 on a GPU
        for name, m in modules.items():
            for t in list(m.parameters()) + list(m.buffers()):
                key = _storage_key(t)
                if key is None or key in self._seen:
                    continue
                self._seen[key] = True
                self.weights[name] += key.nbytes()
                n = key.nbytes() // t.element_size()
                self.weights_gpu[name] += n * (gpu_bytes[name] if t.is_floating_point() else t.element_size())
        self.live = 0                 # activation bytes, real dtype
        self.live_gpu = 0             # activation bytes as on the GPU
        self.peak = 0                 # weights + activations, real dtype
        self.peak_gpu = 0             # all weights placed (standard, low)
        self.peak_gpu_offload = 0     # only the running module's weights placed (offload)
        self.peak_activations_gpu = {name: 0 for name in modules}
        self._hooks = []
        unet = modules.get("unet")
        if unet is not None:
            self._hooks = [unet.register_forward_pre_hook(lambda *_: self._set_phase("unet")),
                           unet.register_forward_hook(lambda *_: self._set_phase("codec"))]

    def _set_phase(self, phase: str) -> None:
        self.phase = phase

    def _free(self, nbytes: int, gpu: int) -> None:
        self.live -= nbytes
        self.live_gpu -= gpu

    def _track(self, t: torch.Tensor) -> None:
        key = _storage_key(t)
        if key is None or key in self._seen:
            return
        self._seen[key] = True
        nbytes = key.nbytes()
        gpu = (nbytes // t.element_size()) * self.gpu_bytes[self.phase] if t.is_floating_point() else nbytes
        self.live += nbytes
        self.live_gpu += gpu
        weakref.finalize(key, self._free, nbytes, gpu)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        self.peak = max(self.peak, sum(self.weights.values()) + self.live)
        self.peak_gpu = max(self.peak_gpu, sum(self.weights_gpu.values()) + self.live_gpu)
        self.peak_gpu_offload = max(self.peak_gpu_offload, self.weights_gpu[self.phase] + self.live_gpu)
        self.peak_activations_gpu[self.phase] = max(self.peak_activations_gpu[self.phase], self.live_gpu)
        return out

    def gpu_need(self, memory: str) -> int:
        """Peak bytes a GPU at fp16 needs for what ran, in ``memory`` mode."""
        return self.peak_gpu_offload if memory == "offload" else self.peak_gpu

    def close(self) -> None:
        for h in self._hooks:
            h.remove()


class _FlashAttention(TorchFunctionMode):
    """SDPA counted as a GPU runs it. On the meta device SDPA falls back to its math kernel, which holds the
    whole (queries x keys) score matrix and its softmax: 2 x 0.56 GiB for the SDXL VAE's one-head attention
    over a 768x1024 panel (12288 tokens, fp32). On CUDA torch picks its flash / memory-efficient kernels (the
    memory-efficient one takes any head size, the VAE's 512 too), which work through the keys block by block
    and keep only the output; flash adds a (batch, heads, queries) fp32 log-sum-exp for the duration of the
    call, 1/32 of the output at head size 64, left out. So the count makes an empty output of the right shape.
    Real CPU runs need nothing of this: torch's CPU flash kernel holds no score matrix either."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.nn.functional.scaled_dot_product_attention and args and args[0].device.type == "meta":
            q, v = args[0], args[2] if len(args) > 2 else kwargs["value"]
            return q.new_empty(q.shape[:-1] + v.shape[-1:])
        return func(*args, **kwargs)


# ============================================================================================ estimates
def meta_model(folder: str | Path):
    """An :class:`engine.model.OmfaModel` of the folder's geometry on the meta device (configs only, no
    weights read), in fp16; the VAE in fp32 when its config says ``force_upcast`` (as load_model does)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.utils import logging as diffusers_logging

    from engine.codec import TinyCodec, VaeCodec, _tiny_config
    from engine.integrity import read_json_object, safetensors_shapes
    from engine.model import OmfaModel, parse_config

    folder = Path(folder)
    import json

    config = parse_config(json.loads((folder / "omfa_config.json").read_text()), folder / "omfa_config.json")
    unet_cfg = read_json_object(folder / "unet" / "config.json")
    codec_cfg = read_json_object(folder / "codec" / "config.json")
    text = safetensors_shapes(folder / "text_embeddings.safetensors")
    diffusers_logging.set_verbosity_error()
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_cfg).half()
        if codec_cfg.get("kind") == TinyCodec.kind:
            codec = TinyCodec(_tiny_config(codec_cfg, folder / "codec" / "config.json")).half()
        else:
            vae = AutoencoderKL.from_config(codec_cfg)
            codec = VaeCodec(vae.float() if vae.config.get("force_upcast", False) else vae.half())
        hidden = torch.zeros(*text["encoder_hidden_states"])
        pooled = torch.zeros(*text["text_embeds"]) if "text_embeds" in text else None
        return OmfaModel(unet.eval(), codec.eval(), config, hidden, pooled)


@torch.no_grad()
def count_request(model, memory: str, task: str = "try-on", guidance: bool = True) -> TensorCounter:
    """Run the parts of one request on ``model`` (meta or real) under a :class:`TensorCounter`: each clean
    panel and the pose guide encoded (batch 1), the UNet on the joint canvas (batch 2 with guidance in the
    standard mode, two batch-1 calls otherwise, as engine.diffusion.sample does), the generated panel
    decoded. Returns the counter."""
    from engine.layout import GENERATED, Task

    lay = model.layout
    generated = GENERATED[Task.parse(task)]
    device = next(model.unet.parameters()).device
    unet_dtype = next(model.unet.parameters()).dtype
    codec_p = next(model.codec.parameters())
    gpu_bytes = {"unet": 2, "codec": 4 if codec_p.dtype == torch.float32 else 2}
    counter = TensorCounter({"unet": model.unet, "codec": model.codec}, gpu_bytes)
    try:
        with _FlashAttention(), counter, modules_in(model, memory):  # what engine.pipeline runs
            latents = {}
            for name in lay.panels:
                w, h = lay.panel_size(name)
                if name not in generated:
                    latents[name] = model.codec.encode(torch.zeros(1, 3, h, w, device=device, dtype=codec_p.dtype))
            pw, ph = lay.panel_size("person")
            guide = model.codec.encode(torch.zeros(1, 3, ph, pw, device=device, dtype=codec_p.dtype))
            x_in = torch.zeros(1, 9, lay.height // lay.factor, lay.width // lay.factor, device=device,
                               dtype=unet_dtype)
            t = torch.zeros(1, device=device, dtype=torch.long)
            batch = 2 if guidance else 1
            if memory == "standard":
                out = model(x_in.expand(batch, -1, -1, -1).contiguous(), t.expand(batch))
            else:
                out = torch.cat([model(x_in, t) for _ in range(batch)])
            for name in sorted(generated):
                if name in lay.panels:
                    w, h = lay.panel_size(name)
                    model.codec.decode(out[:1, :, :, : w // lay.factor].contiguous())
            del latents, guide, out
    finally:
        counter.close()
    return counter


def estimate_fp16(folder: str | Path) -> dict[str, Any]:
    """GPU memory (bytes) one try-on needs at fp16 for the model in ``folder``, per memory mode, counted on
    the meta device (seconds, no memory). Raises engine.integrity.ModelError for a broken folder."""
    model = meta_model(folder)
    out: dict[str, Any] = {}
    for memory in MEMORY_MODES:
        c = count_request(model, memory)
        out[memory] = c.gpu_need(memory)
        out["weights"] = sum(c.weights_gpu.values())
    return out
