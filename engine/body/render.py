"""Offscreen guide renders of a posed body with pyrender (EGL or OSMesa, chosen automatically).

The guide style is a named entry of :data:`STYLES`, so a model is always fed the style it was trained on.

Platform choice
---------------
PyOpenGL binds its platform (GLX, EGL, OSMesa) from ``PYOPENGL_PLATFORM`` the first time ``OpenGL`` is
imported, and cannot switch afterwards. So :func:`ensure_gl_platform` runs before this module imports
pyrender (which imports OpenGL): an existing ``PYOPENGL_PLATFORM`` always wins (the Qt app sets it to
match its own GL integration, see ENVIRONMENT.md); otherwise EGL is probed through ctypes (no OpenGL
import) and then OSMesa. If OpenGL was already imported by someone else, we leave it alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from engine.body.camera import Camera
from engine.errors import OmfaError


class RenderError(OmfaError, RuntimeError):
    """Offscreen rendering is unavailable or was asked for something impossible."""


# ------------------------------------------------------------------------------- platform
def _probe_egl() -> bool:
    """True if an EGL device display can be initialised (what pyrender's EGL platform does)."""
    try:
        egl = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
    except OSError:
        return False
    try:
        egl.eglGetProcAddress.restype = ctypes.c_void_p
        egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
        q = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
        g = egl.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
        if not q or not g:
            return False
        query = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                 ctypes.POINTER(ctypes.c_int))(q)
        get_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)(g)
        devices = (ctypes.c_void_p * 8)()
        n = ctypes.c_int(0)
        if not query(8, devices, ctypes.byref(n)) or n.value < 1:
            return False
        egl.eglInitialize.restype = ctypes.c_uint
        egl.eglInitialize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        egl.eglTerminate.argtypes = [ctypes.c_void_p]
        dpy = get_display(0x313F, devices[0], None)  # EGL_PLATFORM_DEVICE_EXT
        major, minor = ctypes.c_int(), ctypes.c_int()
        if not dpy or not egl.eglInitialize(dpy, ctypes.byref(major), ctypes.byref(minor)):
            return False
        egl.eglTerminate(dpy)
        return True
    except Exception:  # any ctypes failure means "not usable"
        return False


def _probe_osmesa() -> bool:
    try:
        ctypes.CDLL(ctypes.util.find_library("OSMesa") or "libOSMesa.so.8")
        return True
    except OSError:
        return False


def ensure_gl_platform() -> str:
    """Choose the offscreen OpenGL platform before OpenGL is first imported.

    Returns
    -------
    str
        The platform in force ("egl", "osmesa", "pyglet" on Windows and macOS, or whatever
        ``PYOPENGL_PLATFORM`` already said; "preloaded" if OpenGL was imported before we could choose).

    Raises
    ------
    RenderError
        If neither EGL nor OSMesa is available, with the Debian packages to install.
    """
    current = os.environ.get("PYOPENGL_PLATFORM")
    if current:
        return current
    if sys.platform in ("win32", "darwin"):
        # no EGL/OSMesa there: pyrender's default, a hidden pyglet window on the desktop's own OpenGL
        # driver (WGL / CGL), with PyOpenGL on its native platform. Not exercised on this project's CI.
        return "pyglet"
    if "OpenGL" in sys.modules:  # too late to choose: PyOpenGL already bound a platform
        return "preloaded"
    for name, probe in (("egl", _probe_egl), ("osmesa", _probe_osmesa)):
        if probe():
            os.environ["PYOPENGL_PLATFORM"] = name
            return name
    raise RenderError("no offscreen OpenGL found. Install EGL (apt-get install libegl1 libegl-mesa0 "
                      "libgl1-mesa-dri libgbm1) or OSMesa (apt-get install libosmesa6), or set "
                      "PYOPENGL_PLATFORM.")


def _pyrender():
    ensure_gl_platform()
    import pyrender  # noqa: E402  (imported only after the platform is fixed)

    return pyrender


# ------------------------------------------------------------------------------- labels & styles
@dataclass
class VertexLabels:
    """What a guide style needs to know about each vertex of a body model.

    Attributes
    ----------
    part_id : np.ndarray, shape (V,) int   index into ``part_names``
    part_names : tuple of str
    front : np.ndarray, shape (V,) float   rest-pose normal z in [-1, 1] (+1 faces forward)
    """

    part_id: np.ndarray
    part_names: tuple[str, ...]
    front: np.ndarray


_MANNEQUIN_LABELS: VertexLabels | None = None


