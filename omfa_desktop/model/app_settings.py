"""Persisted application settings (no Qt: the window, the kiosk and the CLI read them): a JSON file in the user
data folder, validated on every change.

``settings.json`` lives in ``engine.paths.user_data_dir()`` (OMFA_DATA_DIR overrides it, as in tests).
A damaged or hand-edited file never stops the app: unknown keys are ignored and invalid values fall back
to their defaults, with a note the window shows once.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from engine.device import DEVICES, PRECISIONS  # cheap: engine.device imports torch only inside functions
from engine.errors import OmfaError
from engine.presets import SCHEDULERS  # torch-free
from engine.threads import MAX_THREADS  # torch-free

SAMPLERS: tuple[str, ...] = tuple(SCHEDULERS)

SAMPLER_LABELS = {"ddim": "DDIM", "ddpm": "DDPM", "euler": "Euler", "euler_a": "Euler ancestral",
                  "dpm++2m": "DPM++ 2M", "unipc": "UniPC", "heun": "Heun",
                  "student": "Student (turbo)"}


MEMORY_LABELS = {"standard": "Standard (fastest)", "low": "Low (one image at a time, tiled VAE)",
                 "offload": "Offload (model waits in CPU memory; ~6 GB GPUs)"}

@dataclass
class AppSettings:
    """What the app remembers between runs.

    Attributes
    ----------
    model_folder : str      an OMFA model folder (omfa_config.json inside); "" = the active model of
                            Edit -> Models... (the shipped demo model unless another was chosen there)
    vae_folder : str        a diffusers AutoencoderKL folder replacing the model's codec (e.g. an fp16-fixed
                            SDXL VAE for an SDXL-based model); "" = the model's own codec
    smplx_gender : str      which SMPL-X body of ``smplx_folder``: "neutral", "male" or "female"
    smplx_folder : str      the user's SMPL-X folder (SMPLX_NEUTRAL/MALE/FEMALE.npz); "" = the shipped
                            OMFA mannequin. Posed in the viewport and rendered as the pose guides.
    hmr2_folder : str       an hmr2 (4D-Humans) folder: a checkpoint (*.ckpt, *.safetensors or *.pth) and
                            model_config.yaml; stored for reading poses from photos (not used yet)
    device : str            "auto", "cpu", "cuda", "cuda:N" or "mps"
    precision : str         "auto", "fp16", "bf16" or "fp32"
    default_sampler : str   a key of engine.diffusion.SCHEDULERS
    memory : str            "standard", "low" (one image at a time, tiled VAE: SDXL on 8 GB) or "offload" (also
                            keeps the model in CPU memory between uses: ~6 GB); see engine.request.MEMORY_MODES
    threads : int           CPU threads for torch; 0 = chosen before each job from the cores free then
                            (engine.threads: on a busy CPU one thread is faster than two)
    notice_dismissed : bool the demo-model notice was closed by the user
    last_dir : str          the folder the last open dialog was in
    kiosk : bool            start in kiosk mode (omfa_desktop.kiosk) even without ``--kiosk``
    kiosk_pin : str         the administrator PIN as engine.kiosk_store.hash_pin stores it (salted PBKDF2,
                            never the PIN itself); "" = not set yet (the kiosk asks for one at start)
    kiosk_idle_seconds : int   a customer session with no touch for this long is purged (15-3600)
    kiosk_drop_folder : str    where customers' photos arrive (the kiosk's own folder: photos are moved out
                            of it, strays deleted); "" = none (camera only)
    kiosk_photo_hint : str  the store's words on the photo screen ("AirDrop to 'Boutique screen'", ...)
    kiosk_export_folder : str  a USB stick or share the "Save" button copies results to; "" = no Save button
    kiosk_wardrobe_folder : str  the garments offered (an engine.wardrobe folder); "" = the user's wardrobe
    kiosk_camera : bool     use a camera when Qt Multimedia finds one
    """

    # load_settings checks the fields in this order, each with the ones before it: the VAE after the model
    # it must fit, the SMPL-X gender before the folder whose file it names.
    model_folder: str = ""
    vae_folder: str = ""
    smplx_gender: str = "neutral"
    smplx_folder: str = ""
    hmr2_folder: str = ""
    device: str = "auto"
    precision: str = "auto"
    default_sampler: str = "dpm++2m"  # the fast preset's; another choice starts the window on "Custom"
    memory: str = "standard"
    threads: int = 0
    notice_dismissed: bool = False
    last_dir: str = ""
    kiosk: bool = False
    kiosk_pin: str = ""
    kiosk_idle_seconds: int = 90    # time to read a result; short enough that a walk-away is purged soon
    kiosk_drop_folder: str = ""
    kiosk_photo_hint: str = ""
    kiosk_export_folder: str = ""
    kiosk_wardrobe_folder: str = ""
    kiosk_camera: bool = True


class SettingsError(OmfaError, ValueError):
    """An invalid setting; ``field`` names it so the dialog can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def settings_path() -> Path:
    from engine.paths import user_data_dir

    return user_data_dir() / "settings.json"


