"""The settings dialog; the settings themselves (AppSettings, load/save, validate) live in
omfa_desktop.model.app_settings, without Qt, and are re-exported here for the dialog's callers."""
from __future__ import annotations

from dataclasses import asdict

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from engine.device import DEVICES, PRECISIONS
from engine.threads import MAX_THREADS  # torch-free
from omfa_desktop.model.app_settings import (MEMORY_LABELS, SAMPLER_LABELS, SAMPLERS, SMPLX_GENDERS,  # noqa: F401
                                             AppSettings, SettingsError, load_settings, save_settings,
                                             settings_path, validate)


class FolderField(QWidget):
    """A folder path: a line edit, "Browse…" (a folder dialog) and "Clear"."""

    def __init__(self, text: str, placeholder: str, dialog_title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dialog_title = dialog_title
        self.edit = QLineEdit(text)
        self.edit.setPlaceholderText(placeholder)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Unset: " + placeholder)
        self.clear_button.clicked.connect(self.edit.clear)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.browse_button)
        lay.addWidget(self.clear_button)
        self.setFocusProxy(self.edit)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming, like QLineEdit
        self.edit.setText(text)

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.dialog_title, self.edit.text())
        if folder:
            self.edit.setText(folder)


class SettingsDialog(QDialog):
    """Edit the model, VAE, SMPL-X and hmr2 folders, device, precision and default sampler; refuses to close
    on an invalid value, naming the field.

    ``session_model`` is the model this window runs when it is not the saved one (given on the command line
    or in OMFA_MODEL): a VAE is checked against it while the model folder field is left unchanged.
    """

    def __init__(self, settings: AppSettings, parent: QWidget | None = None, session_model: str = "") -> None:
        super().__init__(parent)
        from engine.body.model import SMPLX_LICENCE_NOTE, SMPLX_URL  # no torch at import

        self.setWindowTitle("Settings — OMFA Desktop")
        self.setMinimumWidth(640)
        self._base = settings
        self._session_model = session_model
        self.result_settings: AppSettings | None = None

        self.model_field = FolderField(settings.model_folder, "empty = the active model of Edit → Models… (the "
                                       "shipped demo model unless chosen there)", "OMFA model folder")
        self.model_edit = self.model_field.edit
        self.vae_field = FolderField(settings.vae_folder, "empty = the model's own codec",
                                     "VAE folder (a diffusers AutoencoderKL)")
        self.vae_field.setToolTip("A diffusers AutoencoderKL folder that replaces the model's codec, e.g. an "
                                  "fp16-fixed SDXL VAE for an SDXL-based model. It must have the model's factor "
                                  "and latent channels (the demo model's codec has factor 4: an SD/SDXL VAE, "
                                  "factor 8, does not fit it).")
        self.vae_edit = self.vae_field.edit
        self.smplx_field = FolderField(settings.smplx_folder, "empty = the shipped OMFA mannequin",
                                       "SMPL-X folder (SMPLX_NEUTRAL.npz, SMPLX_MALE.npz, SMPLX_FEMALE.npz)")
        self.smplx_edit = self.smplx_field.edit
        self.gender_combo = QComboBox()
        for g in SMPLX_GENDERS:
            self.gender_combo.addItem(g, g)
        self.gender_combo.setCurrentIndex(max(0, self.gender_combo.findData(settings.smplx_gender)))
        self.gender_combo.setToolTip("Which SMPL-X body to pose and render (its SMPLX_<GENDER>.npz)")
        smplx_row = QHBoxLayout()
        smplx_row.addWidget(self.smplx_field, 1)
        smplx_row.addWidget(QLabel("Body"))
        smplx_row.addWidget(self.gender_combo)
        self.licence_label = QLabel(SMPLX_LICENCE_NOTE.replace(
            SMPLX_URL, f"<a href='{SMPLX_URL}'>{SMPLX_URL}</a>") + " When empty or not loadable, the viewport "
            "and the pose guides use the shipped OMFA mannequin (made by this project, in SMPL-X format).")
        self.licence_label.setTextFormat(Qt.TextFormat.RichText)
        self.licence_label.setOpenExternalLinks(True)
        self.licence_label.setWordWrap(True)
        self.licence_label.setStyleSheet("font-size: 11px; color: palette(mid);")
        self.hmr2_field = FolderField(settings.hmr2_folder, "empty = not set (optional)",
                                      "hmr2 folder (model_config.yaml and a checkpoint)")
        self.hmr2_field.setToolTip("An hmr2 (4D-Humans) model folder: model_config.yaml and a checkpoint "
                                   "(*.ckpt, *.safetensors or *.pth, here or in checkpoints/). Kept for reading "
                                   "a pose from a photo; not used by this version yet.")
        self.hmr2_edit = self.hmr2_field.edit

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
        form.addRow("Model folder", self.model_field)
        form.addRow("VAE folder", self.vae_field)
        form.addRow("SMPL-X folder", smplx_row)
        self.memory_combo = QComboBox()
        for key, label in MEMORY_LABELS.items():
            self.memory_combo.addItem(label, key)
        self.memory_combo.setCurrentIndex(max(0, self.memory_combo.findData(settings.memory)))
        self.memory_combo.setToolTip("For GPUs that run out of memory: 'low' runs one image at a time and tiles "
                                     "the VAE; 'offload' also keeps the model in CPU memory between uses (slower).")
        self.threads_spin = QSpinBox()
        self.threads_spin.setRange(0, MAX_THREADS)
        self.threads_spin.setSpecialValueText("auto (the cores free at each job)")
        self.threads_spin.setValue(settings.threads)
        self.threads_spin.setToolTip("Torch threads on the CPU. Auto counts the cores other programs leave free "
                                     "before each job: on a busy CPU one thread is much faster than two.")
        form2 = QFormLayout()  # the licence note between two forms: a wrapped label inside one gets padded
        form2.addRow("hmr2 folder", self.hmr2_field)
        form2.addRow("Device", self.device_combo)
        form2.addRow("Precision", self.precision_combo)
        form2.addRow("Default sampler", self.sampler_combo)
        form2.addRow("GPU memory", self.memory_combo)
        form2.addRow("CPU threads", self.threads_spin)
        labels = [form.itemAt(i, QFormLayout.ItemRole.LabelRole).widget() for i in range(form.rowCount())]
        labels += [form2.itemAt(i, QFormLayout.ItemRole.LabelRole).widget() for i in range(form2.rowCount())]
        width = max(lab.sizeHint().width() for lab in labels)
        for lab in labels:
            lab.setMinimumWidth(width)  # the two forms' fields line up
        self.licence_label.setContentsMargins(width + form.horizontalSpacing() + 6, 0, 0, 4)
        hint = QLabel("The CPU runs in fp32; CUDA in fp16 (or bf16 where supported). A changed model, VAE, device "
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
        lay.addWidget(self.licence_label)
        lay.addLayout(form2)
        lay.addWidget(hint)
        lay.addWidget(self.error_label)
        lay.addWidget(buttons)

    def current(self) -> AppSettings:
        return AppSettings(**{**asdict(self._base), "model_folder": self.model_field.text(),
                              "vae_folder": self.vae_field.text(), "smplx_folder": self.smplx_field.text(),
                              "smplx_gender": self.gender_combo.currentData(), "hmr2_folder": self.hmr2_field.text(),
                              "device": self.device_combo.currentText().strip(),
                              "precision": self.precision_combo.currentText(),
                              "default_sampler": self.sampler_combo.currentData(),
                              "memory": self.memory_combo.currentData(), "threads": self.threads_spin.value()})

    def try_accept(self) -> bool:
        """Validate; on success keep the settings in ``result_settings`` and close."""
        s = self.current()
        model = None
        if self._session_model and s.model_folder == self._base.model_folder:
            model = self._session_model
        try:
            validate(s, model_folder=model)
        except SettingsError as e:
            self.error_label.setText(f"{_FIELD_LABELS.get(e.field, e.field)}: {e.message}")
            self.error_label.show()
            widget = {"model_folder": self.model_field, "vae_folder": self.vae_field,
                      "smplx_folder": self.smplx_field, "smplx_gender": self.gender_combo,
                      "hmr2_folder": self.hmr2_field, "device": self.device_combo,
                      "precision": self.precision_combo, "default_sampler": self.sampler_combo,
                      "memory": self.memory_combo, "threads": self.threads_spin}.get(e.field)
            if widget is not None:
                widget.setFocus(Qt.FocusReason.OtherFocusReason)
            return False
        self.result_settings = s
        self.accept()
        return True


_FIELD_LABELS = {"model_folder": "Model folder", "vae_folder": "VAE folder", "smplx_folder": "SMPL-X folder",
                 "smplx_gender": "SMPL-X body", "hmr2_folder": "hmr2 folder", "device": "Device",
                 "precision": "Precision", "default_sampler": "Default sampler", "memory": "GPU memory",
                 "threads": "CPU threads"}
FIELD_LABELS = _FIELD_LABELS
