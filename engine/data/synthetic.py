"""The synthetic demo world: a dressed mannequin, its flat garment, its head and its pose guides.

One :class:`SyntheticSample` is one *identity* (body shape, skin, hair, trousers) wearing one procedural
garment (:mod:`engine.data.garments`), seen in two different poses and cameras (A and B). It holds every
image a try-on / try-off / multi-pose model needs:

================  ====================  ================================================================
field             shape                 what
================  ====================  ================================================================
``person``        (H, W, 3) uint8       the dressed mannequin in pose A, lit, white background
``garment``       (H, W, 3) uint8       the flat canonical garment (same texture), white background
``head``          (H, head_W, 3) uint8  a frontal head-and-shoulders portrait, garment area drawn as skin
``guide``         (H, W, 3) uint8       the "parts_shaded" guide of pose A, same camera as ``person``
``person_b``      (H, W, 3) uint8       the same identity and garment in pose B
``guide_b``       (H, W, 3) uint8       the guide of pose B
``person_mask``   (H, W) bool           visible garment pixels in ``person``
``person_b_mask`` (H, W) bool           visible garment pixels in ``person_b``
``garment_mask``  (H, W) bool           the garment silhouette in ``garment``
``body_mask``     (H, W) bool           the whole figure in ``person``
``views_person``  (V, H, W, 3) uint8    optional (``views=V``): pose A from V consecutive turntable cameras
``views_guide``   (V, H, W, 3) uint8    optional: the guides of those V views
================  ====================  ================================================================

The optional orbit views are what multi-view training needs: a turntable of N views (N drawn from
:data:`ORBIT_VIEW_COUNTS`, starting at pose A's yaw, every view framed at one shared distance, as
:func:`engine.body.guide.pose_guides` frames the app's turntables), of which the first V are rendered.

Masks are pixel-centre coverage from depth passes; the colour images are anti-aliased, so edge pixels
just outside a mask may be tinted.

Determinism
-----------
Everything is drawn from ``np.random.default_rng(SeedSequence([seed, split_tag, index]))``; no global RNG
is touched. The split tag is a fixed hash of the split name, so "train", "val" and "test" are separate
random streams: the test split is a fixed held-out set for a given ``seed`` (use the default ``seed=0``
for the benchmark test set). Each sample's stream is spawned into independent child streams (garment,
head, shape, pose A, pose B, head view), so changing one sampler does not reshuffle the others.
:meth:`SyntheticWorld.spec` draws a sample's description without rendering it (cheap); samples are
identical for the same code, pose presets and GL driver (another driver may differ by a grey level
at triangle edges).

Rendering uses :class:`engine.body.render.GuideRenderer` (offscreen EGL/OSMesa). Renderers are created
lazily on the first sample, so a world built in a parent process can be forked into data-loader workers
before any GL context exists.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np

from engine.body.camera import Camera, orbit_cameras
from engine.body.skeleton import BODY_JOINT_NAMES
from engine.body.state import BodyState
from engine.data.garments import (WORLD_VERSION, GarmentSpec, flat_garment_image, render_texture,
                                   sample_garment_spec)
from engine.data.heads import HeadSpec, head_vertex_colors, sample_head_spec

SPLITS: tuple[str, ...] = ("train", "val", "test")
PANEL_SIZE: tuple[int, int] = (96, 128)  # (width, height), 3:4 like the garment box
HEAD_WIDTH: int = 64
GARMENT_ASPECT: float = 0.75  # width / height of the mannequin's garment box (garment_uv spans it)

# Trousers and shoes are part of the identity, not of the garment: plain colours, jittered a little.
TROUSER_COLOURS: tuple[tuple[int, int, int], ...] = (
    (40, 55, 90), (70, 95, 140), (25, 25, 30), (90, 90, 95), (170, 150, 110), (80, 70, 55), (210, 205, 195),
)
SHOE_COLOURS: tuple[tuple[int, int, int], ...] = ((20, 20, 22), (240, 240, 238), (95, 60, 35), (60, 60, 70))

# Per-joint pose noise (radians, 1 sigma) added to a preset: "modest", so presets stay recognisable
# and limbs rarely pass through the body.
_JOINT_SIGMA: dict[str, float] = {
    "hip": 0.08, "knee": 0.08, "ankle": 0.05, "foot": 0.03, "spine1": 0.04, "spine2": 0.04, "spine3": 0.04,
    "neck": 0.08, "head": 0.10, "collar": 0.03, "shoulder": 0.12, "elbow": 0.10, "wrist": 0.10,
}
_HAND_SIGMA = 0.05

# Turntable sizes the orbit views are cut from: consecutive views are 360/N degrees apart, as in the app.
ORBIT_VIEW_COUNTS: tuple[int, ...] = (4, 6, 8, 12, 16, 24)

# View yaw (degrees; camera azimuth around the body, 0 = front): mostly front-ish, some side and back.
_VIEW_MIX: tuple[float, float] = (0.70, 0.90)  # cumulative probability of front, side (the rest is back)


# ============================================================================================ sample
@dataclass
class SyntheticSample:
    """One identity wearing one garment, in two poses. See the module docstring for the fields.

    Attributes
    ----------
    person, garment, guide, person_b, guide_b : np.ndarray, shape (H, W, 3) uint8
    head : np.ndarray, shape (H, head_W, 3) uint8
    person_mask, person_b_mask, garment_mask, body_mask : np.ndarray, shape (H, W) bool
    meta : dict
        JSON-serialisable: ``garment`` (GarmentSpec dict), ``head`` (HeadSpec dict), ``betas``,
        ``trousers``, ``shoes``, ``pose_a`` / ``pose_b`` (preset, blend, mirrored, view, camera, state),
        ``head_view``, ``seed``, ``split``, ``index``, ``panel_size``, ``head_width``.
    """

    person: np.ndarray
    garment: np.ndarray
    head: np.ndarray
    guide: np.ndarray
    person_b: np.ndarray
    guide_b: np.ndarray
    person_mask: np.ndarray
    garment_mask: np.ndarray
    person_b_mask: np.ndarray
    body_mask: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    views_person: np.ndarray | None = None   # (V, H, W, 3) uint8, only when rendered with views=V
    views_guide: np.ndarray | None = None

    IMAGE_FIELDS: ClassVar[tuple[str, ...]] = ("person", "garment", "head", "guide", "person_b", "guide_b")
    MASK_FIELDS: ClassVar[tuple[str, ...]] = ("person_mask", "garment_mask", "person_b_mask", "body_mask")
    VIEW_FIELDS: ClassVar[tuple[str, ...]] = ("views_person", "views_guide")

    def arrays(self) -> dict[str, np.ndarray]:
        """All images and masks by field name (no meta), e.g. for ``np.savez``."""
        return {k: getattr(self, k) for k in self.IMAGE_FIELDS + self.MASK_FIELDS}

    @property
    def garment_spec(self) -> GarmentSpec:
        """The garment, rebuilt from ``meta``."""
        return GarmentSpec.from_dict(self.meta["garment"])

    @property
    def head_spec(self) -> HeadSpec:
        """The head, rebuilt from ``meta``."""
        return HeadSpec.from_dict(self.meta["head"])


@dataclass
class SampleSpec:
    """Everything drawn for one sample, before rendering (see :meth:`SyntheticWorld.spec`).

    Attributes
    ----------
    seed, split, index : where it comes from
    garment : GarmentSpec
    head : HeadSpec
    betas : np.ndarray, shape (10,)       body shape (also set in both poses)
    trousers, shoes : tuple of 3 int      sRGB
    pose_a, pose_b : BodyState
    pose_a_info, pose_b_info : dict       preset, blend, blend_weight, mirrored
    view_a, view_b : dict                 camera draw (see :func:`sample_view`)
    head_view : dict                      ``yaw_deg``, ``elevation_deg`` of the portrait
    """

    seed: int
    split: str
    index: int
    garment: GarmentSpec
    head: HeadSpec
    betas: np.ndarray
    trousers: tuple[int, int, int]
    shoes: tuple[int, int, int]
    pose_a: BodyState
    pose_b: BodyState
    pose_a_info: dict[str, Any]
    pose_b_info: dict[str, Any]
    view_a: dict[str, float]
    view_b: dict[str, float]
    head_view: dict[str, float]

    def to_meta(self) -> dict[str, Any]:
        """JSON-serialisable description (the sample's ``meta`` without the cameras)."""
        return {
            "seed": self.seed, "split": self.split, "index": self.index,
            "garment": self.garment.to_dict(), "head": self.head.to_dict(),
            "betas": [float(b) for b in self.betas], "trousers": list(self.trousers), "shoes": list(self.shoes),
            "pose_a": {**self.pose_a_info, "view": dict(self.view_a), "state": self.pose_a.to_dict()},
            "pose_b": {**self.pose_b_info, "view": dict(self.view_b), "state": self.pose_b.to_dict()},
            "head_view": dict(self.head_view),
        }


# ============================================================================================ assets
@dataclass
class _Assets:
    """Everything identity-independent, loaded once per process."""

    model: Any                    # engine.body.model.BodyModel
    parts: Any                    # engine.body.mannequin.MannequinParts
    faces: np.ndarray             # (F, 3) int64
    presets: dict[str, BodyState]  # yaw stripped from global_orient
    head_idx: np.ndarray          # (K,) head + hair vertex ids, to track the head's rigid motion
    head_rest: np.ndarray         # (K, 3) their rest positions (zero betas)
    hair_styles: dict[str, np.ndarray]  # style -> (V,) bool hair coverage
    legs: np.ndarray              # (V,) bool trouser vertices
    feet: np.ndarray              # (V,) bool shoe vertices
    bun_vertices: np.ndarray      # (B, 3) rest-pose bun (zero betas)
    bun_faces: np.ndarray         # (Fb, 3) indices into bun_vertices
    portrait: BodyState           # the relaxed pose of the head portrait
    bust_faces: np.ndarray        # (Fb, 3) faces of head, neck, torso and upper arms (the portrait)
    seam: np.ndarray              # (S,) vertices shared by front and back garment faces (duplicated)
    figure_faces: np.ndarray      # (F, 3) faces with back garment faces moved onto the seam duplicates
    garment_face_ids: np.ndarray  # (G,) garment faces (rows of figure_faces)
    atlas_uv: np.ndarray          # (V + S, 2) uv into the [front | back] texture atlas


@functools.lru_cache(maxsize=1)
def _assets() -> _Assets:
    import trimesh

    from engine.body.mannequin import load_parts
    from engine.body.model import BodyModel
    from engine.body.presets import list_presets, load_preset

    model = BodyModel.load_mannequin()
    parts = load_parts()
    faces = np.asarray(model.faces, np.int64)
    rest_v, rest_j = model.forward(BodyState())
    J = {n: i for i, n in enumerate(model.joint_names)}

    presets = {}
    for name in list_presets():
        s = load_preset(name)
        # The camera owns the view (see sample_view); presets like back_view only bake in a yaw.
        s.global_orient = _strip_yaw(s.global_orient)
        presets[name] = s

    head_idx = np.nonzero(parts.part_mask("head", "hair_region"))[0]

    # Hair coverage per style. "short" and "bun" use the mannequin's hair region; "long" also covers the
    # sides below the ears and the back of the neck (hair falling to the collar).
    hair = parts.hair_mask.astype(bool)
    hc = rest_j[J["head"]]
    rel = rest_v - hc
    head_or_neck = parts.part_mask("head", "neck")
    long_hair = hair | (head_or_neck & (rel[:, 2] < 0.0) & (rel[:, 1] > -0.10)) \
        | (parts.part_mask("head") & (np.abs(rel[:, 0]) > 0.055) & (rel[:, 2] < 0.05))
    hair_styles = {"short": hair, "bun": hair, "long": long_hair}

    pelvis_y = rest_j[J["pelvis"], 1]
    torso = parts.part_mask("torso")
    legs = parts.part_mask("thigh_l", "thigh_r", "shin_l", "shin_r") | (torso & (rest_v[:, 1] < pelvis_y))
    feet = parts.part_mask("foot_l", "foot_r")

    # A bun: a squashed sphere at the back of the crown, half sunk into the head.
    top = rest_v[hair, 1].max()
    back = rest_v[hair, 2].min()
    bun = trimesh.creation.icosphere(subdivisions=2)
    bun_v = np.asarray(bun.vertices) * (0.042, 0.038, 0.036) + (hc[0], top - 0.045, back + 0.01)

    # The mannequin's garment_uv is a front projection shared by front and back, so a chest print would
    # also appear, mirrored, on the back. Back garment faces get their own half of a [front | back]
    # texture atlas instead; the few vertices on the side seams are duplicated so no face straddles it.
    V = len(rest_v)
    gids = parts.garment_faces
    gfaces = faces[gids]
    is_back = parts.rest_normals[gfaces][:, :, 2].mean(1) < 0
    seam = np.intersect1d(np.unique(gfaces[is_back]), np.unique(gfaces[~is_back]))
    remap = np.arange(V)
    remap[seam] = V + np.arange(len(seam))
    figure_faces = faces.copy()
    figure_faces[gids[is_back]] = remap[gfaces[is_back]]
    back_vertex = np.zeros(V + len(seam), bool)
    back_vertex[np.unique(figure_faces[gids[is_back]])] = True
    uv = np.concatenate([parts.garment_uv, parts.garment_uv[seam]]).astype(np.float32)
    atlas_uv = np.stack([0.5 * uv[:, 0] + 0.5 * back_vertex, uv[:, 1]], 1)
    bust = parts.part_mask("head", "hair_region", "neck", "torso", "upper_arm_l", "upper_arm_r")
    return _Assets(model=model, parts=parts, faces=faces, presets=presets, bust_faces=faces[bust[faces].all(1)],
                   head_idx=head_idx, head_rest=rest_v[head_idx].astype(np.float64), hair_styles=hair_styles,
                   legs=legs, feet=feet, bun_vertices=bun_v, bun_faces=np.asarray(bun.faces, np.int64),
                   portrait=presets["a_pose"], seam=seam, figure_faces=figure_faces, garment_face_ids=gids,
                   atlas_uv=atlas_uv)


def _strip_yaw(axis_angle: np.ndarray) -> np.ndarray:
    """Remove the rotation about the vertical axis from a root orientation (keeps lean and tilt)."""
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec(np.asarray(axis_angle, np.float64))
    fwd = rot.apply([0.0, 0.0, 1.0])
    yaw = math.atan2(fwd[0], fwd[2])
    return (Rotation.from_euler("y", -yaw) * rot).as_rotvec().astype(np.float32)


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale s, rotation R and translation t with ``dst ≈ s R src + t`` (Umeyama)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.diag([1.0, 1.0, d])
    R = U @ D @ Vt
    s = float((S * np.diag(D)).sum() / (a * a).sum())
    return s, R, mu_d - s * R @ mu_s


# ============================================================================================ sampling
def _split_tag(split: str) -> int:
    """A stable 32-bit tag per split name (not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(f"omfa-synthetic/{split}".encode()).digest()[:4], "little")


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one sample: a function of (seed, split, index) only."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits are {SPLITS}")
    if index < 0:
        raise ValueError(f"sample index must be >= 0, got {index}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), _split_tag(split), int(index)]))


def _joint_sigma() -> np.ndarray:
    """Per-joint noise sigma for ``body_pose``, shape (21,)."""
    out = np.zeros(len(BODY_JOINT_NAMES))
    for i, name in enumerate(BODY_JOINT_NAMES):
        key = name.removeprefix("left_").removeprefix("right_")
        out[i] = _JOINT_SIGMA.get(key, 0.04)
    return out


def sample_pose(rng: np.random.Generator, presets: dict[str, BodyState], exclude: str | None = None
                ) -> tuple[BodyState, dict[str, Any]]:
    """A natural random pose: a preset, sometimes blended with another, jittered, maybe mirrored.

    Parameters
    ----------
    rng : np.random.Generator
    presets : dict name -> BodyState
        Pose presets (root yaw removed: the view is the camera's job).
    exclude : str, optional
        A preset not to start from (so pose B differs from pose A).

    Returns
    -------
    state : BodyState     zero betas and translation
    info : dict           JSON-serialisable: ``preset``, ``blend``, ``blend_weight``, ``mirrored``
    """
    names = sorted(n for n in presets if n != exclude)
    name = names[int(rng.integers(len(names)))]
    full = presets[name].full_pose().astype(np.float64)
    blend, w = None, 0.0
    if rng.random() < 0.5:
        # Linear blending of axis-angles is fine for the small weights used here.
        others = sorted(n for n in presets if n != name)
        blend = others[int(rng.integers(len(others)))]
        w = float(rng.uniform(0.1, 0.35))
        full = (1 - w) * full + w * presets[blend].full_pose()
    full[1:22] += rng.normal(0, 1, (21, 3)) * _joint_sigma()[:, None]
    full[25:55] += rng.normal(0, _HAND_SIGMA, (30, 3))
    full[0] += rng.normal(0, 0.03, 3)  # a little lean
    state = BodyState.from_full_pose(full)
    mirrored = bool(rng.random() < 0.5)
    if mirrored:
        state = state.mirrored()
    return state, {"preset": name, "blend": blend, "blend_weight": w, "mirrored": mirrored}


def sample_view(rng: np.random.Generator) -> dict[str, float]:
    """Camera parameters for :func:`orbit_cameras`: yaw (mostly front-ish), elevation, fov, margin, shift.

    Returns
    -------
    dict with floats ``yaw_deg`` (0 = front, 90 = the body's left side), ``elevation_deg``, ``fov_deg``,
    ``margin`` and ``shift_x``, ``shift_y`` (orbit-centre offset in metres, moves the figure in the frame).
    """
    u = rng.random()
    if u < _VIEW_MIX[0]:
        yaw = float(np.clip(rng.normal(0, 18), -40, 40))
    elif u < _VIEW_MIX[1]:
        yaw = float(rng.choice([-1.0, 1.0]) * rng.uniform(50, 110))
    else:
        yaw = float(180 + np.clip(rng.normal(0, 18), -40, 40))
    return {"yaw_deg": yaw, "elevation_deg": float(np.clip(rng.normal(3, 4), -5, 12)),
            "fov_deg": float(rng.uniform(25, 35)), "margin": float(rng.uniform(0.04, 0.12)),
            "shift_x": float(rng.normal(0, 0.03)), "shift_y": float(rng.normal(0, 0.03))}


# ============================================================================================ world
class SyntheticWorld:
    """A deterministic, endless stream of :class:`SyntheticSample` per split.

    Parameters
    ----------
    panel_size : (width, height)
        Size of every full-body panel (person, garment, guides). 3:4 keeps the garment box undistorted.
    head_width : int
        Width of the head portrait; its height is the panel height.
    seed : int
        World seed; (seed, split, index) fixes a sample.

    Examples
    --------
    >>> world = SyntheticWorld()
    >>> s = world.sample(0, "test")
    >>> s.person.shape, s.head.shape
    ((128, 96, 3), (128, 64, 3))
    """

    def __init__(self, panel_size: tuple[int, int] = PANEL_SIZE, head_width: int = HEAD_WIDTH,
                 seed: int = 0) -> None:
        w, h = (int(x) for x in panel_size)
        if w < 8 or h < 8 or head_width < 8:
            raise ValueError(f"panel {w}x{h} / head width {head_width} too small (min 8 px)")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.width, self.height, self.head_width, self.seed = w, h, int(head_width), int(seed)
        self._renderers: dict[tuple[int, int], Any] = {}
        self._silhouette: tuple[np.ndarray, tuple[int, int, int, int]] | None = None

    @property
    def panel_size(self) -> tuple[int, int]:
        return self.width, self.height

    # ------------------------------------------------------------------ public
    def spec(self, index: int, split: str = "train") -> SampleSpec:
        """Draw everything about sample ``index`` of ``split`` without rendering (cheap, deterministic)."""
        a = _assets()
        rng = sample_rng(self.seed, split, index)
        r_garment, r_head, r_body, r_pose_a, r_pose_b, r_head_view = rng.spawn(6)

        garment = sample_garment_spec(r_garment)
        head = sample_head_spec(r_head)
        betas = np.clip(r_body.normal(0, 0.6, 10), -1.5, 1.5).astype(np.float32)
        trousers = _jitter(TROUSER_COLOURS[int(r_body.integers(len(TROUSER_COLOURS)))], r_body, 8)
        shoes = _jitter(SHOE_COLOURS[int(r_body.integers(len(SHOE_COLOURS)))], r_body, 6)
        state_a, info_a = sample_pose(r_pose_a, a.presets)
        state_b, info_b = sample_pose(r_pose_b, a.presets, exclude=info_a["preset"])
        view_a, view_b = sample_view(r_pose_a), sample_view(r_pose_b)
        head_view = {"yaw_deg": float(np.clip(r_head_view.normal(0, 10), -25, 25)),
                     "elevation_deg": float(r_head_view.uniform(-3, 6))}
        for s in (state_a, state_b):
            s.betas = betas
        return SampleSpec(seed=self.seed, split=split, index=int(index), garment=garment, head=head, betas=betas,
                          trousers=trousers, shoes=shoes, pose_a=state_a, pose_b=state_b, pose_a_info=info_a,
                          pose_b_info=info_b, view_a=view_a, view_b=view_b, head_view=head_view)

    def sample(self, index: int, split: str = "train", views: int = 0) -> SyntheticSample:
        """The sample ``index`` of ``split`` (deterministic): ``render(spec(index, split), views)``.

        Parameters
        ----------
        index : int       >= 0
        split : str       one of :data:`SPLITS`
        views : int       also render this many consecutive turntable views of pose A (0: none)

        Returns
        -------
        SyntheticSample
        """
        return self.render(self.spec(index, split), views)

    def orbit_count(self, spec: SampleSpec) -> int:
        """N of the turntable a sample's orbit views are cut from (views are 360/N degrees apart).

        Drawn from the sample's 7th child stream, after the six :meth:`spec` uses, so every other draw of
        the sample stays what it was before orbit views existed."""
        rng = sample_rng(spec.seed, spec.split, spec.index)
        rng.spawn(6)
        return int(rng.spawn(1)[0].choice(ORBIT_VIEW_COUNTS))

    def render(self, spec: SampleSpec, views: int = 0) -> SyntheticSample:
        """Render a drawn (or hand-edited) :class:`SampleSpec` into images and masks (and ``views`` orbit
        views of pose A when asked)."""
        if views < 0:
            raise ValueError(f"views must be >= 0, got {views}")
        a = _assets()
        states = [spec.pose_a.copy(), spec.pose_b.copy(), a.portrait.copy()]
        for st in states:  # one identity: spec.betas wins even if a pose was edited
            st.betas = np.asarray(spec.betas, np.float32)
        # Pose A, pose B and the relaxed portrait pose in one LBS batch.
        with _torch_threads(1):
            verts, _ = a.model.forward_batch(states)

        colors = self._vertex_colors(spec.head, spec.trousers, spec.shoes)
        atlas = self._texture_atlas(spec.garment)
        sil, (bh, bw, top, left) = self._garment_silhouette()
        garment = np.full((self.height, self.width, 3), 255, np.uint8)
        garment[top:top + bh, left:left + bw] = flat_garment_image(spec.garment, sil)
        garment_mask = np.zeros((self.height, self.width), bool)
        garment_mask[top:top + bh, left:left + bw] = sil

        person, guide, pmask, body_mask, cam_a = self._render_pose(verts[0], spec.view_a, spec.head, colors,
                                                                   atlas)
        person_b, guide_b, pmask_b, _, cam_b = self._render_pose(verts[1], spec.view_b, spec.head, colors, atlas)
        head = self._render_head(verts[2], spec.head_view, spec.head, colors)

        meta = spec.to_meta()
        meta.update(panel_size=[self.width, self.height], head_width=self.head_width, world_version=WORLD_VERSION)
        meta["pose_a"]["camera"] = cam_a.to_dict()
        meta["pose_b"]["camera"] = cam_b.to_dict()
        views_person = views_guide = None
        if views:
            n = self.orbit_count(spec)
            views_person, views_guide = self._render_orbit(verts[0], spec.view_a, spec.head, colors, atlas, n, views)
            meta["orbit"] = {"turntable_views": n, "rendered": views, "step_deg": 360.0 / n}
        return SyntheticSample(person=person, garment=garment, head=head, guide=guide, person_b=person_b,
                               guide_b=guide_b, person_mask=pmask, garment_mask=garment_mask,
                               person_b_mask=pmask_b, body_mask=body_mask, meta=meta,
                               views_person=views_person, views_guide=views_guide)

    @staticmethod
    def to_arrays(samples: list[SyntheticSample]) -> dict[str, np.ndarray]:
        """Stack samples field by field: images (N, H, W, 3) uint8, masks (N, H, W) bool."""
        if not samples:
            raise ValueError("no samples to stack")
        keys = SyntheticSample.IMAGE_FIELDS + SyntheticSample.MASK_FIELDS
        if all(s.views_person is not None for s in samples):
            keys += SyntheticSample.VIEW_FIELDS
        return {k: np.stack([getattr(s, k) for s in samples]) for k in keys}

    def close(self) -> None:
        """Release the renderers (the GL contexts stay cached by engine.body.render for reuse)."""
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

    # ------------------------------------------------------------------ internals
    def _renderer(self, width: int, height: int):
        from engine.body.render import GuideRenderer

        key = (width, height)
        if key not in self._renderers:
            self._renderers[key] = GuideRenderer(width, height, "parts_shaded")
        return self._renderers[key]

    def _garment_box(self) -> tuple[int, int, int, int]:
        """(height, width, top, left) of the largest 3:4 garment box centred in the panel."""
        bh, bw = self.height, int(round(self.height * GARMENT_ASPECT))
        if bw > self.width:
            bw, bh = self.width, int(round(self.width / GARMENT_ASPECT))
        return bh, bw, (self.height - bh) // 2, (self.width - bw) // 2

    def _garment_silhouette(self) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        if self._silhouette is None:  # identity-independent and ~25 ms to draw: once per world
            box = self._garment_box()
            self._silhouette = (_assets().parts.garment_silhouette(box[0], box[1]), box)
        return self._silhouette

    def _texture_atlas(self, gspec: GarmentSpec) -> np.ndarray:
        """[front | back] garment texture, shape (bh, 2 bw, 3) uint8, at the flat image's resolution.

        Prints (a block or letters) are on the front only, as on a real T-shirt; all-over patterns
        continue round the back.
        """
        bh, bw = self._garment_box()[:2]
        front = render_texture(gspec, bh, bw)
        if gspec.family in ("print_block", "letters"):
            back = np.empty_like(front)
            back[:] = np.asarray(gspec.primary, np.uint8)
        else:
            back = front
        return np.concatenate([front, back], 1)

    def _vertex_colors(self, hspec: HeadSpec, trousers: tuple[int, int, int],
                       shoes: tuple[int, int, int]) -> np.ndarray:
        """Per-vertex sRGB (V, 3) uint8: skin and hair, trousers, shoes.

        Garment vertices keep the colour of the body under them (skin, or trousers below the waist): the
        faces straddling a hem or sleeve end are drawn with vertex colours, and this way they look like the
        body, not like a band of blended colour, so the garment ends exactly where ``person_mask`` ends.
        """
        a = _assets()
        colors = head_vertex_colors(hspec, a.parts.part_id, a.parts.hair_mask, style_masks=a.hair_styles)
        colors[a.legs] = trousers
        colors[a.feet] = shoes
        return colors

    def _figure(self, vertices: np.ndarray, colors: np.ndarray, hspec: HeadSpec
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The dressed figure's mesh: body with the seam duplicates, plus the bun when the style has one.

        Returns
        -------
        vertices : (V', 3), faces : (F', 3), colors : (V', 3) uint8, uv : (V', 2) atlas coordinates
        (the garment faces are ``faces[garment_face_ids]``; the body's own faces come first).
        """
        a = _assets()
        v = np.concatenate([vertices, vertices[a.seam]])
        c = np.concatenate([colors, colors[a.seam]])
        v, f, c = _add_bun(v, a.figure_faces, c, vertices, hspec)
        uv = np.concatenate([a.atlas_uv, np.zeros((len(v) - len(a.atlas_uv), 2), np.float32)])
        return v, f, c, uv

    def _render_pose(self, vertices: np.ndarray, view: dict[str, float], hspec: HeadSpec, colors: np.ndarray,
                     atlas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Camera]:
        """Person image, guide, visible-garment mask, figure mask and the camera of one posed body."""
        a = _assets()
        r = self._renderer(self.width, self.height)
        v, f, c, uv = self._figure(vertices, colors, hspec)
        center = 0.5 * (v.min(0) + v.max(0)) + np.array([view["shift_x"], view["shift_y"], 0.0])
        # Framing over every vertex (bun included) keeps the whole figure inside the panel.
        cam = orbit_cameras(v, 1, view["elevation_deg"], self.width, self.height, fov_deg=view["fov_deg"],
                            margin=view["margin"], start_azimuth_deg=view["yaw_deg"], center=center)[0]
        gfaces = np.zeros(len(f), bool)
        gfaces[a.garment_face_ids] = True
        person = r.render_appearance(v, f, cam, c, garment=(gfaces, uv, atlas))[0]
        guide = r.render(vertices, a.faces, cam)[0]
        # Depth of the garment and of the rest, separately: the garment is visible where it is nearer
        # than everything else (two passes over disjoint faces cost less than garment + whole figure).
        depth_g = r.render_depth(*_compact(v, f[gfaces])[:2], cam)[0]
        depth_o = r.render_depth(*_compact(v, f[~gfaces])[:2], cam)[0]
        pmask = (depth_g > 0) & ((depth_o == 0) | (depth_g <= depth_o))
        return person, guide, pmask, (depth_g > 0) | (depth_o > 0), cam

    def _render_orbit(self, vertices: np.ndarray, view: dict[str, float], hspec: HeadSpec, colors: np.ndarray,
                      atlas: np.ndarray, turntable: int, views: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``views`` of a ``turntable``-view orbit of one posed body, from ``view``'s yaw:
        person images and guides, each (views, H, W, 3) uint8. One distance frames every view of the
        turntable (the figure keeps its scale round the orbit, as in the app); the views are consecutive,
        wrapping round when ``views`` exceeds ``turntable``."""
        a = _assets()
        r = self._renderer(self.width, self.height)
        v, f, c, uv = self._figure(vertices, colors, hspec)
        center = 0.5 * (v.min(0) + v.max(0)) + np.array([view["shift_x"], view["shift_y"], 0.0])
        ring = orbit_cameras(v, turntable, view["elevation_deg"], self.width, self.height, fov_deg=view["fov_deg"],
                             margin=view["margin"], start_azimuth_deg=view["yaw_deg"], center=center)
        cams = [ring[j % turntable] for j in range(views)]
        gfaces = np.zeros(len(f), bool)
        gfaces[a.garment_face_ids] = True
        persons = np.stack(r.render_appearance(v, f, cams, c, garment=(gfaces, uv, atlas)))
        guides = np.stack(r.render(vertices, a.faces, cams))
        return persons, guides

    def _render_head(self, vertices: np.ndarray, view: dict[str, float], hspec: HeadSpec,
                     colors: np.ndarray) -> np.ndarray:
        """A head-and-shoulders portrait in the relaxed pose, the head filling the crop's width.

        Drawn with vertex colours only (the garment area is skin), so the portrait carries the identity and
        never the garment.
        """
        a = _assets()
        v, f, c = _add_bun(vertices, a.bust_faces, colors, vertices, hspec)
        # The head (hair and bun included) fixes the framing; the shoulders run out of the bottom edge.
        head = np.concatenate([vertices[a.head_idx], v[len(vertices):]])
        margin = 0.08
        cam = orbit_cameras(head, 1, view["elevation_deg"], self.head_width, self.height, fov_deg=20.0,
                            margin=margin, start_azimuth_deg=view["yaw_deg"])[0]
        # Move the principal point so the crown sits just below the top edge (a crop of a taller view).
        top = float(cam.project(head)[0][:, 1].min())
        cam = replace(cam, cy=cam.cy - (top - margin * self.height / 2))
        v, f, c = _compact(v, f, c)
        return self._renderer(self.head_width, self.height).render_appearance(v, f, cam, c)[0]


def _add_bun(v: np.ndarray, f: np.ndarray, c: np.ndarray, body: np.ndarray, hspec: HeadSpec
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Append the bun to a mesh (v, f, c) when the style has one; it follows the ``body``'s head rigidly,
    with the head's scale (which betas[9] changes)."""
    if hspec.style != "bun":
        return v, f, c
    a = _assets()
    s, R, t = _similarity(a.head_rest, body[a.head_idx].astype(np.float64))
    bun = (s * a.bun_vertices @ R.T + t).astype(v.dtype)
    return (np.concatenate([v, bun]), np.concatenate([f, a.bun_faces + len(v)]),
            np.concatenate([c, np.tile(np.array(hspec.hair, np.uint8), (len(bun), 1))]))


def _compact(v: np.ndarray, f: np.ndarray, *per_vertex: np.ndarray) -> tuple[np.ndarray, ...]:
    """Drop the vertices no face uses (the renderer computes normals for every vertex it is given).

    Returns ``(v', f', *per_vertex')`` with ``f'`` re-indexed into ``v'``.
    """
    used, inverse = np.unique(f, return_inverse=True)
    return (v[used], inverse.reshape(f.shape), *(a[used] for a in per_vertex))


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Temporarily cap torch's intra-op threads. A 14k-vertex LBS gains nothing from threads, and
    OpenMP's spin-waiting makes it ~5x slower when another process holds one of the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _jitter(c: tuple[int, int, int], rng: np.random.Generator, sigma: float) -> tuple[int, int, int]:
    r, g, b = (int(x) for x in np.clip(np.array(c) + rng.normal(0, sigma, 3), 0, 255).round())
    return r, g, b


# ============================================================================================ contact sheet
SHEET_COLUMNS: tuple[str, ...] = ("person", "garment", "head", "guide", "person_b", "guide_b")


def sample_grid(samples: list[SyntheticSample], gap: int = 4, header: bool = True) -> np.ndarray:
    """A contact sheet: one row per sample, columns :data:`SHEET_COLUMNS`.

    Returns
    -------
    np.ndarray, shape (H_sheet, W_sheet, 3) uint8
    """
    from PIL import Image, ImageDraw

    if not samples:
        raise ValueError("no samples")
    grey = np.array([170, 170, 170], np.uint8)
    rows = []
    for s in samples:
        cells = [getattr(s, k) for k in SHEET_COLUMNS]
        h = cells[0].shape[0]
        row = []
        for c in cells:
            row += [c, np.tile(grey, (h, gap, 1))]
        rows += [np.concatenate(row[:-1], 1), np.tile(grey, (gap, sum(c.shape[1] for c in row[:-1]), 1))]
    sheet = np.concatenate(rows[:-1], 0)
    if header:
        top = Image.new("RGB", (sheet.shape[1], 14), (255, 255, 255))
        draw = ImageDraw.Draw(top)
        x = 0
        for k, c in zip(SHEET_COLUMNS, (getattr(samples[0], k) for k in SHEET_COLUMNS)):
            draw.text((x + 2, 1), k, fill=(20, 20, 20))
            x += c.shape[1] + gap
        sheet = np.concatenate([np.asarray(top), sheet], 0)
    return sheet


def render_sample_grid(world: SyntheticWorld, n: int = 8, split: str = "test", path: str | Path | None = None,
                       start: int = 0) -> np.ndarray:
    """Render samples ``start .. start + n - 1`` of ``split`` as a contact sheet, optionally saved as PNG.

    Returns
    -------
    np.ndarray, shape (H_sheet, W_sheet, 3) uint8
    """
    sheet = sample_grid([world.sample(start + i, split) for i in range(n)])
    if path is not None:
        from PIL import Image

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(path)
    return sheet


def main(argv: list[str] | None = None) -> None:
    """``python -m engine.data.synthetic [--n 8] [--split test] [--out docs/data/synthetic_samples.png]``."""
    import argparse

    ap = argparse.ArgumentParser(description="Write a contact sheet of the synthetic world.")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--split", default="test", choices=SPLITS)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default=f"{PANEL_SIZE[0]}x{PANEL_SIZE[1]}", help="panel WIDTHxHEIGHT")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parents[2] / "docs" / "data" / "synthetic_samples.png")
    args = ap.parse_args(argv)
    w, h = (int(x) for x in args.size.lower().split("x"))
    world = SyntheticWorld((w, h), head_width=max(8, int(round(HEAD_WIDTH * h / PANEL_SIZE[1]))), seed=args.seed)
    render_sample_grid(world, args.n, args.split, args.out, start=args.start)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
