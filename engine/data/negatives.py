"""Images that are not the synthetic world and show no person: the negatives of the person gate
(:mod:`engine.body.gate`) and of the demo model's domain check (:mod:`engine.domain`).

``drawn(kind, rng)`` makes empty backgrounds (flat, gradient), noise and textures (noise, smooth noise,
stripes, checks) and objects (random discs, rectangles and polygons), at sizes from 96x128 to 1024x768;
``negatives(seed, n)`` draws ``n`` of each kind. Seed 1 is for calibration, seed 2 for reporting.
``skimage_photo(name)`` loads one of scikit-image's bundled photos as RGB uint8 (no download).
"""
from __future__ import annotations

import numpy as np

# scikit-image's bundled images without a person (cat, coffee cup, rocket, coins, textures, text...)
SKIMAGE_OBJECTS = ("chelsea", "coffee", "rocket", "hubble_deep_field", "cat", "immunohistochemistry", "retina",
                   "coins", "moon", "page", "horse", "text", "clock", "brick", "grass", "gravel", "colorwheel",
                   "logo", "checkerboard")
# ... and the two with one: an astronaut's portrait, a cameraman
SKIMAGE_PEOPLE = ("astronaut", "camera")
# the ordinary photographs among them (not drawings, scans or textures): the domain check's "real photos"
SKIMAGE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "cat", "coins", "moon", "page", "horse",
                  "clock", "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "retina")
DRAWN = ("flat", "gradient", "noise", "smooth_noise", "stripes", "checks", "shapes")
SIZES = ((96, 128), (512, 512), (640, 480), (480, 640), (1024, 768))


def skimage_photo(name: str) -> np.ndarray:
    """A scikit-image sample image as RGB uint8 (H, W, 3)."""
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def drawn(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One drawn negative of ``kind`` (one of :data:`DRAWN`), RGB uint8 at a random size of :data:`SIZES`."""
    from scipy.ndimage import gaussian_filter
    from skimage import draw

    w, h = SIZES[rng.integers(len(SIZES))]

    def colour():
        return rng.integers(0, 256, 3)

    if kind == "flat":
        return np.broadcast_to(colour(), (h, w, 3)).astype(np.uint8).copy()
    if kind == "gradient":
        t = np.linspace(0, 1, h)[:, None, None] if rng.random() < .5 else np.linspace(0, 1, w)[None, :, None]
        return np.broadcast_to(colour() * (1 - t) + colour() * t, (h, w, 3)).astype(np.uint8).copy()
    if kind == "noise":
        return rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    if kind == "smooth_noise":
        img = gaussian_filter(rng.random((h, w, 3)), (rng.uniform(2, 30),) * 2 + (0,))
        return ((img - img.min()) / (np.ptp(img) + 1e-9) * 255).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    if kind == "stripes":
        a, period = rng.uniform(0, np.pi), rng.integers(4, 60)
        m = (((np.cos(a) * xx + np.sin(a) * yy) // period) % 2).astype(bool)
        return np.where(m[..., None], colour(), colour()).astype(np.uint8)
    if kind == "checks":
        period = rng.integers(4, 80)
        m = ((xx // period + yy // period) % 2).astype(bool)
        return np.where(m[..., None], colour(), colour()).astype(np.uint8)
    if kind == "shapes":
        img = np.broadcast_to(colour(), (h, w, 3)).astype(np.uint8).copy()
        for _ in range(rng.integers(1, 8)):
            c, t = colour(), rng.integers(3)
            if t == 0:
                rr, cc = draw.disk((rng.uniform(0, h), rng.uniform(0, w)), rng.uniform(5, min(h, w) / 2), shape=(h, w))
            elif t == 1:
                r0, c0 = rng.uniform(0, h), rng.uniform(0, w)
                rr, cc = draw.rectangle((r0, c0), (r0 + rng.uniform(5, h / 2), c0 + rng.uniform(5, w / 2)),
                                        shape=(h, w))
            else:
                rr, cc = draw.polygon(rng.uniform(0, h, 5), rng.uniform(0, w, 5), shape=(h, w))
            img[rr, cc] = c
        return img
    raise ValueError(f"unknown negative kind {kind!r}; kinds: {', '.join(DRAWN)}")


def negatives(seed: int, n_per_kind: int = 8) -> list[tuple[str, np.ndarray]]:
    """(name, image) pairs, ``n_per_kind`` of each kind of :data:`DRAWN`."""
    rng = np.random.default_rng(seed)
    return [(f"{k}_{i}", drawn(k, rng)) for k in DRAWN for i in range(n_per_kind)]
