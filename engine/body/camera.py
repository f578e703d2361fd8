"""Pinhole cameras: matched to a photo (hmr2 convention) or orbiting the body for multi-view guides.

Convention (OpenCV): a world point X maps to camera coordinates ``Xc = R @ X + t``; the camera looks down
+z, x right, y down; pixel ``u = fx * Xc.x / Xc.z + cx``, ``v = fy * Xc.y / Xc.z + cy`` in continuous
image coordinates: (0, 0) is the top-left image corner and pixel (i, j)'s centre is (j + 0.5, i + 0.5), as
pyrender rasterises (so cx = W/2 is the image centre). The world is SMPL-X's: y up, the
body faces +z, its left is +x. :meth:`Camera.gl_pose` gives the camera-to-world matrix pyrender wants
(OpenGL: looking down -z, y up).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

_CV_TO_GL = np.diag([1.0, -1.0, -1.0])


@dataclass
class Camera:
    """A perspective camera.

    Attributes
    ----------
    width, height : int     image size in pixels
    fx, fy, cx, cy : float  intrinsics in pixels
    R : np.ndarray, shape (3, 3)   world-to-camera rotation (OpenCV)
    t : np.ndarray, shape (3,)     world-to-camera translation (OpenCV), metres
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        self.R = np.asarray(self.R, np.float64).reshape(3, 3)
        self.t = np.asarray(self.t, np.float64).reshape(3)
        if self.width < 1 or self.height < 1:
            raise ValueError(f"camera size must be positive, got {self.width}x{self.height}")

    @property
    def K(self) -> np.ndarray:
        """Intrinsic matrix, shape (3, 3)."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    @property
    def center(self) -> np.ndarray:
        """Camera position in the world, shape (3,)."""
        return -self.R.T @ self.t

    def gl_pose(self) -> np.ndarray:
        """Camera-to-world 4x4 in OpenGL axes (x right, y up, looking down -z), as pyrender expects."""
        pose = np.eye(4)
        pose[:3, :3] = self.R.T @ _CV_TO_GL
        pose[:3, 3] = self.center
        return pose

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points.

        Parameters
        ----------
        points : np.ndarray, shape (N, 3)

        Returns
        -------
        uv : np.ndarray, shape (N, 2) pixel coordinates
        depth : np.ndarray, shape (N,) camera z (metres)
        """
        pc = np.asarray(points, np.float64) @ self.R.T + self.t
        z = pc[:, 2]
        uv = np.stack([self.fx * pc[:, 0] / z + self.cx, self.fy * pc[:, 1] / z + self.cy], 1)
        return uv, z

    def resized(self, width: int, height: int) -> "Camera":
        """The same view at another resolution (intrinsics scaled per axis)."""
        sx, sy = width / self.width, height / self.height
        return replace(self, width=width, height=height, fx=self.fx * sx, fy=self.fy * sy,
                       cx=self.cx * sx, cy=self.cy * sy)

    def to_dict(self) -> dict:
        return {"width": self.width, "height": self.height, "fx": self.fx, "fy": self.fy, "cx": self.cx,
                "cy": self.cy, "R": self.R.tolist(), "t": self.t.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        return cls(**d)


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera (R, t), OpenCV convention, for a camera at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
    fwd = target - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, up)
    if np.linalg.norm(right) < 1e-8:  # looking straight up or down
        right = np.cross(fwd, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])
    return R, -R @ eye


def camera_from_hmr2(pred_cam, box_center, box_size: float, image_size, focal: float = 5000.0,
                     crop: int = 256) -> Camera:
    """The full-image camera for an hmr2 / 4D-Humans prediction.

    hmr2 predicts a weak-perspective crop camera (s, tx, ty) for a square ``crop`` px crop rendered with
    focal length ``focal``. As 4D-Humans' ``cam_crop_to_full`` does, the full image uses focal
    ``focal / crop * max(W, H)``, the principal point at the image centre and translation
    ``tz = 2 F / (b s)``, ``tx = 2 (cx_box - W/2) / (b s) + tx_crop``, ``ty = 2 (cy_box - H/2) / (b s) + ty_crop``.

    The rotation is the identity: vertices posed with hmr2's own ``global_orient`` are already in that
    camera frame (y down). See :func:`hmr2_to_y_up` to move such a body into the y-up world.

    Parameters
    ----------
    pred_cam : array-like, shape (3,)   (s, tx, ty)
    box_center : array-like, shape (2,) box centre in image pixels
    box_size : float                    box side in image pixels
    image_size : (W, H)

    Returns
    -------
    Camera
    """
    s, tx, ty = (float(a) for a in np.asarray(pred_cam).reshape(3))
    w, h = (int(a) for a in image_size)
    cx, cy = (float(a) for a in np.asarray(box_center).reshape(2))
    f_full = focal / crop * max(w, h)
    bs = float(box_size) * s + 1e-9
    t = np.array([2 * (cx - w / 2) / bs + tx, 2 * (cy - h / 2) / bs + ty, 2 * f_full / bs])
    return Camera(w, h, f_full, f_full, w / 2.0, h / 2.0, np.eye(3), t)