def mannequin_labels() -> VertexLabels:
    """Labels of the shipped mannequin (cached)."""
    global _MANNEQUIN_LABELS
    if _MANNEQUIN_LABELS is None:
        from engine.body.mannequin import PARTS_PATH

        with np.load(PARTS_PATH, allow_pickle=False) as d:
            _MANNEQUIN_LABELS = VertexLabels(d["part_id"].astype(np.int64), tuple(d["part_names"].tolist()),
                                             d["rest_normals"][:, 2].astype(np.float32))
    return _MANNEQUIN_LABELS


#: Base colour of each part for the "parts_shaded" style: the body's left is warm, its right cool,
#: the head's face side skin-coloured and its hair region dark, so facing and handedness are readable.
PART_COLORS: dict[str, tuple[float, float, float]] = {
    "head": (0.96, 0.82, 0.68), "hair_region": (0.30, 0.22, 0.18), "neck": (0.85, 0.72, 0.60),
    "torso": (0.85, 0.85, 0.82),
    "upper_arm_l": (0.90, 0.25, 0.18), "forearm_l": (0.96, 0.58, 0.15), "hand_l": (0.98, 0.88, 0.25),
    "upper_arm_r": (0.18, 0.35, 0.92), "forearm_r": (0.15, 0.70, 0.92), "hand_r": (0.45, 0.92, 0.85),
    "thigh_l": (0.80, 0.18, 0.50), "shin_l": (0.92, 0.45, 0.65), "foot_l": (0.55, 0.12, 0.28),
    "thigh_r": (0.18, 0.60, 0.30), "shin_r": (0.50, 0.82, 0.35), "foot_r": (0.10, 0.38, 0.18),
}
TORSO_BACK = (0.40, 0.38, 0.55)


def _parts_colors(labels: VertexLabels) -> np.ndarray:
    base = np.array([PART_COLORS.get(n, (0.7, 0.7, 0.7)) for n in labels.part_names])[labels.part_id]
    # Front/back: the torso goes from light (front) to slate (back); limbs get a milder brightness cue.
    f = np.clip(0.5 + 1.2 * labels.front, 0.0, 1.0)[:, None]
    torso = np.isin(np.array(labels.part_names)[labels.part_id], ["torso", "neck"])[:, None]
    back = np.where(torso, np.array(TORSO_BACK)[None], base * 0.72)
    return base * f + back * (1 - f)


@dataclass
class Style:
    """A guide style: per-vertex colours (possibly view-dependent) and whether lighting is applied."""

    name: str
    colors: Callable[[np.ndarray, np.ndarray, Camera, VertexLabels], np.ndarray]
    lit: bool
    background: tuple[float, float, float]
    per_view: bool = False


def _normals_colors(vertices, faces, camera: Camera, labels) -> np.ndarray:
    import trimesh

    n = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
    nc = n @ camera.R.T * np.array([1.0, -1.0, -1.0])  # OpenGL camera axes: x right, y up, z to viewer
    return 0.5 * nc + 0.5


STYLES: dict[str, Style] = {
    "parts_shaded": Style("parts_shaded", lambda v, f, c, labels: _parts_colors(labels), True, (1.0, 1.0, 1.0)),
    "normals": Style("normals", _normals_colors, False, (0.5, 0.5, 1.0), per_view=True),
    "depth": Style("depth", lambda v, f, c, labels: np.ones((len(v), 3)), False, (0.0, 0.0, 0.0)),
}


