"""Does an input look like the demo model's synthetic world?

The shipped demo model (preset "demo") only ever saw :mod:`engine.data.synthetic`: a mannequin, a flat
garment or a head portrait, rendered on a pure white background, centred, at 96x128. Given a real photo it
still answers, with something that looks like a T-shirt: every result made from such an input must say so.

The test looks at each input panel as the model sees it (after ``engine.images.fit``, which letterboxes on
white) and measures three things a render has and an ordinary photo lacks:

``frame_white``   fraction of the 2-pixel frame that is near-white (min channel >= 245): the background
``content_edge``  fraction of the non-white content's bounding-box outline that is non-white: a figure on
                  white touches its box at a few points, a photo (letterboxed or not) fills it
``coverage``      fraction of the panel that is non-white: the world's figures fill 10-35 % of a person
                  or garment panel

Each feature has a one-sided bound per panel, in the direction a photo departs from a render, set from the
world's own ``train`` and ``val`` samples as *half-way from the world's extreme to the feature's limit*
(``benchmarks/bench_domain.py`` recomputes them and reports the rates on ``test`` and on real photos).
An input outside any bound is "outside the model's world"; the reason names the feature.

Not used: how exactly white the background is (rendered 255 vs photographed 250-254). It would catch
white-backdrop photos, but the model's own decoded outputs are not exactly white either (42-80 % of their
near-white pixels are 255, against 99.3 % or more in renders): 5 of 8 demo try-ons on test samples would have
been marked, and a try-off result reused as a garment could be. With the three features above, those outputs
measure frame_white 0.99, content_edge 0.01-0.02, coverage 0.16-0.38: inside.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

NEAR_WHITE = 245
PANELS = ("person", "garment", "head")
FEATURES = ("frame_white", "content_edge", "coverage")
# direction in which a photo departs from a render: "min" = values below the bound are outside
DIRECTION = {"frame_white": "min", "content_edge": "max", "coverage": "max"}
READABLE = {"frame_white": "its background is not white", "content_edge": "its content fills the frame like a photo",
            "coverage": "it is filled far more than the world's renders"}

# Bounds from 128 train + 128 val samples per panel (person: poses A and B, 512 images), by
# benchmarks/bench_domain.py: world extreme e -> bound e/2 (for "min") or e + (1 - e)/2 (for "max").
BOUNDS: dict[str, dict[str, float]] = {
    "person": {"frame_white": 0.5, "content_edge": 0.5903, "coverage": 0.6185},
    "garment": {"frame_white": 0.5, "content_edge": 0.6452, "coverage": 0.679},
    "head": {"frame_white": 0.3027, "content_edge": 0.7179, "coverage": 0.9041},
}


@dataclass
class DomainCheck:
    """One panel's verdict: ``inside`` and, when not, ``reasons`` (readable) and the ``features``."""

    panel: str
    inside: bool
    features: dict[str, float]
    reasons: list[str]

    def to_dict(self) -> dict:
        return {"inside": self.inside, "reasons": self.reasons,
                "features": {k: round(v, 4) for k, v in self.features.items()}}


def features(image: np.ndarray) -> dict[str, float]:
    """The three statistics of one panel image (H, W, 3) uint8 (see the module docstring)."""
    p = np.asarray(image, np.uint8)[..., :3]
    white = p.min(-1) >= NEAR_WHITE
    frame = np.concatenate([white[:2].ravel(), white[-2:].ravel(), white[:, :2].ravel(), white[:, -2:].ravel()])
    content = ~white
    if not content.any():  # an all-white panel (a white garment on white): nothing photo-like in it
        return {"frame_white": 1.0, "content_edge": 0.0, "coverage": 0.0}
    rows, cols = np.flatnonzero(content.any(1)), np.flatnonzero(content.any(0))
    y0, y1, x0, x1 = rows[0], rows[-1], cols[0], cols[-1]
    outline = np.concatenate([content[y0, x0:x1 + 1], content[y1, x0:x1 + 1],
                              content[y0:y1 + 1, x0], content[y0:y1 + 1, x1]])
    return {"frame_white": float(frame.mean()), "content_edge": float(outline.mean()),
            "coverage": float(content.mean())}


def check_panel(image: np.ndarray, panel: str) -> DomainCheck:
    """Is this panel image (as the model sees it) inside the synthetic world's ranges for ``panel``?"""
    bounds = BOUNDS[panel if panel in BOUNDS else "person"]
    f = features(image)
    reasons = []
    for name, bound in bounds.items():
        outside = f[name] < bound if DIRECTION[name] == "min" else f[name] > bound
        if outside:
            reasons.append(READABLE[name])
    return DomainCheck(panel, not reasons, f, reasons)


def check_request(request) -> dict[str, dict]:
    """{panel: DomainCheck.to_dict()} for every input image of an engine.request.TryOnRequest that is outside
    the world (empty: everything looks like the world). Pose guides are not checked: the app renders them."""
    out = {}
    for panel in PANELS:
        img = getattr(request, panel, None)
        if img is None:
            continue
        c = check_panel(img, panel)
        if not c.inside:
            out[panel] = c.to_dict()
    return out


def check_images(images: dict, panel_sizes: dict) -> dict[str, dict]:
    """Like :func:`check_request` for images as a user gave them ({panel: (H, W, 3) uint8}, any size): each
    is fitted into its panel (``panel_sizes``: {panel: (width, height)}) as a request would be."""
    from engine.images import fit

    out = {}
    for panel, img in images.items():
        if img is None or panel not in PANELS or panel not in panel_sizes:
            continue
        c = check_panel(fit(img, *panel_sizes[panel]), panel)
        if not c.inside:
            out[panel] = c.to_dict()
    return out


def is_world_model(config) -> bool:
    """Models trained on the synthetic world only: the shipped demo model and anything of its preset."""
    return getattr(config, "preset", "") == "demo"


def describe(outside: Optional[dict]) -> str:
    """One line for people: 'the person photo does not look like the demo model's synthetic world (its
    background is not white)'; "" when nothing is outside."""
    if not outside:
        return ""
    names = {"person": "person photo", "garment": "garment image", "head": "head image"}
    parts = [f"{names.get(k, k)} ({', '.join(v.get('reasons', [])[:2])})" for k, v in outside.items()]
    return ("outside the demo model's world: the " + "; the ".join(parts)
            + " does not look like its synthetic mannequin renders; the result is not meaningful")


__all__ = ["BOUNDS", "DomainCheck", "FEATURES", "PANELS", "check_images", "check_panel", "check_request", "describe",
           "features", "is_world_model"]
