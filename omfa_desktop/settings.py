"""Persisted application settings: a JSON file in the user data folder, validated on every change.

``settings.json`` lives in ``engine.paths.user_data_dir()`` (OMFA_DATA_DIR overrides it, as in tests).
A damaged or hand-edited file never stops the app: unknown keys are ignored and invalid values fall back
to their defaults, with a note the window shows once.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget)

from engine.device import DEVICES, PRECISIONS  # cheap: engine.device imports torch only inside functions

# The samplers engine.diffusion.SCHEDULERS offers; listed here so the window can show them without
# importing torch (tests/desktop/test_settings.py checks the two stay equal).
SAMPLERS: tuple[str, ...] = ("ddim", "ddpm", "euler", "euler_a", "dpm++2m", "unipc", "heun")

SAMPLER_LABELS = {"ddim": "DDIM", "ddpm": "DDPM", "euler": "Euler", "euler_a": "Euler ancestral",
                  "dpm++2m": "DPM++ 2M", "unipc": "UniPC", "heun": "Heun"}


@dataclass
class AppSettings:
    """What the app remembers between runs.

    Attributes
    ----------
    model_folder : str      an OMFA model folder (omfa_config.json inside); "" = the shipped demo model
    device : str            "auto", "cpu", "cuda", "cuda:N" or "mps"
    precision : str         "auto", "fp16", "bf16" or "fp32"
    default_sampler : str   a key of engine.diffusion.SCHEDULERS
    notice_dismissed : bool the demo-model notice was closed by the user
    last_dir : str          the folder the last open dialog was in
    """

    model_folder: str = ""
    device: str = "auto"
    precision: str = "auto"
    default_sampler: str = "ddim"
    notice_dismissed: bool = False
    last_dir: str = ""


class SettingsError(ValueError):
    """An invalid setting; ``field`` names it so the dialog can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def settings_path() -> Path:
    from engine.paths import user_data_dir

    return user_data_dir() / "settings.json"


def validate(s: AppSettings, check_device: bool = True) -> None:
    """Raise :class:`SettingsError` for the first invalid field.

    ``check_device`` asks the engine's device policy whether this device/precision pair can run here
    (imports torch; the worker has usually imported it already).
    """
    if s.model_folder:
        folder = Path(s.model_folder).expanduser()
        if not folder.is_dir():
            raise SettingsError("model_folder", f"{folder} is not a folder")
        if not (folder / "omfa_config.json").is_file():
            raise SettingsError("model_folder", f"{folder} has no omfa_config.json: it is not an OMFA model "
                                                "folder (make one with 'omfa train' or engine.model.save)")
    if not re.fullmatch(r"(auto|cpu|mps|cuda(:\d+)?)", s.device or ""):
        raise SettingsError("device", f"must be one of {', '.join(DEVICES)} or cuda:N, not {s.device!r}")
    if s.precision not in PRECISIONS:
        raise SettingsError("precision", f"must be one of {', '.join(PRECISIONS)}, not {s.precision!r}")
    if s.default_sampler not in SAMPLERS:
        raise SettingsError("default_sampler", f"must be one of {', '.join(SAMPLERS)}, not {s.default_sampler!r}")
    if check_device:
        from engine.device import DeviceError, select_device

        try:
            select_device(s.device, s.precision)
        except DeviceError as e:
            field = "precision" if "precision" in str(e) or "fp16" in str(e) or "bf16" in str(e) else "device"
            raise SettingsError(field, str(e)) from None


def load_settings(path: Path | None = None) -> tuple[AppSettings, list[str]]:
    """The saved settings (defaults when there are none) and notes about values that were reset."""
    path = path or settings_path()
    notes: list[str] = []
    if not path.is_file():
        return AppSettings(), notes
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        return AppSettings(), [f"settings file {path} could not be read ({e}); using defaults"]
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
            validate(candidate, check_device=False)
        except SettingsError as e:
            notes.append(f"setting {e.field} reset to its default: {e.message}")
            continue
        s = candidate
    return s, notes


def save_settings(s: AppSettings, path: Path | None = None) -> Path:
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(asdict(s), indent=1))
    tmp.replace(path)
    return path


class SettingsDialog(QDialog):
    """Edit model folder, device, precision and default sampler; refuses to close on an invalid value."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings — OMFA Desktop")
        self.setMinimumWidth(560)
        self._base = settings
        self.result_settings: AppSettings | None = None

        self.model_edit = QLineEdit(settings.model_folder)
        self.model_edit.setPlaceholderText("empty = the shipped demo model (resources/models/demo)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit, 1)
        model_row.addWidget(browse)

        self.device_combo = QComboBox()
        self.device_combo.setEditable(True)  # cuda:1 etc.
        self.device_combo.addItems(list(DEVICES))
        self.device_combo.setCurrentText(settings.device)
        self.precision_combo = QComboBox()
        self.precision_combo.addItems(list(PRECISIONS))
        self.precision_combo.setCurrentText(settings.precision)
        self.sampler_combo = QComboBox()
        for key in SAMPLERS:
            self.sampler_combo.addItem(SAMPLER_LABELS.get(key, key), key)
        self.sampler_combo.setCurrentIndex(max(0, self.sampler_combo.findData(settings.default_sampler)))

        form = QFormLayout()
        form.addRow("Model folder", model_row)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.precision_combo)
        form.addRow("Default sampler", self.sampler_combo)
        hint = QLabel("The CPU runs in fp32; CUDA in fp16 (or bf16 where supported). A changed model, device "
                      "or precision is loaded after the running job.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b42318; font-weight: 600;")
        self.error_label.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(hint)
        lay.addWidget(self.error_label)
        lay.addWidget(buttons)

    def current(self) -> AppSettings:
        return AppSettings(**{**asdict(self._base), "model_folder": self.model_edit.text().strip(),
                              "device": self.device_combo.currentText().strip(),
                              "precision": self.precision_combo.currentText(),
                              "default_sampler": self.sampler_combo.currentData()})

    def try_accept(self) -> bool:
        """Validate; on success keep the settings in ``result_settings`` and close."""
        s = self.current()
        try:
            validate(s)
        except SettingsError as e:
            self.error_label.setText(f"{_FIELD_LABELS.get(e.field, e.field)}: {e.message}")
            self.error_label.show()
            widget = {"model_folder": self.model_edit, "device": self.device_combo,
                      "precision": self.precision_combo, "default_sampler": self.sampler_combo}.get(e.field)
            if widget is not None:
                widget.setFocus(Qt.FocusReason.OtherFocusReason)
            return False
        self.result_settings = s
        self.accept()
        return True

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "OMFA model folder", self.model_edit.text())
        if folder:
            self.model_edit.setText(folder)


_FIELD_LABELS = {"model_folder": "Model folder", "device": "Device", "precision": "Precision",
                 "default_sampler": "Default sampler"}
