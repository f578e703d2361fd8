"""pyrender (pyrender-maintained): its GLSL shaders and fonts are data files, and the offscreen platform is
chosen at run time: engine/body/render.py sets PYOPENGL_PLATFORM to egl or osmesa on Linux (pyrender's
pyglet window on Windows and macOS), and PyOpenGL then imports
``OpenGL.platform.<name>`` by name (pyinstaller-hooks-contrib's OpenGL hook only adds GLX on Linux). The
Qt viewport uses EGL under X11 (omfa_desktop/glenv.py). The GL libraries themselves (libEGL, libOSMesa,
Mesa or the GPU driver) come from the system, never from the bundle."""
from PyInstaller.compat import is_darwin, is_win
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

datas = collect_data_files("pyrender") + copy_metadata("pyrender-maintained") + copy_metadata("PyOpenGL")
hiddenimports = ["pyrender.platforms.egl", "pyrender.platforms.osmesa", "pyrender.platforms.pyglet_platform"]
if is_win or is_darwin:
    # engine/body/render.py renders through pyrender's pyglet platform there (a hidden window)
    hiddenimports += collect_submodules("pyglet")
if is_win:
    platforms = ["win32", "egl", "osmesa"]
elif is_darwin:
    platforms = ["darwin", "osmesa"]
else:
    platforms = ["egl", "osmesa", "glx"]
hiddenimports += [f"OpenGL.platform.{p}" for p in platforms]
for pkg in ("OpenGL.EGL", "OpenGL.raw.EGL", "OpenGL.osmesa", "OpenGL.raw.osmesa", "OpenGL.GLX", "OpenGL.raw.GLX",
            "OpenGL.GL", "OpenGL.raw.GL", "OpenGL.arrays"):
    hiddenimports += collect_submodules(pkg)
