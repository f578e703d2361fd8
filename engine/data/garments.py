"""Procedural garment patterns for the synthetic demo world.

A garment is described by a small JSON-serialisable :class:`GarmentSpec`. Its texture is a function of
*normalised garment coordinates*: ``x = col / W`` in [0, 1] across the garment box and ``y = row / W``
(so one unit is the garment box width in both directions and patterns stay isotropic for any (H, W)).
The body code maps the same box onto the mannequin through its per-vertex ``garment_uv``, so the texture
rendered here is both the flat canonical garment and the one worn in the person render.

Periods are fractions of the garment width. World version 2 (the demo model's) uses fewer, larger pattern
elements than version 1 did (stripes 0.12-0.35, checks 0.16-0.40, dots 0.14-0.30; dots stay below 0.31
because sparser lattices stop reading as dots to the pattern analyser): worn by a full-body
mannequin in a 96 x 128 panel, the T-shirt is only ~50 px wide, so a 0.12 period was ~6 px on the person,
1.5 latent pixels, below what the demo UNet's attention (one token per 8 px) can carry to the flat garment.
Everything is anti-aliased by supersampling so small renders stay crisp and the same spec renders
consistently at 256 x 192 or 1024 x 768.

Conventions
-----------
- ``period``: one full repeat (stripes: one band of each colour; checks: two cells, i.e. cell = period / 2;
  dots: lattice spacing).
- ``angle`` (stripes only): direction of the stripe lines in degrees, counter-clockwise from the image's
  horizontal axis as seen on screen (0 = horizontal stripes, 90 = vertical, 45 = rising to the right).
- ``duty``: fraction of each stripe period painted in the secondary colour.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

FAMILIES: tuple[str, ...] = ("solid", "stripes", "checks", "dots", "print_block", "letters", "two_tone")
PATTERNED: frozenset[str] = frozenset(FAMILIES) - {"solid"}
TWO_TONE_SPLITS: tuple[str, ...] = ("vertical", "horizontal", "diagonal")

# Per-family period ranges (fractions of garment width). Checks start higher: a cell is half a period.
WORLD_VERSION = 2
PERIOD_RANGE: dict[str, tuple[float, float]] = {
    "stripes": (0.22, 0.42), "checks": (0.28, 0.48), "dots": (0.22, 0.30)}
MIN_CONTRAST_DE: float = 25.0  # CIE76 ΔE between primary and secondary for patterned families

# A curated clothing palette (sRGB): neutrals, brights, pastels and darks.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (245, 245, 240), (20, 20, 24), (128, 128, 132), (190, 190, 195), (60, 60, 66),
    (200, 30, 40), (150, 20, 40), (240, 120, 40), (250, 200, 40), (240, 230, 140),
    (40, 140, 60), (20, 80, 40), (120, 190, 90), (30, 150, 150), (140, 210, 220),
    (30, 60, 160), (20, 30, 80), (90, 140, 220), (110, 50, 160), (200, 160, 220),
    (230, 100, 160), (250, 190, 200), (140, 90, 50), (200, 170, 120), (100, 110, 60),
)
LETTER_CHOICES: str = "ABCDEFGHJKLMNOPRSTUVWXYZ0123456789"


@dataclass
class GarmentSpec:
    """Everything needed to render one procedural garment texture.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    primary, secondary : tuple of 3 int
        sRGB uint8 colours; ``primary`` is the ground colour.
    period : float
        Pattern repeat as a fraction of the garment width (see module docstring).
    angle : float
        Stripe direction in degrees (stripes only).
    duty : float
        Fraction of a stripe period in the secondary colour.
    dot_radius : float
        Dot radius as a fraction of ``period``.
    block : tuple of 4 float
        Print block rectangle (x0, y0, x1, y1) in normalised garment coordinates (print_block and letters).
    text : str
        Letters printed (letters family; also printed inside the block for print_block when non-empty).
    split : str
        Two-tone split orientation, one of :data:`TWO_TONE_SPLITS`.
    split_pos : float
        Where the two-tone split lies, as a fraction of the box width (vertical/diagonal) or height.
    """

    family: str = "solid"
    primary: tuple[int, int, int] = (200, 30, 40)
    secondary: tuple[int, int, int] = (245, 245, 240)
    period: float = 0.2
    angle: float = 0.0
    duty: float = 0.5
    dot_radius: float = 0.28
    block: tuple[float, float, float, float] = (0.3, 0.35, 0.7, 0.65)
    text: str = ""
    split: str = "vertical"
    split_pos: float = 0.5

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown garment family {self.family!r}; families are {FAMILIES}")
        if self.split not in TWO_TONE_SPLITS:
            raise ValueError(f"unknown two-tone split {self.split!r}; splits are {TWO_TONE_SPLITS}")
        if not self.period > 0:
            raise ValueError(f"period must be > 0, got {self.period}")
        self.primary = _rgb(self.primary)
        self.secondary = _rgb(self.secondary)
        self.block = tuple(float(b) for b in self.block)  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists)."""
        d = asdict(self)
        for k in ("primary", "secondary", "block"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GarmentSpec":
        """Inverse of :meth:`to_dict`; unknown keys are an error so typos do not pass silently."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise KeyError(f"unknown GarmentSpec field(s) {sorted(unknown)}")
        d = dict(d)
        for k in ("primary", "secondary", "block"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


def _rgb(c: Any) -> tuple[int, int, int]:
    t = tuple(int(v) for v in c)
    if len(t) != 3 or not all(0 <= v <= 255 for v in t):
        raise ValueError(f"colour must be 3 ints in [0, 255], got {c!r}")
    return t  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- colour
def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3) uint8 or float in [0, 255] → CIELAB (..., 3) float64 (D65)."""
    from skimage.color import rgb2lab

    a = np.asarray(rgb, dtype=np.float64) / 255.0
    return rgb2lab(a.reshape(-1, 1, 3)).reshape(a.shape)


def _delta_e76(c1: tuple[int, int, int], c2: tuple[int, int, int]) -> float:
    lab = srgb_to_lab(np.array([c1, c2], np.float64))
    return float(np.linalg.norm(lab[0] - lab[1]))


def sample_garment_spec(rng: np.random.Generator, family: str | None = None) -> GarmentSpec:
    """Draw a random garment.

    Families are uniform over :data:`FAMILIES` (balanced); patterned families get a colour pair with
    CIE76 ΔE ≥ :data:`MIN_CONTRAST_DE`. Colours are palette entries jittered a little so the world is not
    limited to 25 exact colours.

    Parameters
    ----------
    rng : np.random.Generator
    family : str, optional
        Force a family.
    """
    fam = family or FAMILIES[int(rng.integers(len(FAMILIES)))]
    if fam not in FAMILIES:
        raise ValueError(f"unknown garment family {fam!r}")

    def colour() -> tuple[int, int, int]:
        base = np.array(PALETTE[int(rng.integers(len(PALETTE)))], np.float64)
        return _rgb(np.clip(base + rng.normal(0, 8, 3), 0, 255).round())

    primary = colour()
    secondary = colour()
    while fam in PATTERNED and _delta_e76(primary, secondary) < MIN_CONTRAST_DE:
        secondary = colour()
    spec = GarmentSpec(family=fam, primary=primary, secondary=secondary)
    if fam in PERIOD_RANGE:
        lo, hi = PERIOD_RANGE[fam]
        spec.period = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))  # log-uniform scale
    if fam == "stripes":
        # Axis-aligned and 45° stripes are common in clothing; the rest are any angle.
        spec.angle = float(rng.choice([0.0, 90.0, 45.0, 135.0]) if rng.random() < 0.4 else rng.uniform(0, 180))
        spec.duty = float(rng.uniform(0.3, 0.6))
    elif fam == "dots":
        spec.dot_radius = float(rng.uniform(0.22, 0.32))
    elif fam in ("print_block", "letters"):
        # Chest print: centred-ish on the torso (the torso spans roughly x 0.3..0.7, y 0.25..1.1 of width).
        w, h = rng.uniform(0.24, 0.36), rng.uniform(0.14, 0.24)
        if fam == "letters":  # big letters: readable at 48 px width
            w, h = rng.uniform(0.3, 0.4), rng.uniform(0.2, 0.3)
        cx, cy = 0.5 + rng.uniform(-0.04, 0.04), rng.uniform(0.5, 0.7)
        spec.block = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        n = int(rng.integers(1, 4)) if fam == "letters" else int(rng.integers(0, 3))
        spec.text = "".join(LETTER_CHOICES[int(i)] for i in rng.integers(len(LETTER_CHOICES), size=n))
    elif fam == "two_tone":
        spec.split = TWO_TONE_SPLITS[int(rng.integers(len(TWO_TONE_SPLITS)))]
        spec.split_pos = float(rng.uniform(0.4, 0.6)) if spec.split != "horizontal" else float(rng.uniform(0.4, 0.65))
    return spec


