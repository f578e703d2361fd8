"""Procedural heads for the synthetic world: skin tone, hair colour and hair style.

Kept generic on purpose: :func:`head_vertex_colors` takes plain per-vertex arrays (part ids, a hair mask)
so the body package's part labels can be wired in by the caller without this module importing it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Skin tones spanning the Fitzpatrick range, light to deep (sRGB).
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 224, 196), (241, 194, 160), (224, 172, 135), (198, 134, 96),
    (170, 112, 76), (141, 85, 54), (110, 66, 42), (78, 48, 32),
)
HAIR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (20, 16, 14), (60, 40, 28), (110, 70, 40), (170, 120, 70), (225, 195, 130),
    (150, 60, 30), (180, 180, 180), (235, 235, 230),
)
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bun", "bald")


@dataclass
class HeadSpec:
    """A head's look.

    Attributes
    ----------
    skin : tuple of 3 int      sRGB skin colour
    hair : tuple of 3 int      sRGB hair colour (unused when ``style == "bald"``)
    style : str                one of :data:`HAIR_STYLES`
    """

    skin: tuple[int, int, int] = SKIN_TONES[3]
    hair: tuple[int, int, int] = HAIR_COLOURS[0]
    style: str = "short"

    def __post_init__(self) -> None:
        if self.style not in HAIR_STYLES:
            raise ValueError(f"unknown hair style {self.style!r}; styles are {HAIR_STYLES}")
        self.skin = tuple(int(v) for v in self.skin)  # type: ignore[assignment]
        self.hair = tuple(int(v) for v in self.hair)  # type: ignore[assignment]

    @property
    def style_id(self) -> int:
        """Index of the style in :data:`HAIR_STYLES`."""
        return HAIR_STYLES.index(self.style)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict."""
        d = asdict(self)
        d["skin"], d["hair"] = list(d["skin"]), list(d["hair"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "HeadSpec":
        """Inverse of :meth:`to_dict`."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise KeyError(f"unknown HeadSpec field(s) {sorted(unknown)}")
        return cls(skin=tuple(d.get("skin", cls.skin)), hair=tuple(d.get("hair", cls.hair)),
                   style=d.get("style", "short"))


def sample_head_spec(rng: np.random.Generator) -> HeadSpec:
    """Draw a head: palette skin/hair with a small jitter, uniform hair style."""
    def jitter(c: tuple[int, int, int], s: float) -> tuple[int, int, int]:
        return tuple(int(v) for v in np.clip(np.array(c) + rng.normal(0, s, 3), 0, 255).round())

    skin = jitter(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], 5)
    hair = jitter(HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))], 6)
    return HeadSpec(skin=skin, hair=hair, style=HAIR_STYLES[int(rng.integers(len(HAIR_STYLES)))])


def head_vertex_colors(spec: HeadSpec, part_ids: np.ndarray, hair_mask: np.ndarray,
                       skin_parts: np.ndarray | None = None, base: np.ndarray | None = None,
                       style_masks: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Per-vertex sRGB colours for skin and hair.

    Parameters
    ----------
    spec : HeadSpec
    part_ids : np.ndarray, shape (V,) int
        Part label per vertex (only used with ``skin_parts``).
    hair_mask : np.ndarray, shape (V,) bool
        Vertices covered by hair for the default (short) style.
    skin_parts : np.ndarray, shape (K,) int, optional
        Part ids that show skin (head, neck, arms, hands...). Default: every vertex not in ``hair_mask``.
    base : np.ndarray, shape (V, 3) uint8, optional
        Colours to start from (e.g. the garment already painted); default all skin.
    style_masks : dict str -> np.ndarray (V,) bool, optional
        Hair coverage per style when the body provides it (e.g. longer hair for "long"); a style missing
        here falls back to ``hair_mask``. "bald" never paints hair.

    Returns
    -------
    np.ndarray, shape (V, 3) uint8
    """
    part_ids = np.asarray(part_ids)
    hair_mask = np.asarray(hair_mask, bool)
    if part_ids.shape != hair_mask.shape or part_ids.ndim != 1:
        raise ValueError(f"part_ids {part_ids.shape} and hair_mask {hair_mask.shape} must both be (V,)")
    V = len(part_ids)
    out = (np.array(base, np.uint8, copy=True) if base is not None
           else np.tile(np.array(spec.skin, np.uint8), (V, 1)))
    skin = np.isin(part_ids, skin_parts) if skin_parts is not None else np.ones(V, bool)
    out[skin] = spec.skin
    if spec.style != "bald":
        hm = hair_mask if style_masks is None else np.asarray(style_masks.get(spec.style, hair_mask), bool)
        out[hm] = spec.hair
    return out
