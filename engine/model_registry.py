"""The model manager: every model folder the user added, what each one is, and which one is active.

Like InvokeAI's model records and ComfyUI's model folders, the registry stores *where* models are and a few
facts about them, never the weights: ``models.json`` in the user's config folder (engine.paths), written
atomically (engine.persist). Each record (InvokeAI's fields where they fit): ``path``, ``name``, ``base``
(sdxl / sd15 / demo), ``source`` (the diffusers folder it was converted from), ``added``, the last
``verified`` result and the counted memory ``estimate``. What a folder *is* (preset, panels, tasks,
parameters, precision on disk, manifest) is read from the folder itself each time (configs and safetensors
headers only: no weights are loaded), so a record never disagrees with its folder.

The shipped demo model is always listed first, read-only: it cannot be removed. The active model is what
``engine.pipeline.Pipeline.load_default`` loads when no folder is given (the CLI without ``--model``, the
GUI with an empty model folder setting).

Adding a diffusers SD/SDXL(-inpainting) folder converts it (``init_from_diffusers``) into a new OMFA folder,
never in place: by default ``<user data>/models/<name>-omfa``. Nothing here imports Qt.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from engine.errors import OmfaError
from engine.integrity import MANIFEST

REGISTRY_FILE = "models.json"
FORMAT = "omfa-models/1"
DEMO_KEY = "demo"

# (fraction done 0..1, what is happening) — the CLI prints it, the GUI moves a progress bar.
ProgressFn = Callable[[float, str], None]

# What each kind of model can do: the CLI prints it under the list, the dialog shows it at first start.
KIND_TEXT: dict[str, str] = {
    "demo": "Demo model (shipped): trained only on OMFA's synthetic mannequin world at 96x128; try-off, try-on "
            "and multi-view of that world. Not for real photos. Runs on any CPU.",
    "converted": "Converted SD 1.5 / SDXL base (not fine-tuned): has the geometry for real photos (384x512 or "
                 "768x1024 panels) but outputs noise until trained with 'omfa train --init'. Needs a GPU.",
    "trained": "Fine-tuned model: does what its model card says, on the kind of photos it was trained on. "
               "SDXL-sized ones need a GPU (see the memory estimate).",
}


class RegistryError(OmfaError, ValueError):
    """A model cannot be added, found, verified, removed or used; the message says why."""


# ============================================================================================ what a folder is
_DTYPES = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F64": "fp64", "F8_E4M3": "fp8", "F8_E5M2": "fp8"}


def _safetensors_header(path: Path) -> dict:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100 << 20:
            raise ValueError("header too large")
        return json.loads(f.read(n))


def weights_facts(folder: Path) -> tuple[int, str]:
    """(parameters, precision on disk) from the safetensors headers of a model folder (nothing loaded)."""
    params, kinds = 0, {}
    for path in sorted(folder.rglob("*.safetensors")):
        if path.name == "latent_prior.safetensors":
            continue
        try:
            header = _safetensors_header(path)
        except (OSError, ValueError, struct.error):
            continue
        for key, t in header.items():
            if key == "__metadata__" or not isinstance(t, dict):
                continue
            n = 1
            for d in t.get("shape", []):
                n *= int(d)
            if path.name != "text_embeddings.safetensors":
                params += n
            dt = _DTYPES.get(t.get("dtype"), str(t.get("dtype")).lower())
            kinds[dt] = kinds.get(dt, 0) + n
    if not kinds:
        return params, "unknown"
    ranked = sorted(kinds, key=kinds.get, reverse=True)
    return params, ranked[0] if len(ranked) == 1 or kinds[ranked[1]] < 0.01 * params else "/".join(ranked)


@dataclass
class ModelDetails:
    """What a model folder is, read from its files (configs and safetensors headers)."""

    folder: str
    name: str = ""
    preset: str = ""
    kind: str = ""                   # "demo", "converted", "trained"
    panels: dict = field(default_factory=dict)   # panel -> [width, height]
    tasks: list = field(default_factory=list)
    trained: bool = False
    parameters: int = 0
    precision: str = ""              # on disk: fp32, fp16, bf16 or a mix
    manifest: str = ""               # "present", "missing"
    size_bytes: int = 0
    description: str = ""
    problem: str = ""                # set when the folder cannot be read: the rest is empty

    @property
    def resolution(self) -> str:
        if not self.panels:
            return ""
        h = {wh[1] for wh in self.panels.values()}.pop()
        return f"{'+'.join(str(wh[0]) for wh in self.panels.values())} x {h}"


def describe(folder: str | Path, builtin: bool = False) -> ModelDetails:
    """Read what ``folder`` is; a folder that cannot be read gives details with ``problem`` set."""
    from engine.model import FORMAT as MODEL_FORMAT
    from engine.model import ModelError, parse_config

    folder = Path(folder)
    d = ModelDetails(str(folder))
    cfg_path = folder / "omfa_config.json"
    if not folder.is_dir():
        d.problem = f"{folder} does not exist (moved or deleted?)"
        return d
    if not cfg_path.is_file():
        d.problem = f"{folder} is not an OMFA model folder (omfa_config.json is missing)"
        return d
    try:
        cfg = parse_config(json.loads(cfg_path.read_text()), cfg_path)
        layout = cfg.panel_layout
    except (OSError, ValueError, ModelError) as e:
        d.problem = str(e).splitlines()[0][:300]
        return d
    if cfg.format != MODEL_FORMAT:
        d.problem = f"{cfg_path} has format {cfg.format!r}; this version reads {MODEL_FORMAT!r}"
    d.name, d.preset, d.trained, d.description = cfg.name, cfg.preset, bool(cfg.trained), cfg.description
    d.panels = {p: list(layout.panel_size(p)) for p in layout.panels}
    d.kind = "demo" if builtin else ("trained" if cfg.trained else "converted")
    if cfg.trained:
        weights = cfg.training.get("task_weights") if isinstance(cfg.training, dict) else None
        tasks = sorted({"try-off" if t == "try-off" else "try-on" for t in weights}) if isinstance(weights, dict) \
            else ["try-off", "try-on"]
        if cfg.views_per_canvas > 1:
            tasks.append(f"multi-view (up to {cfg.views_per_canvas} views per canvas)")
        d.tasks = tasks
    d.parameters, d.precision = weights_facts(folder)
    d.manifest = "present" if (folder / MANIFEST).is_file() else "missing"
    d.size_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return d


# ============================================================================================ the records
@dataclass
class ModelRecord:
    """One registered model (what models.json keeps)."""

    path: str
    name: str = ""
    base: str = ""                   # sdxl, sd15, demo (InvokeAI's "base")
    source: str = ""                 # the diffusers folder it was converted from
    added: str = ""
    verified: dict = field(default_factory=dict)   # {"when", "ok", "message"}
    estimate: dict = field(default_factory=dict)   # {"stamp", "bytes": {mode: bytes}} GPU fp16, counted
    builtin: bool = False

    @property
    def key(self) -> str:
        return DEMO_KEY if self.builtin else self.path


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _norm(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def registry_path() -> Path:
    from engine.paths import user_config_dir

    return user_config_dir() / REGISTRY_FILE


def default_models_dir() -> Path:
    """Where converted models go unless the user says otherwise: ``<user data>/models``."""
    from engine.paths import user_data_dir

    return user_data_dir() / "models"


def is_diffusers_folder(folder: Path) -> bool:
    return (folder / "unet" / "config.json").is_file() and (folder / "vae" / "config.json").is_file()


class ModelRegistry:
    """models.json: the records and the active model. Every change is saved at once (atomically)."""

    def __init__(self, path: str | Path | None = None) -> None:
        from engine.persist import read_json

        self.path = Path(path) if path else registry_path()
        data, self.note = read_json(self.path)  # a damaged file is moved aside, never overwritten
        data = data or {}
        self.first_start = not self.path.exists()
        self.records: list[ModelRecord] = []
        known = set(ModelRecord.__dataclass_fields__)
        for raw in data.get("models", []) if isinstance(data.get("models"), list) else []:
            if isinstance(raw, dict) and isinstance(raw.get("path"), str) and not raw.get("builtin"):
                self.records.append(ModelRecord(**{k: v for k, v in raw.items() if k in known}))
        self._active = data.get("active") if isinstance(data.get("active"), str) else ""
        self.intro_seen = bool(data.get("intro_seen", False))
        self._demo_estimate = data.get("demo_estimate") if isinstance(data.get("demo_estimate"), dict) else {}

    # ------------------------------------------------------------------ reading
    def demo(self) -> ModelRecord:
        from engine.paths import DEMO_MODEL

        return ModelRecord(str(DEMO_MODEL), "OMFA demo (shipped)", "demo", builtin=True,
                           estimate=self._demo_estimate)

    def all(self) -> list[ModelRecord]:
        """The demo model first, then the user's models in the order they were added."""
        return [self.demo(), *self.records]

    def find(self, ref: str) -> ModelRecord:
        """A record by folder, by name, or by its number in ``omfa models list`` (1 = the demo model)."""
        items = self.all()
        if ref.strip().lower() in (DEMO_KEY, "0"):
            return items[0]
        if ref.isdigit() and 1 <= int(ref) <= len(items):
            return items[int(ref) - 1]
        norm = _norm(ref)
        for r in items:
            if _norm(r.path) == norm:
                return r
        named = [r for r in items if r.name == ref]
        if len(named) == 1:
            return named[0]
        raise RegistryError(f"no registered model is {ref!r}; 'omfa models list' shows them "
                            "(give a number, a name or a folder)")

    def active(self) -> ModelRecord:
        """The active model; the demo model when none was chosen or the chosen one was removed."""
        if self._active:
            for r in self.records:
                if r.path == self._active:
                    return r
        return self.demo()

    def active_folder(self) -> Optional[Path]:
        """The folder to load by default: None for the demo model (Pipeline.load_default's own default)."""
        a = self.active()
        return None if a.builtin else Path(a.path)

    # ------------------------------------------------------------------ writing
    def save(self) -> None:
        from engine.persist import write_json

        write_json(self.path, {"format": FORMAT, "active": self._active, "intro_seen": self.intro_seen,
                               "demo_estimate": self._demo_estimate,
                               "models": [asdict(r) for r in self.records]})
        self.first_start = False

    def mark_intro_seen(self) -> None:
        self.intro_seen = True
        self.save()

    def use(self, ref: str) -> ModelRecord:
        r = self.find(ref)
        if not r.builtin:
            d = describe(r.path)
            if d.problem:
                raise RegistryError(f"cannot use {r.name}: {d.problem}")
        self._active = "" if r.builtin else r.path
        self.save()
        return r

    def remove(self, ref: str) -> ModelRecord:
        """Forget a model (its folder is left on disk). The demo model cannot be removed."""
        r = self.find(ref)
        if r.builtin:
            raise RegistryError("the shipped demo model cannot be removed (it is part of the app)")
        self.records = [x for x in self.records if x.path != r.path]
        if self._active == r.path:
            self._active = ""
        self.save()
        return r

    def add(self, folder: str | Path, out: str | Path | None = None, name: str | None = None, text: str = "auto",
            progress: Optional[ProgressFn] = None, cancel=None,
            size: Optional[tuple[int, int]] = None) -> ModelRecord:
        """Register an OMFA model folder, or convert a diffusers SD/SDXL(-inpainting) folder into a new OMFA
        folder (``out``; default :func:`default_models_dir`/<name>-omfa) and register that."""
        src = Path(folder).expanduser()
        if not src.is_dir():
            raise RegistryError(f"{src} is not a folder")
        source = ""
        if (src / "omfa_config.json").is_file():
            if out is not None:
                raise RegistryError(f"{src} is already an OMFA model folder: it is added as it is (no --out)")
            target = src
        elif is_diffusers_folder(src):
            target = convert_folder(src, out, name=name, text=text, progress=progress, cancel=cancel, size=size)
            source = str(src.resolve())
        else:
            raise RegistryError(f"{src} is neither an OMFA model folder (omfa_config.json) nor a diffusers "
                                "SD/SDXL folder (unet/ and vae/ with config.json)")
        path = _norm(target)
        from engine.paths import DEMO_MODEL

        if path == _norm(DEMO_MODEL):
            raise RegistryError("the shipped demo model is always listed; it need not be added")
        if any(r.path == path for r in self.records):
            raise RegistryError(f"{path} is already registered")
        d = describe(path)
        if d.problem:
            raise RegistryError(d.problem)
        rec = ModelRecord(path, name or d.name, d.preset, source, _now())
        if progress:
            progress(0.97, "counting its memory need")
        self._fill_estimate(rec)
        self.records.append(rec)
        self.save()
        if progress:
            progress(1.0, "added")
        return rec

    def verify(self, ref: str, progress: Optional[ProgressFn] = None) -> ModelRecord:
        """Re-hash every file against the folder's manifest (no cache: a real re-read); the result is kept."""
        from engine.integrity import verify_manifest
        from engine.model import ModelError

        r = self.find(ref)
        try:
            res = verify_manifest(r.path, use_cache=False,
                                  progress=(lambda done, total: progress(done / max(total, 1), "hashing"))
                                  if progress else None)
            r.verified = {"when": _now(), "ok": True, "message": f"{res.files} files match the manifest"}
        except (ModelError, OSError) as e:
            r.verified = {"when": _now(), "ok": False, "message": str(e).splitlines()[0][:400]}
        if not r.builtin:  # the demo model's record is not stored: it is shipped, read-only
            self.save()
        return r

    # ------------------------------------------------------------------ memory
    def _fill_estimate(self, rec: ModelRecord) -> dict:
        stamp = _stamp(rec.path)
        if rec.estimate.get("stamp") == stamp and isinstance(rec.estimate.get("bytes"), dict):
            return rec.estimate["bytes"]
        from engine.memcount import estimate_fp16

        try:
            rec.estimate = {"stamp": stamp, "bytes": estimate_fp16(rec.path)}
        except Exception as e:  # noqa: BLE001 — an estimate that cannot be counted is shown as unknown
            rec.estimate = {"stamp": stamp, "bytes": {}, "problem": str(e).splitlines()[0][:200] if str(e) else
                            type(e).__name__}
        return rec.estimate["bytes"]

    def estimate(self, rec: ModelRecord) -> dict:
        """GPU fp16 bytes per memory mode (and "weights"), counted once per folder state and remembered."""
        before = dict(rec.estimate)
        got = self._fill_estimate(rec)
        if rec.estimate != before:
            if rec.builtin:
                self._demo_estimate = rec.estimate
            if self.path.exists() or rec.builtin is False:
                self.save()
        return got