SMPLX_GENDERS: tuple[str, ...] = ("neutral", "male", "female")  # engine.body.model.GENDERS, without torch
HMR2_CHECKPOINTS: tuple[str, ...] = (".ckpt", ".safetensors", ".pth")


def validate(s: AppSettings, check_device: bool = True, deep: bool = True, model_folder: str | None = None) -> None:
    """Raise :class:`SettingsError` for the first invalid field.

    ``check_device`` asks the engine's device policy whether this device/precision pair can run here
    (imports torch; the worker has usually imported it already). ``deep`` loads the SMPL-X file with
    ``engine.body.model.BodyModel.load_smplx`` (imports torch and smplx, about a second); without it only the
    file's presence is checked (startup). ``model_folder`` is the model the VAE must fit when it is not
    ``s.model_folder`` (a model given for this session only); "" = the demo model.
    """
    if s.model_folder:
        folder = Path(s.model_folder).expanduser()
        if not folder.is_dir():
            raise SettingsError("model_folder", f"{folder} is not a folder")
        if not (folder / "omfa_config.json").is_file():
            raise SettingsError("model_folder", f"{folder} has no omfa_config.json: it is not an OMFA model "
                                                "folder (make one with 'omfa train' or engine.model.save)")
        if deep:
            _validate_model_config(folder)
    if s.vae_folder:
        _validate_vae(Path(s.vae_folder).expanduser(), s.model_folder if model_folder is None else model_folder)
    if s.smplx_gender not in SMPLX_GENDERS:
        raise SettingsError("smplx_gender", f"must be one of {', '.join(SMPLX_GENDERS)}, not {s.smplx_gender!r}")
    if s.smplx_folder:
        _validate_smplx(s.smplx_folder, s.smplx_gender, deep)
    if s.hmr2_folder:
        _validate_hmr2(Path(s.hmr2_folder).expanduser())
    if not re.fullmatch(r"(auto|cpu|mps|cuda(:\d+)?)", s.device or ""):
        raise SettingsError("device", f"must be one of {', '.join(DEVICES)} or cuda:N, not {s.device!r}")
    if s.precision not in PRECISIONS:
        raise SettingsError("precision", f"must be one of {', '.join(PRECISIONS)}, not {s.precision!r}")
    if s.default_sampler not in SAMPLERS:
        raise SettingsError("default_sampler", f"must be one of {', '.join(SAMPLERS)}, not {s.default_sampler!r}")
    if s.memory not in MEMORY_LABELS:
        raise SettingsError("memory", f"must be one of {', '.join(MEMORY_LABELS)}, not {s.memory!r}")
    if isinstance(s.threads, bool) or not 0 <= s.threads <= MAX_THREADS:
        raise SettingsError("threads", f"must be 0 (automatic) to {MAX_THREADS}, not {s.threads!r}")
    _validate_kiosk(s)
    if check_device:
        from engine.device import DeviceError, select_device

        try:
            select_device(s.device, s.precision)
        except DeviceError as e:
            field = "precision" if "precision" in str(e) or "fp16" in str(e) or "bf16" in str(e) else "device"
            raise SettingsError(field, str(e)) from None


