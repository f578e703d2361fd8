"""Camera and rotation maths of the viewport (numpy only, no Qt, no GL): testable on its own.

Conventions: world is the body's (metres, y up, the body faces +z). Matrices are 4x4 row-major numpy
arrays acting on column vectors (``p' = M @ p``); they are transposed when handed to OpenGL.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.body.skeleton import JOINT_NAMES, PARENTS

#: Joints offered for picking and editing: the body (pelvis .. wrists) and the jaw; fingers are too small.
PICKABLE: tuple[int, ...] = tuple(range(22))


# ------------------------------------------------------------------------------------ rotations
def aa_to_mat(aa) -> np.ndarray:
    """Axis-angle (3,) -> rotation matrix (3, 3) (Rodrigues), float64."""
    aa = np.asarray(aa, np.float64).reshape(3)
    theta = float(np.linalg.norm(aa))
    if theta < 1e-12:
        return np.eye(3)
    k = aa / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * (K @ K)


def mat_to_aa(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> axis-angle (3,), angle in [0, pi]."""
    R = np.asarray(R, np.float64)
    cos = np.clip((np.trace(R) - 1) / 2, -1.0, 1.0)
    theta = float(np.arccos(cos))
    if theta < 1e-9:
        return np.zeros(3)
    if np.pi - theta < 1e-5:  # near 180 degrees: axis from the symmetric part
        M = (R + np.eye(3)) / 2
        i = int(np.argmax(np.diag(M)))
        axis = M[:, i] / np.sqrt(max(M[i, i], 1e-12))
        return axis / np.linalg.norm(axis) * theta
    axis = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * np.sin(theta))
    return axis * theta


def axis_rotation(axis, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, np.float64)
    n = np.linalg.norm(axis)
    return aa_to_mat(axis / n * np.radians(degrees)) if n > 0 else np.eye(3)


def euler_to_mat(deg) -> np.ndarray:
    """Intrinsic X, then Y, then Z (R = Rx @ Ry @ Rz), angles in degrees -> (3, 3)."""
    x, y, z = np.radians(np.asarray(deg, np.float64).reshape(3))
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rx @ ry @ rz