# ------------------------------------------------------------------------------- renderer
class GuideRenderer:
    """Reusable offscreen renderer at a fixed image size.

    Parameters
    ----------
    width, height : int     output size (any aspect, e.g. 48x64 to 768x1024)
    style : str             a key of :data:`STYLES`
    labels : VertexLabels, optional
        Part labels of the body model; default the mannequin's (use ``BodyModel.labels()`` for others).
    """

    def __init__(self, width: int, height: int, style: str = "parts_shaded",
                 labels: VertexLabels | None = None) -> None:
        if style not in STYLES:
            raise RenderError(f"unknown guide style {style!r}; choose one of {sorted(STYLES)}")
        if not (1 <= width <= 8192 and 1 <= height <= 8192):
            raise RenderError(f"render size {width}x{height} is out of range")
        self.width, self.height, self.style = int(width), int(height), STYLES[style]
        self._labels = labels
        self.platform = ensure_gl_platform()
        self._r = _offscreen(self.width, self.height, self.platform)

    def close(self) -> None:
        """Release this renderer. The GL context stays cached for the next renderer of this size."""
        self._r = None

    def __enter__(self) -> "GuideRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ---------------------------------------------------------------- public passes
    def render(self, vertices: np.ndarray, faces: np.ndarray, cameras: Sequence[Camera] | Camera,
               labels: VertexLabels | None = None) -> list[np.ndarray]:
        """Guide images in this renderer's style.

        Parameters
        ----------
        vertices : np.ndarray, shape (V, 3)
        faces : np.ndarray, shape (F, 3)
        cameras : Camera or list of N Camera (resized to this renderer's size if they differ)

        Returns
        -------
        list of N np.ndarray, shape (H, W, 3) uint8
        """
        cams = self._cams(cameras)
        style = self.style
        if style.name == "depth":
            return [_depth_to_gray(d) for d in self.render_depth(vertices, faces, cams)]
        labels = labels or self._labels_for(len(vertices))
        out = []
        mesh = None
        for cam in cams:
            if mesh is None or style.per_view:
                mesh = self._mesh(vertices, faces, style.colors(vertices, faces, cam, labels))
            out.append(self._draw([mesh], cam, lit=style.lit, bg=style.background)[0])
        return out

    def render_depth(self, vertices: np.ndarray, faces: np.ndarray,
                     cameras: Sequence[Camera] | Camera) -> list[np.ndarray]:
        """Depth maps (camera z in metres, 0 where there is no body), list of (H, W) float32."""
        cams = self._cams(cameras)
        mesh = self._mesh(vertices, faces, np.ones((len(vertices), 3)))
        return [self._draw([mesh], c, lit=False, bg=(0, 0, 0), depth_only=True)[1] for c in cams]

    def render_silhouette(self, vertices: np.ndarray, faces: np.ndarray,
                          cameras: Sequence[Camera] | Camera) -> list[np.ndarray]:
        """Body masks, list of (H, W) bool."""
        return [d > 0 for d in self.render_depth(vertices, faces, cameras)]

    def render_appearance(self, vertices: np.ndarray, faces: np.ndarray, cameras: Sequence[Camera] | Camera,
                          vertex_colors: np.ndarray, garment: tuple | None = None,
                          background: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> list[np.ndarray]:
        """A lit render of a dressed body for the synthetic world.

        Parameters
        ----------
        vertices : np.ndarray, shape (V, 3)
        faces : np.ndarray, shape (F, 3)
        cameras : Camera or list of Camera
        vertex_colors : np.ndarray, shape (V, 3), floats in [0, 1] or uint8   skin, hair, trousers...
        garment : (mask, uv, texture), optional
            ``mask``: (V,) bool vertex mask (a face is garment if all its vertices are) or (F,) bool face
            mask or (G,) int face indices; ``uv``: (V, 2) in [0, 1]^2, image convention (u right, v down,
            e.g. the mannequin's ``garment_uv``); ``texture``: (H, W, 3) uint8 image addressed by ``uv``.

        Returns
        -------
        list of N np.ndarray, shape (H, W, 3) uint8
        """
        import trimesh
        from PIL import Image

        pr = _pyrender()
        cams = self._cams(cameras)
        faces = np.asarray(faces)
        colors = np.asarray(vertex_colors)
        colors = colors / 255.0 if colors.dtype == np.uint8 else colors
        gfaces = np.zeros(len(faces), bool)
        meshes = []
        if garment is not None:
            mask, uv, texture = garment
            mask = np.asarray(mask)
            if mask.dtype == bool and len(mask) == len(vertices):
                gfaces = mask[faces].all(1)
            elif mask.dtype == bool and len(mask) == len(faces):
                gfaces = mask.copy()
            else:
                gfaces[mask.astype(np.int64)] = True
            sub = faces[gfaces]
            used, inverse = np.unique(sub, return_inverse=True)
            uv = np.asarray(uv, np.float64)[used]
            # trimesh/glTF texture coordinates have v up from the bottom of the image.
            visual = trimesh.visual.TextureVisuals(
                uv=np.stack([uv[:, 0], 1.0 - uv[:, 1]], 1),
                material=trimesh.visual.material.SimpleMaterial(image=Image.fromarray(np.asarray(texture, np.uint8)),
                                                                diffuse=(255, 255, 255, 255)))
            gm = trimesh.Trimesh(np.asarray(vertices)[used], inverse.reshape(-1, 3), visual=visual, process=False)
            meshes.append(pr.Mesh.from_trimesh(gm, smooth=True))
        body = faces[~gfaces]
        if len(body):
            meshes.append(self._mesh(vertices, body, colors))
        return [self._draw(meshes, c, lit=True, bg=background)[0] for c in cams]

    # ---------------------------------------------------------------- internals
    def _labels_for(self, n_vertices: int) -> VertexLabels:
        labels = self._labels or mannequin_labels()
        if len(labels.part_id) != n_vertices:
            raise RenderError(f"the body has {n_vertices} vertices but the part labels have "
                              f"{len(labels.part_id)}; pass labels=BodyModel.labels() for this body model")
        return labels

    def _cams(self, cameras) -> list[Camera]:
        cams = [cameras] if isinstance(cameras, Camera) else list(cameras)
        return [c if (c.width, c.height) == (self.width, self.height) else c.resized(self.width, self.height)
                for c in cams]

    def _mesh(self, vertices, faces, colors):
        import trimesh

        pr = _pyrender()
        rgba = np.concatenate([np.clip(colors, 0, 1), np.ones((len(colors), 1))], 1)
        tm = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), vertex_colors=rgba,
                             process=False)
        return pr.Mesh.from_trimesh(tm, smooth=True)

    def _draw(self, meshes, cam: Camera, lit: bool, bg, depth_only: bool = False):
        pr = _pyrender()
        scene = pr.Scene(bg_color=np.array([*bg, 1.0]), ambient_light=np.full(3, 0.35 if lit else 1.0))
        for m in meshes:
            scene.add(m)
        depth_c = float(np.linalg.norm(cam.center))
        znear, zfar = 0.05, max(20.0, 4 * depth_c)
        glcam = pr.IntrinsicsCamera(cam.fx, cam.fy, cam.cx, cam.cy, znear=znear, zfar=zfar)
        pose = cam.gl_pose()
        scene.add(glcam, pose=pose)
        if lit:
            # A key light from the camera, a little above and to the left, plus a soft fill from the
            # opposite side: even shading from any view, so the colours stay readable.
            key = np.eye(4)
            key[:3, :3] = pose[:3, :3] @ _rot_xy(-0.35, -0.3)
            key[:3, 3] = pose[:3, 3]
            scene.add(pr.DirectionalLight(color=np.ones(3), intensity=2.6), pose=key)
            fill = np.eye(4)
            fill[:3, :3] = pose[:3, :3] @ _rot_xy(0.2, 0.6)
            scene.add(pr.DirectionalLight(color=np.ones(3), intensity=1.0), pose=fill)
        flags = pr.RenderFlags.DEPTH_ONLY if depth_only else (pr.RenderFlags.NONE if lit else pr.RenderFlags.FLAT)
        try:
            if depth_only:
                return None, self._r.render(scene, flags=flags).astype(np.float32)
            color, depth = self._r.render(scene, flags=flags)
        except Exception as e:
            raise RenderError(f"offscreen render failed ({self.platform}): {e}") from e
        return np.ascontiguousarray(color[..., :3]).astype(np.uint8), depth


