"""``omfa --self-test`` / ``omfa-desktop --self-test``: does this installation work? Headless, never imports Qt.

Checks, in order, and stops at the first failure:

1. offscreen GL platform chosen (before anything imports OpenGL), the libraries import, the shipped resources
   (demo model, mannequin, poses, samples, BlazePose models) are where :mod:`engine.paths` says;
2. the demo model loads on the device policy in force (CUDA fp16 when the bundled torch has CUDA, else CPU fp32);
3. a short try-off (``steps`` denoising steps, 4 by default) on a shipped sample gives a non-blank image;
4. one pose guide renders offscreen (:func:`engine.body.guide.pose_guides`) and is not blank;
5. the BlazePose detector runs (ai-edge-litert), where that runtime exists for the platform.

Prints ONE line, ``OMFA self-test OK: ...`` (exit 0) or ``OMFA self-test FAILED: <stage>: <reason>`` (exit 1).
``--verbose`` first prints where Python, the packages and the resources were loaded from; in a frozen app
it also fails when any of them (or any shared library from a Python environment) was loaded from outside
the bundle, which is how the installers prove they do not lean on a development virtual environment.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Optional, TextIO

from engine.errors import OmfaError

#: Modules the engine needs at run time: (import name, optional). Optional ones may be absent on a platform
#: without a wheel (ai-edge-litert on Intel macOS); then their stage is skipped and said so.
MODULES = (("torch", False), ("diffusers", False), ("safetensors", False), ("accelerate", False),
           ("numpy", False), ("PIL", False), ("trimesh", False), ("pyrender", False),
           ("OpenGL", False), ("platformdirs", False), ("av", False), ("ai_edge_litert", True))
#: Qt modules the window needs: found, not imported (the self-test stays headless).
QT_MODULES = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtOpenGLWidgets")


class SelfTestError(OmfaError, RuntimeError):
    """One stage failed; the message is the reason printed after the stage name."""


def run_self_test(steps: int = 4, device: str = "auto", precision: str = "auto", verbose: bool = False,
                  out: TextIO | None = None) -> int:
    """Run every check; print one summary line to ``out`` (default stdout). Returns the exit code (0 = OK)."""
    out = out or sys.stdout
    t_start = time.perf_counter()
    stage = "start"
    parts: list[str] = []
    try:
        stage = "offscreen GL"
        gl = _gl_platform()
        stage = "imports"
        mods = _imports()
        stage = "resources"
        res = _resources()
        if verbose:
            _where(mods, res, out)
        stage = "demo model"
        pipe, t_load = _load_model(device, precision)
        pol = pipe.policy
        parts.append(f"demo model ({pipe.model.num_parameters() / 1e6:.1f} M params, {pol.device} "
                     f"{pol.precision}, loaded in {t_load:.1f} s)")
        stage = "try-off"
        t = _try_off(pipe, steps)
        parts.append(f"try-off {steps} steps {t:.1f} s")
        stage = "guide render"
        t = _guide()
        parts.append(f"guide render {gl} {t:.1f} s")
        stage = "pose estimator"
        note = _blazepose(mods)
        parts.append(note)
    except Exception as e:  # noqa: BLE001 - the reason is the product here
        reason = str(e) if isinstance(e, SelfTestError) else f"{type(e).__name__}: {e}"
        print(f"OMFA self-test FAILED: {stage}: {reason.strip().splitlines()[0] if reason.strip() else '?'}",
              file=out, flush=True)
        return 1
    total = time.perf_counter() - t_start
    print(f"OMFA self-test OK: {', '.join(parts)}, total {total:.1f} s", file=out, flush=True)
    return 0


# ------------------------------------------------------------------------------------------- stages
def _gl_platform() -> str:
    from engine.body.render import ensure_gl_platform

    return ensure_gl_platform()


def _imports() -> dict[str, Optional[object]]:
    """Import every engine dependency; the optional ones map to None when absent."""
    mods: dict[str, Optional[object]] = {}
    for name, optional in MODULES:
        try:
            mods[name] = importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - broken native libraries raise OSError etc.
            if optional and isinstance(e, ImportError):
                mods[name] = None
                continue
            raise SelfTestError(f"cannot import {name} ({type(e).__name__}: {e})") from e
    missing_qt = [m for m in QT_MODULES if _find_spec(m) is None]
    if missing_qt:
        raise SelfTestError(f"the window's Qt modules are missing: {', '.join(missing_qt)}")
    return mods


def _find_spec(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _resources() -> dict[str, Path]:
    """Every shipped file the app reads at start, looked up the way the app does."""
    from engine.body.mannequin import MANNEQUIN_PATH, PARTS_PATH
    from engine.body.presets import POSES_DIR
    from engine.paths import DEMO_MODEL, RESOURCES, sample_paths

    res = {"resources": RESOURCES, "demo model": DEMO_MODEL / "omfa_config.json", "mannequin": MANNEQUIN_PATH,
           "mannequin parts": PARTS_PATH, "poses": POSES_DIR / "walking.json"}
    samples = sample_paths()
    for kind in ("person", "head", "guide"):
        if kind not in samples:
            raise SelfTestError(f"no {kind} sample in {RESOURCES / 'samples'} (reinstall the app)")
        res[f"sample {kind}"] = samples[kind]
    missing = [f"{k} ({p})" for k, p in res.items() if not p.exists()]
    if missing:
        raise SelfTestError(f"missing: {'; '.join(missing)} (reinstall the app)")
    return res


def _load_model(device: str, precision: str):
    from engine.paths import DEMO_MODEL
    from engine.pipeline import Pipeline

    t0 = time.perf_counter()
    pipe = Pipeline.load(DEMO_MODEL, device, precision)
    if not pipe.trained:
        raise SelfTestError(f"the demo model in {DEMO_MODEL} is not trained")
    return pipe, time.perf_counter() - t0


def _try_off(pipe, steps: int) -> float:
    import numpy as np

    from engine.images import read_image
    from engine.paths import sample_paths
    from engine.presets import preset_settings
    from engine.request import TryOnRequest

    samples, lay = sample_paths(), pipe.layout
    person = read_image(samples["person"]).pixels  # any size: the pipeline fits it to its panel
    head = read_image(samples["head"]).pixels if "head" in lay.panels else None
    guide = read_image(samples["guide"]).pixels
    sampling = {**preset_settings("fast"), "steps": steps}
    req = TryOnRequest(task="try-off", person=person, head=head, pose_guides=[guide], seed=0,
                       device=pipe.policy.device, precision=pipe.policy.precision, label="self-test", **sampling)
    t0 = time.perf_counter()
    result = pipe.run(req)
    elapsed = time.perf_counter() - t0
    img = np.asarray(result.outputs[0])
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise SelfTestError(f"the try-off gave an image of shape {img.shape} {img.dtype}, not (H, W, 3) uint8")
    if float(img.std()) < 1.0:
        raise SelfTestError("the try-off gave a blank image")
    return elapsed


def _guide() -> float:
    import numpy as np

    from engine.body.guide import pose_guides
    from engine.body.presets import load_preset

    t0 = time.perf_counter()
    images, _ = pose_guides(load_preset("walking"), 96, 128)
    elapsed = time.perf_counter() - t0
    img = np.asarray(images[0])
    if img.shape != (128, 96, 3):
        raise SelfTestError(f"the guide render has shape {img.shape}, not (128, 96, 3)")
    background = img[0, 0]
    covered = float(np.any(img != background, axis=-1).mean())
    if covered < 0.02:
        raise SelfTestError(f"the guide render is blank ({covered:.1%} of the pixels show the body)")
    return elapsed


def _blazepose(mods) -> str:
    if mods.get("ai_edge_litert") is None:
        return "pose estimator skipped (no ai-edge-litert for this platform)"
    from engine.body.blazepose import BlazePose
    from engine.images import read_image
    from engine.paths import sample_paths

    t0 = time.perf_counter()
    BlazePose().detect(read_image(sample_paths()["person"]).pixels)
    return f"BlazePose {time.perf_counter() - t0:.2f} s"


# ------------------------------------------------------------------------------------------- where
def _where(mods, res: dict[str, Path], out: TextIO) -> None:
    """Print where everything came from; in a frozen app, fail if anything came from outside the bundle."""
    from engine.paths import bundle_dir

    bundle = bundle_dir()
    print(f"python   {sys.executable} ({sys.version.split()[0]}), frozen: {bool(getattr(sys, 'frozen', False))}"
          + (f", bundle {bundle}" if bundle else ""), file=out)
    print(f"env      VIRTUAL_ENV={os.environ.get('VIRTUAL_ENV', '')!r} PYTHONPATH={os.environ.get('PYTHONPATH', '')!r}"
          f" PYOPENGL_PLATFORM={os.environ.get('PYOPENGL_PLATFORM', '')!r} cwd={os.getcwd()}", file=out)
    outside = []
    import engine

    located = {"engine": engine, **{k: v for k, v in mods.items() if v is not None}}
    for name, mod in located.items():
        path = Path(getattr(mod, "__file__", None) or "?")
        print(f"module   {name:15s} {getattr(mod, '__version__', ''):12s} {path}", file=out)
        if bundle and not _inside(path, bundle):
            outside.append(f"{name} ({path})")
    for name, path in res.items():
        print(f"resource {name:15s} {path}", file=out)
        if bundle and not _inside(path, bundle) and not os.environ.get("OMFA_RESOURCES"):
            outside.append(f"{name} ({path})")
    libs = loaded_libraries()
    foreign = [p for p in libs if _from_python_env(p) and not (bundle and _inside(Path(p), bundle))]
    print(f"libs     {len(libs)} shared libraries mapped; from a Python environment outside the bundle: "
          f"{len(foreign) if bundle else 'n/a (not frozen)'}", file=out)
    if bundle:
        for p in foreign:
            print(f"  outside the bundle: {p}", file=out)
        outside += foreign
    out.flush()
    if outside:
        raise SelfTestError(f"loaded from outside the bundle {bundle}: {', '.join(outside[:5])}"
                            + (f" and {len(outside) - 5} more" if len(outside) > 5 else ""))


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def _from_python_env(path: str) -> bool:
    p = path.replace("\\", "/")
    return "site-packages" in p or "/.venv/" in p or "dist-packages" in p or "/lib/python3" in p


def loaded_libraries() -> list[str]:
    """Shared libraries mapped into this process (Linux: /proc/self/maps; elsewhere an empty list)."""
    maps = Path("/proc/self/maps")
    if not maps.is_file():
        return []
    libs = set()
    for line in maps.read_text().splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith("/") and (".so" in fields[5]):
            libs.add(fields[5].strip())
    return sorted(libs)


# ------------------------------------------------------------------------------------------- entry
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omfa --self-test", description=__doc__.splitlines()[0])
    ap.add_argument("--self-test", action="store_true", help="(this check)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print where everything was loaded from")
    ap.add_argument("--steps", type=int, default=4, help="denoising steps of the try-off (default 4)")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp16", "bf16", "fp32"])
    args, _unknown = ap.parse_known_args(argv)  # the window's own options may ride along: ignored here
    if args.steps < 1:
        print("OMFA self-test FAILED: arguments: --steps must be at least 1", flush=True)
        return 2
    return run_self_test(args.steps, args.device, args.precision, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