def hmr2_to_y_up(camera: Camera, global_orient, pelvis) -> tuple[Camera, np.ndarray]:
    """Re-express an hmr2 body (camera frame, y down) in the y-up world, keeping the image identical.

    smplx rotates about the rest pelvis ``J0``: hmr2's body is ``V = Rg (v - J0) + J0``. In the y-up world
    we pose ``Rx Rg`` (Rx = 180 deg about x), i.e. ``V' = Rx (V - J0) + J0``, and the camera becomes
    ``R' = R Rx``, ``t' = t + R (J0 - Rx J0)``.

    Parameters
    ----------
    camera : Camera          from :func:`camera_from_hmr2`
    global_orient : (3,)     hmr2's axis-angle root rotation
    pelvis : (3,)            rest pelvis joint of the body model for the state's betas

    Returns
    -------
    camera : Camera          for the y-up world
    global_orient : np.ndarray, shape (3,)   to put in the BodyState
    """
    from scipy.spatial.transform import Rotation

    Rx = np.diag([1.0, -1.0, -1.0])
    J0 = np.asarray(pelvis, np.float64).reshape(3)
    Rg = Rotation.from_rotvec(np.asarray(global_orient, np.float64).reshape(3)).as_matrix()
    new_orient = Rotation.from_matrix(Rx @ Rg).as_rotvec()
    cam = replace(camera, R=camera.R @ Rx, t=camera.t + camera.R @ (J0 - Rx @ J0))
    return cam, new_orient.astype(np.float32)


def orbit_cameras(vertices: np.ndarray, n_views: int = 8, elevation_deg: float = 0.0, width: int = 768,
                  height: int = 1024, distance: float | None = None, fov_deg: float = 30.0,
                  margin: float = 0.06, start_azimuth_deg: float = 0.0,
                  center: np.ndarray | None = None) -> list[Camera]:
    """N cameras on a circle around the vertical axis through the body, all framing the whole body.

    View 0 is the front (the camera on +z, looking at the body's face); views go counter-clockwise seen
    from above (view 2 of 8 sees the body's left side). All views share one distance, so the figure has
    the same scale in every view.

    Parameters
    ----------
    vertices : np.ndarray, shape (V, 3)  posed body (only used to frame it)
    n_views : int
    elevation_deg : float    camera height angle; positive looks down at the body
    width, height : int      image size; any aspect
    distance : float, optional
        Camera distance to the centre; by default the smallest one for which every vertex lies inside
        the image with ``margin`` (a fraction of the half-size) to spare, in every view.
    fov_deg : float          vertical field of view (fx = fy)
    center : (3,), optional  orbit centre; default the centre of the body's bounding box

    Returns
    -------
    list of Camera
    """
    v = np.asarray(vertices, np.float64)
    if center is None:
        center = 0.5 * (v.min(0) + v.max(0))
    center = np.asarray(center, np.float64)
    f = 0.5 * height / np.tan(np.radians(fov_deg) / 2)
    tan_x = (0.5 * width / f) * (1 - margin)
    tan_y = (0.5 * height / f) * (1 - margin)
    el = np.radians(elevation_deg)
    dirs = []
    for i in range(n_views):
        az = np.radians(start_azimuth_deg) + 2 * np.pi * i / n_views
        dirs.append(np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)]))
    if distance is None:
        distance = 0.0
        p = v - center
        for d in dirs:
            R, _ = look_at(d, np.zeros(3))
            q = p @ R.T  # camera axes: x right, y down, z forward (towards the centre)
            # depth of a point = distance + q.z; need |q.x| <= tan_x * depth and |q.y| <= tan_y * depth
            need = np.maximum(np.abs(q[:, 0]) / tan_x - q[:, 2], np.abs(q[:, 1]) / tan_y - q[:, 2])
            distance = max(distance, float(need.max()))
        distance = max(distance, 0.05 + float(np.linalg.norm(p, axis=1).max()))  # stay outside the body
    cams = []
    for d in dirs:
        R, t = look_at(center + distance * d, center)
        cams.append(Camera(width, height, f, f, width / 2.0, height / 2.0, R, t))
    return cams
