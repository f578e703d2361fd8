"""The latent prior: where sampling starts.

SD's scaled-linear schedule, which OMFA models keep, never reaches pure noise: at its last training step
``alphabar_T`` = 0.0047, so every input the model saw there was ``sqrt(alphabar_t) * x0 + sqrt(1 - alphabar_t) * eps``
and still carried 7 % of the clean latent. Sampling from N(0, I) hands it a start it never saw. On the demo
model's small panels the difference is large: the training data's mean latent (white background, the average
garment outline and body) sits 1-2 standard deviations of the noise's panel mean away from zero.

The latent prior is each panel's mean latent over the training data, stored with the model
(``latent_prior.safetensors``). Sampling starts the generated panels from the forward process applied to it,
``scheduler.add_noise(mu, eps, t_first)``: the first moment of the true marginal of ``x_t_first`` instead of 0.
A model folder without the file samples from N(0, I) as before (real SDXL-sized models: their VAE latents
are close to zero-mean). The prior belongs to the model's codec: a replaced VAE drops it.

Shapes: a prior maps panel name -> (C, h, w_panel) float32 latent, for every panel of the model's layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import torch

from engine.errors import ModelError
from engine.layout import PanelLayout

PRIOR_FILE = "latent_prior.safetensors"

# Which training images (engine.train.IMAGE_KEYS) show each panel: both poses show the person panel.
PANEL_SOURCES: dict[str, tuple[str, ...]] = {"person": ("person", "person_b"), "garment": ("garment",),
                                             "head": ("head",)}


class PriorError(ModelError):
    """A latent prior that does not fit its model (wrong panels, shapes or values); a ModelError, so loading a
    model folder with a bad one fails like any other inconsistent model file."""


@dataclass
class LatentPrior:
    """A model's latent prior: ``panels`` panel -> (C, h, w_panel) float32; ``source`` the data it came from."""

    panels: dict[str, torch.Tensor]
    source: str = ""

    def canvas(self, layout: PanelLayout, views_per_canvas: int = 1) -> torch.Tensor:
        """The prior laid out as a canvas: (1, C, h, W) for ``person | garment | head``, or for
        ``p1 .. pk | garment | head`` when ``views_per_canvas`` = k > 1 (every view starts from the person mean)."""
        panels = {p: self.panels[p].unsqueeze(0) for p in layout.panels}
        if views_per_canvas <= 1:
            return layout.concat(panels)
        person = panels.pop("person")
        return layout.views_canvas([person] * views_per_canvas, panels)


def compute_latent_prior(latents: Mapping[str, torch.Tensor], layout: PanelLayout, source: str = "") -> LatentPrior:
    """Mean latent of each panel of ``layout`` over a data set.

    Parameters
    ----------
    latents : image key -> (N, C, h, w) codec latents (``engine.train.encode_dataset``; keys of
        :data:`PANEL_SOURCES`, e.g. ``person``, ``person_b``, ``garment``, ``head``; others are ignored)
    layout : the model's panel layout

    source : what the data set was (stored with the prior)

    Returns
    -------
    LatentPrior with every panel of the layout, (C, h, w_panel) float32
    """
    prior = {}
    for panel in layout.panels:
        found = [latents[k] for k in PANEL_SOURCES.get(panel, (panel,)) if k in latents]
        if not found:
            raise PriorError(f"no {panel} images to compute the {panel} panel's mean latent from")
        stacked = torch.cat([z.reshape(-1, *z.shape[-3:]).float() for z in found])
        prior[panel] = stacked.mean(0)
    check_latent_prior(prior, layout, next(iter(prior.values())).shape[0])
    return LatentPrior(prior, source)


def check_latent_prior(prior: Mapping[str, torch.Tensor], layout: PanelLayout, channels: int,
                       source: str = "the latent prior") -> None:
    """Raise PriorError unless ``prior`` has every panel of ``layout`` as a finite (channels, h, w_panel)."""
    missing = [p for p in layout.panels if p not in prior]
    if missing:
        raise PriorError(f"{source} lacks the {', '.join(missing)} panel(s)", path=source)
    h = layout.height // layout.factor
    for p in layout.panels:
        want = (channels, h, layout.widths[p] // layout.factor)
        got = tuple(prior[p].shape)
        if got != want:
            raise PriorError(f"{source} has a {p} panel of shape {got}; this model's is {want}", path=source)
        if not torch.isfinite(prior[p]).all():
            raise PriorError(f"{source} has non-finite values in its {p} panel", path=source)


def save_latent_prior(folder: str | Path, prior: LatentPrior) -> Path:
    """Write ``folder/latent_prior.safetensors`` (float32, with the source in its metadata) atomically: an
    interrupted write leaves the previous file, not a truncated one. Raises StorageError (an OSError)."""
    from safetensors.torch import save_file

    from engine.persist import atomic_path

    path = Path(folder) / PRIOR_FILE
    with atomic_path(path) as tmp:
        save_file({k: v.detach().float().contiguous().cpu() for k, v in prior.panels.items()}, str(tmp),
                  metadata={"what": "mean latent per panel of the training data", "source": prior.source})
    return path


def load_latent_prior(folder: str | Path, layout: PanelLayout, channels: int) -> Optional[LatentPrior]:
    """The prior stored in a model folder, checked against its layout; None when the folder has none."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(folder) / PRIOR_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as f:
            source = (f.metadata() or {}).get("source", "")
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as e:
        raise PriorError(f"could not read {path}: {e}") from None
    check_latent_prior(tensors, layout, channels, str(path))
    return LatentPrior({p: tensors[p].float() for p in layout.panels}, source)
