"""What goes into the OMFA Desktop bundle, in plain Python (no PyInstaller needed): installer/omfa.spec reads
it, and tests/test_installer.py checks it without building.

Layout of the onedir bundle ``dist/omfa-desktop/`` (PyInstaller 6, contents directory ``_internal``)::

    omfa-desktop(.exe)        the window (main.py; no console on Windows)
    omfa(.exe)                the command line and ``--self-test`` (installer/omfa_cli.py; console)
    LICENSES/                 licence notes (written by :func:`write_licenses`)
    _internal/resources/...   mannequin, poses, samples, demo model, BlazePose models, icons
    _internal/...             Python, torch, Qt and the other libraries

Never bundled: SMPL-X model files (non-commercial, no redistribution: users download them themselves, see
LICENSES/SMPL-X-NOT-INCLUDED.txt), other third-party weights, build and test tools.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "omfa-desktop"           # the onedir folder and the window executable
CLI_NAME = "omfa"               # the console executable
CONTENTS = "_internal"          # PyInstaller 6's default contents directory
ENTRY_GUI = "main.py"
ENTRY_CLI = "installer/omfa_cli.py"

#: Shipped resources: (folder in the checkout, folder in the bundle's contents directory). Every file of each
#: folder goes in (the demo model's manifest.json lists them all, so none may be left out).
RESOURCE_DIRS = (
    ("resources/body", "resources/body"),                        # the procedural mannequin (SMPL-X format)
    ("resources/poses", "resources/poses"),                      # pose presets
    ("resources/samples", "resources/samples"),                  # sample inputs
    ("resources/models/demo", "resources/models/demo"),          # the demo model (safetensors + JSON)
    ("resources/models/blazepose", "resources/models/blazepose"),  # BlazePose .tflite (Apache-2.0)
    ("resources/icons", "resources/icons"),                      # the app icon (.png, .ico)
)
#: Files that must never be in a bundle, wherever they are: real SMPL-X / SMPL model files and pickles.
FORBIDDEN = ("SMPLX_*.npz", "SMPLX_*.pkl", "SMPL_*.pkl", "SMPL_*.npz", "*.ckpt", "*.pt", "*.pth", "*.pkl")

#: The hmr2 child runs in the user's hmr2 environment as ``python -m engine.body.hmr2_child`` with the
#: bundle's contents directory on PYTHONPATH (engine/body/hmr2.py), so its source (it imports nothing from the
#: app) and its package markers ship as plain .py files too.
HMR2_CHILD_SOURCES = ("engine/__init__.py", "engine/body/__init__.py", "engine/body/hmr2_child.py")

#: Modules never bundled: GUI toolkits and Qt modules the app does not use, test and build tools.
#: Not excluded on purpose: PySide6.QtMultimedia(+Widgets) -- the kiosk's optional camera
#: (omfa_desktop/kiosk/camera.py) uses it when PySide6-Addons is installed; with PySide6-Essentials (what
#: pyproject installs) it does not exist and the kiosk takes photos from its drop folder.
EXCLUDES = [
    "tkinter", "_tkinter", "turtle", "idlelib", "matplotlib", "IPython", "jupyter", "notebook",
    "pytest", "_pytest", "pytestqt", "pytest_qt", "pytest_xvfb", "pytest_timeout", "xvfbwrapper",
    "pyvirtualdisplay", "PyInstaller", "pip",
    # smplx's licence forbids redistribution: engine.body.skinning poses SMPL-X-format bodies instead
    "smplx",
    "hf_xet",  # huggingface_hub's download accelerator: the app never downloads (hub checks it is optional)
    "torchvision", "torchaudio", "transformers", "tensorflow", "jax", "mediapipe", "cv2", "hmr2",
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest", "PySide6.QtQuick3D", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick", "PySide6.QtWebChannel", "PySide6.QtWebSockets", "PySide6.QtWebView",
    "PySide6.Qt3DCore", "PySide6.Qt3DRender", "PySide6.Qt3DExtras", "PySide6.Qt3DInput", "PySide6.Qt3DLogic",
    "PySide6.Qt3DAnimation", "PySide6.QtCharts", "PySide6.QtDataVisualization", "PySide6.QtGraphs",
    "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtSql", "PySide6.QtTest",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtBluetooth", "PySide6.QtNfc", "PySide6.QtPositioning",
    "PySide6.QtLocation", "PySide6.QtSensors", "PySide6.QtSerialPort", "PySide6.QtSerialBus",
    "PySide6.QtRemoteObjects", "PySide6.QtScxml", "PySide6.QtStateMachine", "PySide6.QtTextToSpeech",
    "PySide6.QtLabsStyleKit", "PySide6.QtAxContainer",
]

#: Files dropped after the analysis (globs on the destination path inside the contents directory):
#: - Qt: the app ships no translations (Qt's own .qm files only translate Qt's standard dialogs), uses no
#:   QML and no web engine; the GTK3 platform theme needs the system's GTK 3 and would drag half of it in.
#: - torch: C++ test programs, test libraries and protoc of the wheel (torch_shm_manager stays: torch needs it).
#: - Mesa (OSMesa, LLVM, glapi) that PyInstaller finds through engine/body/render.py's ctypes calls: offscreen
#:   GL must come from the system (Mesa or the GPU driver, matching its own libEGL/libGL), never from the
#:   build machine; with them go the build machine's libz3, libxml2 and ICU 72 that only LLVM needed.
DROP = (
    "PySide6/Qt/translations/*", "PySide6/translations/*",
    "PySide6/Qt/qml/*", "PySide6/qml/*",
    "*/libQt6Qml*", "*/libQt6Quick*", "*/libQt6WebEngine*", "*/libQt6Pdf*", "*/libQt6Designer*",
    "*/Qt6Qml*.dll", "*/Qt6Quick*.dll", "*/Qt6WebEngine*.dll", "*/Qt6Pdf*.dll", "*/Qt6Designer*.dll",
    "PySide6/Qt/plugins/qmltooling/*", "PySide6/plugins/qmltooling/*",
    "PySide6/Qt/libexec/QtWebEngineProcess*", "PySide6/QtWebEngineProcess*",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "libgtk-3.so*", "libgdk-3.so*", "libgdk_pixbuf-2.0.so*", "libatk-1.0.so*", "libatk-bridge-2.0.so*",
    "libatspi.so*", "libcairo.so*", "libcairo-gobject.so*", "libpango-1.0.so*", "libpangocairo-1.0.so*",
    "libpangoft2-1.0.so*", "libepoxy.so*", "libfribidi.so*", "libthai.so*", "libdatrie.so*", "libpixman-1.so*",
    "libgraphite2.so*",
    # not torch_shm_manager "torch/lib/libjitbackend_test.so", "torch/lib/libtorchbind_test.so",
    "torch/bin/*Test", "torch/bin/test_*", "torch/bin/protoc*", "torch/bin/*.ptl", "torch/test/*",
    "torch/lib/libbackend_with_compiler.so", "torch/lib/libaoti_custom_ops.so",
    "libOSMesa.so*", "libLLVM*.so*", "libglapi.so*", "libgallium*.so*", "libz3.so*", "libxml2.so*",
    "libicudata.so.72*", "libicuuc.so.72*", "libicui18n.so.72*",
    "libEGL.so*", "libGL.so*", "libGLX.so*", "libGLdispatch.so*", "libOpenGL.so*", "libgbm.so*",
)
#: Real SMPL-X / SMPL model files: a built bundle must not contain any (checked after every build).
SMPL_FILES = ("SMPLX_*", "SMPL_*", "smplx_*.npz", "smplx_*.pkl")


def version(root: Path = ROOT) -> str:
    """The project's version, from pyproject.toml."""
    m = re.search(r'^version\s*=\s*"([^"]+)"', (root / "pyproject.toml").read_text(), re.M)
    if not m:
        raise ValueError(f"no version in {root / 'pyproject.toml'}")
    return m.group(1)


