"""Fit an SMPL-X body pose and a camera to BlazePose landmarks, by optimisation through smplx.

1. BlazePose's world landmarks (metres, hip-centred, camera axes: x right, y down, z away) are turned into the
   app's y-up world as seen by a camera in front of the body (x, -y, -z).
2. The root rotation and the body joints are optimised (Adam on axis-angle, ~150 steps) so that the body's
   bones point where the landmarks' bones point (a scale-free direction loss: the body keeps its own limb
   lengths) and its joints sit near the landmarks once both are hip-centred, with a small pose prior; joints
   BlazePose does not see (spine, neck, collars, hands) are held near rest by the prior.
3. The camera looks along -z (the front camera) with a focal length from the image size; its translation is
   solved in closed form so the posed joints project onto the 2D landmarks (a linear least-squares problem).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from engine.body.blazepose import LANDMARK_NAMES, Landmarks
from engine.body.camera import Camera
from engine.body.estimate import PoseEstimate
from engine.body.skeleton import JOINT_NAMES
from engine.body.state import BodyState

# BlazePose landmark -> SMPL-X joint
PAIRS = [("left_shoulder", "left_shoulder"), ("right_shoulder", "right_shoulder"),
         ("left_elbow", "left_elbow"), ("right_elbow", "right_elbow"),
         ("left_wrist", "left_wrist"), ("right_wrist", "right_wrist"),
         ("left_hip", "left_hip"), ("right_hip", "right_hip"),
         ("left_knee", "left_knee"), ("right_knee", "right_knee"),
         ("left_ankle", "left_ankle"), ("right_ankle", "right_ankle")]
# bones (pairs of indices into PAIRS) whose directions are matched
BONES = [(0, 2), (2, 4), (1, 3), (3, 5), (6, 8), (8, 10), (7, 9), (9, 11), (0, 1), (6, 7), (6, 0), (7, 1)]
LM_IDX = np.array([LANDMARK_NAMES.index(a) for a, _ in PAIRS])
J_IDX = np.array([JOINT_NAMES.index(b) for _, b in PAIRS])
FLIP = np.array([1.0, -1.0, -1.0])  # camera axes (y down, z away) -> y-up world seen from the front


def fit_landmarks(lm: Landmarks, image_size: tuple[int, int], body_model=None, steps: int = 150,
                  focal_scale: float = 1.2) -> PoseEstimate:
    """SMPL-X pose and full-image camera from BlazePose landmarks of a ``image_size`` (W, H) photo."""
    import torch

    from engine.body.model import BodyModel

    model = body_model or BodyModel.load_mannequin()
    smplx_model = model._model
    target = torch.tensor(lm.world[LM_IDX] * FLIP, dtype=torch.float32)
    target = target - target[6:8].mean(0)                     # hip-centred
    vis = torch.tensor(np.clip(lm.visibility[LM_IDX], 0.2, 1.0), dtype=torch.float32)
    # start facing the camera, upright
    go = torch.zeros(1, 3, requires_grad=True)
    bp = torch.zeros(1, 63, requires_grad=True)
    opt = torch.optim.Adam([go, bp], lr=0.05)
    zeros = {k: torch.zeros(1, n) for k, n in (("left_hand_pose", 45), ("right_hand_pose", 45), ("jaw_pose", 3),
                                                ("leye_pose", 3), ("reye_pose", 3))}
    betas = torch.zeros(1, smplx_model.num_betas)
    expr = torch.zeros(1, smplx_model.num_expression_coeffs)
    bones = torch.tensor(BONES)

    def joints():
        out = smplx_model(global_orient=go, body_pose=bp, betas=betas, expression=expr, **zeros)
        j = out.joints[0, J_IDX]
        return j - j[6:8].mean(0)

    for _ in range(steps):
        opt.zero_grad()
        j = joints()
        mb = j[bones[:, 1]] - j[bones[:, 0]]
        tb = target[bones[:, 1]] - target[bones[:, 0]]
        w = vis[bones[:, 0]] * vis[bones[:, 1]]
        cos = torch.nn.functional.cosine_similarity(mb, tb, dim=1)
        loss = (w * (1 - cos)).sum() + 0.5 * (vis[:, None] * (j - target) ** 2).sum() + 1e-3 * (bp ** 2).sum()
        loss.backward()
        opt.step()
    state = BodyState(global_orient=go.detach().numpy()[0].astype(np.float32),
                      body_pose=bp.detach().numpy()[0].reshape(21, 3).astype(np.float32))
    camera = solve_camera(model, state, lm, image_size, focal_scale)
    return PoseEstimate(state, camera, lm.box, "blazepose",
                        ["body shape neutral (the mannequin's proportions)", "camera assumed in front of the body"])


def solve_camera(model, state: BodyState, lm: Landmarks, image_size: tuple[int, int],
                 focal_scale: float = 1.2) -> Camera:
    """Front camera (R = diag(1, -1, -1)) with f = focal_scale * max(W, H); translation by least squares.

    For each joint X with 2D landmark (u, v): f (x + tx) = (u - cx)(z + tz) and f (y + ty) = (v - cy)(z + tz),
    where (x, y, z) = R X: two linear equations in t per joint, weighted by visibility.
    """
    w, h = image_size
    f = focal_scale * max(w, h)
    cx, cy = w / 2.0, h / 2.0
    R = np.diag([1.0, -1.0, -1.0])
    _, joints = model.forward(state)
    X = joints[J_IDX].astype(np.float64) @ R.T
    uv = lm.image_xy[LM_IDX]
    wts = np.sqrt(np.clip(lm.visibility[LM_IDX], 0.2, 1.0))
    rows, rhs = [], []
    for (x, y, z), (u, v), k in zip(X, uv, wts):
        rows += [k * np.array([f, 0.0, -(u - cx)]), k * np.array([0.0, f, -(v - cy)])]
        rhs += [k * ((u - cx) * z - f * x), k * ((v - cy) * z - f * y)]
    t, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    if X[:, 2].mean() + t[2] <= 0.1:  # behind the camera: degenerate landmarks
        t[2] = 2.5 - X[:, 2].mean()
    return Camera(w, h, f, f, cx, cy, R, t)


def procrustes_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint error after the best similarity transform of ``pred`` onto ``gt`` (N, 3), same units."""
    p = pred - pred.mean(0)
    g = gt - gt.mean(0)
    u, s, vt = np.linalg.svd(p.T @ g)
    d = np.sign(np.linalg.det(u @ vt))
    D = np.diag([1.0, 1.0, d])
    rot = u @ D @ vt
    scale = (s * np.diag(D)).sum() / (p ** 2).sum()
    return float(np.linalg.norm(scale * p @ rot - g, axis=1).mean())


def estimate_with_blazepose(image: np.ndarray, body_model=None, detector=None) -> Optional[PoseEstimate]:
    """BlazePose landmarks + the fit; None when no person is found."""
    from engine.body.blazepose import BlazePose

    lm = (detector or BlazePose()).estimate(image)
    if lm is None:
        return None
    return fit_landmarks(lm, (image.shape[1], image.shape[0]), body_model)
