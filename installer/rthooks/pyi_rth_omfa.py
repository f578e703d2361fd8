"""Runtime hook of the OMFA bundle (runs before main.py / omfa_cli.py).

- Linux: PyInstaller's bootloader points LD_LIBRARY_PATH at the bundle for this process. Child processes
  (the hmr2 estimator in the user's own Python environment, nvidia-smi) must not inherit it: restore the
  user's value for them. (The dynamic loader of this process read it at start; changing it does not matter
  here.)
- Windows: put the contents directory first on PATH, so ctypes.util.find_library finds DLLs shipped in it
  (an OSMesa DLL for offscreen guide renders, see installer/windows/BUILD.md).
"""
import os
import sys

_bundle = getattr(sys, "_MEIPASS", "")
if sys.platform.startswith("linux"):
    if "LD_LIBRARY_PATH_ORIG" in os.environ:
        os.environ["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH_ORIG"]
    elif _bundle and os.path.realpath(os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)[0] or "/-") \
            == os.path.realpath(_bundle):
        os.environ.pop("LD_LIBRARY_PATH", None)  # it was unset before the bootloader set it
elif sys.platform == "win32" and _bundle:
    os.environ["PATH"] = _bundle + os.pathsep + os.environ.get("PATH", "")