def resource_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source file, destination folder) pairs for PyInstaller's ``datas``: every file of RESOURCE_DIRS and
    the hmr2 child's sources. Raises FileNotFoundError for a missing folder and ValueError for a file that
    must never ship (see FORBIDDEN)."""
    out = []
    for src, dest in RESOURCE_DIRS:
        folder = root / src
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is missing: the bundle needs it (see installer/bundle.py)")
        for f in sorted(folder.rglob("*")):
            if not f.is_file() or "__pycache__" in f.parts:
                continue
            if any(fnmatch.fnmatch(f.name, pat) for pat in FORBIDDEN):
                raise ValueError(f"{f} must never be bundled (SMPL-X/SMPL model files and pickles are not ours "
                                 "to ship)")
            out.append((str(f), str(Path(dest) / f.parent.relative_to(folder))))
    for rel in HMR2_CHILD_SOURCES:
        out.append((str(root / rel), str(Path(rel).parent)))
    return out


def keep_file(dest: str) -> bool:
    """False for the files in DROP (``dest`` is a path inside the contents directory)."""
    d = dest.replace("\\", "/")
    return not any(fnmatch.fnmatch(d, pat) for pat in DROP)


def smpl_files(folder: Path) -> list[Path]:
    """SMPL-X / SMPL model files under ``folder`` (a built bundle): there must be none."""
    return sorted(f for f in Path(folder).rglob("*") if f.is_file()
                  and any(fnmatch.fnmatch(f.name, pat) for pat in SMPL_FILES))


# ----------------------------------------------------------------------------------------------- licences
SMPLX_NOTE = """SMPL-X model files are NOT included in OMFA Desktop.

