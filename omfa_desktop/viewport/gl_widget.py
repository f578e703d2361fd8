"""BodyView: the posed body in a QOpenGLWidget (OpenGL 3.3 core profile, VAO/VBO, PyOpenGL).

Draws, back to front: the person photo as a semi-transparent backdrop (optional), a floor grid, the shaded
body, the cameras of the requested views, and the skeleton on top (joints as dots, the selected one
highlighted). Mouse: left drag orbits (or rotates the joint under the cursor), right/middle drag pans,
the wheel zooms, a double click frames the body. Picking is done in numpy by projecting the joints.

PyOpenGL must use the same GL platform as Qt (EGL with ``QT_XCB_GL_INTEGRATION=xcb_egl``); see glenv.py.
"""
from __future__ import annotations

import ctypes
import time

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtOpenGLWidgets import QOpenGLWidget

from engine.body.skeleton import PARENTS
from omfa_desktop.viewport.math3d import PICKABLE, OrbitCamera, pick_joint

VS_MESH = """#version 330 core
layout(location = 0) in vec3 a_pos;
layout(location = 1) in vec3 a_nrm;
uniform mat4 u_mvp;
out vec3 v_nrm;
out vec3 v_pos;
void main() { v_nrm = a_nrm; v_pos = a_pos; gl_Position = u_mvp * vec4(a_pos, 1.0); }
"""
FS_MESH = """#version 330 core
in vec3 v_nrm;
in vec3 v_pos;
uniform vec3 u_eye;
uniform vec3 u_color;
out vec4 frag;
void main() {
    vec3 n = normalize(v_nrm);
    vec3 v = normalize(u_eye - v_pos);
    if (dot(n, v) < 0.0) n = -n;
    vec3 key = normalize(vec3(0.45, 0.8, 0.6));
    vec3 fill = normalize(vec3(-0.7, 0.25, -0.3));
    float diff = 0.72 * max(dot(n, key), 0.0) + 0.28 * max(dot(n, fill), 0.0);
    float hemi = 0.5 + 0.5 * n.y;
    float spec = 0.22 * pow(max(dot(n, normalize(key + v)), 0.0), 48.0);
    float rim = 0.22 * pow(1.0 - max(dot(n, v), 0.0), 3.0);
    vec3 c = u_color * (0.20 + 0.16 * hemi + diff) + vec3(spec + rim);
    frag = vec4(pow(c, vec3(1.0 / 1.1)), 1.0);
}
"""
# Linear blend skinning on the GPU (omfa_desktop.viewport.skin): rest position and normal, four weights and
# their joints per vertex; the 55 skinning matrices are the only per-pose data.
VS_SKIN = """#version 330 core
layout(location = 0) in vec3 a_pos;
layout(location = 1) in vec3 a_nrm;
layout(location = 2) in vec4 a_w;
layout(location = 3) in vec4 a_j;
uniform mat4 u_skin[55];
uniform mat4 u_mvp;
out vec3 v_nrm;
out vec3 v_pos;
void main() {
    mat4 m = a_w.x * u_skin[int(a_j.x)] + a_w.y * u_skin[int(a_j.y)] + a_w.z * u_skin[int(a_j.z)]
           + a_w.w * u_skin[int(a_j.w)];
    vec4 p = m * vec4(a_pos, 1.0);
    v_pos = p.xyz;
    v_nrm = mat3(m) * a_nrm;
    gl_Position = u_mvp * p;
}
"""
VS_LINES = """#version 330 core
layout(location = 0) in vec3 a_pos;
layout(location = 1) in vec4 a_col;
uniform mat4 u_mvp;
uniform float u_point;
out vec4 v_col;
void main() { v_col = a_col; gl_Position = u_mvp * vec4(a_pos, 1.0); gl_PointSize = u_point; }
"""
FS_LINES = """#version 330 core
in vec4 v_col;
uniform int u_round;
out vec4 frag;
void main() {
    if (u_round == 1) {
        vec2 d = gl_PointCoord - vec2(0.5);
        float r = dot(d, d);
        if (r > 0.25) discard;
        frag = r > 0.13 ? vec4(0.1, 0.1, 0.1, v_col.a) : v_col;   // dark outline
    } else {
        frag = v_col;
    }
}
"""
VS_QUAD = """#version 330 core
layout(location = 0) in vec2 a_pos;
layout(location = 1) in vec2 a_uv;
out vec2 v_uv;
void main() { v_uv = a_uv; gl_Position = vec4(a_pos, 0.0, 1.0); }
"""
FS_QUAD = """#version 330 core
in vec2 v_uv;
uniform sampler2D u_tex;
uniform float u_alpha;
out vec4 frag;
void main() { frag = vec4(texture(u_tex, v_uv).rgb, u_alpha); }
"""

