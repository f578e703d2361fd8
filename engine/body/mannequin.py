"""Deterministic generator of the OMFA mannequin, a procedural body in SMPL-X format.

``python -m engine.body.mannequin`` rebuilds ``resources/body/omfa_mannequin_smplx.npz`` (what ``smplx.SMPLX``
loads) and ``resources/body/omfa_mannequin_parts.npz`` (part labels, garment and head maps for colouring).

How it is made
--------------
1. A signed-distance field of smoothly-unioned tapered capsules and ellipsoids (torso, limbs, hands with
   five fingers, feet, egg-shaped head with a nose) is evaluated on a 3 mm grid, each primitive only inside
   its own bounding box, and meshed with ``skimage.measure.marching_cubes``.
2. The mesh is decimated with ``fast_simplification`` to ~14k vertices and Taubin-smoothed (trimesh).
3. Vertices are re-ordered so that the real SMPL-X vertex ids smplx hard-codes for its extra keypoints
   (nose 9120, eyes, ears, toes, heels, finger tips; all < 9930) land on the matching places of the
   mannequin: plain ``smplx.SMPLX(path)`` gives sensible keypoints without replacing its
   ``vertex_joint_selector``.
4. Skinning weights come from distances to bone segments with a soft falloff (at most 4 influences);
   the joint regressor reproduces the rest joints exactly from rings of nearby vertices; the shape
   directions are analytic (height, girth, shoulder width, ...); posedirs are zero (a mannequin has no pose
   correctives); hand PCA comes from procedural grasp poses.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.body.skeleton import FINGERS, JOINT_NAMES, PARENTS, _rest_skeleton, leaf_tips

RESOURCE_DIR = Path(__file__).resolve().parents[2] / "resources" / "body"
MANNEQUIN_PATH = RESOURCE_DIR / "omfa_mannequin_smplx.npz"
PARTS_PATH = RESOURCE_DIR / "omfa_mannequin_parts.npz"

#: Body parts, in the order of ``part_id``.
PART_NAMES: tuple[str, ...] = (
    "head", "hair_region", "neck", "torso",
    "upper_arm_l", "upper_arm_r", "forearm_l", "forearm_r", "hand_l", "hand_r",
    "thigh_l", "thigh_r", "shin_l", "shin_r", "foot_l", "foot_r",
)

GRID_STEP = 0.003  # metres; fingers are ~17 mm thick, so ~5 samples across
TARGET_VERTICES = 14000
PELVIS_HEIGHT = 0.955  # the output is shifted so the pelvis joint sits at the origin, as in SMPL-X
J = {n: i for i, n in enumerate(JOINT_NAMES)}


# ----------------------------------------------------------------------------------------- primitives
@dataclass
class Capsule:
    """Tapered capsule from ``a`` (radius ``ra``) to ``b`` (radius ``rb``); ``k`` is its blend radius."""

    a: tuple
    b: tuple
    ra: float
    rb: float
    k: float = 0.02

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        a, b = np.asarray(self.a), np.asarray(self.b)
        r = max(self.ra, self.rb)
        return np.minimum(a, b) - r, np.maximum(a, b) + r

    def sdf(self, p: np.ndarray) -> np.ndarray:
        a, b = np.asarray(self.a, np.float32), np.asarray(self.b, np.float32)
        ab = b - a
        t = np.clip(((p - a) @ ab) / float(ab @ ab), 0.0, 1.0)
        closest = a + t[..., None] * ab
        return np.linalg.norm(p - closest, axis=-1) - (self.ra + (self.rb - self.ra) * t)


@dataclass
class Ellipsoid:
    """Axis-aligned ellipsoid (approximate distance, Quilez's bound); ``k`` is its blend radius."""

    c: tuple
    r: tuple
    k: float = 0.02

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        c, r = np.asarray(self.c), np.asarray(self.r)
        return c - r, c + r

    def sdf(self, p: np.ndarray) -> np.ndarray:
        q = (p - np.asarray(self.c, np.float32)) / np.asarray(self.r, np.float32)
        k0 = np.linalg.norm(q, axis=-1)
        k1 = np.linalg.norm(q / np.asarray(self.r, np.float32), axis=-1)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def _primitives(rest: np.ndarray) -> list:
    """The shapes that make the figure (soles at y=0, left = +x, facing +z)."""
    P: list = []
    # Torso: pelvis block, buttocks, waist, rib cage, pectorals, shoulder yoke.
    P += [
        Ellipsoid((0, 0.935, -0.005), (0.155, 0.115, 0.100), 0.04),
        Ellipsoid((0, 1.04, 0.0), (0.135, 0.10, 0.095), 0.05),
        Ellipsoid((0, 1.13, -0.005), (0.125, 0.11, 0.088), 0.05),
        Ellipsoid((0, 1.27, 0.0), (0.150, 0.13, 0.100), 0.05),
        Ellipsoid((0, 1.36, -0.005), (0.165, 0.085, 0.092), 0.04),
        Capsule((-0.12, 1.405, -0.015), (0.12, 1.405, -0.015), 0.058, 0.058, 0.04),
    ]
    for s in (1, -1):
        P += [
            Ellipsoid((0.068 * s, 0.905, -0.055), (0.078, 0.085, 0.068), 0.03),   # buttock
            Ellipsoid((0.068 * s, 1.31, 0.058), (0.072, 0.058, 0.045), 0.035),   # pectoral
            Capsule((0.03 * s, 1.445, -0.02), (0.15 * s, 1.43, -0.015), 0.045, 0.05, 0.03),  # trapezius
            Ellipsoid((0.175 * s, 1.42, -0.012), (0.065, 0.06, 0.058), 0.03),     # deltoid
        ]
    # Neck and head (egg, chin, nose, brow).
    P += [
        Capsule((0, 1.42, -0.02), (0, 1.59, -0.005), 0.055, 0.05, 0.035),
        Ellipsoid((0, 1.645, 0.012), (0.074, 0.098, 0.092), 0.03),
        Ellipsoid((0, 1.585, 0.045), (0.05, 0.05, 0.05), 0.03),
        Ellipsoid((0, 1.628, 0.097), (0.011, 0.022, 0.014), 0.012),
        Ellipsoid((0, 1.672, 0.07), (0.06, 0.02, 0.03), 0.02),
    ]
    for side, s in (("left", 1), ("right", -1)):
        sh, el, wr = rest[J[f"{side}_shoulder"]], rest[J[f"{side}_elbow"]], rest[J[f"{side}_wrist"]]
        hip, kn, an = rest[J[f"{side}_hip"]], rest[J[f"{side}_knee"]], rest[J[f"{side}_ankle"]]
        P += [
            Capsule(tuple(sh), tuple(el), 0.047, 0.036, 0.02),
            Ellipsoid(tuple(sh + (el - sh) * 0.45 + (0, 0.004, 0)), (0.11, 0.044, 0.045), 0.02),  # biceps
            Capsule(tuple(el), tuple(wr), 0.037, 0.026, 0.02),
            Ellipsoid(tuple(el + (wr - el) * 0.3), (0.09, 0.04, 0.041), 0.02),  # forearm muscle
            # Palm: a flat rounded slab from wrist to knuckles.
            Ellipsoid(tuple(wr + (0.052 * s, -0.003, 0.0)), (0.058, 0.018, 0.046), 0.012),
            Capsule(tuple(hip + (0.005 * s, 0.02, 0)), tuple(kn), 0.085, 0.053, 0.04),
            Ellipsoid(tuple(hip + (kn - hip) * 0.35 + (0.01 * s, 0, 0.005)), (0.078, 0.16, 0.082), 0.03),
            Capsule(tuple(kn), tuple(an), 0.052, 0.033, 0.02),
            Ellipsoid(tuple(kn + (an - kn) * 0.3 + (0, 0, -0.012)), (0.055, 0.13, 0.055), 0.025),  # calf
            Ellipsoid(tuple(an + (0, -0.005, 0)), (0.04, 0.045, 0.045), 0.02),
            # Foot: heel to toes; the sole is cut flat at y=0 below.
            Capsule(tuple(an + (0, -0.045, -0.03)), tuple(rest[J[f"{side}_foot"]] + (0.008 * s, 0.0, 0.045)),
                    0.038, 0.03, 0.02),
            Ellipsoid(tuple(rest[J[f"{side}_foot"]] + (0.0, 0.0, 0.02)), (0.045, 0.03, 0.07), 0.02),
        ]
        tips = leaf_tips(rest)
        for f in FINGERS:
            pts = [rest[J[f"{side}_{f}{i}"]] for i in (1, 2, 3)] + [tips[J[f"{side}_{f}3"]]]
            r0 = {"thumb": 0.0100, "index": 0.0083, "middle": 0.0085, "ring": 0.0080, "pinky": 0.0070}[f]
            radii = [r0, r0 * 0.93, r0 * 0.86, r0 * 0.78]
            if f == "thumb":  # the thumb's root muscle merges into the palm
                P.append(Capsule(tuple(wr + (0.01 * s, -0.008, 0.012)), tuple(pts[0]), 0.016, 0.012, 0.012))
            else:
                P.append(Capsule(tuple(wr + (0.04 * s, -0.002, (pts[0][2] - wr[2]) * 0.7)), tuple(pts[0]),
                                 0.011, r0, 0.008))
            for i in range(3):
                P.append(Capsule(tuple(pts[i]), tuple(pts[i + 1]), radii[i], radii[i + 1], 0.002))
    return P


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (blend radius k)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _sdf_grid(prims: list, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate the smooth union on a grid, each primitive only inside its padded bounding box.

    Returns
    -------
    sdf : np.ndarray, shape (NX, NY, NZ) float32
    origin : np.ndarray, shape (3,)
    """
    lo = np.min([p.bounds()[0] for p in prims], axis=0) - 0.02
    hi = np.max([p.bounds()[1] for p in prims], axis=0) + 0.02
    lo[1] = -0.01  # the sole plane
    n = np.ceil((hi - lo) / step).astype(int) + 1
    far = 0.03  # values beyond this are never near the surface; clamping keeps unions local
    sdf = np.full(tuple(n), far, np.float32)
    axes = [lo[i] + step * np.arange(n[i], dtype=np.float32) for i in range(3)]
    for prim in prims:
        plo, phi = prim.bounds()
        pad = far + prim.k
        i0 = np.maximum(np.floor((plo - pad - lo) / step).astype(int), 0)
        i1 = np.minimum(np.ceil((phi + pad - lo) / step).astype(int) + 1, n)
        sub = np.stack(np.meshgrid(*[axes[i][i0[i]:i1[i]] for i in range(3)], indexing="ij"), -1)
        d = np.minimum(prim.sdf(sub), far)
        view = sdf[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]]
        view[...] = _smin(view, d, prim.k)
    # Flat soles: intersect with the half space y >= 0.
    y = axes[1][None, :, None]
    sdf = np.maximum(sdf, -y)
    return sdf, lo


def _build_mesh(rest: np.ndarray, step: float = GRID_STEP, target: int = TARGET_VERTICES):
    """Marching cubes + decimation + smoothing. Returns a watertight trimesh.Trimesh."""
    import fast_simplification
    import trimesh
    from skimage.measure import marching_cubes

    sdf, origin = _sdf_grid(_primitives(rest), step)
    verts, faces, _, _ = marching_cubes(sdf, level=0.0, spacing=(step,) * 3)
    verts = verts + origin
    mesh = trimesh.Trimesh(verts, faces, process=True)
    # Keep the one body (tiny specks could come from numerical noise).
    parts = mesh.split(only_watertight=False)
    mesh = max(parts, key=lambda m: len(m.vertices))
    ratio = 1.0 - target / len(mesh.vertices)
    v, f = fast_simplification.simplify(mesh.vertices.astype(np.float64), mesh.faces, target_reduction=ratio,
                                        agg=5)
    mesh = trimesh.Trimesh(v, f, process=True)
    trimesh.smoothing.filter_taubin(mesh, lamb=0.5, nu=-0.53, iterations=10)
    mesh.fix_normals()
    return mesh


# ------------------------------------------------------------------------------------------ skinning
def _bones(rest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One segment per skinned joint: from the joint to its (first) child or leaf tip.

    Returns
    -------
    starts, ends : np.ndarray, shape (B, 3)
    joint : np.ndarray, shape (B,) joint index that moves the bone
    """
    tips = leaf_tips(rest)
    child = {
        J["pelvis"]: J["spine1"], J["spine1"]: J["spine2"], J["spine2"]: J["spine3"],
        J["spine3"]: J["neck"], J["neck"]: J["head"],
    }
    starts, ends, joint = [], [], []
    for j, name in enumerate(JOINT_NAMES):
        if name in ("jaw", "left_eye_smplhf", "right_eye_smplhf"):
            continue  # no mouth or eyeballs on a mannequin
        if j in child:
            c = rest[child[j]]
        elif j in tips:
            c = tips[j]
        else:
            kids = np.where(PARENTS == j)[0]
            if name.endswith("wrist"):  # the palm: wrist to middle knuckle
                kids = [J[name.replace("wrist", "middle1")]]
            c = rest[kids[0]]
        a = rest[j]
        if name.endswith("collar"):  # collar bone runs neck base -> shoulder
            a = rest[j]
        starts.append(a)
        ends.append(c)
        joint.append(j)
    # The pelvis also owns a segment across the hips, so buttocks and crotch follow it.
    starts.append(rest[J["left_hip"]] + (0, 0.03, 0))
    ends.append(rest[J["right_hip"]] + (0, 0.03, 0))
    joint.append(J["pelvis"])
    return np.array(starts), np.array(ends), np.array(joint)


def _segment_distance(v: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from points (V,3) to segments (B,3)->(B,3); returns (V,B) distances and (V,B) t."""
    ab = b - a
    t = np.einsum("vbk,bk->vb", v[:, None, :] - a[None], ab) / np.maximum((ab * ab).sum(-1), 1e-12)
    t = np.clip(t, 0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(v[:, None, :] - closest, axis=-1), t


def _region_mask(v: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Which joints may influence each vertex (V,55) bool: stops bones reaching across the body."""
    allowed = np.ones((len(v), len(JOINT_NAMES)), bool)
    x, y = v[:, 0], v[:, 1]
    sh_x = rest[J["left_shoulder"], 0]
    hip_y = rest[J["left_hip"], 1]
    for s in (1.0, -1.0):  # left, right
        other = [j for j, n in enumerate(JOINT_NAMES) if n.startswith("right_" if s > 0 else "left_")]
        own_side = s * x > 0.02
        allowed[np.ix_(own_side, other)] = False
    # Legs never pull the upper body, arms never pull below the chest.
    legs = [J[f"{s}_{p}"] for s in ("left", "right") for p in ("hip", "knee", "ankle", "foot")]
    allowed[np.ix_(y > hip_y + 0.12, legs)] = False
    arm_joints = [j for j, n in enumerate(JOINT_NAMES)
                  if any(k in n for k in ("shoulder", "elbow", "wrist", "index", "middle", "ring", "pinky",
                                          "thumb"))]
    allowed[np.ix_(np.abs(x) < sh_x - 0.06, arm_joints)] = False
    allowed[np.ix_(y < rest[J["spine2"], 1] - 0.05, arm_joints)] = False
    head_y = rest[J["neck"], 1]
    allowed[np.ix_(y > head_y + 0.07, [J["spine3"], J["left_collar"], J["right_collar"]])] = False
    return allowed


def skinning_weights(v: np.ndarray, rest: np.ndarray, max_influences: int = 4) -> np.ndarray:
    """Smooth LBS weights from distances to bone segments.

    Each vertex prefers its nearest bone; bones within a few centimetres of the nearest one blend in
    with a soft exponential falloff, which spreads the bend over the joint and avoids tearing.

    Parameters
    ----------
    v : np.ndarray, shape (V, 3) rest vertices
    rest : np.ndarray, shape (55, 3) rest joints

    Returns
    -------
    np.ndarray, shape (V, 55), rows sum to 1, at most ``max_influences`` non-zeros per row.
    """
    a, b, joint = _bones(rest)
    d, _ = _segment_distance(v, a, b)
    allowed = _region_mask(v, rest)[:, joint]
    d = np.where(allowed, d, np.inf)
    # Finger and hand bones are small: use a tighter falloff there so fingers do not drag each other.
    names = [JOINT_NAMES[j] for j in joint]
    tau = np.array([0.006 if any(f in n for f in FINGERS) else 0.022 for n in names])
    dmin = d.min(axis=1, keepdims=True)
    w = np.exp(-(d - dmin) / tau[None])
    w[~np.isfinite(d)] = 0.0
    W = np.zeros((len(v), len(JOINT_NAMES)))
    for col, j in enumerate(joint):
        W[:, j] += w[:, col]
    # Keep the strongest influences only.
    order = np.argsort(-W, axis=1)
    cut = np.zeros_like(W, bool)
    np.put_along_axis(cut, order[:, max_influences:], True, axis=1)
    W[cut] = 0.0
    W[W < 0.01] = 0.0
    return W / W.sum(axis=1, keepdims=True)


def _smooth_weights(W: np.ndarray, faces: np.ndarray, n_vertices: int, iterations: int = 4) -> np.ndarray:
    """Laplacian smoothing of the weights over the mesh so blends follow the surface, not the bones."""
    import scipy.sparse as sp

    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    A = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_vertices, n_vertices)).tocsr()
    A = ((A + A.T) > 0).astype(np.float64)
    deg = np.asarray(A.sum(1)).ravel()
    for _ in range(iterations):
        W = 0.5 * W + 0.5 * (A @ W) / deg[:, None]
    return W


def _limit_influences(W: np.ndarray, k: int = 4) -> np.ndarray:
    order = np.argsort(-W, axis=1)
    W = W.copy()
    np.put_along_axis(W, order[:, k:], 0.0, axis=1)
    W[W < 0.01] = 0.0
    return W / W.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------------------ regressor
def joint_regressor(v: np.ndarray, rest: np.ndarray, k: int = 40) -> np.ndarray:
    """A (55, V) regressor that reproduces the rest joints exactly from nearby vertices.

    Each joint starts from Gaussian weights over its ``k`` nearest surface vertices (a ring around a limb
    joint) and is corrected by the smallest change that makes the weights sum to one and their weighted
    mean equal the joint, so betas move joints with the surface around them.
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(v)
    R = np.zeros((len(JOINT_NAMES), len(v)))
    for j, p in enumerate(rest):
        d, idx = tree.query(p, k=k)
        w0 = np.exp(-(d / (d.mean() + 1e-9)) ** 2)
        w0 /= w0.sum()
        # minimise |w - w0|^2 subject to C w = c, with C = [1; V^T], c = [1; p]
        C = np.vstack([np.ones(k), v[idx].T])
        c = np.concatenate([[1.0], p])
        lam = np.linalg.lstsq(C @ C.T, c - C @ w0, rcond=None)[0]
        R[j, idx] = w0 + C.T @ lam
    return R


# ------------------------------------------------------------------------------------------- shapes
def shape_directions(v: np.ndarray, rest: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Analytic shape directions (per unit beta), in metres.

    0 height (uniform scale about the point between the soles, 3 %/unit), 1 girth (radial from the bone
    axis), 2 shoulder width, 3 leg length, 4 belly, 5 hip width, 6 chest depth, 7 neck length,
    8 arm length, 9 head size; 10..19 (expressions) are zero.

    Returns
    -------
    np.ndarray, shape (V, 3, 20)
    """
    S = np.zeros((len(v), 3, 20))
    x, y, z = v.T
    feet = np.array([0.0, 0.0, 0.0])
    S[:, :, 0] = 0.03 * (v - feet)
    # Girth: push each vertex away from its nearest bone axis (not for hands and head).
    a, b, joint = _bones(rest)
    d, t = _segment_distance(v, a, b)
    nearest = d.argmin(1)
    closest = a[nearest] + t[np.arange(len(v)), nearest][:, None] * (b - a)[nearest]
    radial = v - closest
    jn = np.array([JOINT_NAMES[joint[i]] for i in nearest])
    scale = np.where(np.char.find(jn.astype(str), "spine") >= 0, 0.09, 0.06)
    scale = np.where(np.isin(jn, ["pelvis"]), 0.08, scale)
    small = np.array([any(k in n for k in ("head", "wrist", "index", "middle", "ring", "pinky", "thumb",
                                           "foot", "ankle")) for n in jn])
    scale[small] = 0.01
    S[:, :, 1] = radial * scale[:, None]
    sh_x = rest[J["left_shoulder"], 0]
    neck_y = rest[J["neck"], 1]
    # Shoulder width: lateral shift growing from the neck to the shoulder, constant along the arm.
    ramp = np.clip((np.abs(x) - 0.03) / (sh_x - 0.03), 0, 1) * np.clip((y - 1.22) / 0.12, 0, 1)
    ramp = np.where(np.abs(x) > sh_x, 1.0, ramp) * (y > 1.2)
    S[:, 0, 2] = 0.02 * np.sign(x) * ramp
    # Leg length: everything above the hips moves up, legs stretch proportionally.
    hip_y = rest[J["left_hip"], 1]
    S[:, 1, 3] = 0.03 * np.clip(y / hip_y, 0, 1)
    # Belly: forward bulge around the waist.
    belly = np.exp(-((y - 1.08) / 0.08) ** 2) * np.clip(z / 0.08, 0, 1) * (np.abs(x) < 0.16)
    S[:, 2, 4] = 0.025 * belly
    # Hip width: lateral push at hip height on the trunk and thighs.
    hips = np.exp(-((y - 0.9) / 0.09) ** 2) * (np.abs(x) < 0.25)
    S[:, 0, 5] = 0.015 * np.sign(x) * hips
    # Chest depth.
    chest = np.exp(-((y - 1.3) / 0.07) ** 2) * np.clip(z / 0.06, 0, 1) * (np.abs(x) < 0.17)
    S[:, 2, 6] = 0.015 * chest
    # Neck length: head and neck top move up.
    S[:, 1, 7] = 0.012 * np.clip((y - (neck_y - 0.03)) / 0.1, 0, 1) * (np.abs(x) < 0.12)
    # Arm length: points out along the arm move outward in proportion.
    S[:, 0, 8] = 0.04 * np.sign(x) * np.clip((np.abs(x) - sh_x) / 0.6, 0, 1) * (y > 1.2)
    # Head size: scale about the head joint.
    head_c = rest[J["head"]] + (0, 0.06, 0)
    hw = np.clip((y - neck_y - 0.04) / 0.06, 0, 1) * (np.abs(x) < 0.12)
    S[:, :, 9] = 0.06 * (v - head_c) * hw[:, None]
    return S


# ------------------------------------------------------------------------------------------- hand PCA
def hand_pca(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hand pose PCA (45 components) from procedural grasp poses.

    Curl angles per finger segment are mixed (open, relaxed, fist, point, pinch, spread) with noise; the
    right hand is the mirror of the left (axis-angle y and z negated).

    Returns
    -------
    components_l (45, 45), mean_l (45,), components_r (45, 45), mean_r (45,)
    """
    rng = np.random.default_rng(seed)
    # Left hand: fingers along +x, palm down; curling is a rotation about -z (tips move to -y).
    curl_axis = {"index": (0, 0, -1), "middle": (0, 0, -1), "pinky": (0, 0, -1), "ring": (0, 0, -1),
                 "thumb": (0.3, 0.5, -0.6)}
    poses = []
    for _ in range(400):
        g = rng.dirichlet(np.ones(4))
        base = {"open": 0.0, "relaxed": 0.35, "fist": 1.4}
        pose = np.zeros((15, 3))
        spread = rng.normal(0, 0.08)
        for fi, f in enumerate(FINGERS):
            level = g[0] * base["relaxed"] + g[1] * base["fist"] + g[3] * 0.2
            if f == "index":
                level *= 1.0 - 0.8 * g[2]  # pointing
            ax = np.array(curl_axis[f], float)
            ax /= np.linalg.norm(ax)
            for s in range(3):
                ang = level * (1.0 + 0.15 * s) + rng.normal(0, 0.05)
                pose[fi * 3 + s] = ax * ang
            pose[fi * 3] += (0, spread * (fi - 1.5), 0)
        poses.append(pose.ravel())
    X = np.array(poses)
    mean = X.mean(0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=True)
    comps_l = vt  # (45, 45), orthonormal rows
    flip = np.tile([1.0, -1.0, -1.0], 15)
    return comps_l, mean, comps_l * flip[None], mean * flip


# -------------------------------------------------------------------------------------------- landmarks
def face_landmarks(mesh, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """51 static face landmarks (brows, nose, eyes, mouth, like SMPL-X's), as faces + barycentrics."""
    hc = rest[J["head"]]
    pts = []
    for s in (-1, 1):  # brows, 5 each
        pts += [(s * (0.015 + 0.01 * i), 0.093 - 0.003 * abs(i - 2), 0.2) for i in range(5)]
    pts += [(0, 0.08 - 0.012 * i, 0.2) for i in range(4)]  # nose bridge
    pts += [(0.01 * (i - 2), 0.035, 0.2) for i in range(5)]  # nostrils
    for s in (-1, 1):  # eyes, 6 each
        pts += [(s * 0.032 + 0.012 * np.cos(a), 0.07 + 0.005 * np.sin(a), 0.2)
                for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)]
    pts += [(0.025 * np.cos(a), 0.012 + 0.008 * np.sin(a), 0.2)
            for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]  # outer lip
    pts += [(0.015 * np.cos(a), 0.012 + 0.003 * np.sin(a), 0.2)
            for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]  # inner lip
    pts = np.array(pts[:51]) + (hc[0], hc[1], 0)
    # Project each point along -z onto the front-most triangle that contains it in the xy plane.
    tri = np.asarray(mesh.triangles)
    faces_idx = np.zeros(len(pts), np.int64)
    bary = np.zeros((len(pts), 3))
    for i, p in enumerate(pts):
        a, b, c = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
        v0, v1, v2 = b - a, c - a, p[:2] - a
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        den = np.where(np.abs(den) < 1e-14, 1e-14, den)
        l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
        l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
        l0 = 1.0 - l1 - l2
        inside = (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
        zc = np.where(inside, tri[:, :, 2].mean(1), -np.inf)
        t = int(np.argmax(zc))
        faces_idx[i] = t
        bary[i] = (l0[t], l1[t], l2[t])
    return faces_idx, bary


# ---------------------------------------------------------------------------------------------- build
SMPLX_KEYPOINT_IDS = {  # smplx.vertex_ids['smplx']: the ids smplx hard-codes; we place them
    "nose": 9120, "reye": 9929, "leye": 9448, "rear": 616, "lear": 6,
    "rthumb": 8079, "rindex": 7669, "rmiddle": 7794, "rring": 7905, "rpinky": 8022,
    "lthumb": 5361, "lindex": 4933, "lmiddle": 5058, "lring": 5169, "lpinky": 5286,
    "LBigToe": 5770, "LSmallToe": 5780, "LHeel": 8846, "RBigToe": 8463, "RSmallToe": 8474, "RHeel": 8635,
}


def _keypoint_targets(rest: np.ndarray) -> dict[str, np.ndarray]:
    tips = leaf_tips(rest)
    t: dict[str, np.ndarray] = {"nose": np.array([0, 1.63, 0.13])}
    for side, s, short in (("left", 1, "l"), ("right", -1, "r")):
        t[f"{short}eye"] = rest[J[f"{side}_eye_smplhf"]] + (0, 0, 0.03)
        t[f"{short}ear"] = np.array([0.08 * s, 1.62, 0.0])
        for f in FINGERS:
            t[f"{short}{f}"] = tips[J[f"{side}_{f}3"]] + ((0.01 * s, 0, 0) if f != "thumb" else (0, 0, 0.01))
        up = short.upper()
        foot = rest[J[f"{side}_foot"]]
        t[f"{up}BigToe"] = foot + (-0.02 * s, 0.0, 0.14)
        t[f"{up}SmallToe"] = foot + (0.03 * s, 0.0, 0.12)
        t[f"{up}Heel"] = rest[J[f"{side}_ankle"]] + (0, -0.07, -0.08)
    return t


def _place_keypoint_ids(v: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Permutation ``order`` (new vertex i = old vertex order[i]) putting smplx's ids on our landmarks."""
    from scipy.spatial import cKDTree

    tree = cKDTree(v)
    targets = _keypoint_targets(rest)
    order = np.arange(len(v))
    where = np.arange(len(v))  # where[old] = new position
    for name, new_id in SMPLX_KEYPOINT_IDS.items():
        _, old = tree.query(targets[name])
        p = where[old]
        other_old = order[new_id]
        order[new_id], order[p] = old, other_old
        where[old], where[other_old] = new_id, p
    return order


def parts_from_weights(W: np.ndarray, v: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Per-vertex part id (index into ``PART_NAMES``) from the dominant skinning joint.

    Parameters
    ----------
    W : np.ndarray, shape (V, 55) skinning weights
    v : np.ndarray, shape (V, 3) rest vertices (y up, facing +z)
    rest : np.ndarray, shape (55, 3) rest joints

    Returns
    -------
    np.ndarray, shape (V,) int
    """
    dom = W.argmax(1)
    names = np.array(JOINT_NAMES)[dom]
    pid = np.full(len(v), PART_NAMES.index("torso"))
    lookup = {"head": "head", "neck": "neck"}
    for side, s in (("left", "l"), ("right", "r")):
        lookup.update({f"{side}_shoulder": f"upper_arm_{s}", f"{side}_elbow": f"forearm_{s}",
                       f"{side}_wrist": f"hand_{s}", f"{side}_hip": f"thigh_{s}", f"{side}_knee": f"shin_{s}",
                       f"{side}_ankle": f"foot_{s}", f"{side}_foot": f"foot_{s}"})
        for f in FINGERS:
            for i in (1, 2, 3):
                lookup[f"{side}_{f}{i}"] = f"hand_{s}"
    for jn, part in lookup.items():
        pid[names == jn] = PART_NAMES.index(part)
    # Hair: the top and back of the head (above the brow, or behind the ears).
    hc = rest[J["head"]]
    y, z = v[:, 1] - hc[1], v[:, 2]
    hair = (pid == PART_NAMES.index("head")) & ((y > 0.095 - 0.6 * np.clip(z, 0, None))
                                                & ((y > 0.085) | (z < 0.02)))
    hair |= (pid == PART_NAMES.index("head")) & (z < -0.02) & (y > 0.0)
    pid[hair] = PART_NAMES.index("hair_region")
    return pid


def garment_box(v: np.ndarray, mask: np.ndarray, aspect: float = 0.75) -> np.ndarray:
    """The fixed front-projection box (x0, y_top, x1, y_bottom) of the garment, width/height = ``aspect``."""
    gx, gy = v[mask, 0], v[mask, 1]
    cx, cy = 0.5 * (gx.min() + gx.max()), 0.5 * (gy.min() + gy.max())
    w = 1.08 * max(gx.max() - gx.min(), aspect * (gy.max() - gy.min()))
    h = w / aspect
    return np.array([cx - w / 2, cy + h / 2, cx + w / 2, cy - h / 2])


def build(seed: int = 0, verbose: bool = True) -> tuple[dict, dict]:
    """Build the mannequin. Returns the SMPL-X arrays and the part arrays (see module docstring)."""
    t0 = time.time()
    rest = _rest_skeleton()
    mesh = _build_mesh(rest)
    v = np.asarray(mesh.vertices)
    if verbose:
        print(f"mesh: {len(v)} vertices, {len(mesh.faces)} faces, watertight={mesh.is_watertight} "
              f"({time.time() - t0:.1f}s)")
    order = _place_keypoint_ids(v, rest)
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    v = v[order]
    faces = inv[np.asarray(mesh.faces)]
    import trimesh

    mesh = trimesh.Trimesh(v, faces, process=False)
    W = skinning_weights(v, rest)
    W = _limit_influences(_smooth_weights(W, faces, len(v), iterations=6))
    Jreg = joint_regressor(v, rest)
    S = shape_directions(v, rest, W)
    lmk_f, lmk_b = face_landmarks(mesh, rest)
    comps_l, mean_l, comps_r, mean_r = hand_pca(seed)
    pid = parts_from_weights(W, v, rest)

    # Garment: T-shirt from the neck base to the hips and down the upper arm to about mid-bicep.
    x, y = v[:, 0], v[:, 1]
    sh_x = rest[J["left_shoulder"], 0]
    mid_bicep = sh_x + 0.5 * (rest[J["left_elbow"], 0] - sh_x)
    torso_like = np.isin(pid, [PART_NAMES.index(p) for p in ("torso", "upper_arm_l", "upper_arm_r")])
    garment = torso_like & (y > rest[J["pelvis"], 1] - 0.07) & (np.abs(x) < mid_bicep)
    garment &= y < rest[J["neck"], 1] - 0.02 + 0.25 * np.maximum(np.abs(x) - 0.05, 0)  # round neckline
    box = garment_box(v, garment)
    uv = np.stack([(x - box[0]) / (box[2] - box[0]), (box[1] - y) / (box[1] - box[3])], 1)
    # Head map: front projection of head and neck into a square box around the head.
    hc = rest[J["head"]] + (0, 0.04, 0)
    head_uv = np.stack([(x - hc[0]) / 0.26 + 0.5, (hc[1] - y) / 0.26 + 0.5], 1)

    shift = np.array([0.0, -PELVIS_HEIGHT, 0.0])
    kintree = np.stack([np.where(PARENTS < 0, 4294967295, PARENTS), np.arange(55)]).astype(np.int64)
    smplx_arrays = {
        "v_template": (v + shift).astype(np.float32),
        "f": faces.astype(np.int32),
        "shapedirs": S.astype(np.float32),
        "posedirs": np.zeros((len(v), 3, 486), np.float32),
        "J_regressor": Jreg.astype(np.float32),
        "kintree_table": kintree,
        "weights": W.astype(np.float32),
        "lmk_faces_idx": lmk_f.astype(np.int64),
        "lmk_bary_coords": lmk_b.astype(np.float32),
        "hands_componentsl": comps_l.astype(np.float32),
        "hands_componentsr": comps_r.astype(np.float32),
        "hands_meanl": mean_l.astype(np.float32),
        "hands_meanr": mean_r.astype(np.float32),
        "joint2num": np.array(JOINT_NAMES),
    }
    parts = {
        "part_id": pid.astype(np.int8),
        "part_names": np.array(PART_NAMES),
        "garment_mask": garment,
        "garment_uv": uv.astype(np.float32),
        "garment_box": box.astype(np.float32) + np.array([0, shift[1], 0, shift[1]], np.float32),
        "hair_mask": pid == PART_NAMES.index("hair_region"),
        "head_uv": head_uv.astype(np.float32),
        "rest_normals": np.asarray(mesh.vertex_normals, np.float32),
        "rest_joints": (rest + shift).astype(np.float32),
    }
    if verbose:
        print(f"built in {time.time() - t0:.1f}s")
    return smplx_arrays, parts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Regenerate the OMFA mannequin (SMPL-X format).")
    ap.add_argument("--out", type=Path, default=RESOURCE_DIR)
    args = ap.parse_args(argv)
    smplx_arrays, parts = build()
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / MANNEQUIN_PATH.name, **smplx_arrays)
    np.savez_compressed(args.out / PARTS_PATH.name, **parts)
    for p in (MANNEQUIN_PATH.name, PARTS_PATH.name):
        print(f"wrote {args.out / p} ({(args.out / p).stat().st_size / 1e6:.2f} MB)")


# ------------------------------------------------------------------------------------- runtime API
@dataclass
class MannequinParts:
    """Per-vertex labels of the mannequin (``resources/body/omfa_mannequin_parts.npz``).

    Attributes
    ----------
    part_id : np.ndarray, shape (V,) int        index into ``part_names``
    part_names : tuple of str
    garment_mask : np.ndarray, shape (V,) bool  T-shirt region (torso + upper arms to mid-bicep)
    garment_uv : np.ndarray, shape (V, 2)       front orthographic projection into ``garment_box``,
        image convention (u right = the body's left, v down); front and back share coordinates
    garment_box : np.ndarray, shape (4,)        (x_left, y_top, x_right, y_bottom) in metres, W:H = 3:4
    hair_mask : np.ndarray, shape (V,) bool     top and back of the head
    head_uv : np.ndarray, shape (V, 2)          front projection of the head into a 0.26 m square
    rest_normals : np.ndarray, shape (V, 3)
    rest_joints : np.ndarray, shape (55, 3)
    faces : np.ndarray, shape (F, 3)
    """

    part_id: np.ndarray
    part_names: tuple[str, ...]
    garment_mask: np.ndarray
    garment_uv: np.ndarray
    garment_box: np.ndarray
    hair_mask: np.ndarray
    head_uv: np.ndarray
    rest_normals: np.ndarray
    rest_joints: np.ndarray
    faces: np.ndarray

    @property
    def garment_faces(self) -> np.ndarray:
        """Faces whose three vertices are all garment, shape (G,) int."""
        return np.where(self.garment_mask[self.faces].all(1))[0]

    def part_mask(self, *names: str) -> np.ndarray:
        """(V,) bool mask of the named parts."""
        unknown = set(names) - set(self.part_names)
        if unknown:
            raise KeyError(f"unknown part(s) {sorted(unknown)}; parts are {self.part_names}")
        return np.isin(self.part_id, [self.part_names.index(n) for n in names])

    def garment_silhouette(self, height: int, width: int) -> np.ndarray:
        """The canonical (flat-lay) garment mask: the garment faces drawn at their ``garment_uv``.

        ``uv`` [0, 1]^2 is stretched over the whole (H, W) image (use a 3:4 W:H image for no distortion).

        Returns
        -------
        np.ndarray, shape (H, W) bool
        """
        from PIL import Image, ImageDraw

        ss = 4  # draw at 4x and downsample: smooth edges, no cracks between tiny triangles
        im = Image.new("L", (width * ss, height * ss), 0)
        draw = ImageDraw.Draw(im)
        tris = self.garment_uv[self.faces[self.garment_faces]] * np.array([width * ss, height * ss])
        for t in tris:
            draw.polygon([tuple(p) for p in t], fill=255, outline=255)
        small = np.asarray(im.resize((width, height), Image.BOX))
        return small >= 128


_PARTS_CACHE: MannequinParts | None = None


def load_parts(path: Path | None = None) -> MannequinParts:
    """Load the mannequin's part labels and garment maps (cached for the default path)."""
    global _PARTS_CACHE
    if path is None and _PARTS_CACHE is not None:
        return _PARTS_CACHE
    with np.load(path or PARTS_PATH, allow_pickle=False) as d, np.load(MANNEQUIN_PATH, allow_pickle=False) as m:
        parts = MannequinParts(
            part_id=d["part_id"].astype(np.int64), part_names=tuple(d["part_names"].tolist()),
            garment_mask=d["garment_mask"], garment_uv=d["garment_uv"], garment_box=d["garment_box"],
            hair_mask=d["hair_mask"], head_uv=d["head_uv"], rest_normals=d["rest_normals"],
            rest_joints=d["rest_joints"], faces=m["f"].astype(np.int64))
    if path is None:
        _PARTS_CACHE = parts
    return parts


if __name__ == "__main__":
    main()