def mat_to_euler(R: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_to_mat`: (3, 3) -> degrees (3,), y in [-90, 90]."""
    R = np.asarray(R, np.float64)
    y = np.arcsin(np.clip(R[0, 2], -1.0, 1.0))
    if abs(R[0, 2]) < 1 - 1e-9:
        x = np.arctan2(-R[1, 2], R[2, 2])
        z = np.arctan2(-R[0, 1], R[0, 0])
    else:  # gimbal lock: put everything in x
        x = np.arctan2(R[2, 1], R[1, 1])
        z = 0.0
    return np.degrees([x, y, z])


def global_rotations(state) -> np.ndarray:
    """World rotation of every joint's frame, (55, 3, 3): the chain of local rotations from the pelvis.

    The mannequin's rest frames are aligned with the world (SMPL-X convention), so a joint's world frame
    is the product of its ancestors' local rotations and its own.
    """
    local = state.full_pose()
    G = np.zeros((len(JOINT_NAMES), 3, 3))
    for j in range(len(JOINT_NAMES)):
        R = aa_to_mat(local[j])
        p = PARENTS[j]
        G[j] = R if p < 0 else G[p] @ R
    return G


def rotate_joint_in_world(state, joint: int, delta: np.ndarray):
    """A copy of ``state`` with joint ``joint`` turned by the world rotation ``delta`` (3, 3) about itself.

    With P the parent's world frame and L the joint's local rotation, the new local rotation L' solves
    P L' = delta P L, i.e. L' = P^T delta P L. Children follow (their local rotations do not change).
    """
    name = JOINT_NAMES[joint]
    G = global_rotations(state)
    p = PARENTS[joint]
    P = np.eye(3) if p < 0 else G[p]
    L = aa_to_mat(state.joint_rotation(name))
    out = state.copy()
    out.set_joint_rotation(name, mat_to_aa(P.T @ delta @ P @ L).astype(np.float32))
    return out


def set_joint_euler(state, joint: int, degrees) -> "object":
    """A copy of ``state`` with joint ``joint``'s local rotation set from X/Y/Z Euler degrees."""
    out = state.copy()
    out.set_joint_rotation(JOINT_NAMES[joint], mat_to_aa(euler_to_mat(degrees)).astype(np.float32))
    return out


def joint_euler(state, joint: int) -> np.ndarray:
    return mat_to_euler(aa_to_mat(state.joint_rotation(JOINT_NAMES[joint])))


# ------------------------------------------------------------------------------------ camera
def perspective(fov_y_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    f = 1.0 / np.tan(np.radians(fov_y_deg) / 2)
    return np.array([[f / aspect, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)], [0, 0, -1, 0]])


def look_at(eye, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    if np.linalg.norm(s) < 1e-9:
        s = np.cross(f, (0.0, 0.0, 1.0))
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    M = np.eye(4)
    M[0, :3], M[1, :3], M[2, :3] = s, u, -f
    M[:3, 3] = -M[:3, :3] @ eye
    return M


@dataclass
class OrbitCamera:
    """A turntable camera around ``target``: yaw about the vertical, pitch up/down, distance, pan.

    yaw 0 looks at the body's front (camera on +z), 90 at its left side, 180 at its back.
    """

    yaw: float = 0.0
    pitch: float = 5.0
    distance: float = 3.2
    target: np.ndarray = field(default_factory=lambda: np.array([0.0, -0.1, 0.0]))
    fov: float = 35.0
    near: float = 0.05
    far: float = 50.0

    ORBIT_DEG_PER_PX = 0.4

    def eye(self) -> np.ndarray:
        y, p = np.radians(self.yaw), np.radians(self.pitch)
        d = np.array([np.sin(y) * np.cos(p), np.sin(p), np.cos(y) * np.cos(p)])
        return self.target + self.distance * d

    def view(self) -> np.ndarray:
        return look_at(self.eye(), self.target)

    def projection(self, aspect: float) -> np.ndarray:
        return perspective(self.fov, aspect, self.near, self.far)

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """World directions of the screen's right and up."""
        V = self.view()
        return V[0, :3].copy(), V[1, :3].copy()

    def orbit(self, dx: float, dy: float) -> None:
        self.yaw = (self.yaw - dx * self.ORBIT_DEG_PER_PX) % 360.0
        self.pitch = float(np.clip(self.pitch + dy * self.ORBIT_DEG_PER_PX, -89.0, 89.0))

    def pan(self, dx: float, dy: float, height_px: int) -> None:
        """Move the target so the scene follows the mouse (dx, dy in pixels)."""
        right, up = self.axes()
        per_px = 2 * self.distance * np.tan(np.radians(self.fov) / 2) / max(height_px, 1)
        self.target = self.target - right * dx * per_px + up * dy * per_px

    def zoom(self, steps: float) -> None:
        """steps > 0 moves closer (one wheel notch = 1 step = 12 %)."""
        self.distance = float(np.clip(self.distance * (0.88 ** steps), 0.3, 20.0))

    def frame(self, points: np.ndarray, aspect: float = 1.0, margin: float = 1.12) -> None:
        """Centre on the points' bounding box and back off until the bounding sphere fits."""
        p = np.asarray(points, np.float64)
        lo, hi = p.min(0), p.max(0)
        self.target = (lo + hi) / 2
        radius = float(np.linalg.norm(hi - lo)) / 2
        half = np.radians(self.fov) / 2
        half = min(half, np.arctan(np.tan(half) * aspect))
        self.distance = float(np.clip(radius * margin / np.sin(half), 0.3, 20.0))

    def set_view(self, name: str) -> None:
        self.yaw = {"front": 0.0, "side": 90.0, "left": 90.0, "right": 270.0, "back": 180.0}[name]
        self.pitch = 0.0

    def project(self, points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixel coordinates (N, 2) (origin top-left) and view depth (N,)."""
        p = np.c_[np.asarray(points, np.float64), np.ones(len(points))]
        cam = p @ self.view().T
        clip = cam @ self.projection(width / max(height, 1)).T
        w = clip[:, 3:4]
        ndc = clip[:, :3] / np.where(np.abs(w) < 1e-9, 1e-9, w)
        px = np.c_[(ndc[:, 0] + 1) / 2 * width, (1 - ndc[:, 1]) / 2 * height]
        return px, -cam[:, 2]


def pick_joint(camera: OrbitCamera, joints: np.ndarray, x: float, y: float, width: int, height: int,
               radius_px: float = 14.0, candidates=PICKABLE) -> int | None:
    """The joint drawn nearest to pixel (x, y) within ``radius_px``, the nearest to the eye on ties."""
    idx = np.asarray(candidates)
    px, depth = camera.project(joints[idx], width, height)
    d = np.hypot(px[:, 0] - x, px[:, 1] - y)
    ok = (d <= radius_px) & (depth > 0)
    if not ok.any():
        return None
    best = np.where(ok)[0]
    # prefer the closest on screen; among those within 3 px of it, the one nearest the camera
    dmin = d[best].min()
    near = best[d[best] <= dmin + 3.0]
    return int(idx[near[np.argmin(depth[near])]])
