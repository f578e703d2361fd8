"""SMPL-X forward kinematics and linear blend skinning, read from an SMPL-X-format ``.npz``.

Our own implementation of the published SMPL-X model equations (shape and expression blend shapes, pose
corrective blend shapes, a kinematic chain of 55 joints, linear blend skinning), so the shipped mannequin —
and a user's SMPL-X ``.npz`` — can be posed without the ``smplx`` package, whose licence forbids
redistributing it in the app's installers. Same inputs and the same first 55 joints and vertices as
``smplx.SMPLX(use_pca=False, flat_hand_mean=True)`` (tests/body/test_skinning.py compares them when smplx is
installed); the extra keypoints smplx appends (vertex-picked and face landmarks) are not computed: the app
uses the 55 skeleton joints only.

Shapes: B batch, V vertices, J = 55 joints.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.errors import OmfaError

NUM_JOINTS = 55
NUM_BODY_JOINTS = 21
NUM_HAND_JOINTS = 15
SHAPE_SPACE_DIM = 300  # SMPL-X's betas; expressions follow them in shapedirs (when the file has all 400)

REQUIRED = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights")


class SkinningError(OmfaError, ValueError):
    """The file is not an SMPL-X-format model; the message names what is missing or wrong."""


@dataclass
class SkinnedBody:
    vertices: torch.Tensor   # (B, V, 3)
    joints: torch.Tensor     # (B, 55, 3)


def axis_angle_to_matrix(rot: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: (N, 3) axis-angle -> (N, 3, 3) rotation matrices."""
    angle = torch.linalg.norm(rot + 1e-8, dim=1, keepdim=True)  # the offset keeps the gradient finite at 0
    axis = rot / angle
    cos, sin = torch.cos(angle)[:, :, None], torch.sin(angle)[:, :, None]
    x, y, z = axis.unbind(1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], 1).view(-1, 3, 3)  # cross-product matrix
    eye = torch.eye(3, dtype=rot.dtype, device=rot.device)[None]
    return eye + sin * k + (1 - cos) * torch.bmm(k, k)


