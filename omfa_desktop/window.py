"""The main window: a view over the session model (omfa_desktop.model.session).

The panels (omfa_desktop.panels) bind their widgets to the Session: task, inputs, generation settings; the
window wires the model, the queue, the gallery, the wardrobe and the pose together. Nothing here touches
torch: the model lives on the engine thread (worker.JobQueue), guide renders on the guide thread
(worker.GuideService). The window opens at once and fills in the model's name when it loads.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFileDialog, QFrame, QGroupBox, QHBoxLayout, QLabel, QMainWindow, QPushButton,
                               QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from engine.errors import OmfaError
from engine.wardrobe import Wardrobe
from omfa_desktop.gallery import GalleryWidget
from omfa_desktop.model.app_settings import SAMPLERS, AppSettings, load_settings, save_settings
from omfa_desktop.model.gallery_store import GalleryEntry, GalleryStore
from omfa_desktop.model.jobs import Job, JobKind, JobState, plural
from omfa_desktop.model.session import POSED, Session
from omfa_desktop.panels.controls import GenerationPanel, InputsPanel, TaskPanel
from omfa_desktop.panels.jobs import CurrentJobPanel, JobsPanel
from omfa_desktop.panels.menus import build_menus
from omfa_desktop.panels.notice import NoticeBanner
from omfa_desktop.pose import PosePanel
from omfa_desktop.qtutil import MessageBar
from omfa_desktop.settings import SettingsDialog
from omfa_desktop.wardrobe import WardrobeWidget
from omfa_desktop.worker import FIELD_LABELS, GuideService, JobQueue

if TYPE_CHECKING:
    from engine.request import ModelInfo

log = logging.getLogger("omfa.window")


class MainWindow(QMainWindow):
    """OMFA Desktop's main window.

    Parameters
    ----------
    model_folder : str, optional   an OMFA model folder; default env OMFA_MODEL, then the settings, then the demo
    device, precision : str, optional   override the saved settings for this session
    load_samples : bool            put the shipped sample inputs in the slots (first start)
    """

    def __init__(self, model_folder: str | None = None, device: str | None = None, precision: str | None = None,
                 load_samples: bool = True, with_viewport: bool | None = None) -> None:
        super().__init__()
        self.setWindowTitle("OMFA Desktop — virtual try-on and try-off in any pose")
        self.settings, notes = load_settings()
        self.session_model = model_folder or os.environ.get("OMFA_MODEL") or ""
        self.session_device = device or ""
        self.session_precision = precision or ""
        self.session = Session(scheduler=self.settings.default_sampler, memory=self.settings.memory)
        self._pending_submit = False

        self.queue = JobQueue(self)
        self.queue.threads = self.settings.threads
        self.guides = GuideService(self)
        self.store = GalleryStore()
        self.wardrobe_store = Wardrobe(self.store.root.parent / "wardrobe")  # beside the gallery, same data dir

        self._build_ui(with_viewport)
        self._connect()
        build_menus(self)
        if load_samples:
            self.load_samples()
        self.gallery.reload()
        self.wardrobe.reload(rescan=False)  # read once, by Wardrobe(): its notes are still to be said
        if notes:
            self.show_message("Some saved settings were invalid and were reset.", "\n".join(notes), "warning")
        self.reload_model()

    @property
    def model_info(self) -> ModelInfo | None:
        return self.session.model_info

    # ================================================================== UI
    def _build_ui(self, with_viewport: bool | None) -> None:
        self.notice = NoticeBanner()
        self.notice.setVisible(not self.settings.notice_dismissed)
        self.messages = MessageBar()
        s = self.session
        self.task_panel = TaskPanel(s)
        self.task_buttons = self.task_panel.buttons
        self.inputs_panel = InputsPanel(s)
        self.slots = self.inputs_panel.slots
        self.generation = g = GenerationPanel(s, SAMPLERS)
        # the widgets under their old names: tests and screenshot scripts drive them
        self.steps, self.guidance, self.sampler = g.steps, g.guidance, g.sampler
        self.guided, self.preset = g.guided, g.preset
        self.seed, self.seed_lock, self.seed_random = g.seed, g.seed_lock, g.seed_random
        self.views, self.elevation, self.precision = g.views, g.elevation, g.precision

        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generate")
        self.generate_button.setMinimumHeight(40)
        self.generate_button.setStyleSheet("#generate { background: #1d6fd1; color: white; font-weight: 700; "
                                           "font-size: 15px; border-radius: 6px; }"
                                           "#generate:disabled { background: #9db8db; }")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setMinimumHeight(40)
        self.cancel_button.setEnabled(False)
        run_row = QHBoxLayout()
        run_row.addWidget(self.generate_button, 3)
        run_row.addWidget(self.cancel_button, 1)
        self.jobs_panel = JobsPanel(self.queue)
        self.job_list = self.jobs_panel.job_list

        left = QWidget()
        ll = QVBoxLayout(left)
        for w in (self.task_panel, self.inputs_panel, self.generation):
            ll.addWidget(w)
        ll.addLayout(run_row)
        ll.addWidget(self.jobs_panel, 1)
        left_scroll = QScrollArea()
        left_scroll.setWidgetResizable(True)
        left_scroll.setWidget(left)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setMinimumWidth(left.sizeHint().width() + 16)

        # ---- target pose
        self.pose = PosePanel(self.guides)
        self.pose.set_body_model(self.settings.smplx_folder, self.settings.smplx_gender)  # before the viewport
        self.pose_box = QGroupBox("Target pose")
        QVBoxLayout(self.pose_box).addWidget(self.pose)
        if with_viewport is None:
            with_viewport = os.environ.get("OMFA_VIEWPORT", "1") != "0"
        self.viewport = None
        if with_viewport:
            self._add_viewport()

        # ---- current job
        self.current_job = CurrentJobPanel()
        self.job_title, self.preview = self.current_job.title, self.current_job.preview
        self.preview_caption, self.progress = self.current_job.caption, self.current_job.progress
        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.pose_box)
        middle.addWidget(self.current_job)
        middle.setStretchFactor(0, 3)
        middle.setStretchFactor(1, 2)
        middle.setChildrenCollapsible(False)
        middle.setSizes([480, 300])
        middle.setMinimumWidth(420)

        # ---- gallery and wardrobe
        self.gallery = GalleryWidget(self.store)
        self.wardrobe = WardrobeWidget(self.wardrobe_store)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.gallery, "Gallery")
        self.side_tabs.addTab(self.wardrobe, "Wardrobe")
        self.side_tabs.setMinimumWidth(330)

        split = QSplitter(Qt.Orientation.Horizontal)
        for i, (w, stretch) in enumerate(((left_scroll, 0), (middle, 1), (self.side_tabs, 1))):
            split.addWidget(w)
            split.setStretchFactor(i, stretch)
        split.setSizes([left_scroll.minimumWidth(), 520, 420])
        self.splitter = split

        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(8, 8, 8, 4)
        cl.addWidget(self.notice)
        cl.addWidget(self.messages)
        cl.addWidget(split, 1)
        self.setCentralWidget(central)
        self.setAcceptDrops(True)

        self.model_label = QLabel("loading the model…")
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.body_label = QLabel("")
        self.body_label.setToolTip("The body posed in the viewport and rendered as the pose guides "
                                   "(Edit → Settings → SMPL-X folder)")
        self.statusBar().addPermanentWidget(self.body_label)
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().setStyleSheet("QStatusBar { border-top: 1px solid palette(mid); }")
        self.resize(1480, 940)

    def _add_viewport(self) -> None:
        """The 3D posing viewport, when this Qt has OpenGL widgets and a display to draw on."""
        try:
            from omfa_desktop.viewport import create_viewport
        except ImportError:
            return
        vp = create_viewport(self.pose)
        if vp is not None:
            self.viewport = vp

    def _connect(self) -> None:
        from omfa_desktop.work import WorkActions

        self.work = WorkActions(self)
        self.gallery.layerRequested.connect(lambda e: self.work.layer(e))
        self.guides.estimated.connect(self._on_estimated)
        self.guides.failed.connect(self._on_estimate_failed)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(lambda: self.queue.cancel())
        self.notice.dismissed.connect(self._notice_dismissed)
        self.messages.closed.connect(lambda: [s.mark_invalid(False) for s in self.slots.values()])
        for slot in self.slots.values():
            slot.error.connect(lambda msg, det: self.show_message(msg, det, "error"))
            slot.notice.connect(lambda msg: self.show_message(msg, "", "info"))
            slot.changed.connect(lambda s=slot: self._check_world(s.key))
        self.session.on_change(self._session_changed)
        self.pose.error.connect(self._pose_error)
        self.pose.bodyModelChanged.connect(self._body_model_changed)
        self.pose.stateChanged.connect(lambda: self.session.set_pose(self.pose.state, self.pose.preset,
                                                                     self.pose.mirrored, self.pose.edited))
        q = self.queue
        q.modelLoading.connect(self._on_model_loading)
        q.modelLoaded.connect(self._on_model_loaded)
        q.modelFailed.connect(self._on_model_failed)
        q.jobAdded.connect(self._on_job_added)
        q.jobChanged.connect(self._on_job_changed)
        q.jobProgress.connect(lambda job, preview: self.current_job.show_progress(
            job, preview, self.model_info is not None and not self.model_info.trained))
        q.jobDone.connect(self._on_job_done)
        q.jobDone.connect(lambda job: self._world_notice(job.outside_world()))
        self.gallery.useAsGarment.connect(self.use_as_garment)
        self.gallery.restoreRequested.connect(lambda e: self.restore(e.metadata, source=e.id))
        self.gallery.message.connect(self.show_message)
        self.gallery.keepInWardrobe.connect(self.keep_in_wardrobe)
        self.wardrobe.useAsGarment.connect(self.use_wardrobe_garment)
        self.wardrobe.message.connect(self.show_message)
        self._session_changed("task", self.session.task)

    def _session_changed(self, name: str, value) -> None:
        """What the panels do not show themselves: the pose box, the guides' views, the viewport overlay."""
        s = self.session
        if name == "task":
            self.pose_box.setEnabled(value in POSED)
            self.pose_box.setTitle("Target pose" + ("" if value in POSED else
                                                    " — used by 'try-on · new pose' and 'multi-view'"))
        if name in ("task", "views", "elevation"):
            self.pose.set_params(views=s.views if s.task == "multi-view" else 1, elevation=float(s.elevation))
        elif name == "person" and self.viewport is not None:
            self.viewport.set_overlay(value)
        elif name == "pose" and value.state is not None and value.state is not self.pose.state:
            self.pose.set_state(value.state, value.preset, value.mirrored, value.edited)

    # ================================================================== model
    def model_spec(self) -> tuple[str, str, str]:
        return (self.session_model or self.settings.model_folder, self.session_device or self.settings.device,
                self.session_precision or self.settings.precision)

    def reload_model(self) -> None:
        folder, device, precision = self.model_spec()
        self.session.model_folder, self.session.device = folder, device   # the model choice, as the session says
        self.queue.load_model(folder, device, precision, vae=self.settings.vae_folder)

    def _on_model_loading(self, what: str) -> None:
        self.session.model_info = None
        self.model_label.setText(f"loading {Path(what).name or what}…")
        self._update_buttons()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.session.model_info = info
        untrained = not info.trained
        warn = " · <b style='color:#b42318'>UNTRAINED — outputs are noise</b>" if untrained else ""
        vae = f" · VAE {Path(info.vae).name}" if info.vae else ""
        self.model_label.setText(f"{info.device} · {info.precision} · {info.name} "
                                 f"({info.parameters / 1e6:.1f} M){vae}{warn}")
        self.model_label.setToolTip(f"{info.describe}\n{info.policy}: {info.reason}\n{info.folder}")
        if info.vae_error:
            self.show_message(f"VAE folder: {info.vae_error}. The model's own codec is used instead; choose "
                              "another VAE or clear it under Edit → Settings.", "", "warning")
        self.notice.set_untrained(untrained, info.description)
        if untrained:
            self.notice.show()  # the noise warning matters more than a dismissal from an earlier session
        shown = [self.generation.sampler.itemData(i) for i in range(self.generation.sampler.count())]
        if list(info.schedulers) != shown:  # e.g. "student" for a model with a turbo student
            self.generation.set_samplers(info.schedulers)
        self.generation.set_presets(info.student)
        self.precision.setItemText(0, f"auto ({info.precision})")
        w, h = info.panel_sizes["person"]
        self.pose.render_enabled = True
        self.pose.set_params(width=w, height=h, style=info.render_style)
        self.pose.schedule()
        self.statusBar().showMessage(f"Model ready: {info.describe}", 6000)
        self._update_buttons()

    def _on_model_failed(self, message: str, details: str) -> None:
        self.session.model_info = None
        self.model_label.setText("<b style='color:#b42318'>no model loaded</b>")
        self.show_message(f"The model could not be loaded: {message}. Choose another model folder, device or "
                          "precision under Edit → Settings.", details, "error")
        self._update_buttons()

    # ================================================================== inputs, task, settings
    def load_samples(self) -> None:
        """The shipped sample inputs (resources/samples) in every slot."""
        from engine.paths import sample_paths

        s = sample_paths()
        for key, kind in (("person", "person"), ("photo_guide", "guide"), ("garment", "garment"), ("head", "head")):
            if kind in s:
                self.slots[key].set_path(s[kind], shipped=True)
        if self.pose.preset == "" and self.pose.preset_combo.findData("walking") >= 0:
            self.pose.set_preset("walking")

    def task(self) -> str:
        return self.session.task

    def set_task(self, key: str) -> None:
        self.session.set_task(key)

    def _pose_error(self, message: str, details: str) -> None:
        if self._pending_submit:  # the job that waited for these guides is not submitted
            self._pending_submit = False
            self._update_buttons()
            message += " The job was not queued."
        self.show_message(message, details, "error")

    def restore(self, meta: dict, source: str = "") -> dict | None:
        """Restore the session from PNG/gallery metadata ({"request": ..., "app": ...}) or bare settings;
        a message says what was restored (or what could not be). Returns the restored settings."""
        try:
            notes = self.session.from_metadata(meta)
        except OmfaError as e:
            self.show_message(f"{source or 'These settings'}: {e.message}.", "", "error")
            return None
        where = f" from {source}" if source else ""
        if notes:
            self.show_message(f"Settings restored{where}, except: {'; '.join(notes)}.", "", "warning")
        else:
            s = self.session
            self.show_message(f"Settings restored{where}: {s.task}, {plural(s.steps, 'step')}, "
                              f"{self.sampler.currentText()}, seed {s.seed} (locked).", "", "info")
        return self.session.settings()

    def open_result_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Restore settings from an OMFA result PNG",
                                              self.settings.last_dir, "PNG images (*.png)")
        if path:
            self.open_result_png(path)

    def open_result_png(self, path: str | Path) -> dict | None:
        """Read a PNG's OMFA metadata and restore its settings; a readable message if it has none."""
        from engine.export import read_png_metadata

        try:
            meta = read_png_metadata(path)
        except ValueError as e:
            self.show_message(str(e), "", "error")
            return None
        return self.restore(meta, source=Path(path).name)

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self, session_model=self.session_model)
        if dlg.exec() and dlg.result_settings is not None:
            self.set_app_settings(dlg.result_settings)

    def open_models(self) -> None:
        """Edit -> Models... (omfa_desktop.models_dialog). Use makes the chosen model the registry's active one;
        the window then loads it (the model folder setting is cleared: the registry decides, as on the CLI)."""
        from omfa_desktop.models_dialog import ModelsDialog

        dlg = ModelsDialog(self)
        dlg.modelChosen.connect(self._use_registry_model)
        dlg.exec()

    def _use_registry_model(self, folder: str) -> None:
        from dataclasses import replace

        if self.settings.model_folder:
            self.set_app_settings(replace(self.settings, model_folder=""))
        else:
            self.session_model = ""
            self.reload_model()

    def set_app_settings(self, new: AppSettings) -> None:
        """Save validated settings; reload the model if its folder, VAE, device or precision changed; switch
        the posed body if the SMPL-X folder or body changed."""
        old = self.settings
        self.settings = new
        self._save_settings()
        self.session.memory = new.memory
        self.queue.threads = new.threads  # the jobs submitted from now on
        if (old.model_folder, old.device, old.precision) != (new.model_folder, new.device, new.precision):
            self.session_model = self.session_device = self.session_precision = ""
            self.reload_model()
        elif old.vae_folder != new.vae_folder:
            self.reload_model()  # the session's model (if any) again, with the new VAE
        if (old.smplx_folder, old.smplx_gender) != (new.smplx_folder, new.smplx_gender):
            self.pose.set_body_model(new.smplx_folder, new.smplx_gender)
        if old.default_sampler != new.default_sampler:
            self.session.scheduler = new.default_sampler

    def _body_model_changed(self, name: str, note: str) -> None:
        from omfa_desktop.pose import body_label

        self.session.set_pose(self.pose.state, self.pose.preset, self.pose.mirrored, self.pose.edited, name)
        self.body_label.setText(f"body: {body_label(name)}" if name else "")
        if note:
            self.show_message(f"SMPL-X folder: {note} The shipped OMFA mannequin is used instead.", "", "warning")

    def _check_world(self, key: str) -> None:
        """A model of the synthetic world only (the demo's preset): the banner comes back when an input given
        to it is not of that world (engine.domain)."""
        info = self.model_info
        if info is not None and info.preset == "demo" and self.slots[key].image is not None:
            from engine.domain import check_images, describe

            self._world_notice(describe(check_images({key: self.slots[key].image}, info.panel_sizes)))

    def _world_notice(self, line: str) -> None:
        if line:
            self.notice.show_outside_world(line)

    def _notice_dismissed(self) -> None:
        self.settings.notice_dismissed = True
        self._save_settings()

    def show_message(self, text: str, details: str = "", kind: str = "error", actions=()) -> None:
        self.messages.show_message(text, details, kind, actions)

    def _save_settings(self) -> bool:
        """Save the settings; when the disk refuses, say so and keep them for this session."""
        from engine.persist import StorageError

        try:
            save_settings(self.settings)
            return True
        except StorageError as e:
            self.show_message(f"Settings are used for this session but were not saved: {e}", "", "warning")
            return False

    def use_as_garment(self, entry: GalleryEntry) -> None:
        """A try-off result becomes the garment input; the task switches to try-on."""
        try:
            img = entry.output_images()[0]
        except Exception as e:  # noqa: BLE001
            self.show_message(f"Could not read {entry.id}: {e}", "", "error")
            return
        self._set_garment(img, f"try-off result {entry.id}", "The generated garment")

    def use_wardrobe_garment(self, img, info: dict) -> None:
        """A wardrobe garment becomes the garment input; the task switches to try-on."""
        self._set_garment(img, f"wardrobe: {info.get('name', '')}", f"“{info.get('name', 'The garment')}”")

    def _set_garment(self, img, label: str, what: str) -> None:
        self.session.set_input("garment", img, label)
        self.session.set_task("try-on" if self.session.photo_guide is not None else "new-pose")
        self.show_message(f"{what} is now the garment input; press Generate for the try-on.", "", "info")

    def keep_in_wardrobe(self, entry: GalleryEntry) -> None:
        """A try-off result from the gallery goes into the wardrobe (with its request), shown in its tab."""
        try:
            img = entry.output_images()[0]
        except Exception as e:  # noqa: BLE001
            self.show_message(f"Could not read {entry.id}: {e}", "", "error")
            return
        label = entry.settings.get("label") or ""
        source = f"try-off of {label}, gallery {entry.id}" if label else f"try-off, gallery {entry.id}"
        if self.wardrobe.keep(img, source=source, metadata=entry.metadata) is not None:
            self.side_tabs.setCurrentWidget(self.wardrobe)

    # ================================================================== generate
    def _fail_field(self, field: str, message: str) -> None:
        label = FIELD_LABELS.get(field.split("[")[0], field)
        slot_key = {"pose_guides": "photo_guide"}.get(field.split("[")[0], field)
        if slot_key in self.slots:
            self.slots[slot_key].mark_invalid(True)
        self.show_message(f"{label}: {message}", "", "error")

    def generate(self) -> Job | None:
        """Queue the session's request. Returns the job (None if it waits for guides or is refused)."""
        if self.model_info is None:
            self.show_message("The model is still loading; try again in a moment.", "", "warning")
            return None
        for s in self.slots.values():
            s.mark_invalid(False)
        missing = self.session.missing()
        if missing is not None:
            self._fail_field(*missing)
            return None
        self.session.next_seed()
        if self.session.task in POSED:
            cur = self.pose.current_guides()
            if cur is None:
                self._pending_submit = True
                self._update_buttons()
                self.pose.when_guides_ready(lambda imgs, cams: self._submit(imgs, cams))
                return None
            return self._submit(*cur)
        return self._submit(None, None)

    def _submit(self, guides, cameras) -> Job | None:
        from engine.request import RequestError

        self._pending_submit = False
        self._update_buttons()
        if self.model_info is None:
            return None
        try:
            req = self.session.to_request(guides, cameras)
        except RequestError as e:
            self._fail_field(e.field, e.message)
            return None
        inputs = {k: s.image for k, s in self.slots.items() if s.image is not None}
        return self.queue.submit(req, self.session.task, self.session.app_metadata(), inputs)

    def _update_buttons(self) -> None:
        loaded = self.model_info is not None
        self.generate_button.setEnabled(loaded and not self._pending_submit)
        if self._pending_submit:
            self.generate_button.setText("Rendering the pose…")
        elif not loaded:
            self.generate_button.setText("Loading the model…" if self.queue.loading else "No model")
        else:
            self.generate_button.setText("Generate" if not self.queue.busy else "Generate (queue)")
        self.cancel_button.setEnabled(self.queue.running is not None)

    # ================================================================== job events
    def _on_job_added(self, job: Job) -> None:
        if self.messages.kind == "info":  # "… is now the garment input" and the like: done with once queued
            self.messages.hide()
        self._update_buttons()

    def _on_job_changed(self, job: Job) -> None:
        self.current_job.update_job(job)
        self._update_buttons()

    def _on_job_done(self, job: Job) -> None:
        self.jobs_panel.update_job(job)
        is_current = self.current_job.job is job
        if job.kind != JobKind.GENERATE and job.state != JobState.FAILED:
            self.work.on_done(job)
        elif job.state == JobState.FINISHED:
            try:
                entry = self.gallery.add_job(job)
            except Exception as e:  # noqa: BLE001 - a full disk must not lose the session
                import traceback

                log.warning("job %s: gallery save failed: %s", job.id, e)
                self.show_message(f"Job #{job.id} finished but could not be saved to the gallery ({e}). "
                                  "The result is kept in this session: save it somewhere else.",
                                  traceback.format_exc(), "error",
                                  actions=[("Save as…", lambda job=job: self.save_job_result(job))])
                entry = None
            if is_current and job.result.outputs:
                self.preview.set_image(job.result.outputs[0])
                untrained = not job.result.settings.get("model_trained", True)
                self.preview_caption.setText(
                    f"Result of job #{job.id}{' (view 0)' if len(job.result.outputs) > 1 else ''}"
                    + (f" — saved to the gallery ({entry.id})." if entry else ".")
                    + (" <b style='color:#b42318'>Untrained model: this is noise.</b>" if untrained else ""))
        elif job.state == JobState.FAILED:
            if job.error_field:
                self._fail_field(job.error_field, job.message.split(": ", 1)[-1])
                self.messages.show_message(f"Job #{job.id} failed. {job.message}", job.details, "error")
            elif job.retry == "low-memory":
                self.show_message(f"Job #{job.id} failed: {job.message}", job.details, "error",
                                  actions=[("Retry with low memory", lambda job=job: self.retry_low_memory(job))])
            else:
                self.show_message(f"Job #{job.id} failed: {job.message}", job.details, "error")
            if is_current:
                self.preview_caption.setText(f"Job #{job.id} failed.")
        elif job.state == JobState.CANCELLED and is_current:
            self.preview_caption.setText(f"Job #{job.id} was cancelled after {job.step} step(s).")
        if is_current and job.done:
            self.current_job.show_end(job)
        self._update_buttons()

    # ================================================================== pose from the photo
    def estimate_photo_pose(self, box=None, backend: str = "auto") -> int | None:
        """Estimate the person photo's pose on the guide thread; the answer fills the 'Photo's pose' slot.
        ``box`` (x0, y0, x1, y1) limits the search to the person (None: the whole photo)."""
        photo = self.session.person
        if photo is None:
            self.show_message("Estimate pose: open a person photo first.", "", "warning")
            return None
        info = self.model_info
        w, h = info.panel_sizes["person"] if info else (96, 128)
        self._estimate_token = self.guides.estimate({
            "image": photo, "box": box, "backend": backend, "hmr2_folder": self.settings.hmr2_folder,
            "width": w, "height": h, "style": info.render_style if info else "parts_shaded",
            "body_folder": self.settings.smplx_folder, "body_gender": self.settings.smplx_gender})
        self.statusBar().showMessage("Estimating the photo's pose…")
        return self._estimate_token

    def estimate_in_box(self, dialog_cls=None) -> int | None:
        """Let the user draw the person box (starting from the last estimate's), then estimate inside it."""
        from omfa_desktop.boxdialog import PersonBoxDialog

        photo = self.session.person
        if photo is None:
            self.show_message("Estimate pose: open a person photo first.", "", "warning")
            return None
        last = getattr(self, "estimated_pose", None)
        box = last["box"] if last and last.get("photo_shape") == photo.shape else None
        dlg = (dialog_cls or PersonBoxDialog)(photo, box, self)
        if not dlg.exec():
            return None
        return self.estimate_photo_pose(box=dlg.box)

    def _on_estimated(self, token: int, result: dict) -> None:
        if token != getattr(self, "_estimate_token", None):
            return
        self._estimate_token = None
        self.estimated_pose = result
        if self.session.person is not None:
            result["photo_shape"] = self.session.person.shape  # the box belongs to this photo
        backend = {"hmr2": "hmr2", "blazepose": "the built-in BlazePose estimator"}.get(result["backend"],
                                                                                         result["backend"])
        self.slots["photo_guide"].set_image(result["guide"], f"estimated ({result['backend']})")
        x0, y0, x1, y1 = (round(v) for v in result["box"])
        self.show_message(f"Photo's pose estimated with {backend} (person box {x0},{y0}–{x1},{y1}); its guide is in "
                          "'Photo's pose'. Check that it lines up with the photo.", "; ".join(result["notes"]), "info",
                          actions=[("Pose the mannequin like this", self.use_estimated_pose)])
        self.statusBar().showMessage("Pose estimated", 4000)

    def use_estimated_pose(self) -> bool:
        """The last estimated photo pose becomes the target pose (viewport, new-pose and multi-view guides);
        an undoable step in the viewport. False when there is no estimate."""
        est = getattr(self, "estimated_pose", None)
        if not est or est.get("state") is None:
            return False
        self.pose.set_state(est["state"], "", False, True)
        self.statusBar().showMessage("The target pose is now the photo's pose (Ctrl+Z undoes it)", 5000)
        return True

    def _on_estimate_failed(self, token: int, message: str, details: str) -> None:
        if token != getattr(self, "_estimate_token", None):
            return
        self._estimate_token = None
        self.show_message(f"The photo's pose could not be estimated: {message}", details, "warning")
        self.statusBar().clearMessage()

    def retry_low_memory(self, job: Job) -> Job:
        """Queue the failed job's request again in the low-memory mode."""
        import dataclasses

        req = dataclasses.replace(job.request, memory="low")
        return self.queue.submit(req, job.mode, dict(job.app), dict(job.inputs))

    def save_job_result(self, job: Job, path: str | Path | None = None) -> list[Path]:
        """Write a finished job's output(s) as PNG with its settings inside (a dialog when ``path`` is None)."""
        from engine.export import save_png

        if job.result is None:
            return []
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save result as PNG", f"omfa-job{job.id}.png",
                                                  "PNG images (*.png)")
            if not path:
                return []
        path = Path(path).with_suffix(".png")
        meta = {"request": job.request.settings(), "result": job.result.metadata(),
                "app": {"mode": job.mode, **job.app}}
        outs = job.result.outputs
        written = []
        try:
            for i, img in enumerate(outs):
                p = path if len(outs) == 1 else path.with_name(f"{path.stem}_view{i:02d}.png")
                written.append(save_png(img, p, {**meta, "view": i}))
        except OSError as e:
            self.show_message(f"Job #{job.id}: {e}. The result is still kept in this session.", "", "error",
                              actions=[("Save as…", lambda job=job: self.save_job_result(job))])
            return written
        self.show_message(f"Saved {', '.join(str(p) for p in written)} (with its settings inside).", "", "info")
        return written

    # ================================================================== window events
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - a result PNG dropped on the window restores it
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(u.toLocalFile().lower().endswith(".png") for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for u in event.mimeData().urls():
            if u.toLocalFile().lower().endswith(".png"):
                self.open_result_png(u.toLocalFile())
                event.acceptProposedAction()
                return

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the background threads (cancels the running job; waits for its current step)."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        if self.viewport is not None:
            self.viewport.shutdown()
        self.queue.shutdown()
        self.guides.shutdown()
