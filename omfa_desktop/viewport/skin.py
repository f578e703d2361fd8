"""Skinning on the GPU for the viewport: a pose edit uploads 55 matrices instead of a posed mesh.

A joint drag used to pose the whole mesh on the CPU (torch LBS of 14k vertices), recompute vertex normals
and upload both buffers before drawing: ~40 ms + ~20 ms per frame on this machine's software GL. Here what
does not change during posing is computed once per body and shape and stays on the GPU: the shaped rest
mesh, its normals, and each vertex's four largest skinning weights with their joints. A pose edit computes
the 55 joint transforms (Rodrigues + the kinematic chain: 55 small matrices in numpy) and the vertex shader
blends them. Exact for bodies with at most four weights per vertex and no pose-corrective blend shapes (the
shipped mannequin); an SMPL-X body's pose correctives are added on the CPU (one matrix product, rest
positions re-uploaded) and its weights beyond the fourth (a fraction of a percent) are renormalised away.

The posed vertices are computed on the CPU only when something asks for them (framing the camera).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

NUM_JOINTS = 55


def rodrigues(rot: np.ndarray) -> np.ndarray:
    """(N, 3) axis-angle -> (N, 3, 3) rotation matrices (float64)."""
    angle = np.linalg.norm(rot + 1e-8, axis=1)[:, None, None]
    axis = rot / angle[:, :, 0]
    x, y, z = axis.T
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], 1).reshape(-1, 3, 3)
    return np.eye(3)[None] + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    from omfa_desktop.viewport.gl_widget import vertex_normals

    return vertex_normals(v, f)


class GpuSkin:
    """The static skinning data of one body (and shape) and the per-pose matrices.

    Attributes (static, uploaded once per body and shape)
    ------------------------------------------------------
    rest : (V, 3) float32        shaped rest positions (plus pose correctives, when the body has them)
    normals : (V, 3) float32     rest normals
    weights : (V, 4) float32     the four largest skinning weights, renormalised to sum to 1
    joint_ids : (V, 4) float32   their joints (floats: GL 3.3 vertex attributes)
    """

    def __init__(self, skinning, faces: np.ndarray) -> None:
        def arr(t):
            return t.detach().cpu().numpy()

        self.faces = np.asarray(faces, np.int64)
        self.v_template = arr(skinning.v_template).astype(np.float64)
        self.shapedirs = arr(skinning.shapedirs).astype(np.float64)       # (V, 3, S): betas then expressions
        self.num_betas = int(skinning.num_betas)
        self.j_regressor = arr(skinning.J_regressor).astype(np.float64)
        self.parents = arr(skinning.parents).astype(np.int64)
        posedirs = arr(skinning.posedirs)
        self.posedirs = posedirs if np.any(posedirs) else None              # (486, V*3); the mannequin has none
        w = arr(skinning.lbs_weights)
        order = np.argsort(-w, axis=1)[:, :4]
        top = np.take_along_axis(w, order, axis=1)
        self.weights = (top / np.maximum(top.sum(1, keepdims=True), 1e-12)).astype(np.float32)
        self.joint_ids = order.astype(np.float32)
        self._betas: Optional[bytes] = None
        self.rest = self.normals = None
        self._shaped = None
        self.j_rest = None
        self.skin: Optional[np.ndarray] = None

    @classmethod
    def for_body(cls, body_model) -> Optional["GpuSkin"]:
        """The GPU path for bodies posed by engine.body.skinning (the mannequin, SMPL-X .npz); None for a
        body only smplx can pose (.pkl): the viewport then poses it on the CPU as before."""
        from engine.body.skinning import SmplxSkinning

        inner = getattr(body_model, "_model", None)
        if not isinstance(inner, SmplxSkinning):
            return None
        return cls(inner, body_model.faces)

    def set_shape(self, betas: np.ndarray) -> bool:
        """Shape the rest mesh for ``betas`` (10,); True when it changed (re-upload the static buffers)."""
        key = np.asarray(betas, np.float64).tobytes()
        if key == self._betas:
            return False
        b = np.zeros(self.shapedirs.shape[2])
        n = min(self.num_betas, len(betas))
        b[:n] = np.asarray(betas, np.float64)[:n]
        self._shaped = self.v_template + self.shapedirs @ b
        self.j_rest = self.j_regressor @ self._shaped
        self.rest = self._shaped.astype(np.float32)
        self.normals = _normals(self.rest, self.faces)
        self._betas = key
        return True

    def pose(self, state) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """Skinning matrices (55, 4, 4) float32 (transl included), joints (55, 3) and, for a body with pose
        correctives, the corrected rest positions (V, 3) float32 to upload (else None)."""
        self.set_shape(state.betas)
        full = np.concatenate([np.ravel(state.global_orient), np.ravel(state.body_pose), np.ravel(state.jaw_pose),
                               np.zeros(6), np.ravel(state.left_hand_pose), np.ravel(state.right_hand_pose)])
        rot = rodrigues(full.reshape(NUM_JOINTS, 3).astype(np.float64))
        rel = self.j_rest.copy()
        rel[1:] -= self.j_rest[self.parents[1:]]
        world = np.zeros((NUM_JOINTS, 4, 4))
        for i in range(NUM_JOINTS):  # parents come before children
            local = np.eye(4)
            local[:3, :3] = rot[i]
            local[:3, 3] = rel[i]
            world[i] = local if i == 0 else world[self.parents[i]] @ local
        joints = world[:, :3, 3].copy()
        skin = world.copy()
        skin[:, :3, 3] -= np.einsum("jkl,jl->jk", world[:, :3, :3], self.j_rest)
        t = np.asarray(state.transl, np.float64)
        skin[:, :3, 3] += t
        self.skin = skin.astype(np.float32)
        rest = None
        if self.posedirs is not None:
            feature = (rot[1:] - np.eye(3)).reshape(-1)
            rest = (self._shaped + (feature @ self.posedirs).reshape(-1, 3)).astype(np.float32)
            self.rest = rest
        return self.skin, (joints + t).astype(np.float32), rest

    def cpu_vertices(self) -> np.ndarray:
        """What the vertex shader computes, (V, 3) float32: for framing and tests."""
        m = np.einsum("vk,vkab->vab", self.weights, self.skin[self.joint_ids.astype(np.int64)])
        return (np.einsum("vab,vb->va", m[:, :3, :3], self.rest) + m[:, :3, 3]).astype(np.float32)