# --------------------------------------------------------------------------------------------- render
def _supersample(width: int) -> int:
    # Enough subsamples that a 0.12-period edge is smooth at small sizes, without 16x cost at 1024 px.
    return 4 if width <= 128 else 3 if width <= 384 else 2


def _coverage(spec: GarmentSpec, height: int, width: int) -> np.ndarray:
    """Fraction of each pixel in the secondary colour, shape (H, W) float32 in [0, 1]."""
    ss = _supersample(width)
    hs, ws = height * ss, width * ss
    fam = spec.family
    if fam == "solid":
        return np.zeros((height, width), np.float32)
    if fam in ("letters", "print_block"):
        m = _print_mask(spec, hs, ws)
    else:
        # Sub-sample centres in normalised garment coordinates (unit = garment width, y down).
        x = ((np.arange(ws, dtype=np.float32) + 0.5) / ws)[None, :]
        y = ((np.arange(hs, dtype=np.float32) + 0.5) / ws)[:, None]
        if fam == "stripes":
            a = math.radians(spec.angle)
            # Normal of the stripe lines in (x right, y up) is (-sin a, cos a); image y points down.
            t = (-x * math.sin(a) - y * math.cos(a)) / spec.period
            m = (t - np.floor(t)) < spec.duty
        elif fam == "checks":
            c = spec.period / 2
            m = ((np.floor(x / c) + np.floor(y / c)) % 2) == 1
        elif fam == "dots":
            p = spec.period
            dx = x / p - np.floor(x / p) - 0.5
            dy = y / p - np.floor(y / p) - 0.5
            m = dx * dx + dy * dy < spec.dot_radius ** 2
        elif fam == "two_tone":
            hgt = hs / ws
            if spec.split == "vertical":
                m = np.broadcast_to(x > spec.split_pos, (hs, ws))
            elif spec.split == "horizontal":
                m = np.broadcast_to(y > spec.split_pos * hgt, (hs, ws))
            else:  # diagonal from upper right to lower left through (split_pos, mid-height)
                m = (x - spec.split_pos) + (y - hgt / 2) * 0.5 > 0
        else:  # pragma: no cover - guarded by GarmentSpec
            raise ValueError(fam)
    cov = np.asarray(m, np.float32).reshape(height, ss, width, ss).mean(axis=(1, 3))
    return cov