OMFA conditions on renders of an SMPL-X body. The app ships its own procedural mannequin in SMPL-X format
(resources/body/), so it works without SMPL-X. Real SMPL-X model files are under a non-commercial,
no-redistribution licence and are never part of this package. To use them: register at
https://smpl-x.is.tue.mpg.de, accept the licence, download SMPL-X, and point OMFA at the folder holding
SMPLX_NEUTRAL.npz (and/or SMPLX_MALE, SMPLX_FEMALE): Edit -> Settings -> SMPL-X folder.

The smplx Python package is NOT included either: its licence (Max Planck Institute for Intelligent
Systems) does not allow redistributing it. OMFA poses SMPL-X-format bodies - the mannequin and your SMPL-X
.npz files - with its own code (engine/body/skinning.py). Use the .npz files of the SMPL-X download; the
installed app cannot read the .pkl ones (they need smplx).
"""

README_TEMPLATE = """OMFA Desktop {version} - licences

- OMFA Desktop's own code and its demo model (resources/models/demo, trained by the project's own code on its
  own synthetic world): Apache License 2.0, Apache-2.0.txt.
- BlazePose models (resources/models/blazepose, from MediaPipe 0.10.21): (c) Google LLC, Apache License 2.0,
  BlazePose-LICENSE.txt.
- SMPL-X: neither the model files nor the smplx package are included, see SMPL-X-NOT-INCLUDED.txt.
- Qt (PySide6): LGPL-3.0; its libraries are separate files in _internal/PySide6 and may be replaced.
- PyAV (MP4 export) bundles FFmpeg (LGPL) built with libx264 (GPL).
- Every other bundled Python distribution with its version, licence and licence text: THIRD_PARTY.txt.
"""


def _dist_licence(dist) -> str:
    meta = dist.metadata
    lic = meta.get("License-Expression") or ""
    if not lic:  # the classifiers name a licence; the free-text License field is often a whole text
        lic = ", ".join(c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                        if c.startswith("License ::"))
    if not lic:
        raw = (meta.get("License") or "").strip()
        lic = raw.splitlines()[0][:120] if raw and raw.upper() != "UNKNOWN" else ""
    return lic or "see its licence text below"


def _licence_texts(dist) -> list[tuple[str, str]]:
    out = []
    for f in dist.files or []:
        name = Path(str(f)).name.upper()
        if name.startswith(("LICENSE", "LICENCE", "COPYING", "NOTICE")) and (
                ".dist-info" in str(f) or "licenses" in str(f).lower()):
            try:
                out.append((str(f), Path(dist.locate_file(f)).read_text(errors="replace")))
            except OSError:
                continue
    return out


def third_party(top_levels: set[str]) -> str:
    """THIRD_PARTY.txt: the distributions that provide the bundled top-level modules ``top_levels``."""
    from importlib import metadata

    by_module = metadata.packages_distributions()
    names = sorted({d for t in top_levels for d in by_module.get(t, [])} - {"omfa-desktop"}, key=str.lower)
    head, texts = [], []
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        head.append(f"{dist.metadata['Name']} {dist.version}: {_dist_licence(dist)}")
        for path, text in _licence_texts(dist):
            texts.append(f"\n{'=' * 100}\n{dist.metadata['Name']} {dist.version} - {path}\n{'=' * 100}\n{text}")
    return ("Python distributions bundled in OMFA Desktop (name version: licence), then their licence texts.\n\n"
            + "\n".join(head) + "\n" + "".join(texts))


def write_licenses(folder: Path, top_levels: set[str] = frozenset(), root: Path = ROOT) -> list[Path]:
    """Write the bundle's LICENSES folder; returns the files written."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "README.txt": README_TEMPLATE.format(version=version(root)),
        "SMPL-X-NOT-INCLUDED.txt": SMPLX_NOTE,
        "Apache-2.0.txt": (root / "resources/models/blazepose/LICENSE").read_text(),  # the plain licence text
        "BlazePose-LICENSE.txt": (root / "resources/models/blazepose/LICENSE").read_text(),
        "THIRD_PARTY.txt": third_party(set(top_levels)),
    }
    out = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        out.append(folder / name)
    return out
