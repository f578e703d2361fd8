"""``omfa doctor``: check what OMFA needs on this machine and say how to fix what is missing.

Each check is a :class:`Check` (name, status, detail, fix); ``run_checks`` never raises. The app's saved
settings are read as plain JSON (engine/ does not import the Qt settings module).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

OK, WARN, FAIL = "ok", "warning", "problem"
MIN_FREE_GB = 2.0  # a gallery entry is < 1 MB, an SDXL model ~7 GB: below this, saving results may fail


@dataclass
class Check:
    name: str
    status: str          # "ok" | "warning" | "problem"
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {OK: "ok  ", WARN: "WARN", FAIL: "FAIL"}[self.status]
        text = f"[{mark}] {self.name}: {self.detail}"
        return text + (f"\n       fix: {self.fix}" if self.fix else "")


def run_checks(device: str = "auto", precision: str = "auto", settings_file: Path | None = None) -> list[Check]:
    from engine.paths import user_data_dir

    settings, finding = _settings(settings_file or user_data_dir() / "settings.json")
    checks = [_gl(), _packages(), *_gpu(device, precision)]
    if finding is not None:
        checks.append(finding)
    checks += _models(settings)
    checks.append(_smplx(settings))
    checks += _storage()
    return checks


_SETTINGS_TEXT = ("model_folder", "vae_folder", "smplx_folder", "smplx_gender")  # what the checks read


def _settings(path: Path) -> tuple[dict, Check | None]:
    """The saved settings the checks need, and a finding when the file is damaged (named, never a traceback;
    the app itself moves such a file aside at its next start)."""
    from engine.persist import JsonError, load_json

    fix = f"start the app once (it moves the damaged file aside and uses the defaults), or delete {path}"
    try:
        data = load_json(path, allow_nan=True)
    except FileNotFoundError:
        return {}, None
    except JsonError as e:
        return {}, Check("settings", FAIL, f"damaged: {e}", fix)
    except OSError as e:
        return {}, Check("settings", FAIL, f"{path} cannot be read ({e.strerror or e})", fix)
    if not isinstance(data, dict):
        return {}, Check("settings", FAIL, f"{path} is damaged: it holds a JSON {type(data).__name__}, not an "
                                           "object", fix)
    wrong = [k for k in _SETTINGS_TEXT if k in data and not isinstance(data[k], str)]
    clean = {k: v for k, v in data.items() if k not in wrong}
    if wrong:
        return clean, Check("settings", WARN, f"{path}: {', '.join(wrong)} should be text; ignored here (the "
                                              "app resets them to their defaults)", "set them again in Settings")
    return clean, None


def _gl() -> Check:
    try:  # before anything imports OpenGL: the platform must be chosen first
        from engine.body.guide import pose_guides
        from engine.body.render import ensure_gl_platform
        from engine.body.state import BodyState

        name = ensure_gl_platform()
        t0 = time.perf_counter()
        pose_guides(BodyState(), 96, 128)
        return Check("offscreen GL (guide renders)", OK,
                     f"{name}, a 96x128 guide in {(time.perf_counter() - t0) * 1000:.0f} ms")
    except Exception as e:  # noqa: BLE001 - doctor reports, never crashes
        return Check("offscreen GL (guide renders)", FAIL, f"unavailable ({e.__class__.__name__}: {e})",
                     "Linux: apt-get install libegl1 libegl-mesa0 libosmesa6 (or update the GPU driver); "
                     "Windows: update the GPU driver (OpenGL 3.3 or newer)")


def _packages() -> Check:
    missing, found = [], []
    # smplx is not required: engine.body.skinning poses SMPL-X .npz bodies; smplx reads only .pkl files and
    # is never in the installers (its licence forbids redistribution)
    for mod in ("torch", "diffusers", "safetensors", "accelerate", "pyrender", "OpenGL", "PySide6",
                "numpy", "PIL", "platformdirs", "av"):
        try:
            m = __import__(mod)
            found.append(f"{mod} {getattr(m, '__version__', '')}".strip())
        except Exception as e:  # noqa: BLE001 - any import failure is reported
            missing.append(f"{mod} ({e.__class__.__name__}: {e})")
    if missing:
        return Check("packages", FAIL, "missing: " + "; ".join(missing),
                     "run scripts/setup.sh (or reinstall the app): pip install -c constraints.txt -e .")
    return Check("packages", OK, ", ".join(found))


def _gpu(device: str, precision: str) -> list[Check]:
    import torch

    from engine.device import DeviceError, select_device

    out = []
    try:
        pol = select_device(device, precision)
        out.append(Check("device policy", OK, f"{pol.describe()} — {pol.reason}"))
    except DeviceError as e:
        out.append(Check("device policy", FAIL, str(e), "choose device 'auto' or 'cpu' in Settings"))
    from engine.threads import ThreadsError, plan_threads

    try:  # what a run would choose now (engine.threads), not torch's default of every core
        threads = f"CPU threads: {plan_threads(0, window=0.1).reason}"
    except ThreadsError as e:
        threads = str(e)
    if torch.cuda.is_available():
        names = [f"{torch.cuda.get_device_name(i)} ({torch.cuda.get_device_properties(i).total_memory / 2**30:.1f} GB)"
                 for i in range(torch.cuda.device_count())]
        out.append(Check("GPU", OK, f"CUDA {torch.version.cuda}: {', '.join(names)}; {threads}; driver "
                                    f"{_nvidia_driver() or 'version unknown'}"))
    else:
        driver = _nvidia_driver()
        if driver and torch.version.cuda is None:
            out.append(Check("GPU", WARN, f"an NVIDIA driver ({driver}) is installed but this torch "
                                          f"({torch.__version__}) is a CPU build; running on the CPU ({threads})",
                             "install the CUDA build of torch 2.13.0 from pytorch.org for your CUDA version"))
        elif driver:
            out.append(Check("GPU", WARN, f"NVIDIA driver {driver} found but CUDA is not usable by torch "
                                          f"{torch.__version__}", "update the NVIDIA driver to match torch's CUDA "
                                                                  f"{torch.version.cuda}"))
        else:
            out.append(Check("GPU", WARN, f"no CUDA GPU: generation runs on the CPU ({threads}), minutes per image "
                                          "with a real model", "a CUDA GPU with 12 GB or more for SDXL-sized models"))
    return out


def _nvidia_driver() -> str:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ""
    try:
        r = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                           text=True, timeout=10)
        return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _model_check(name: str, folder: Path) -> Check:
    """OK only for a folder that loads as the app loads it: config, manifest, weights and their values."""
    from engine import integrity
    from engine.errors import OmfaError
    from engine.model import load_model

    if not (folder / "omfa_config.json").is_file():
        return Check(name, FAIL, f"{folder} is not an OMFA model folder (no omfa_config.json)",
                     "choose a folder written by 'omfa train' or 'omfa convert' in Settings → Model")
    fix = "re-copy or re-download the model folder, or choose another in Settings → Model"
    t0 = time.perf_counter()
    try:
        model = load_model(folder)
    except OmfaError as e:
        return Check(name, FAIL, f"{folder} does not load: {e.for_people()}", fix)
    except Exception as e:  # noqa: BLE001 - doctor reports, never crashes
        first = (str(e).strip().splitlines() or [""])[0][:200]
        return Check(name, FAIL, f"{folder} does not load ({e.__class__.__name__}: {first})", fix)
    c = model.config
    del model
    state = "trained" if c.trained else "UNTRAINED (outputs are noise)"
    detail = f"{folder} — {c.name}, {state}, loads in {time.perf_counter() - t0:.1f} s"
    if not integrity.has_manifest(folder):
        return Check(name, WARN, f"{detail}; no manifest.json, so its files cannot be checked",
                     f"omfa manifest {folder}   (once, on a copy you trust)")
    try:
        result = integrity.verify_manifest(folder)  # hashed during the load: cached, quick
    except Exception as e:  # noqa: BLE001 - a failed verification is the finding
        return Check(name, FAIL, f"{detail}; integrity check FAILED: {e}", "re-copy or re-download the model folder")
    return Check(name, OK, f"{detail}; {result.files} files match manifest.json")


def _models(settings: dict) -> list[Check]:
    from engine.paths import DEMO_MODEL, SAMPLES

    out = []
    if (DEMO_MODEL / "omfa_config.json").is_file():
        out.append(_model_check("demo model", DEMO_MODEL))
    else:
        out.append(Check("demo model", WARN, f"none at {DEMO_MODEL}; an untrained demo-sized model is used",
                         "reinstall the app, or run scripts/setup.sh from a full clone"))
    user = settings.get("model_folder") or ""
    if user:
        folder = Path(user).expanduser()
        out.append(_model_check("model in Settings", folder) if folder.is_dir() else
                   Check("model in Settings", FAIL, f"{folder} does not exist", "choose it again in Settings → Model"))
    vae = settings.get("vae_folder") or ""
    if vae and not Path(vae).expanduser().is_dir():
        out.append(Check("VAE in Settings", FAIL, f"{vae} does not exist", "choose it again in Settings → VAE"))
    n = len(list(SAMPLES.glob("*.png"))) if SAMPLES.is_dir() else 0
    out.append(Check("sample inputs", OK if n else WARN, f"{n} images in {SAMPLES}",
                     "" if n else "reinstall the app (resources/samples is missing)"))
    return out


def _smplx(settings: dict) -> Check:
    licence = ("SMPL-X files are not included (non-commercial licence, https://smpl-x.is.tue.mpg.de); "
               "download them yourself and point Settings → SMPL-X at the folder")
    folder = settings.get("smplx_folder") or ""
    if not folder:
        return Check("SMPL-X body", OK, "the shipped OMFA procedural mannequin is used", licence)
    gender = settings.get("smplx_gender") or "neutral"
    try:
        from engine.body.model import BodyModel

        BodyModel.load_smplx(folder, gender)
        return Check("SMPL-X body", OK, f"{folder} ({gender}) loads")
    except Exception as e:  # noqa: BLE001 - the message is the finding
        return Check("SMPL-X body", FAIL, f"{folder} ({gender}): {e}", licence)


def _storage() -> list[Check]:
    from engine.paths import user_data_dir, user_log_dir

    out = []
    for name, folder in (("user data (gallery, settings)", user_data_dir()), ("logs", user_log_dir())):
        probe_dir = folder
        while not probe_dir.exists() and probe_dir != probe_dir.parent:
            probe_dir = probe_dir.parent
        writable = os.access(probe_dir, os.W_OK)
        free = shutil.disk_usage(probe_dir).free / 2**30
        detail = f"{folder} ({free:.1f} GB free{'' if writable else ', NOT writable'})"
        if not writable:
            out.append(Check(name, FAIL, detail, "make the folder writable, or set OMFA_DATA_DIR to a writable folder"))
        elif free < MIN_FREE_GB:
            out.append(Check(name, WARN, detail, f"free at least {MIN_FREE_GB:.0f} GB; results may fail to save"))
        else:
            out.append(Check(name, OK, detail))
    return out