BACKGROUND = (0.93, 0.94, 0.96)
BODY_COLOR = (0.80, 0.72, 0.64)
BONE_COLOR = (0.16, 0.45, 0.85, 1.0)
JOINT_COLOR = (0.95, 0.97, 1.0, 1.0)
SELECTED_COLOR = (1.0, 0.55, 0.05, 1.0)
CAMERA_COLOR = (0.55, 0.25, 0.70, 1.0)
FRONT_CAMERA_COLOR = (0.85, 0.15, 0.15, 1.0)
GRID_COLOR = (0.70, 0.72, 0.76, 1.0)


def vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, (V, 3) float32 (vectorised with bincount)."""
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    rep = np.repeat(fn, 3, axis=0)
    idx = f.ravel()
    n = np.stack([np.bincount(idx, weights=rep[:, c], minlength=len(v)) for c in range(3)], 1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n.astype(np.float32)


def _gl_matrix(m: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(m.T, np.float32)  # column-major for OpenGL


class BodyView(QOpenGLWidget):
    """The 3D view. Owns the camera; the body, selection, cameras and overlay are given to it.

    Signals
    -------
    jointPressed(int)        left press on a joint (a drag from there rotates it)
    jointDragged(float, float)  mouse motion (dx, dy px) while dragging a joint
    jointReleased()          end of that drag
    emptyClicked()           a left click (no drag) away from any joint
    cameraChanged()
    """

    jointPressed = Signal(int)
    jointDragged = Signal(float, float)
    jointReleased = Signal()
    emptyClicked = Signal()
    cameraChanged = Signal()
    glFailed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.camera = OrbitCamera()
        self._vertices: np.ndarray | None = None
        self.skin = None              # a GpuSkin when the GPU poses the body (set_skinned), else None
        self._dirty_skin_static = False
        self._dirty_skin_rest = False
        self.faces: np.ndarray | None = None
        self.joints: np.ndarray | None = None
        self.selected: int | None = None
        self.cameras: list[dict] = []
        self.overlay: np.ndarray | None = None
        self.overlay_alpha = 0.45
        self.show_overlay = False
        self.floor_y: float | None = None
        self.last_frame_ms = 0.0
        self.error = ""
        self._dirty_mesh = False
        self._dirty_faces = False
        self._dirty_overlay = False
        self._gl_ready = False
        self._mode: str | None = None
        self._last = QPointF()
        self._press = QPointF()
        self._moved = False
        self.setMinimumSize(220, 220)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        import os

        from omfa_desktop.glenv import software_gl

        if "OMFA_GL_SAMPLES" not in os.environ and software_gl():
            fmt = self.format()  # no MSAA on a software rasteriser: it multiplies the cost of every frame
            fmt.setSamples(0)
            self.setFormat(fmt)
        self.setToolTip("Left drag: orbit · right/middle drag: pan · wheel: zoom · double click: frame all\n"
                        "Click a joint to select it; drag it to rotate it")

    # ------------------------------------------------------------------ data in
    @property
    def vertices(self) -> np.ndarray | None:
        """The posed vertices (V, 3); with GPU skinning computed on the CPU only when asked (framing)."""
        if self._vertices is None and self.skin is not None and self.skin.skin is not None:
            self._vertices = self.skin.cpu_vertices()
        return self._vertices

    def set_skinned(self, skin, faces: np.ndarray, joints: np.ndarray, static_changed: bool,
                    rest_changed: bool) -> None:
        """Pose by GPU skinning: ``skin`` (a GpuSkin, already posed) holds the matrices and static buffers;
        ``static_changed``: a new body or shape (upload everything), ``rest_changed``: new rest positions."""
        if self.skin is not skin:
            static_changed = True
        self.skin = skin
        self._vertices = None  # computed on demand
        if self.faces is None or faces.shape != self.faces.shape:
            self.faces = np.ascontiguousarray(faces, np.uint32)
            self._dirty_faces = True
        self._dirty_skin_static |= static_changed
        self._dirty_skin_rest |= rest_changed
        self.joints = np.asarray(joints, np.float64)[:55]
        if self.floor_y is None:
            self.floor_y = float(self.vertices[:, 1].min())
        self.update()

    def set_body(self, vertices: np.ndarray, faces: np.ndarray | None, joints: np.ndarray) -> None:
        self.skin = None
        self._vertices = np.ascontiguousarray(vertices, np.float32)
        if faces is not None and (self.faces is None or faces.shape != self.faces.shape):
            self.faces = np.ascontiguousarray(faces, np.uint32)
            self._dirty_faces = True
        self.joints = np.asarray(joints, np.float64)[:55]
        if self.floor_y is None:
            self.floor_y = float(self.vertices[:, 1].min())
        self._dirty_mesh = True
        self.update()

    def set_selected(self, joint: int | None) -> None:
        self.selected = joint
        self.update()

    def set_cameras(self, cameras: list[dict]) -> None:
        self.cameras = list(cameras or [])
        self.update()

    def set_overlay(self, image: np.ndarray | None) -> None:
        self.overlay = None if image is None else np.ascontiguousarray(image[..., :3], np.uint8)
        self._dirty_overlay = True
        self.update()

    def set_overlay_visible(self, on: bool) -> None:
        self.show_overlay = on
        self.update()

    def frame_all(self) -> None:
        if self.vertices is not None:
            self.camera.frame(self.vertices, self.width() / max(self.height(), 1))
            self.cameraChanged.emit()
            self.update()

    def set_view(self, name: str) -> None:
        self.camera.set_view(name)
        self.cameraChanged.emit()
        self.update()

    def pick(self, x: float, y: float) -> int | None:
        if self.joints is None:
            return None
        return pick_joint(self.camera, self.joints, x, y, self.width(), self.height())

    def joint_pixel(self, joint: int) -> tuple[float, float]:
        """Where a joint is drawn (widget pixels): tests click there."""
        px, _ = self.camera.project(self.joints[[joint]], self.width(), self.height())
        return float(px[0, 0]), float(px[0, 1])

    # ------------------------------------------------------------------ GL
    def initializeGL(self) -> None:  # noqa: N802 - Qt override
        try:
            from OpenGL import GL

            self.GL = GL
            self._prog_mesh = self._program(VS_MESH, FS_MESH)
            self._prog_lines = self._program(VS_LINES, FS_LINES)
            self._prog_quad = self._program(VS_QUAD, FS_QUAD)
            self._prog_skin = self._program(VS_SKIN, FS_MESH)
            self._skin_uniforms = {n: GL.glGetUniformLocation(self._prog_skin, n) for n in ("u_skin", "u_mvp", "u_eye",
                                                                                            "u_color")}
            self._vao_mesh = GL.glGenVertexArrays(1)
            self._vbo_pos, self._vbo_nrm, self._ebo = GL.glGenBuffers(3)
            GL.glBindVertexArray(self._vao_mesh)
            for loc, vbo in ((0, self._vbo_pos), (1, self._vbo_nrm)):
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
                GL.glBufferData(GL.GL_ARRAY_BUFFER, 12, None, GL.GL_DYNAMIC_DRAW)
                GL.glEnableVertexAttribArray(loc)
                GL.glVertexAttribPointer(loc, 3, GL.GL_FLOAT, GL.GL_FALSE, 0, ctypes.c_void_p(0))
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, self._ebo)
            self._vao_skin = GL.glGenVertexArrays(1)
            self._vbo_skin = GL.glGenBuffers(4)  # rest position, normal, weights, joint ids
            GL.glBindVertexArray(self._vao_skin)
            for loc, (vbo, n) in enumerate(zip(self._vbo_skin, (3, 3, 4, 4))):
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
                GL.glBufferData(GL.GL_ARRAY_BUFFER, 4 * n, None, GL.GL_STATIC_DRAW)
                GL.glEnableVertexAttribArray(loc)
                GL.glVertexAttribPointer(loc, n, GL.GL_FLOAT, GL.GL_FALSE, 0, ctypes.c_void_p(0))
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, self._ebo)  # the same faces
            self._vao_lines = GL.glGenVertexArrays(1)
            self._vbo_lines = GL.glGenBuffers(1)
            GL.glBindVertexArray(self._vao_lines)
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._vbo_lines)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, 28, None, GL.GL_DYNAMIC_DRAW)
            GL.glEnableVertexAttribArray(0)
            GL.glVertexAttribPointer(0, 3, GL.GL_FLOAT, GL.GL_FALSE, 28, ctypes.c_void_p(0))
            GL.glEnableVertexAttribArray(1)
            GL.glVertexAttribPointer(1, 4, GL.GL_FLOAT, GL.GL_FALSE, 28, ctypes.c_void_p(12))
            self._vao_quad = GL.glGenVertexArrays(1)
            self._vbo_quad = GL.glGenBuffers(1)
            GL.glBindVertexArray(self._vao_quad)
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._vbo_quad)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, 64, None, GL.GL_DYNAMIC_DRAW)
            GL.glEnableVertexAttribArray(0)
            GL.glVertexAttribPointer(0, 2, GL.GL_FLOAT, GL.GL_FALSE, 16, ctypes.c_void_p(0))
            GL.glEnableVertexAttribArray(1)
            GL.glVertexAttribPointer(1, 2, GL.GL_FLOAT, GL.GL_FALSE, 16, ctypes.c_void_p(8))
            self._tex = GL.glGenTextures(1)
            GL.glBindVertexArray(0)
            GL.glEnable(GL.GL_PROGRAM_POINT_SIZE)
            self._dirty_faces = self._dirty_mesh = self._dirty_overlay = self._dirty_skin_static = True
            self._gl_ready = True
        except Exception as e:  # noqa: BLE001 - a GL failure must become a message, not a crash
            self.error = f"OpenGL is not usable here ({e.__class__.__name__}: {e})"
            self.glFailed.emit(self.error)

    def _program(self, vs: str, fs: str) -> int:
        GL = self.GL

        def shader(src: str, kind) -> int:
            s = GL.glCreateShader(kind)
            GL.glShaderSource(s, src)
            GL.glCompileShader(s)
            if not GL.glGetShaderiv(s, GL.GL_COMPILE_STATUS):
                raise RuntimeError(GL.glGetShaderInfoLog(s).decode(errors="replace"))
            return s

        p = GL.glCreateProgram()
        for s in (shader(vs, GL.GL_VERTEX_SHADER), shader(fs, GL.GL_FRAGMENT_SHADER)):
            GL.glAttachShader(p, s)
        GL.glLinkProgram(p)
        if not GL.glGetProgramiv(p, GL.GL_LINK_STATUS):
            raise RuntimeError(GL.glGetProgramInfoLog(p).decode(errors="replace"))
        return p

    def paintGL(self) -> None:  # noqa: N802 - Qt override
        if not self._gl_ready:
            return
        t0 = time.perf_counter()
        GL = self.GL
        try:
            GL.glClearColor(*BACKGROUND, 1.0)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
            w, h = self.width(), self.height()
            mvp = self.camera.projection(w / max(h, 1)) @ self.camera.view()
            if self.show_overlay and self.overlay is not None:
                self._draw_overlay(w, h)
            GL.glEnable(GL.GL_DEPTH_TEST)
            self._draw_lines(mvp, self._grid_lines(), GL.GL_LINES)
            if self.skin is not None and self.faces is not None:
                self._draw_skinned(mvp)
            elif self._vertices is not None and self.faces is not None:
                self._draw_mesh(mvp)
            if self.cameras:
                self._draw_lines(mvp, self._camera_lines(), GL.GL_LINES)
            if self.joints is not None:
                GL.glDisable(GL.GL_DEPTH_TEST)  # the skeleton is always visible (x-ray), so always pickable
                self._draw_lines(mvp, self._bone_lines(), GL.GL_LINES)
                pts = self._joint_points()
                self._draw_lines(mvp, pts, GL.GL_POINTS, point=9.0, round_=True)
                if self.selected is not None:
                    sel = np.r_[self.joints[self.selected], SELECTED_COLOR].astype(np.float32)[None]
                    self._draw_lines(mvp, sel, GL.GL_POINTS, point=16.0, round_=True)
            GL.glBindVertexArray(0)
        except Exception as e:  # noqa: BLE001
            self._gl_ready = False
            self.error = f"drawing failed ({e.__class__.__name__}: {e})"
            self.glFailed.emit(self.error)
        self.last_frame_ms = (time.perf_counter() - t0) * 1000

    def _draw_mesh(self, mvp: np.ndarray) -> None:
        GL = self.GL
        GL.glBindVertexArray(self._vao_mesh)
        if self._dirty_faces:
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, self._ebo)
            GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, self.faces.nbytes, self.faces, GL.GL_STATIC_DRAW)
            self._dirty_faces = False
        if self._dirty_mesh:
            normals = vertex_normals(self.vertices, self.faces.astype(np.int64))
            for vbo, data in ((self._vbo_pos, self.vertices), (self._vbo_nrm, normals)):
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
                GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, GL.GL_DYNAMIC_DRAW)
            self._dirty_mesh = False
        GL.glUseProgram(self._prog_mesh)
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(self._prog_mesh, "u_mvp"), 1, GL.GL_FALSE, _gl_matrix(mvp))
        GL.glUniform3f(GL.glGetUniformLocation(self._prog_mesh, "u_eye"), *self.camera.eye())
        GL.glUniform3f(GL.glGetUniformLocation(self._prog_mesh, "u_color"), *BODY_COLOR)
        GL.glDrawElements(GL.GL_TRIANGLES, int(self.faces.size), GL.GL_UNSIGNED_INT, ctypes.c_void_p(0))

    def _draw_skinned(self, mvp: np.ndarray) -> None:
        GL, sk = self.GL, self.skin
        if self._dirty_faces:
            GL.glBindVertexArray(self._vao_mesh)  # the element buffer is shared by both VAOs
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, self._ebo)
            GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, self.faces.nbytes, self.faces, GL.GL_STATIC_DRAW)
            self._dirty_faces = False
        GL.glBindVertexArray(self._vao_skin)
        if self._dirty_skin_static:
            arrays = (sk.rest, sk.normals, sk.weights, sk.joint_ids)
        elif self._dirty_skin_rest:
            arrays = (sk.rest,)
        else:
            arrays = ()
        for vbo, data in zip(self._vbo_skin, arrays):
            data = np.ascontiguousarray(data, np.float32)
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, GL.GL_DYNAMIC_DRAW)
        self._dirty_skin_static = self._dirty_skin_rest = False
        u = self._skin_uniforms
        GL.glUseProgram(self._prog_skin)
        # row-major numpy matrices, transposed by GL (GL_TRUE): 55 of them in one call
        GL.glUniformMatrix4fv(u["u_skin"], len(sk.skin), GL.GL_TRUE, np.ascontiguousarray(sk.skin, np.float32))
        GL.glUniformMatrix4fv(u["u_mvp"], 1, GL.GL_FALSE, _gl_matrix(mvp))
        GL.glUniform3f(u["u_eye"], *self.camera.eye())
        GL.glUniform3f(u["u_color"], *BODY_COLOR)
        GL.glDrawElements(GL.GL_TRIANGLES, int(self.faces.size), GL.GL_UNSIGNED_INT, ctypes.c_void_p(0))

    def _draw_lines(self, mvp: np.ndarray, data: np.ndarray, mode, point: float = 1.0, round_: bool = False) -> None:
        if data is None or len(data) == 0:
            return
        GL = self.GL
        data = np.ascontiguousarray(data, np.float32)
        GL.glBindVertexArray(self._vao_lines)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._vbo_lines)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, GL.GL_DYNAMIC_DRAW)
        GL.glUseProgram(self._prog_lines)
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(self._prog_lines, "u_mvp"), 1, GL.GL_FALSE, _gl_matrix(mvp))
        GL.glUniform1f(GL.glGetUniformLocation(self._prog_lines, "u_point"), point)
        GL.glUniform1i(GL.glGetUniformLocation(self._prog_lines, "u_round"), 1 if round_ else 0)
        GL.glDrawArrays(mode, 0, len(data))

    def _draw_overlay(self, w: int, h: int) -> None:
        GL = self.GL
        img = self.overlay
        if self._dirty_overlay:
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._tex)
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGB8, img.shape[1], img.shape[0], 0, GL.GL_RGB,
                            GL.GL_UNSIGNED_BYTE, img)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
            self._dirty_overlay = False
        ih, iw = img.shape[:2]
        s = min(w / iw, h / ih)
        sx, sy = iw * s / w, ih * s / h
        quad = np.array([[-sx, -sy, 0, 1], [sx, -sy, 1, 1], [-sx, sy, 0, 0], [sx, sy, 1, 0]], np.float32)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glBindVertexArray(self._vao_quad)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._vbo_quad)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, quad.nbytes, quad, GL.GL_DYNAMIC_DRAW)
        GL.glUseProgram(self._prog_quad)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._tex)
        GL.glUniform1i(GL.glGetUniformLocation(self._prog_quad, "u_tex"), 0)
        GL.glUniform1f(GL.glGetUniformLocation(self._prog_quad, "u_alpha"), self.overlay_alpha)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glDisable(GL.GL_BLEND)

    # ------------------------------------------------------------------ line geometry
    def _grid_lines(self) -> np.ndarray:
        y = self.floor_y if self.floor_y is not None else -1.0
        ticks = np.arange(-1.5, 1.5001, 0.25)
        rows = []
        for t in ticks:
            rows += [[t, y, -1.5], [t, y, 1.5], [-1.5, y, t], [1.5, y, t]]
        pos = np.array(rows)
        return np.c_[pos, np.tile(GRID_COLOR, (len(pos), 1))]

    def _bone_lines(self) -> np.ndarray:
        j = self.joints
        rows = []
        for c in PICKABLE[1:]:
            rows += [j[PARENTS[c]], j[c]]
        pos = np.array(rows)
        return np.c_[pos, np.tile(BONE_COLOR, (len(pos), 1))]

    def _joint_points(self) -> np.ndarray:
        pos = self.joints[list(PICKABLE)]
        return np.c_[pos, np.tile(JOINT_COLOR, (len(pos), 1))]

    def _camera_lines(self) -> np.ndarray:
        """Each requested view's camera: a small frustum in its true direction, drawn 1.5 m from the body
        (the real cameras stand farther away; their distance is listed beside the view)."""
        rows, cols = [], []
        centre = self.vertices.mean(0) if self.vertices is not None else np.zeros(3)
        for i, c in enumerate(self.cameras):
            R, t = np.asarray(c["R"], np.float64), np.asarray(c["t"], np.float64)
            eye = -R.T @ t
            d = eye - centre
            eye = centre + d / max(np.linalg.norm(d), 1e-9) * 1.5
            right, down, fwd = R[0], R[1], R[2]
            tx = c["width"] / (2 * c["fx"])
            ty = c["height"] / (2 * c["fy"])
            s = 0.22
            corners = [eye + s * (fwd + a * tx * right + b * ty * down)
                       for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            for k in range(4):
                rows += [eye, corners[k], corners[k], corners[(k + 1) % 4]]
            rows += [corners[0] + 0.35 * (corners[1] - corners[0]), eye + s * (fwd - 1.6 * ty * down),
                     eye + s * (fwd - 1.6 * ty * down), corners[0] + 0.65 * (corners[1] - corners[0])]  # "up" tick
            color = FRONT_CAMERA_COLOR if i == 0 else CAMERA_COLOR
            cols += [color] * 20
        return np.c_[np.array(rows), np.array(cols)]

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, e) -> None:  # noqa: N802 - Qt override
        self._last = e.position()
        self._press = e.position()
        self._moved = False
        if e.button() == Qt.MouseButton.LeftButton:
            j = self.pick(e.position().x(), e.position().y())
            if j is not None:
                self._mode = "joint"
                self.jointPressed.emit(j)
            else:
                self._mode = "orbit"
        elif e.button() in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self._mode = "pan"
        e.accept()

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        if self._mode is None:
            return
        d = e.position() - self._last
        self._last = e.position()
        if (e.position() - self._press).manhattanLength() > 3:
            self._moved = True
        if self._mode == "orbit":
            self.camera.orbit(d.x(), d.y())
            self.cameraChanged.emit()
            self.update()
        elif self._mode == "pan":
            self.camera.pan(d.x(), d.y(), self.height())
            self.cameraChanged.emit()
            self.update()
        elif self._mode == "joint":
            self.jointDragged.emit(d.x(), d.y())
        e.accept()

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        mode, self._mode = self._mode, None
        if mode == "joint":
            self.jointReleased.emit()
        elif mode == "orbit" and not self._moved:
            self.emptyClicked.emit()
        e.accept()

    def mouseDoubleClickEvent(self, e) -> None:  # noqa: N802
        if self.pick(e.position().x(), e.position().y()) is None:
            self.frame_all()

    def wheelEvent(self, e) -> None:  # noqa: N802
        self.camera.zoom(e.angleDelta().y() / 120.0)
        self.cameraChanged.emit()
        self.update()
        e.accept()
