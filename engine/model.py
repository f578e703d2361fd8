"""The unified OMFA model: a 9-channel diffusers UNet, a codec and stored null-text embeddings.

A model folder (what ``save`` writes and ``load`` reads; safetensors + JSON only, never pickle)::

    omfa_config.json           ModelConfig: preset, panel layout, render style, noise schedule, provenance
    unet/                      diffusers UNet2DConditionModel.save_pretrained (config.json + safetensors)
    codec/                     TinyCodec (config.json kind "tiny") or a diffusers AutoencoderKL folder
    text_embeddings.safetensors  "encoder_hidden_states" (1, T, D) [+ "text_embeds" (1, P) for SDXL]
    latent_prior.safetensors   optional: mean training latent per panel, where sampling starts (engine.prior)
    manifest.json              sha256 + size of every other file, written last (engine.integrity)

Loading verifies the manifest before any weights are read, refuses pickle checkpoints, and compares the
configs with the safetensors headers (see engine.integrity).

UNet input channels: noisy joint latent (4) | pose latent (4) | component mask (1). A model with
``patch`` p > 1 feeds the UNet p×p patches of that input folded into channels (9·p² in, 4·p² out), so the
UNet works at 1/p of the latent resolution: p² times cheaper, which lets a CPU-trained model afford
attention at its first level too. The codec, layout and everything outside ``OmfaModel.forward`` are
unchanged.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.codec import Codec, TinyCodec, TinyCodecConfig, VaeCodec, codec_factor_from_config, load_codec
from engine.errors import ModelError  # the model's error; defined low so integrity and codec can raise it
from engine.integrity import (check_diffusers_weights, check_folder, check_weights_finite, diffusers_weights,
                              read_json_object, refuse_pickle_file, refuse_pickle_only, safetensors_shapes,
                              write_manifest)
from engine.layout import PanelLayout
from engine.prior import PRIOR_FILE, LatentPrior, load_latent_prior, save_latent_prior

FORMAT = "omfa-desktop/1"
LATENT_CHANNELS = 4
IN_CHANNELS = 2 * LATENT_CHANNELS + 1  # noisy latent | pose latent | mask

# UNet geometry presets. "sdxl" is SDXL-base's UNet (attention_head_dim there means heads per level).
UNET_PRESETS: dict[str, dict[str, Any]] = {
    "sdxl": dict(
        sample_size=128, in_channels=IN_CHANNELS, out_channels=LATENT_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(320, 640, 1280), layers_per_block=2, transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20), cross_attention_dim=2048, use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816),
    "sd15": dict(
        sample_size=64, in_channels=IN_CHANNELS, out_channels=LATENT_CHANNELS,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, attention_head_dim=8,
        cross_attention_dim=768),
    # A few million parameters, CPU-trainable: attention only at 1/2 and 1/4 of the latent resolution.
    "demo": dict(
        sample_size=32, in_channels=IN_CHANNELS, out_channels=LATENT_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(64, 128, 192), layers_per_block=1, attention_head_dim=32,
        cross_attention_dim=128, norm_num_groups=32),
}

# Per-preset defaults for everything around the UNet.
PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    # The head panel is half width: it shows the head at ~3x the size the face has in a full-body 768 x 1024
    # person panel, so identity is not limited by it, and the UNet does 20 % less work per step (issue 24;
    # models converted or trained before keep the layout in their omfa_config.json).
    "sdxl": dict(layout=PanelLayout({"person": 768, "garment": 768, "head": 384}, 1024, 8), text_tokens=77,
                 codec="vae"),
    "sd15": dict(layout=PanelLayout({"person": 384, "garment": 384, "head": 384}, 512, 8), text_tokens=77,
                 codec="vae"),
    "demo": dict(layout=PanelLayout({"person": 96, "garment": 96, "head": 64}, 128, 4), text_tokens=4,
                 codec="tiny"),
}

# The training noise schedule (SD/SDXL's), from which every sampler is configured.
DEFAULT_NOISE_SCHEDULE: dict[str, Any] = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    prediction_type="epsilon", timestep_spacing="leading", steps_offset=1, clip_sample=False,
    set_alpha_to_one=False)


@dataclass
class ModelConfig:
    """What a checkpoint is, beyond its weights (omfa_config.json)."""

    name: str = "untitled"
    preset: str = "demo"
    layout: dict = field(default_factory=dict)         # PanelLayout.to_dict()
    render_style: str = "parts_shaded"                 # guide render style the model was trained with
    noise_schedule: dict = field(default_factory=lambda: dict(DEFAULT_NOISE_SCHEDULE))
    default_scheduler: str = "ddim"
    trained: bool = False                              # False: random weights, outputs are noise
    views_per_canvas: int = 1                          # >1: trained on p1..pk | garment | head canvases
    patch: int = 1                                     # the UNet sees p x p latent patches as channels
    description: str = ""
    training: dict = field(default_factory=dict)       # provenance: data, steps, time, metrics
    format: str = FORMAT

    @property
    def panel_layout(self) -> PanelLayout:
        return PanelLayout.from_dict(self.layout)

    @property
    def prediction_type(self) -> str:
        return self.noise_schedule.get("prediction_type", "epsilon")


class OmfaModel(nn.Module):
    """UNet + codec + null-text conditioning, with the one forward the sampler and trainer call.

    ``null_text`` is a learned parameter for small presets and a frozen buffer of stored empty-prompt
    embeddings for SD/SDXL-based models.
    """

    def __init__(self, unet, codec: Codec, config: ModelConfig, null_text: torch.Tensor,
                 pooled_text: torch.Tensor | None = None, learn_null_text: bool = False) -> None:
        super().__init__()
        self.unet = unet
        self.codec = codec
        self.config = config
        self.source: Path | None = None  # the folder it was loaded from (None: built in memory)
        if learn_null_text:
            self.null_text = nn.Parameter(null_text.clone())
        else:
            self.register_buffer("null_text", null_text.clone(), persistent=False)
        self.register_buffer("pooled_text", None if pooled_text is None else pooled_text.clone(), persistent=False)
        # The mean training latent per panel, where sampling starts (engine.prior); None: from N(0, I).
        # Kept off the module's parameters and buffers: it is data about the codec's latents, not weights.
        self.latent_prior: LatentPrior | None = None
        lay = config.panel_layout
        if codec.factor != lay.factor:
            raise ModelError(f"the codec's factor {codec.factor} does not match the layout's factor {lay.factor}")

    @property
    def layout(self) -> PanelLayout:
        return self.config.panel_layout

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.unet.parameters())

    @property
    def width_multiple(self) -> int:
        """Latent widths the UNet takes are multiples of this (its down-sampling factor times the patch)."""
        return 2 ** (len(self.unet.config.block_out_channels) - 1) * self.config.patch

    def forward(self, x_in: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """One UNet call.

        Parameters
        ----------
        x_in : (B, 9, h, W)  noisy latent | pose latent | mask
        timesteps : (B,) or scalar

        Returns
        -------
        (B, 4, h, W) the model output (epsilon, v or x0 per ``config.prediction_type``).
        """
        b = x_in.shape[0]
        dtype = self.dtype
        ehs = self.null_text.to(x_in.device, dtype).expand(b, -1, -1)  # device too: CPU offload moves the UNet only
        kwargs = {}
        if self.unet.config.addition_embed_type == "text_time":
            h, w = x_in.shape[-2] * self.codec.factor, x_in.shape[-1] * self.codec.factor
            time_ids = torch.tensor([h, w, 0, 0, h, w], device=x_in.device, dtype=dtype).expand(b, -1)
            pooled = self.pooled_text.to(x_in.device, dtype).expand(b, -1)
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": time_ids}
        if not torch.is_tensor(timesteps) or timesteps.ndim == 0:
            timesteps = torch.as_tensor(timesteps, device=x_in.device).expand(b)
        p = self.config.patch
        if p > 1:
            x_in = nn.functional.pixel_unshuffle(x_in, p)  # (B, 9p², h/p, W/p)
        out = self.unet(x_in.to(dtype), timesteps, encoder_hidden_states=ehs, **kwargs, return_dict=False)[0]
        return nn.functional.pixel_shuffle(out, p) if p > 1 else out

    # ---------------------------------------------------------------- persistence
    def save(self, folder: str | Path, fp16: bool = False) -> None:
        """Write the model folder (see module docstring). ``fp16`` halves the file size."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        unet = self.unet
        if fp16:
            import copy

            unet = copy.deepcopy(unet).half()
        unet.save_pretrained(str(folder / "unet"), safe_serialization=True)
        # diffusers records where a loaded UNet came from: a local path that means nothing in a shared model
        cfg_path = folder / "unet" / "config.json"
        unet_cfg = json.loads(cfg_path.read_text())
        if unet_cfg.pop("_name_or_path", None) is not None:
            cfg_path.write_text(json.dumps(unet_cfg, indent=2, sort_keys=True) + "\n")
        codec = self.codec
        if fp16 and isinstance(codec, VaeCodec):
            import copy

            codec = VaeCodec(copy.deepcopy(codec.vae).half())
        codec.save(folder / "codec")
        tensors = {"encoder_hidden_states": self.null_text.detach().float().contiguous().cpu()}
        if self.pooled_text is not None:
            tensors["text_embeds"] = self.pooled_text.detach().float().contiguous().cpu()
        save_file(tensors, str(folder / "text_embeddings.safetensors"),
                  metadata={"learned": str(isinstance(self.null_text, nn.Parameter))})
        (folder / "omfa_config.json").write_text(json.dumps(asdict(self.config), indent=2))
        prior_path = folder / PRIOR_FILE
        if self.latent_prior is not None:
            save_latent_prior(folder, self.latent_prior)
        elif prior_path.exists():
            prior_path.unlink()  # a stale prior from an earlier model in this folder
        # Last, so an interrupted save leaves a stale manifest that load refuses (not a silently partial model).
        write_manifest(folder)