KIOSK_IDLE_RANGE = (15, 3600)


def _validate_kiosk(s: AppSettings) -> None:
    """The kiosk fields. Folders are not required to exist: a USB stick may be unplugged at start."""
    if s.kiosk_pin:
        from engine.kiosk_store import parse_pin_record

        try:
            parse_pin_record(s.kiosk_pin)
        except ValueError as e:
            raise SettingsError("kiosk_pin", f"{e}; set the PIN again (omfa-desktop --set-kiosk-pin)") from None
    lo, hi = KIOSK_IDLE_RANGE
    if isinstance(s.kiosk_idle_seconds, bool) or not lo <= s.kiosk_idle_seconds <= hi:
        raise SettingsError("kiosk_idle_seconds", f"must be {lo} to {hi} seconds, not {s.kiosk_idle_seconds!r}")
    if len(s.kiosk_photo_hint) > 300:
        raise SettingsError("kiosk_photo_hint", "must be at most 300 characters")


def _validate_vae(folder: Path, model_folder: str) -> None:
    """A diffusers AutoencoderKL folder whose factor and latent channels fit the model (read from the JSON
    configs, no weights): the engine refuses the same on load (engine.pipeline.load_vae)."""
    if not folder.is_dir():
        raise SettingsError("vae_folder", f"{folder} is not a folder")
    if not (folder / "config.json").is_file() and (folder / "vae" / "config.json").is_file():
        folder = folder / "vae"
    cfg = _read_json(folder / "config.json")
    if cfg is None:
        raise SettingsError("vae_folder", f"{folder} has no readable config.json: it is not a diffusers VAE "
                                          "(AutoencoderKL) folder")
    if cfg.get("_class_name", "AutoencoderKL") != "AutoencoderKL":
        raise SettingsError("vae_folder", f"{folder} holds a {cfg.get('_class_name')}, not an AutoencoderKL")
    if not any(folder.glob("*.safetensors")):
        raise SettingsError("vae_folder", f"{folder} has no .safetensors weights (OMFA does not load pickled "
                                          ".bin weights)")
    blocks, channels = cfg.get("block_out_channels"), cfg.get("latent_channels")
    want = _model_latents(model_folder)
    if want is None or not isinstance(blocks, list) or not isinstance(channels, int):
        return  # the engine checks again when it loads
    factor = 2 ** (len(blocks) - 1)
    if factor != want[0]:
        raise SettingsError("vae_folder", f"this VAE has factor {factor} but the model works in factor-{want[0]} "
                                          f"latents, so it cannot replace the model's codec"
                                          + (" (an SD/SDXL VAE fits an SD/SDXL-based model, not the demo model)"
                                             if factor == 8 else ""))
    if want[1] is not None and channels != want[1]:
        raise SettingsError("vae_folder", f"this VAE has {channels} latent channels but the model takes {want[1]}")


def _model_latents(model_folder: str) -> tuple[int, int | None] | None:
    """(factor, latent channels) of a model folder ("" = the demo model) from its JSON, or None if unknown."""
    from engine.paths import DEMO_MODEL

    folder = Path(model_folder).expanduser() if model_folder else DEMO_MODEL
    cfg = _read_json(folder / "omfa_config.json")
    if cfg is None:
        return (4, 4) if not model_folder else None  # the untrained demo-sized stand-in: a tiny codec, f=4, C=4
    try:
        factor = int(cfg["layout"].get("factor", 8))
    except (KeyError, AttributeError, TypeError, ValueError):
        return None
    codec = _read_json(folder / "codec" / "config.json") or {}
    channels = codec.get("latent_channels")
    return factor, channels if isinstance(channels, int) else None


