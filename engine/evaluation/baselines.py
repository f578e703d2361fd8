"""Trivial systems scored next to the model on the same samples: what a model that ignored its inputs, or
only copied a flat colour into the right outline, would get."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from engine.evaluation.splits import EvalError, load_samples
from engine.metrics import foreground_mask


def mean_image(images: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel mean of images (N of (H, W, 3) uint8) → (H, W, 3) uint8."""
    if len(images) == 0:
        raise EvalError("no images to average")
    return np.rint(np.mean(np.stack([np.asarray(i, np.float64) for i in images]), 0)).astype(np.uint8)


def _mean_colour(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    px = np.asarray(img)[np.asarray(mask, bool)]
    if len(px) == 0:  # nothing selected: fall back to the image's foreground, then to mid grey
        px = np.asarray(img)[foreground_mask(img)]
    return np.rint(px.astype(np.float64).mean(0)).astype(np.uint8) if len(px) else np.full(3, 128, np.uint8)


def outline_fill(person: np.ndarray, person_mask: np.ndarray, garment_mask: np.ndarray) -> np.ndarray:
    """Try-off baseline: ``garment_mask`` (H, W) filled with the person's mean visible-garment colour.

    Parameters
    ----------
    person : (H, W, 3) uint8, person_mask : (H, W) bool — the garment as worn
    garment_mask : (H', W') bool — the flat garment's silhouette

    Returns
    -------
    (H', W', 3) uint8 on white
    """
    out = np.full(garment_mask.shape + (3,), 255, np.uint8)
    out[np.asarray(garment_mask, bool)] = _mean_colour(person, person_mask)
    return out


def grey_garment(garment_mask: np.ndarray, grey: int = 128) -> np.ndarray:
    """Try-off baseline with no content at all: ``garment_mask`` (H, W) filled with mid grey, on white.

    The audit's probe: a metric that cannot tell this from a garment does not measure content (foreground
    SSIM gave it 0.64, between the mean image and the model)."""
    out = np.full(garment_mask.shape + (3,), 255, np.uint8)
    out[np.asarray(garment_mask, bool)] = grey
    return out


def silhouette_fill(garment: np.ndarray, garment_mask: np.ndarray, head: np.ndarray, figure: np.ndarray,
                    head_mask: np.ndarray) -> np.ndarray:
    """Try-on baseline: the target figure filled with the garment's mean colour, its head region with the
    head image's mean foreground colour.

    Parameters
    ----------
    garment : (H, W, 3) uint8, garment_mask : (H, W) bool
    head : (H, w_head, 3) uint8 — the head portrait on white
    figure, head_mask : (H, W) bool — the target figure (guide B) and its head region

    Returns
    -------
    (H, W, 3) uint8 on white
    """
    out = np.full(figure.shape + (3,), 255, np.uint8)
    out[np.asarray(figure, bool)] = _mean_colour(garment, garment_mask)
    out[np.asarray(head_mask, bool)] = _mean_colour(head, foreground_mask(head))
    return out



def train_mean_images(n_train: int = 64, data: str | Path | None = None, panel_size: tuple[int, int] = (96, 128),
                      head_width: int = 64, seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """The mean-image baseline of each task from the first ``n_train`` *train* samples.

    Uses ``data``'s train shards when there are any, else renders the samples.

    Returns
    -------
    means : dict task -> (H, W, 3) uint8 (try-off: mean flat garment; try-on: mean person in pose B)
    source : str — where the samples came from (for the report)
    """
    use_shards = data is not None and any(Path(data).glob("train_*.npz"))
    samples = load_samples(n_train, "train", data if use_shards else None, panel_size, head_width, seed)
    src = f"{n_train} train samples " + (f"from {data}" if use_shards else f"rendered (world seed {seed})")
    return {"try-off": mean_image([s.garment for s in samples]),
            "try-on": mean_image([s.person_b for s in samples])}, src

