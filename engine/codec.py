"""Latent codecs behind one interface.

A codec maps images (B, 3, H, W) in [-1, 1] to latents (B, C, H/f, W/f) already scaled to roughly unit
variance, and back. Two implementations:

- :class:`VaeCodec` wraps a diffusers ``AutoencoderKL`` (the SDXL VAE: f = 8, C = 4, scaling 0.13025);
- :class:`TinyCodec` is the demo model's small deterministic autoencoder (f = 4, C = 4), trained by
  ``omfa train-codec`` on the synthetic world.

The pipeline only uses ``encode``, ``decode``, ``factor``, ``latent_channels`` and ``to``; a codec implements
``decode_with_grad`` (distillation's pixel loss needs the gradients) and ``decode`` is it without them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelError
from engine.integrity import (check_diffusers_weights, check_folder, compare_shapes, diffusers_weights,
                              read_json_object, refuse_pickle_file, refuse_pickle_only, safetensors_shapes)


class Codec(nn.Module):
    """Interface. Subclasses set ``factor`` and ``latent_channels`` and implement encode/decode_with_grad."""

    factor: int
    latent_channels: int
    kind: str

    def encode(self, images: torch.Tensor) -> torch.Tensor:  # (B,3,H,W) [-1,1] -> (B,C,h,w)
        raise NotImplementedError

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:  # (B,C,h,w) -> (B,3,H,W) [-1,1]
        return self.decode_with_grad(latents)

    def decode_with_grad(self, latents: torch.Tensor) -> torch.Tensor:
        """``decode`` with gradients flowing to the latents (losses on decoded pixels, e.g. distillation)."""
        raise NotImplementedError

    def save(self, folder: str | Path) -> None:
        raise NotImplementedError


class VaeCodec(Codec):
    """A diffusers AutoencoderKL. Encoding takes the posterior mode, so it is deterministic."""

    kind = "vae"

    def __init__(self, vae) -> None:
        super().__init__()
        self.vae = vae
        cfg = vae.config
        self.factor = 2 ** (len(cfg.block_out_channels) - 1)
        self.latent_channels = int(cfg.latent_channels)
        self.scaling = float(cfg.scaling_factor)
        self.shift = float(getattr(cfg, "shift_factor", None) or 0.0)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.vae.device, self.vae.dtype)
        mean = self.vae.encode(images).latent_dist.mode()
        return (mean - self.shift) * self.scaling

    def decode_with_grad(self, latents: torch.Tensor) -> torch.Tensor:
        latents = latents.to(self.vae.device, self.vae.dtype) / self.scaling + self.shift
        return self.vae.decode(latents).sample.clamp(-1, 1)

    def save(self, folder: str | Path) -> None:
        self.vae.save_pretrained(str(folder), safe_serialization=True)

    @classmethod
    def load(cls, folder: str | Path, dtype=None) -> "VaeCodec":
        """Load a diffusers AutoencoderKL folder: safetensors only, config checked against the weights."""
        from diffusers import AutoencoderKL

        folder = Path(folder)
        refuse_pickle_only(folder, "vae")
        if not diffusers_weights(folder):
            raise ModelError(f"{folder} has no diffusion_pytorch_model.safetensors; OMFA reads only safetensors",
                             path=folder)
        check_diffusers_weights(AutoencoderKL, folder)
        # use_safetensors=True: never fall back to a pickled .bin lying next to the safetensors.
        vae = AutoencoderKL.from_pretrained(str(folder), local_files_only=True, torch_dtype=dtype,
                                            use_safetensors=True)
        return cls(vae.eval())


@dataclass
class TinyCodecConfig:
    channels: tuple[int, ...] = (32, 64)  # one stride-2 stage per entry: factor 2**len(channels)
    latent_channels: int = 4
    blocks: int = 1                      # residual blocks per stage
    scaling: float = 1.0                 # set after training so latents have ~unit std

    @property
    def factor(self) -> int:
        return 2 ** len(self.channels)


class _Res(nn.Module):
    # No normalisation layers anywhere in the tiny codec: GroupNorm's per-image statistics throw away the
    # absolute colour of flat regions, which is most of what a garment image is (measured: hue shifts of
    # 15-20 grey levels with GroupNorm).
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.SiLU(), nn.Conv2d(c, c, 3, padding=1), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class TinyCodec(Codec):
    """A small convolutional autoencoder: 2 stride-2 stages (f = 4), 4 latent channels, no KL.

    Deterministic both ways; about 0.3 M parameters with the default config.
    """

    kind = "tiny"

    def __init__(self, config: TinyCodecConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or TinyCodecConfig()
        self.factor = c.factor
        self.latent_channels = c.latent_channels
        ch = list(c.channels)
        enc: list[nn.Module] = [nn.Conv2d(3, ch[0], 3, padding=1)]
        prev = ch[0]
        for cout in ch:
            enc += [_Res(prev) for _ in range(c.blocks)]
            enc += [nn.Conv2d(prev, cout, 4, stride=2, padding=1)]
            prev = cout
        enc += [_Res(prev), nn.SiLU(), nn.Conv2d(prev, c.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(c.latent_channels, prev, 3, padding=1), _Res(prev)]
        for cout in reversed(ch):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(prev, cout, 3, padding=1)]
            dec += [_Res(cout) for _ in range(c.blocks)]
            prev = cout
        dec += [nn.SiLU(), nn.Conv2d(prev, 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def encode_raw(self, images: torch.Tensor) -> torch.Tensor:
        """Unscaled latents, with gradients (training)."""
        p = next(self.parameters())
        return self.encoder(images.to(p.device, p.dtype))

    def decode_raw(self, latents: torch.Tensor) -> torch.Tensor:
        p = next(self.parameters())
        return self.decoder(latents.to(p.device, p.dtype))

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encode_raw(images) * self.config.scaling

    def decode_with_grad(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decode_raw(latents / self.config.scaling).clamp(-1, 1)

    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cfg = asdict(self.config)
        cfg["kind"] = self.kind
        (folder / "config.json").write_text(json.dumps(cfg, indent=2))
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()},
                  str(folder / "codec.safetensors"))

    @classmethod
    def load(cls, folder: str | Path, dtype=None) -> "TinyCodec":
        """Load a folder written by :meth:`save`; ModelError naming the file when config and weights disagree."""
        from safetensors.torch import load_file

        folder = Path(folder)
        cfg_path, weights = folder / "config.json", folder / "codec.safetensors"
        refuse_pickle_only(folder, "pipeline")
        raw = read_json_object(cfg_path)
        codec = cls(_tiny_config(raw, cfg_path))
        if not weights.is_file():
            raise ModelError(f"{folder} is incomplete: codec.safetensors is missing", path=folder)
        # Shapes from the header first: load_state_dict's own error is a page long.
        expected = {k: tuple(v.shape) for k, v in codec.state_dict().items()}
        compare_shapes(expected, safetensors_shapes(weights), cfg_path, weights, raw)
        codec.load_state_dict(load_file(str(weights)))
        if dtype is not None:
            codec.to(dtype)
        return codec.eval()


def _tiny_config(raw: dict, cfg_path: Path) -> TinyCodecConfig:
    """A TinyCodec config.json -> TinyCodecConfig, each field's type checked (ModelError naming it)."""
    cfg = {k: v for k, v in raw.items() if k != "kind"}
    unknown = sorted(set(cfg) - set(TinyCodecConfig.__dataclass_fields__))
    if unknown:
        raise ModelError(f"{cfg_path} is invalid: unknown field(s) {', '.join(unknown)}", path=cfg_path)
    ch = cfg.get("channels", list(TinyCodecConfig.channels))
    if not isinstance(ch, list) or not ch or not all(type(c) is int and c > 0 for c in ch):
        raise ModelError(f"{cfg_path} is invalid: 'channels' must be a list of positive integers, not {ch!r:.60}",
                         path=cfg_path)
    for name in ("latent_channels", "blocks"):
        if name in cfg and (type(cfg[name]) is not int or cfg[name] < 1):
            raise ModelError(f"{cfg_path} is invalid: {name!r} must be a positive integer, not {cfg[name]!r:.60}",
                             path=cfg_path)
    if "scaling" in cfg and (isinstance(cfg["scaling"], bool) or not isinstance(cfg["scaling"], (int, float))
                             or not cfg["scaling"] > 0):
        raise ModelError(f"{cfg_path} is invalid: 'scaling' must be a positive number, not {cfg['scaling']!r:.60}",
                         path=cfg_path)
    return TinyCodecConfig(**{**cfg, "channels": tuple(ch)})