def _validate_model_config(folder: Path) -> None:
    """The model's omfa_config.json as the engine reads it: one line naming the file and the field (deep
    nesting, zero or negative schedule sizes, wrong types) instead of a failure when the model loads."""
    from engine.integrity import read_json_object
    from engine.model import ModelError, parse_config

    cfg_path = folder / "omfa_config.json"
    try:
        parse_config(read_json_object(cfg_path), cfg_path)
    except ModelError as e:
        raise SettingsError("model_folder", str(e)) from None


def _read_json(path: Path) -> dict | None:
    from engine.persist import load_json

    try:
        data = load_json(path)  # refuses deep nesting, FIFOs and huge files instead of crashing or hanging
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _validate_smplx(folder_text: str, gender: str, deep: bool) -> None:
    folder = Path(folder_text).expanduser()
    if not folder.is_dir():
        raise SettingsError("smplx_folder", f"{folder} is not a folder")
    if deep:
        from engine.body.model import BodyModel, BodyModelError

        try:
            BodyModel.load_smplx(folder, gender)
        except BodyModelError as e:
            raise SettingsError("smplx_folder", str(e)) from None
        except Exception as e:  # noqa: BLE001 - whatever a damaged file raises becomes a message
            raise SettingsError("smplx_folder", f"could not load SMPL-X from {folder}: "
                                                f"{e.__class__.__name__}: {e}") from None
        return
    stem = f"SMPLX_{gender.upper()}.npz"
    if not any((d / stem).is_file() for d in (folder, folder / "smplx")):
        raise SettingsError("smplx_folder", f"missing SMPL-X file {folder / stem}")


def _validate_hmr2(folder: Path) -> None:
    if not folder.is_dir():
        raise SettingsError("hmr2_folder", f"{folder} is not a folder")
    if not (folder / "model_config.yaml").is_file():
        raise SettingsError("hmr2_folder", f"{folder} has no model_config.yaml: it is not an hmr2 model folder "
                                           "(4D-Humans' logs/train/multiple_datasets)")
    found = [p for d in (folder, folder / "checkpoints") if d.is_dir() for p in d.iterdir()
             if p.is_file() and p.suffix in HMR2_CHECKPOINTS]
    if not found:
        raise SettingsError("hmr2_folder", f"{folder} has no checkpoint ({', '.join('*' + e for e in HMR2_CHECKPOINTS)}"
                                           ", in the folder or its checkpoints/ subfolder)")


def load_settings(path: Path | None = None) -> tuple[AppSettings, list[str]]:
    """The saved settings (defaults when there are none) and notes about values that were reset."""
    from engine.persist import read_json

    path = path or settings_path()
    notes: list[str] = []
    data, note = read_json(path)  # a damaged file is moved aside (kept for the user), never overwritten
    if data is None:
        return AppSettings(), [f"{note}; the default settings are used"] if note else []
    s = AppSettings()
    for f in fields(AppSettings):
        if f.name not in data:
            continue
        value = data[f.name]
        if not isinstance(value, type(getattr(s, f.name))):
            notes.append(f"setting {f.name}={value!r} has the wrong type; using {getattr(s, f.name)!r}")
            continue
        candidate = AppSettings(**{**asdict(s), f.name: value})
        try:
            validate(candidate, check_device=False, deep=False)
        except SettingsError as e:
            notes.append(f"setting {e.field} reset to its default: {e.message}")
            continue
        s = candidate
    return s, notes


def save_settings(s: AppSettings, path: Path | None = None) -> Path:
    """Write atomically. Raises engine.persist.StorageError (disk full, read-only, ...); the file is untouched."""
    from engine.persist import write_json

    return write_json(path or settings_path(), asdict(s))