def build_model(preset: str = "demo", layout: PanelLayout | None = None, name: str | None = None,
                seed: int = 0, patch: int = 1, full_attention: bool = False, **unet_overrides) -> OmfaModel:
    """A freshly initialised (untrained) model from a named preset.

    Real SD/SDXL presets built this way have random weights; use :func:`init_from_diffusers` to start from
    a pretrained base. The codec for VAE presets is a randomly initialised AutoencoderKL of SD geometry.
    ``patch`` folds p×p latent patches into the UNet's channels (see the module docstring);
    ``full_attention`` puts attention blocks at every UNet level, the first included.
    """
    from diffusers import UNet2DConditionModel

    if preset not in UNET_PRESETS:
        raise ModelError(f"unknown preset {preset!r}; presets are {', '.join(UNET_PRESETS)}")
    if patch not in (1, 2, 4):
        raise ModelError(f"patch must be 1, 2 or 4, not {patch}")
    torch.manual_seed(seed)
    cfg = {**UNET_PRESETS[preset], **unet_overrides}
    cfg["in_channels"], cfg["out_channels"] = cfg["in_channels"] * patch ** 2, cfg["out_channels"] * patch ** 2
    if full_attention:
        n = len(cfg["block_out_channels"])
        cfg["down_block_types"] = ("CrossAttnDownBlock2D",) * n
        cfg["up_block_types"] = ("CrossAttnUpBlock2D",) * n
    unet = UNet2DConditionModel(**cfg)
    defaults = PRESET_DEFAULTS[preset]
    layout = layout or defaults["layout"]
    if defaults["codec"] == "tiny":
        codec: Codec = TinyCodec(TinyCodecConfig())
    else:
        from diffusers import AutoencoderKL

        codec = VaeCodec(AutoencoderKL(block_out_channels=(128, 256, 512, 512), latent_channels=4,
                                       down_block_types=("DownEncoderBlock2D",) * 4,
                                       up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2,
                                       scaling_factor=0.13025))
    config = ModelConfig(name=name or f"{preset} (untrained)", preset=preset, layout=layout.to_dict(), patch=patch)
    lay = config.panel_layout
    multiple = 2 ** (len(cfg["block_out_channels"]) - 1) * patch
    sizes = [w // lay.factor for w in lay.widths.values()] + [lay.height // lay.factor]
    if patch > 1 and any(size % multiple for size in sizes):
        raise ModelError(f"patch {patch}: every panel's latent size must be a multiple of {multiple}")
    learned = preset == "demo"
    null = torch.randn(1, defaults["text_tokens"], cfg["cross_attention_dim"]) * (0.02 if learned else 0.0)
    pooled = torch.zeros(1, 1280) if cfg.get("addition_embed_type") == "text_time" else None
    return OmfaModel(unet, codec, config, null, pooled, learn_null_text=learned)


_JSON_TYPES = {"str": (str, "a string"), "dict": (dict, "a JSON object"), "bool": (bool, "true or false"),
               "int": (int, "an integer")}


def _same_json_type(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # JSON true is not a number
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


# What a noise schedule may hold: each value's allowed range, so that a hand-edited or hostile config is
# named here and not met as NaN images, a division by zero or an allocation of 10^12 timesteps later.
_SCHEDULE_CHOICES = {"beta_schedule": ("linear", "scaled_linear", "squaredcos_cap_v2"),
                     "prediction_type": ("epsilon", "v_prediction", "sample"),
                     "timestep_spacing": ("leading", "trailing", "linspace")}
MAX_TRAIN_TIMESTEPS = 100_000
MAX_PANEL_PIXELS = 8192          # a panel side; SDXL's is 1024
MAX_VIEWS_PER_CANVAS = 64


def _invalid(cfg_path: Path, field: str, words: str) -> ModelError:
    name = field if "." in field else f"'{field}'"  # 'trained', noise_schedule.beta_end
    return ModelError(f"{cfg_path} is invalid: {name} {words}", path=cfg_path, field=field)


def _check_schedule(sched: dict, cfg_path: Path) -> None:
    import math

    for k, v in sched.items():
        name = f"noise_schedule.{k}"
        if k in DEFAULT_NOISE_SCHEDULE and not _same_json_type(v, DEFAULT_NOISE_SCHEDULE[k]):
            raise _invalid(cfg_path, name, f"must be a {type(DEFAULT_NOISE_SCHEDULE[k]).__name__}, not "
                                           f"{type(v).__name__} {v!r:.60}")
        if isinstance(v, float) and not math.isfinite(v):
            raise _invalid(cfg_path, name, f"must be a finite number, not {v!r}")
        if k in _SCHEDULE_CHOICES and v not in _SCHEDULE_CHOICES[k]:
            raise _invalid(cfg_path, name, f"must be one of {', '.join(_SCHEDULE_CHOICES[k])}, not {v!r:.60}")
    n = sched.get("num_train_timesteps", DEFAULT_NOISE_SCHEDULE["num_train_timesteps"])
    if not 1 < n <= MAX_TRAIN_TIMESTEPS:
        raise _invalid(cfg_path, "noise_schedule.num_train_timesteps", f"must be between 2 and "
                                                                       f"{MAX_TRAIN_TIMESTEPS:,}, not {n}")
    b0 = sched.get("beta_start", DEFAULT_NOISE_SCHEDULE["beta_start"])
    b1 = sched.get("beta_end", DEFAULT_NOISE_SCHEDULE["beta_end"])
    if not 0 < b0 < 1:
        raise _invalid(cfg_path, "noise_schedule.beta_start", f"must be between 0 and 1, not {b0}")
    if not b0 <= b1 < 1:
        raise _invalid(cfg_path, "noise_schedule.beta_end", f"must be at least beta_start ({b0}) and below 1, "
                                                            f"not {b1}")
    offset = sched.get("steps_offset", 0)
    if not 0 <= offset < n:
        raise _invalid(cfg_path, "noise_schedule.steps_offset", f"must be between 0 and {n - 1}, not {offset}")


def parse_config(raw: Any, cfg_path: Path) -> ModelConfig:
    """omfa_config.json contents -> ModelConfig, with every field's JSON type and range checked (ModelError
    naming the file and the field: ``path`` and ``field`` are set)."""
    from engine.diffusion import SCHEDULERS

    if not isinstance(raw, dict):
        raise ModelError(f"{cfg_path} is invalid: expected a JSON object, found {type(raw).__name__}",
                         path=cfg_path)
    for f in fields(ModelConfig):
        if f.name in raw:
            want, words = _JSON_TYPES[f.type]
            if not isinstance(raw[f.name], want) or (want is int and isinstance(raw[f.name], bool)):
                raise _invalid(cfg_path, f.name, f"must be {words}, not {type(raw[f.name]).__name__} "
                                                 f"{raw[f.name]!r:.60}")
    _check_schedule(raw.get("noise_schedule", {}), cfg_path)
    if not 1 <= raw.get("views_per_canvas", 1) <= MAX_VIEWS_PER_CANVAS:
        raise _invalid(cfg_path, "views_per_canvas", f"must be an integer from 1 to {MAX_VIEWS_PER_CANVAS}, "
                                                     f"not {raw['views_per_canvas']!r:.60}")
    if raw.get("patch", 1) not in (1, 2, 4):
        raise _invalid(cfg_path, "patch", f"must be 1, 2 or 4, not {raw['patch']!r:.60}")
    if raw.get("default_scheduler", "ddim") not in SCHEDULERS:
        raise _invalid(cfg_path, "default_scheduler", f"must be one of {', '.join(SCHEDULERS)}, not "
                                                      f"{raw['default_scheduler']!r:.60}")
    _check_layout(raw.get("layout", {}), cfg_path)
    config = ModelConfig(**{k: v for k, v in raw.items() if k in ModelConfig.__dataclass_fields__})
    try:
        _ = config.panel_layout  # builds the layout: a bad one raises here, named, not at first use
    except (TypeError, KeyError, ValueError) as e:
        why = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise ModelError(f"{cfg_path} is invalid: layout: {why}", path=cfg_path, field="layout") from None
    return config


def _check_layout(layout: dict, cfg_path: Path) -> None:
    """Types and sizes of the layout, each named (PanelLayout checks the multiples)."""
    def size(name: str, v: Any) -> None:
        if type(v) is not int or not 0 < v <= MAX_PANEL_PIXELS:
            raise _invalid(cfg_path, name, f"must be a whole number of pixels from 1 to {MAX_PANEL_PIXELS}, "
                                           f"not {v!r:.60}")

    widths = layout.get("widths")
    if widths is not None and not isinstance(widths, dict):
        raise _invalid(cfg_path, "layout.widths", f"must be a JSON object of panel widths, not {widths!r:.60}")
    for panel, w in (widths or {}).items():
        size(f"layout.widths.{panel}", w)
    if "height" in layout:
        size("layout.height", layout["height"])
    if "factor" in layout and (type(layout["factor"]) is not int or layout["factor"] not in (1, 2, 4, 8, 16, 32)):
        raise _invalid(cfg_path, "layout.factor", f"must be a power of two from 1 to 32, not {layout['factor']!r:.60}")


def load_model(folder: str | Path, dtype: torch.dtype | None = None, device: str | torch.device = "cpu",
               trainable: bool = False) -> OmfaModel:
    """Load a model folder written by :meth:`OmfaModel.save`. Raises ModelError naming what is wrong.

    Order matters: pickle refusal and the manifest come before anything is parsed, and config/weights
    consistency (from configs and safetensors headers) before any weights are read.
    """
    from diffusers import UNet2DConditionModel
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder).expanduser()
    refuse_pickle_file(folder, "file")
    if folder.is_file():
        raise ModelError(f"{folder} is a file; OMFA loads model folders (omfa_config.json, unet/, codec/). "
                         "Make one from a diffusers SD/SDXL folder with 'omfa convert'", path=folder)
    if not folder.is_dir():
        raise ModelError(f"model folder {folder} does not exist")
    cfg_path = folder / "omfa_config.json"
    if not cfg_path.is_file():
        refuse_pickle_only(folder, "file")
        raise ModelError(f"{folder} is not an OMFA model folder: omfa_config.json is missing", path=folder)
    check_folder(folder, "model folder")
    config = parse_config(read_json_object(cfg_path), cfg_path)
    layout = config.panel_layout
    if config.format != FORMAT:
        raise ModelError(f"{cfg_path} has format {config.format!r}; this version reads {FORMAT!r}", path=cfg_path)
    refuse_pickle_only(folder / "unet", "unet")
    refuse_pickle_only(folder / "codec", "vae")
    for rel in ("unet/config.json", "codec/config.json", "text_embeddings.safetensors"):
        if not (folder / rel).is_file():
            raise ModelError(f"model folder {folder} is incomplete: {rel} is missing")
    if not diffusers_weights(folder / "unet"):
        raise ModelError(f"model folder {folder} is incomplete: unet/diffusion_pytorch_model.safetensors is missing")
    # Consistency from the configs and safetensors headers, before reading gigabytes of weights.
    check_diffusers_weights(UNet2DConditionModel, folder / "unet")
    unet_cfg = read_json_object(folder / "unet" / "config.json")
    want_in, want_out = IN_CHANNELS * config.patch ** 2, LATENT_CHANNELS * config.patch ** 2
    if unet_cfg.get("in_channels") != want_in:
        raise ModelError(f"{folder / 'unet'} has {unet_cfg.get('in_channels')} input channels; an OMFA UNet has "
                         f"{want_in} (use 'omfa convert' to widen a base model)")
    if unet_cfg.get("out_channels", LATENT_CHANNELS) != want_out:
        raise ModelError(f"{folder / 'unet'} has {unet_cfg.get('out_channels')} output channels; with patch "
                         f"{config.patch} ({cfg_path}) an OMFA UNet has {want_out}")
    codec_cfg_path = folder / "codec" / "config.json"
    factor = codec_factor_from_config(read_json_object(codec_cfg_path), codec_cfg_path)
    if factor != layout.factor:
        raise ModelError(f"{cfg_path} has layout factor {layout.factor} but the codec ({codec_cfg_path}) has "
                         f"factor {factor}: the panel layout and the codec must agree", path=cfg_path)
    _check_text_embeddings(folder / "text_embeddings.safetensors", unet_cfg, folder / "unet" / "config.json")
    try:
        unet = UNet2DConditionModel.from_pretrained(str(folder / "unet"), local_files_only=True,
                                                    torch_dtype=dtype, use_safetensors=True)
        codec = load_codec(folder / "codec", dtype, verify=False)  # covered by this folder's manifest
        text = load_file(str(folder / "text_embeddings.safetensors"))
    except ModelError:
        raise
    except (OSError, ValueError, SafetensorError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelError(f"could not read the weights in {folder}: {first}") from None
    if codec.factor != layout.factor:
        raise ModelError(f"codec factor {codec.factor} does not match the layout factor {layout.factor}")
    # NaN/Inf weights still match a manifest someone re-wrote over them: refuse them now, by name, not as
    # black images after a minute of sampling
    check_weights_finite(unet.state_dict(), folder, "the UNet")
    check_weights_finite(codec.state_dict(), folder, "the codec")
    check_weights_finite(text, folder, "the text embeddings")
    learned = trainable and config.preset == "demo"
    model = OmfaModel(unet.eval(), codec.eval(), config, text["encoder_hidden_states"], text.get("text_embeds"),
                      learn_null_text=learned)
    model.latent_prior = load_latent_prior(folder, layout, LATENT_CHANNELS)
    model.source = folder  # named by errors about what it makes (engine.pipeline)
    model.to(device)
    if dtype is not None:
        model.to(dtype)
    if dtype is not None and dtype != torch.float32:
        if isinstance(codec, TinyCodec) and str(device) == "cpu":
            model.codec.float()  # half-precision convs are slow or missing on CPU
        elif isinstance(codec, VaeCodec) and dtype == torch.float16 \
                and getattr(codec.vae.config, "force_upcast", False):
            model.codec.float()  # the SDXL VAE overflows to NaN in fp16 (its config says force_upcast)
    return model


def _check_text_embeddings(path: Path, unet_cfg: dict, unet_cfg_path: Path) -> None:
    """The stored null-text embeddings must fit the UNet's cross-attention (and SDXL's pooled) width."""
    shapes = safetensors_shapes(path)
    ehs = shapes.get("encoder_hidden_states")
    if ehs is None:
        raise ModelError(f"{path} lacks the tensor 'encoder_hidden_states'", path=path)
    dim = unet_cfg.get("cross_attention_dim")
    if len(ehs) != 3 or ehs[0] != 1 or (isinstance(dim, int) and ehs[-1] != dim):
        raise ModelError(f"{unet_cfg_path} does not match {path}: tensor encoder_hidden_states has shape "
                         f"{list(ehs)} but the config implies [1, tokens, {dim}] (cross_attention_dim={dim})",
                         path=unet_cfg_path)
    if unet_cfg.get("addition_embed_type") == "text_time":
        pooled = shapes.get("text_embeds")
        try:
            want = unet_cfg["projection_class_embeddings_input_dim"] - 6 * unet_cfg["addition_time_embed_dim"]
        except (KeyError, TypeError):
            return  # check_diffusers_weights has vetted the config; nothing more to compare
        if pooled is None or tuple(pooled) != (1, want):
            raise ModelError(f"{unet_cfg_path} does not match {path}: tensor text_embeds has shape "
                             f"{None if pooled is None else list(pooled)} but the config implies [1, {want}]",
                             path=unet_cfg_path)


# ----------------------------------------------------------------------------- conversion from a base
def widen_conv_in(unet, in_channels: int = IN_CHANNELS) -> None:
    """Give ``unet.conv_in`` more input channels, the new ones zero: the base's output is unchanged."""
    old = unet.conv_in
    if old.in_channels == in_channels:
        return
    if old.in_channels > in_channels:
        raise ModelError(f"conv_in already has {old.in_channels} inputs, more than {in_channels}")
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding,
                    device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=in_channels)


def init_from_diffusers(folder: str | Path, text: str = "auto", layout: PanelLayout | None = None,
                        name: str | None = None, dtype: torch.dtype | None = None) -> OmfaModel:
    """Start an OMFA model from a local diffusers SD/SDXL(-inpainting) folder (offline; no hub).

    Parameters
    ----------
    folder : a diffusers pipeline folder with ``unet/`` and ``vae/`` (and optionally ``scheduler/``,
        ``text_encoder*/`` + ``tokenizer*/``).
    text : "auto" encodes the empty prompt with the folder's text encoders (needs ``transformers``);
        "zeros" uses zero embeddings, as SDXL itself does for empty prompts (force_zeros_for_empty_prompt).
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(folder).expanduser()
    refuse_pickle_file(folder, "file")
    if folder.is_file():
        raise ModelError(f"{folder} is a single-file checkpoint; 'omfa convert' starts from a diffusers folder "
                         "(unet/, vae/): make one with diffusers' StableDiffusionXLPipeline.from_single_file(...)"
                         ".save_pretrained(OUT, safe_serialization=True)", path=folder)
    for sub in ("unet", "vae"):
        if not (folder / sub / "config.json").is_file():
            raise ModelError(f"{folder} is not a diffusers model folder: {sub}/config.json is missing", path=folder)
    check_folder(folder, warn_missing=False)  # a base folder with an OMFA manifest is verified; others are not
    for sub, cls in (("unet", UNet2DConditionModel), ("vae", AutoencoderKL)):
        refuse_pickle_only(folder / sub, sub)
        if not any((folder / sub).glob("*.safetensors")):
            raise ModelError(f"{folder / sub} has no .safetensors weights; OMFA reads only safetensors")
        check_diffusers_weights(cls, folder / sub)
    try:
        # use_safetensors=True: diffusers must never fall back to a pickled .bin next to the safetensors.
        unet = UNet2DConditionModel.from_pretrained(str(folder), subfolder="unet", local_files_only=True,
                                                    torch_dtype=dtype, use_safetensors=True)
        vae = AutoencoderKL.from_pretrained(str(folder), subfolder="vae", local_files_only=True, torch_dtype=dtype,
                                            use_safetensors=True)
    except (OSError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelError(f"could not load the base model from {folder}: {first}") from None
    if unet.config.in_channels not in (LATENT_CHANNELS, IN_CHANNELS):
        raise ModelError(f"the base UNet has {unet.config.in_channels} input channels; OMFA can start from "
                         f"{LATENT_CHANNELS} (text-to-image) or {IN_CHANNELS} (inpainting) channels")
    widen_conv_in(unet)
    is_xl = unet.config.addition_embed_type == "text_time"
    schedule = dict(DEFAULT_NOISE_SCHEDULE)
    sched_path = folder / "scheduler" / "scheduler_config.json"
    if sched_path.is_file():
        base = json.loads(sched_path.read_text())
        schedule.update({k: base[k] for k in DEFAULT_NOISE_SCHEDULE if k in base})
    hidden, pooled = _empty_prompt_embeddings(folder, unet, text, is_xl)
    codec = VaeCodec(vae)
    preset = "sdxl" if is_xl else "sd15"
    layout = layout or PRESET_DEFAULTS[preset]["layout"]
    if layout.factor != codec.factor:
        raise ModelError(f"the layout's factor {layout.factor} does not match the VAE's {codec.factor}")
    config = ModelConfig(name=name or f"{folder.name} (converted, not fine-tuned)", preset=preset,
                         layout=layout.to_dict(), noise_schedule=schedule, trained=False,
                         description=f"initialised from {folder}", training={"base": str(folder), "text": text})
    return OmfaModel(unet, codec, config, hidden, pooled)


def _empty_prompt_embeddings(folder: Path, unet, text: str, is_xl: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    dim = unet.config.cross_attention_dim
    pooled_dim = (unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
                  if is_xl else None)
    if text == "zeros":
        return torch.zeros(1, 77, dim), (torch.zeros(1, pooled_dim) if is_xl else None)
    if text != "auto":
        raise ModelError(f"text must be 'auto' or 'zeros', not {text!r}")
    try:
        from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
    except ImportError:
        raise ModelError("encoding the empty prompt needs the 'transformers' package (pip install transformers); "
                         "or convert with text='zeros' (--text zeros), as SDXL does for empty prompts") from None
    encoders = [("tokenizer", "text_encoder", CLIPTextModel)]
    if is_xl:
        encoders.append(("tokenizer_2", "text_encoder_2", CLIPTextModelWithProjection))
    hidden, pooled = [], None
    for tok_dir, enc_dir, cls in encoders:
        if not (folder / enc_dir).is_dir():
            raise ModelError(f"{folder / enc_dir} is missing; convert with --text zeros instead")
        refuse_pickle_only(folder / enc_dir, "text_encoder")
        tok = CLIPTokenizer.from_pretrained(str(folder / tok_dir), local_files_only=True)
        enc = cls.from_pretrained(str(folder / enc_dir), local_files_only=True, use_safetensors=True).eval()
        ids = tok([""], padding="max_length", max_length=tok.model_max_length, truncation=True,
                  return_tensors="pt").input_ids
        with torch.no_grad():
            out = enc(ids, output_hidden_states=True)
        # SDXL conditions on the penultimate layer of both encoders; SD 1.5 on the last.
        hidden.append(out.hidden_states[-2] if is_xl else out.last_hidden_state)
        if is_xl and cls is CLIPTextModelWithProjection:
            pooled = out.text_embeds
    return torch.cat(hidden, dim=-1).float(), (pooled.float() if pooled is not None else None)


# ----------------------------------------------------------------------------- FLOPs
def unet_flops(preset: str, width: int, height: int, panels: int = 2, batch: int = 1) -> int:
    """FLOPs of one UNet forward on a canvas of ``panels`` panels of width x height pixels.

    Counted on the meta device (no weights, no memory) with torch's FlopCounterMode.
    """
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    if preset not in UNET_PRESETS:
        raise ModelError(f"unknown preset {preset!r}; presets are {', '.join(UNET_PRESETS)}")
    cfg = UNET_PRESETS[preset]
    factor = PRESET_DEFAULTS[preset]["layout"].factor
    if width % factor or height % factor:
        raise ModelError(f"size {width}x{height} must be a multiple of {factor}")
    with torch.device("meta"):
        unet = UNet2DConditionModel(**cfg)
        x = torch.zeros(batch, cfg["in_channels"], height // factor, panels * width // factor)
        t = torch.zeros(batch, dtype=torch.long)
        ehs = torch.zeros(batch, PRESET_DEFAULTS[preset]["text_tokens"], cfg["cross_attention_dim"])
        kw = {}
        if cfg.get("addition_embed_type") == "text_time":
            kw["added_cond_kwargs"] = {"text_embeds": torch.zeros(batch, 1280), "time_ids": torch.zeros(batch, 6)}
        counter = FlopCounterMode(display=False)
        with counter:
            unet(x, t, encoder_hidden_states=ehs, **kw)
    return int(counter.get_total_flops())
