"""Edit -> Models...: the model manager (engine.model_registry) as a dialog.

A list of every model added (the shipped demo model first, read-only; the active one marked), the selected
model's details (what it is, its manifest, its counted GPU memory at fp16 per memory mode), and Add folder...
(an OMFA folder is added as is; a diffusers SD/SDXL folder is converted into a new folder, with a progress
bar), Verify (re-hashes with a progress bar), Remove and Use. Conversion, verification and memory counting
run on a worker thread; the dialog stays responsive and its buttons wait for the job. At first start a short
text says what each kind of model can do.

Screenshots (under Xvfb): ``python -m omfa_desktop.models_dialog --screenshot docs/screenshots``.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout,
                               QInputDialog, QLabel, QListWidget, QListWidgetItem, QMessageBox, QProgressBar,
                               QPushButton, QVBoxLayout, QWidget)

from engine.model_registry import (KIND_TEXT, ModelRecord, ModelRegistry, RegistryError, _free_name,
                                   default_models_dir, describe, gb, is_diffusers_folder)

KIND_LABELS = {"demo": "Demo (shipped, read-only)", "converted": "Converted base, not fine-tuned",
               "trained": "Fine-tuned model"}


class _Job(QThread):
    """Runs ``fn(progress)`` off the GUI thread; progress(fraction, text) arrives as a signal."""

    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[Callable[[float, str], None]], Any], parent: QObject) -> None:
        super().__init__(parent)
        self._fn = fn

    def run(self) -> None:
        try:
            self.succeeded.emit(self._fn(lambda f, s: self.progressed.emit(float(f), str(s))))
        except RegistryError as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001 — shown in the dialog, never lost in a thread
            from omfa_desktop.worker import readable_error

            self.failed.emit(readable_error(e))


class ModelsDialog(QDialog):
    """The model manager. ``modelChosen(folder)`` is emitted by Use ("" = the shipped demo model)."""

    modelChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, registry: ModelRegistry | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setObjectName("modelsDialog")
        self.resize(900, 560)
        self.registry = registry or ModelRegistry()
        self.job: Optional[_Job] = None
        self.cancel = threading.Event()

        # What each kind of model can do: shown at first start, and on demand.
        self.intro = QFrame()
        self.intro.setFrameShape(QFrame.Shape.StyledPanel)
        self.intro.setStyleSheet("QFrame { background: #eef4fb; }")
        il = QVBoxLayout(self.intro)
        text = "<b>What each kind of model can do</b><ul>" + "".join(
            f"<li>{t}</li>" for t in KIND_TEXT.values()) + "</ul>"
        self.intro_text = QLabel(text)
        self.intro_text.setWordWrap(True)
        il.addWidget(self.intro_text)
        self.intro_ok = QPushButton("Got it")
        self.intro_ok.clicked.connect(self._intro_seen)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.intro_ok)
        il.addLayout(row)
        self.intro.setVisible(not self.registry.intro_seen)

        self.list = QListWidget()
        self.list.setMinimumWidth(280)
        self.list.currentRowChanged.connect(lambda _: self._show_details())
        self.details = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, label in (("name", "Name"), ("kind", "Kind"), ("preset", "Architecture"), ("panels", "Panels"),
                           ("tasks", "Trained for"), ("parameters", "Parameters"), ("precision", "Precision on disk"),
                           ("manifest", "Manifest"), ("memory", "GPU memory at fp16"), ("folder", "Folder"),
                           ("source", "Converted from"), ("problem", "Problem")):
            lab = QLabel()
            lab.setWordWrap(True)
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = lab
            self.details.addRow(f"{label}:", lab)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.addLayout(self.details)
        rl.addStretch(1)  # the rows stay together at the top while a progress bar comes and goes

        self.add_button = QPushButton("Add folder…")
        self.verify_button = QPushButton("Verify")
        self.remove_button = QPushButton("Remove")
        self.use_button = QPushButton("Use")
        self.kinds_button = QPushButton("What can each kind do?")
        self.add_button.clicked.connect(self._ask_add)
        self.verify_button.clicked.connect(self.verify_selected)
        self.remove_button.clicked.connect(self._ask_remove)
        self.use_button.clicked.connect(self.use_selected)
        self.kinds_button.clicked.connect(lambda: self.intro.setVisible(True))
        buttons = QHBoxLayout()
        for b in (self.add_button, self.verify_button, self.remove_button, self.use_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.kinds_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        body = QHBoxLayout()
        body.addWidget(self.list, 2)
        body.addWidget(right, 3)
        lay = QVBoxLayout(self)
        lay.addWidget(self.intro)
        lay.addLayout(body, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(close)
        if self.registry.note:
            self.status.setText(f"{self.registry.note}; the model list starts empty.")
        self.refresh()
        self._count_missing_estimates()

    # ------------------------------------------------------------------ list and details
    def records(self) -> list[ModelRecord]:
        return self.registry.all()

    def refresh(self, select: str | None = None) -> None:
        keep = select or (self.selected().key if self.selected() else None)
        active = self.registry.active().key
        self.list.blockSignals(True)
        self.list.clear()
        for rec in self.records():
            d = describe(rec.path, builtin=rec.builtin)
            text = rec.name or d.name or Path(rec.path).name
            sub = d.problem and "cannot be read" or f"{d.preset} · {d.resolution} px"
            item = QListWidgetItem(f"{'● ' if rec.key == active else '   '}{text}\n      {sub}")
            item.setData(Qt.ItemDataRole.UserRole, rec.key)
            if rec.key == active:
                f = item.font()
                f.setBold(True)
                item.setFont(f)
            self.list.addItem(item)
        self.list.blockSignals(False)
        keys = [r.key for r in self.records()]
        self.list.setCurrentRow(keys.index(keep) if keep in keys else keys.index(active))
        self._show_details()

    def selected(self) -> Optional[ModelRecord]:
        row = self.list.currentRow()
        recs = self.records()
        return recs[row] if 0 <= row < len(recs) else None

    def _show_details(self) -> None:
        rec = self.selected()
        for lab in self.fields.values():
            lab.setText("")
        if rec is None:
            return
        d = describe(rec.path, builtin=rec.builtin)
        f = self.fields
        active = rec.key == self.registry.active().key
        f["name"].setText((rec.name or d.name) + ("  (active)" if active else ""))
        f["folder"].setText(rec.path)
        f["source"].setText(rec.source or "—")
        self._row_visible("problem", bool(d.problem))
        self._row_visible("source", bool(rec.source))
        if d.problem:
            f["problem"].setText(d.problem)
        else:
            f["kind"].setText(KIND_LABELS.get(d.kind, d.kind))
            presets = {"sdxl": "SDXL", "sd15": "SD 1.5", "demo": "OMFA demo (CPU-sized)"}
            f["preset"].setText(presets.get(d.preset, d.preset))
            f["panels"].setText(", ".join(f"{p} {w}x{h}" for p, (w, h) in d.panels.items()))
            f["tasks"].setText(", ".join(d.tasks) if d.tasks else "nothing yet: not fine-tuned, outputs are noise")
            f["parameters"].setText(f"{d.parameters / 1e6:,.1f} M")
            f["precision"].setText(d.precision)
            v = rec.verified
            state = ("shipped with the app" if rec.builtin else "not verified yet") if not v else \
                f"{'OK' if v.get('ok') else 'FAILED'} ({v.get('when', '')}): {v.get('message', '')}"
            f["manifest"].setText(f"{d.manifest}; {state}")
            est = rec.estimate.get("bytes") if isinstance(rec.estimate, dict) else None
            f["memory"].setText("counting…" if not est else
                                " · ".join(f"{m} {gb(est.get(m))}" for m in ("standard", "low", "offload"))
                                + "  (counted for one try-on)")
        self.remove_button.setEnabled(not rec.builtin and self.job is None)
        self.use_button.setEnabled(not active and not d.problem and self.job is None)
        self.verify_button.setEnabled(self.job is None)

    def _row_visible(self, key: str, visible: bool) -> None:
        lab = self.fields[key]
        lab.setVisible(visible)
        name = self.details.labelForField(lab)
        if name is not None:
            name.setVisible(visible)

    # ------------------------------------------------------------------ jobs
    def busy(self) -> bool:
        return self.job is not None

    def _start(self, what: str, fn, done: Callable[[Any], None]) -> None:
        self.job = _Job(fn, self)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setText(what)
        for b in (self.add_button, self.verify_button, self.remove_button, self.use_button):
            b.setEnabled(False)
        self.job.progressed.connect(self._on_progress)
        self.job.succeeded.connect(lambda result: self._finish(done, result, None))
        self.job.failed.connect(lambda message: self._finish(done, None, message))
        self.job.start()

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(round(fraction * 1000)))
        if text:
            self.status.setText(text)

    def _finish(self, done, result, error: Optional[str]) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.wait()
        self.progress.setVisible(False)
        self.add_button.setEnabled(True)
        if error is not None:
            self.status.setText(f"<span style='color:#a00'>{error}</span>")
            self.refresh()
        else:
            done(result)

    def _count_missing_estimates(self) -> None:
        """Count the memory of models whose estimate is not remembered yet (first open, changed configs)."""
        todo = [r for r in self.records() if not (isinstance(r.estimate, dict) and r.estimate.get("bytes"))
                and not describe(r.path, builtin=r.builtin).problem]
        if not todo:
            return

        def work(progress):
            for i, rec in enumerate(todo):
                progress(i / len(todo), f"counting the GPU memory of {rec.name}…")
                self.registry.estimate(rec)
            return None

        self._start("counting GPU memory…", work, lambda _: (self.status.setText(""), self.refresh()))

    # ------------------------------------------------------------------ actions
    def _intro_seen(self) -> None:
        self.intro.setVisible(False)
        try:
            self.registry.mark_intro_seen()
        except OSError as e:
            self.status.setText(str(e))

    def _ask_add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder (OMFA, or diffusers SD/SDXL to convert)")
        if not folder:
            return
        out = None
        if is_diffusers_folder(Path(folder)) and not (Path(folder) / "omfa_config.json").is_file():
            default = str(_free_name(default_models_dir() / f"{Path(folder).name}-omfa"))
            out, ok = QInputDialog.getText(self, "Convert to an OMFA model",
                                           f"{folder} is a diffusers model. It will be converted into a new "
                                           "OMFA folder (the original is not changed). Save it in:", text=default)
            if not ok or not out.strip():
                return
        self.add_folder(folder, out)

    def add_folder(self, folder: str, out: str | None = None, size: tuple[int, int] | None = None) -> None:
        """Add (or convert and add) ``folder`` on the worker thread; the list shows it when done."""
        def work(progress):
            return self.registry.add(folder, out=out, progress=progress, size=size, cancel=self.cancel)

        def done(rec):
            self.status.setText(f"Added {rec.name}" + (f" (converted into {rec.path}; not fine-tuned yet: outputs "
                                                       "are noise until trained)" if rec.source else ""))
            self.refresh(select=rec.key)

        self._start(f"adding {folder}…", work, done)

    def verify_selected(self) -> None:
        rec = self.selected()
        if rec is None:
            return

        def done(r):
            v = r.verified
            color = "#070" if v.get("ok") else "#a00"
            self.status.setText(f"<span style='color:{color}'>{'OK' if v.get('ok') else 'FAILED'}: "
                                f"{v.get('message', '')}</span>")
            self.refresh(select=r.key)
            if r.builtin:
                self.fields["manifest"].setText(f"present; {'OK' if v.get('ok') else 'FAILED'}: {v.get('message')}")

        self._start(f"verifying {rec.name}…", lambda progress: self.registry.verify(rec.key, progress), done)

    def _ask_remove(self) -> None:
        rec = self.selected()
        if rec is None or rec.builtin:
            return
        if QMessageBox.question(self, "Remove model", f"Remove {rec.name} from the list? Its folder {rec.path} "
                                "stays on disk.") == QMessageBox.StandardButton.Yes:
            self.remove_selected()

    def remove_selected(self) -> None:
        rec = self.selected()
        if rec is None:
            return
        was_active = rec.key == self.registry.active().key
        try:
            self.registry.remove(rec.key)
        except RegistryError as e:
            self.status.setText(str(e))
            return
        self.status.setText(f"Removed {rec.name} from the list; its folder is still on disk.")
        self.refresh()
        if was_active:
            self.modelChosen.emit("")

    def use_selected(self) -> None:
        rec = self.selected()
        if rec is None:
            return
        try:
            self.registry.use(rec.key)
        except (RegistryError, OSError) as e:
            self.status.setText(f"<span style='color:#a00'>{e}</span>")
            return
        self.status.setText(f"{rec.name} is now the active model.")
        self.refresh(select=rec.key)
        self.modelChosen.emit("" if rec.builtin else rec.path)

    def reject(self) -> None:
        if self.job is not None:
            self.cancel.set()
            self.job.wait()
        super().reject()


# ============================================================================================ screenshots
def _screenshots(out: Path) -> int:
    """The dialog at first start (the kinds explained) and with an SDXL-shaped and an SD 1.5-shaped model
    converted, one of them selected, verified and active, plus one during a conversion."""
    import os
    import sys
    import tempfile

    os.environ["OMFA_DATA_DIR"] = tempfile.mkdtemp(prefix="omfa_models_shots_")
    os.environ.setdefault("OMFA_HASH_CACHE", "off")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from model_folders import tiny_diffusers_folder  # the tests' tiny SD/SDXL-shaped folders

    from omfa_desktop.qtutil import pump_events, wait_for
    from omfa_desktop.startup import qt_application

    app = qt_application()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(os.environ["OMFA_DATA_DIR"])

    def shot(d, name):
        pump_events(0.5)
        d.grab().save(str(out / name))
        print(f"wrote {out / name}")

    d = ModelsDialog()
    d.show()
    wait_for(lambda: not d.busy(), 300)
    shot(d, "models_dialog_first_start.png")
    d.intro_ok.click()
    xl = tiny_diffusers_folder(tmp / "sdxl-base-tiny", xl=True)
    sd = tiny_diffusers_folder(tmp / "sd15-inpainting-tiny", xl=False, in_channels=9)
    d.add_folder(str(xl), size=(64, 64))
    wait_for(lambda: d.progress.value() > 0 or not d.busy(), 60)
    shot(d, "models_dialog_converting.png")
    wait_for(lambda: not d.busy(), 300)
    d.add_folder(str(sd), size=(64, 64))
    wait_for(lambda: not d.busy(), 300)
    d.list.setCurrentRow(1)
    d.verify_selected()
    wait_for(lambda: not d.busy(), 300)
    d.use_selected()
    shot(d, "models_dialog.png")
    d.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    import argparse

    from omfa_desktop.glenv import configure_gl_environment

    ap = argparse.ArgumentParser(description="screenshots of the models dialog (run under Xvfb)")
    ap.add_argument("--screenshot", default="docs/screenshots", help="folder for the PNGs")
    a = ap.parse_args()
    configure_gl_environment()
    raise SystemExit(_screenshots(Path(a.screenshot)))
