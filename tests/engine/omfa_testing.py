"""Shared helpers for engine tests (imported by name: tests/engine is on sys.path)."""
import numpy as np
import torch

from engine.layout import PanelLayout
from engine.model import build_model

TINY_UNET = dict(block_out_channels=(32, 32, 32), cross_attention_dim=32, attention_head_dim=8)


def tiny_model(seed: int = 0):
    """A demo-shaped model small enough for many fast forwards: canvas 32x(32+32+32) px, latent 8x24."""
    layout = PanelLayout({"person": 32, "garment": 32, "head": 32}, 32, 4)
    torch.manual_seed(seed)
    m = build_model("demo", layout=layout, seed=seed, **TINY_UNET)
    # Random weights give a near-zero UNet output (zero-initialised conv_out): perturb it so tests see signal.
    with torch.no_grad():
        m.unet.conv_out.weight.normal_(0, 0.1)
    return m.eval()


def count_rows(pipe) -> list[int]:
    """Record the batch size of every UNet call the pipeline makes (the list fills as it runs)."""
    rows: list[int] = []
    forward = pipe.model.forward

    def spy(x_in, t):
        rows.append(x_in.shape[0])
        return forward(x_in, t)

    pipe.model.forward = spy
    return rows


def rand_image(rng, w, h):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


_FOLDERS: dict = {}


def small_model_folder():
    """A demo-geometry model (the samples' panel sizes) with a tiny UNet, saved once per session."""
    import tempfile
    from pathlib import Path

    if "small" not in _FOLDERS:
        folder = Path(tempfile.mkdtemp(prefix="omfa_small_")) / "model"
        build_model("demo", **TINY_UNET).save(folder)
        _FOLDERS["small"] = folder
    return _FOLDERS["small"]