class SmplxSkinning(nn.Module):
    """An SMPL-X-format body posed by its own equations (see the module docstring).

    Attributes mirror the ``smplx.SMPLX`` ones the engine reads: ``faces`` (F, 3) int, ``v_template``
    (V, 3), ``lbs_weights`` (V, 55), ``num_betas``, ``num_expression_coeffs``.
    """

    def __init__(self, path: str | Path, num_betas: int = 10, num_expression_coeffs: int = 10) -> None:
        super().__init__()
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise SkinningError(f"{path}: not a readable .npz model file ({e})") from None
        missing = [k for k in REQUIRED if k not in data.files]
        if missing:
            raise SkinningError(f"{path}: not an SMPL-X model file (missing {', '.join(missing)})")
        v_template = data["v_template"].astype(np.float32)
        V = v_template.shape[0]
        shapedirs = data["shapedirs"].astype(np.float32)
        weights = data["weights"].astype(np.float32)
        if shapedirs.shape[:2] != (V, 3) or weights.shape != (V, NUM_JOINTS) \
                or data["J_regressor"].shape != (NUM_JOINTS, V) or data["posedirs"].shape[:2] != (V, 3):
            raise SkinningError(f"{path}: arrays of inconsistent sizes for an SMPL-X body of {V} vertices")
        # expressions start after all 300 betas in a full file, right after the betas in a reduced one
        expr_start = SHAPE_SPACE_DIM if shapedirs.shape[2] >= SHAPE_SPACE_DIM + 10 else num_betas
        self.num_betas = min(num_betas, expr_start)
        self.num_expression_coeffs = max(0, min(num_expression_coeffs, shapedirs.shape[2] - expr_start))
        shape = np.concatenate([shapedirs[:, :, :self.num_betas],
                                shapedirs[:, :, expr_start:expr_start + self.num_expression_coeffs]], axis=2)
        parents = data["kintree_table"][0].astype(np.int64)
        parents[0] = -1
        self.faces = data["f"].astype(np.int64)
        self.register_buffer("v_template", torch.from_numpy(v_template))
        self.register_buffer("shapedirs", torch.from_numpy(shape))                      # (V, 3, S)
        pose = data["posedirs"].astype(np.float32).reshape(V * 3, -1).T                  # (486, V*3)
        self.register_buffer("posedirs", torch.from_numpy(np.ascontiguousarray(pose)))
        self.register_buffer("J_regressor", torch.from_numpy(data["J_regressor"].astype(np.float32)))
        self.register_buffer("lbs_weights", torch.from_numpy(weights))
        self.register_buffer("parents", torch.from_numpy(parents))

    def forward(self, betas=None, global_orient=None, body_pose=None, left_hand_pose=None, right_hand_pose=None,
                jaw_pose=None, leye_pose=None, reye_pose=None, expression=None, transl=None,
                **_unused) -> SkinnedBody:
        """Pose the body. Every argument is (B, n) (axis-angle poses, flattened); missing ones are zeros.

        Returns vertices (B, V, 3) and the 55 joints (B, 55, 3), translated by ``transl``.
        """
        given = [t for t in (betas, global_orient, body_pose, left_hand_pose, right_hand_pose, jaw_pose,
                             leye_pose, reye_pose, expression, transl) if t is not None]
        b = given[0].shape[0] if given else 1
        dt, dev = self.v_template.dtype, self.v_template.device

        def arg(t, n):
            return torch.zeros(b, n, dtype=dt, device=dev) if t is None else t.reshape(b, -1).to(dev, dt)

        coeffs = torch.cat([arg(betas, self.num_betas)[:, :self.num_betas],
                            arg(expression, self.num_expression_coeffs)[:, :self.num_expression_coeffs]], 1)
        full_pose = torch.cat([arg(global_orient, 3), arg(body_pose, 3 * NUM_BODY_JOINTS), arg(jaw_pose, 3),
                               arg(leye_pose, 3), arg(reye_pose, 3), arg(left_hand_pose, 3 * NUM_HAND_JOINTS),
                               arg(right_hand_pose, 3 * NUM_HAND_JOINTS)], 1).view(b, NUM_JOINTS, 3)

        # 1. shape: template + blend shapes; rest joints regressed from the shaped mesh
        v_shaped = self.v_template[None] + torch.einsum("bs,vcs->bvc", coeffs, self.shapedirs)
        j_rest = torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)
        # 2. pose correctives from the rotations of every joint but the root
        rot = axis_angle_to_matrix(full_pose.view(-1, 3)).view(b, NUM_JOINTS, 3, 3)
        eye = torch.eye(3, dtype=dt, device=dev)
        pose_feature = (rot[:, 1:] - eye).reshape(b, -1)
        v_posed = v_shaped + (pose_feature @ self.posedirs).view(b, -1, 3)
        # 3. the kinematic chain: world transform of each joint (parents come before children)
        rel = j_rest.clone()
        rel[:, 1:] -= j_rest[:, self.parents[1:]]
        local = torch.zeros(b, NUM_JOINTS, 4, 4, dtype=dt, device=dev)
        local[:, :, :3, :3] = rot
        local[:, :, :3, 3] = rel
        local[:, :, 3, 3] = 1.0
        chain = [local[:, 0]]
        for i in range(1, NUM_JOINTS):
            chain.append(chain[int(self.parents[i])] @ local[:, i])
        world = torch.stack(chain, 1)                                        # (B, J, 4, 4)
        joints = world[:, :, :3, 3]
        # 4. skinning: each joint's transform relative to its rest position, blended by the weights
        skin = world.clone()
        skin[:, :, :3, 3] -= torch.einsum("bjkl,bjl->bjk", world[:, :, :3, :3], j_rest)
        T = torch.einsum("vj,bjkl->bvkl", self.lbs_weights, skin)           # (B, V, 4, 4)
        verts = torch.einsum("bvkl,bvl->bvk", T[:, :, :3, :3], v_posed) + T[:, :, :3, 3]
        offset = arg(transl, 3)[:, None]
        return SkinnedBody(verts + offset, joints + offset)