def codec_factor_from_config(cfg: dict, cfg_path: Path) -> int:
    """The down-sampling factor a codec config.json describes, without building the codec."""
    if cfg.get("kind") == TinyCodec.kind:
        return _tiny_config(cfg, cfg_path).factor
    boc = cfg.get("block_out_channels")
    if not isinstance(boc, list) or not boc:
        raise ModelError(f"{cfg_path} is invalid: neither a tiny codec (kind 'tiny') nor a VAE (block_out_channels)",
                         path=cfg_path)
    return 2 ** (len(boc) - 1)


def load_codec(folder: str | Path, dtype=None, verify: bool = True) -> Codec:
    """Load whichever codec a folder holds (TinyCodec: config.json with kind 'tiny'; else a diffusers VAE).

    ``verify``: check the folder's own manifest.json (warn when it has none); False when the folder is part
    of a model folder whose manifest already covers it.
    """
    folder = Path(folder).expanduser()
    refuse_pickle_file(folder, "vae")
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"no codec in {folder}: config.json is missing")
    if verify:
        check_folder(folder, "codec folder")
    cfg = read_json_object(cfg_path)
    if cfg.get("kind") == TinyCodec.kind:
        return TinyCodec.load(folder, dtype)
    return VaeCodec.load(folder, dtype)


