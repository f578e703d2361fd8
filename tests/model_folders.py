"""Tiny diffusers pipeline folders shaped like SD 1.5 and SDXL (a factor-2 VAE, no text encoders), made by the
tests themselves: no weights are ever downloaded."""
from __future__ import annotations

import json
from pathlib import Path


def tiny_diffusers_folder(root: Path, xl: bool = True, in_channels: int = 4, seed: int = 0) -> Path:
    """Write ``root/unet`` and ``root/vae`` (safetensors + config.json) and a scheduler config; returns root."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    torch.manual_seed(seed)
    common = dict(sample_size=8, in_channels=in_channels, out_channels=4, block_out_channels=(32, 64),
                  layers_per_block=1, cross_attention_dim=32, norm_num_groups=32)
    if xl:
        unet = UNet2DConditionModel(
            **common, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
            transformer_layers_per_block=(1, 1), use_linear_projection=True, addition_embed_type="text_time",
            addition_time_embed_dim=8, projection_class_embeddings_input_dim=6 * 8 + 16)
    else:
        unet = UNet2DConditionModel(**common, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), attention_head_dim=4)
    vae = AutoencoderKL(block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=32,
                        scaling_factor=0.13025 if xl else 0.18215)
    root = Path(root)
    unet.save_pretrained(root / "unet")
    vae.save_pretrained(root / "vae")
    (root / "scheduler").mkdir(exist_ok=True)
    (root / "scheduler/scheduler_config.json").write_text(json.dumps(
        {"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085,
         "beta_end": 0.012, "beta_schedule": "scaled_linear", "prediction_type": "epsilon"}))
    return root


def snapshot(folder: Path) -> dict[str, int]:
    """relative path -> size of every file: to check a folder was left untouched."""
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()}