def _print_mask(spec: GarmentSpec, hs: int, ws: int) -> np.ndarray:
    """Supersampled (hs, ws) bool mask of a print block and/or letters."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("L", (ws, hs), 0)
    draw = ImageDraw.Draw(im)
    x0, y0, x1, y1 = (np.array(spec.block) * ws).tolist()
    if spec.family == "print_block":
        draw.rectangle([x0, y0, x1, y1], fill=255)
    text = spec.text
    if text:
        # Letters fill the block height; in a print block they are cut out (drawn in the ground colour).
        size = max(4, int(round((y1 - y0) * (0.7 if spec.family == "print_block" else 1.0))))
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        scale = min(1.0, 0.9 * (x1 - x0) / max(right - left, 1))
        if scale < 1.0:  # too wide: shrink the font so the word fits the block
            font = ImageFont.load_default(size=max(4, int(size * scale)))
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.text((cx - (left + right) / 2, cy - (top + bottom) / 2), text, font=font,
                  fill=0 if spec.family == "print_block" else 255)
    return np.asarray(im) >= 128


def render_texture(spec: GarmentSpec, height: int, width: int) -> np.ndarray:
    """Render the garment texture over the whole garment box.

    Deterministic (no randomness at render time) and anti-aliased by supersampling then box-averaging.

    Parameters
    ----------
    spec : GarmentSpec
    height, width : int
        Output size in pixels; use a 4:3 H:W image to match the mannequin's garment box without distortion.

    Returns
    -------
    np.ndarray, shape (H, W, 3) uint8
        sRGB texture.
    """
    if height < 1 or width < 1:
        raise ValueError(f"texture size must be positive, got {height}x{width}")
    cov = _coverage(spec, height, width)[..., None]
    p = np.asarray(spec.primary, np.float32)
    s = np.asarray(spec.secondary, np.float32)
    return np.clip(p + (s - p) * cov + 0.5, 0, 255).astype(np.uint8)


def flat_garment_image(spec: GarmentSpec, silhouette_mask: np.ndarray,
                       background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """The flat canonical garment: the texture inside the silhouette on a plain background.

    Parameters
    ----------
    spec : GarmentSpec
    silhouette_mask : np.ndarray, shape (H, W) bool
        Canonical garment silhouette (e.g. ``MannequinParts.garment_silhouette(H, W)``).
    background : tuple of 3 int
        sRGB background colour.

    Returns
    -------
    np.ndarray, shape (H, W, 3) uint8
    """
    mask = np.asarray(silhouette_mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"silhouette_mask must be (H, W), got shape {mask.shape}")
    tex = render_texture(spec, *mask.shape)
    out = np.empty_like(tex)
    out[:] = np.asarray(_rgb(background), np.uint8)
    out[mask] = tex[mask]
    return out


def tshirt_silhouette(height: int, width: int) -> np.ndarray:
    """A stand-alone flat-lay T-shirt mask in the same garment box convention (tests, previews).

    The real canonical silhouette comes from the mannequin (``MannequinParts.garment_silhouette``); this
    polygon has the same proportions (torso ~0.45 of the width, short sleeves reaching the box edges) so
    code that needs a silhouette does not depend on the body package.

    Returns
    -------
    np.ndarray, shape (H, W) bool
    """
    from PIL import Image, ImageDraw

    ss = 4
    w, h = width * ss, height * ss
    a = h / w  # box height in width units
    pts = [(0.40, 0.18 * a), (0.5, 0.24 * a), (0.60, 0.18 * a), (0.95, 0.22 * a), (0.97, 0.34 * a),
           (0.75, 0.36 * a), (0.73, 0.88 * a), (0.27, 0.88 * a), (0.25, 0.36 * a), (0.03, 0.34 * a),
           (0.05, 0.22 * a)]
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).polygon([(x * w, y / a * h) for x, y in pts], fill=255)
    return np.asarray(im.resize((width, height), Image.BOX)) >= 128
