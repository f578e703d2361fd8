"""OpenGL set-up that must happen before the QApplication exists (see ENVIRONMENT.md, "Qt + OpenGL facts").

The viewport draws with PyOpenGL inside Qt's context, and guide renders use pyrender (PyOpenGL) offscreen in
the same process. PyOpenGL binds one platform per process, so it must match Qt's GL integration:
on X11 we run Qt with ``QT_XCB_GL_INTEGRATION=xcb_egl`` and PyOpenGL with ``PYOPENGL_PLATFORM=egl``.
(With Qt's default GLX and PyOpenGL on EGL, the viewport silently draws nothing.)
"""
from __future__ import annotations

import os
import sys

#: Whether the 3D viewport can draw: set by :func:`configure_gl_environment`.
STATE = {"configured": False, "platform": "", "viewport_ok": False, "reason": "not configured"}


def configure_gl_environment() -> dict:
    """Choose PyOpenGL's platform and Qt's matching GL integration. Call before creating the QApplication."""
    if STATE["configured"]:
        return STATE
    STATE["configured"] = True
    from omfa_desktop.pyside_import_hook import lighten

    lighten()  # the first Qt-side step of every start-up: imports from here on pay the cheap check
    if "PYOPENGL_PLATFORM" not in os.environ and "OpenGL" not in sys.modules:
        try:
            from engine.body.render import RenderError, ensure_gl_platform

            ensure_gl_platform()
        except RenderError as e:
            STATE.update(platform="", viewport_ok=False, reason=str(e))
            return STATE
    platform = os.environ.get("PYOPENGL_PLATFORM", "")
    STATE["platform"] = platform
    qpa = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux"):
        STATE.update(viewport_ok=True, reason="")
    elif qpa == "offscreen" or qpa == "minimal":
        STATE.update(viewport_ok=False, reason=f"Qt runs with QT_QPA_PLATFORM={qpa}: no OpenGL window surface")
    elif platform == "egl":
        if qpa in ("", "xcb") and os.environ.get("DISPLAY"):
            os.environ.setdefault("QT_XCB_GL_INTEGRATION", "xcb_egl")
            ok = os.environ["QT_XCB_GL_INTEGRATION"] == "xcb_egl"
            STATE.update(viewport_ok=ok, reason="" if ok else "QT_XCB_GL_INTEGRATION is not xcb_egl while "
                                                            "PYOPENGL_PLATFORM=egl")
        else:  # Wayland's Qt GL is EGL too
            STATE.update(viewport_ok=bool(os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY")),
                         reason="")
    elif platform == "glx":
        STATE.update(viewport_ok=os.environ.get("QT_XCB_GL_INTEGRATION", "xcb_glx") == "xcb_glx", reason="")
    else:
        STATE.update(viewport_ok=False, reason=f"PyOpenGL uses {platform or 'no platform'}, which cannot draw in "
                                               "a Qt window (install libegl1 for EGL)")
    if STATE["viewport_ok"]:
        set_default_surface_format()
    return STATE


def set_default_surface_format() -> None:
    """OpenGL 3.3 core profile, depth buffer, 4x MSAA (OMFA_GL_SAMPLES) for every QOpenGLWidget."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QSurfaceFormat

    fmt = QSurfaceFormat()
    fmt.setVersion(3, 3)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    fmt.setDepthBufferSize(24)
    fmt.setSamples(int(os.environ.get("OMFA_GL_SAMPLES", "4")))
    QSurfaceFormat.setDefaultFormat(fmt)
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts, True)


_SOFTWARE: dict = {}


def software_gl() -> bool:
    """True when Qt's OpenGL is a software rasteriser (Mesa llvmpipe / softpipe / swrast): there 4x MSAA
    multiplies the per-pixel work of every frame, so the viewport draws without it. Probed once with an
    offscreen context (needs the QApplication); False when it cannot tell."""
    if "v" not in _SOFTWARE:
        _SOFTWARE["v"] = False
        try:
            from PySide6.QtGui import QOffscreenSurface, QOpenGLContext

            ctx, surface = QOpenGLContext(), QOffscreenSurface()
            surface.create()
            if ctx.create() and ctx.makeCurrent(surface):
                from OpenGL import GL

                renderer = (GL.glGetString(GL.GL_RENDERER) or b"").decode(errors="replace").lower()
                _SOFTWARE["v"] = any(w in renderer for w in ("llvmpipe", "softpipe", "swrast", "software"))
                _SOFTWARE["renderer"] = renderer
                ctx.doneCurrent()
            surface.destroy()
        except Exception:  # noqa: BLE001 - a failed probe only keeps MSAA on
            pass
    return _SOFTWARE["v"]


def has_display() -> bool:
    """False on a Linux box with no display and no Qt platform set (Qt would abort)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))