def _stamp(folder: str) -> str:
    """Changes when the configs or the way memory is counted change: a remembered estimate is recounted then."""
    from engine.memcount import COUNT_VERSION

    parts = [f"count{COUNT_VERSION}"]
    for rel in ("omfa_config.json", "unet/config.json", "codec/config.json"):
        try:
            st = (Path(folder) / rel).stat()
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("-")
    return "|".join(parts)


# ============================================================================================ conversion
def convert_folder(src: Path, out: str | Path | None = None, name: str | None = None, text: str = "auto",
                   progress: Optional[ProgressFn] = None, cancel=None,
                   size: Optional[tuple[int, int]] = None) -> Path:
    """A diffusers SD/SDXL(-inpainting) folder -> a new OMFA model folder, with person | garment | head panels
    of ``size`` (width, height; default the preset's: 768x1024 for SDXL, 384x512 for SD 1.5). Never in place:
    ``out`` must not be ``src`` or inside it, and must not exist yet. Written to a hidden staging folder renamed
    at the end, so an interrupted conversion leaves no half model under the final name."""
    from engine.layout import PanelLayout
    from engine.model import PRESET_DEFAULTS, ModelError, init_from_diffusers
    from engine.persist import StorageError, staging_folder

    say = progress or (lambda f, s: None)
    src = src.expanduser().resolve()
    target = Path(out).expanduser() if out else _free_name(default_models_dir() / f"{src.name}-omfa")
    target = target.resolve()
    if target == src or src in target.parents:
        raise RegistryError(f"{target} is inside the diffusers folder {src}; a conversion never writes there "
                            "(choose another folder)")
    if target.exists():
        raise RegistryError(f"{target} already exists; choose a new folder for the converted model")
    try:
        unet_cfg = json.loads((src / "unet" / "config.json").read_text())
        vae_cfg = json.loads((src / "vae" / "config.json").read_text())
        factor = 2 ** (len(vae_cfg["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegistryError(f"{src}: its unet/vae config.json cannot be read ({e})") from None
    preset = "sdxl" if unet_cfg.get("addition_embed_type") == "text_time" else "sd15"
    base = PRESET_DEFAULTS[preset]["layout"]
    widths, height = (dict(base.widths), base.height) if size is None else \
        ({p: size[0] for p in base.widths}, size[1])
    try:
        layout = PanelLayout(widths, height, factor)
    except ValueError as e:
        raise RegistryError(f"panel size: {e}") from None
    if text == "auto" and not (src / "text_encoder").is_dir():
        text = "zeros"  # no encoder to run: zero embeddings, as SDXL itself uses for an empty prompt
    say(0.05, f"loading the {'SDXL' if preset == 'sdxl' else 'SD 1.5'} base from {src}")
    try:
        model = init_from_diffusers(src, text=text, layout=layout, name=name)
        if cancel is not None and cancel.is_set():
            raise RegistryError("conversion cancelled; nothing was written")
        say(0.5, f"writing {target}")
        with staging_folder(target.parent, f".{target.name}.converting-") as stage:
            model.save(stage)  # the manifest is written last, inside
            say(0.9, "finishing")
            os.replace(stage, target)
    except ModelError as e:
        raise RegistryError(str(e)) from None
    except StorageError as e:
        raise RegistryError(str(e)) from None
    finally:
        for left in target.parent.glob(f".{target.name}.converting-*") if target.parent.is_dir() else ():
            shutil.rmtree(left, ignore_errors=True)
    say(0.95, "converted")
    return target


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    n = 2
    while path.with_name(f"{path.name}-{n}").exists():
        n += 1
    return path.with_name(f"{path.name}-{n}")


def active_model_folder() -> Optional[Path]:
    """What ``Pipeline.load_default`` loads without a folder: the registry's active model (None: the demo).
    A registry that cannot be read never stops a start: the demo model is used."""
    try:
        if not registry_path().exists():
            return None
        return ModelRegistry().active_folder()
    except (OSError, OmfaError):
        return None


def gb(n: Any) -> str:
    """Bytes for people: GB with one decimal, MB below 1 GB."""
    if not isinstance(n, (int, float)) or n <= 0:
        return "?"
    return f"{n / 1024 ** 3:.1f} GB" if n >= 1024 ** 3 else f"{max(n / 1024 ** 2, 0.1):.1f} MB"