_OFFSCREEN: dict[tuple[int, int, int], object] = {}


def _offscreen(width: int, height: int, platform: str):
    """A cached pyrender.OffscreenRenderer per size.

    With EGL every renderer shares one EGLDisplay, and deleting a renderer calls eglTerminate on it,
    which kills every other live renderer (EGL_BAD_DISPLAY). So renderers are kept for the life of the
    process and shared; a GuideRenderer only borrows one. One per thread too: a GL context can be current
    in only one thread (EGL_BAD_ACCESS otherwise), and the app renders guides on a worker thread.
    """
    import threading

    key = (width, height, threading.get_ident())
    if key not in _OFFSCREEN:
        pr = _pyrender()
        try:
            _OFFSCREEN[key] = pr.OffscreenRenderer(width, height)
        except Exception as e:
            raise RenderError(f"cannot open an offscreen {platform} GL context: {e}") from e
    return _OFFSCREEN[key]


def _rot_xy(ax: float, ay: float) -> np.ndarray:
    cx, sx, cy, sy = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return ry @ rx


def _depth_to_gray(depth: np.ndarray) -> np.ndarray:
    """Near = bright, far = dark, background black; normalised over the body's own depth range."""
    m = depth > 0
    out = np.zeros(depth.shape + (3,), np.uint8)
    if m.any():
        lo, hi = depth[m].min(), depth[m].max()
        g = 1.0 - (depth - lo) / max(hi - lo, 1e-6)
        out[m] = (40 + 215 * g[m])[:, None].astype(np.uint8)
    return out


def render_guides(vertices: np.ndarray, faces: np.ndarray, cameras: Sequence[Camera], style: str = "parts_shaded",
                  labels: VertexLabels | None = None) -> list[np.ndarray]:
    """One-shot helper: a renderer sized to the first camera, used once."""
    cams = list(cameras)
    with GuideRenderer(cams[0].width, cams[0].height, style, labels) as r:
        return r.render(vertices, faces, cams)