# ----------------------------------------------------------------------------- bounded codec calls
# A codec call's activations grow with its pixels: an fp32 SDXL VAE decode needs about 1.9 GB per 768x1024
# image, so the 8 views of a multi-view request in one call would need ~15 GB. In the standard memory mode a
# call takes at most this many pixels (two 768x1024 images: ~4 GB; the demo model's 96x128 panels: 128 per
# call, so small models still run in one call); the low and offload modes go one image at a time.
CODEC_PIXELS_PER_CALL = 2 * 768 * 1024


def images_per_call(height: int, width: int, memory: str = "standard") -> int:
    """How many images of ``height`` x ``width`` pixels one encode/decode call may take in ``memory`` mode."""
    if memory != "standard":
        return 1
    return max(1, CODEC_PIXELS_PER_CALL // max(1, height * width))


def encode_in_chunks(codec: Codec, images: torch.Tensor, per_call: int) -> torch.Tensor:
    """``codec.encode`` of (B, 3, H, W) images, ``per_call`` images per call; (B, C, h, w) latents."""
    if images.shape[0] <= per_call:
        return codec.encode(images)
    return torch.cat([codec.encode(x) for x in images.split(per_call)])


def decode_in_chunks(codec: Codec, latents: torch.Tensor, per_call: int) -> torch.Tensor:
    """``codec.decode`` of (B, C, h, w) latents, ``per_call`` images per call; (B, 3, H, W) images."""
    if latents.shape[0] <= per_call:
        return codec.decode(latents)
    return torch.cat([codec.decode(z) for z in latents.split(per_call)])


# ----------------------------------------------------------------------------- image <-> tensor
def to_tensor(images) -> torch.Tensor:
    """uint8 (H, W, 3) array or a list of them -> float (B, 3, H, W) in [-1, 1]."""
    import numpy as np

    arr = np.stack(images) if isinstance(images, (list, tuple)) else np.array(images)[None]  # a writable copy
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor):
    """float (B, 3, H, W) in [-1, 1] -> uint8 array (B, H, W, 3)."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()
