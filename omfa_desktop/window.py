"""The main window: task, inputs, target pose, generation settings, the running job, the queue, the gallery.

Nothing here touches torch: the model lives on the engine thread (worker.JobQueue), guide renders on the
guide thread (worker.GuideService). The window opens at once and fills in the model's name when it loads.
"""
from __future__ import annotations

import html
import logging

import os
import random
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog,
                               QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QMainWindow, QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from engine.presets import DEFAULT_PRESET, PRESET_LABELS, SAMPLING_PRESETS, matching_preset
from engine.wardrobe import Wardrobe
from omfa_desktop.gallery import GalleryEntry, GalleryStore, GalleryWidget
from omfa_desktop.inputs import ImageSlot
from omfa_desktop.pose import PosePanel
from omfa_desktop.qtutil import ImageView, MessageBar
from omfa_desktop.settings import SAMPLER_LABELS, SAMPLERS, AppSettings, SettingsDialog, load_settings, save_settings
from omfa_desktop.wardrobe import WardrobeWidget
from omfa_desktop.worker import FIELD_LABELS, GuideService, Job, JobQueue, JobState, format_seconds

log = logging.getLogger("omfa.window")

# (key, button label, what it does)
TASKS: tuple[tuple[str, str, str], ...] = (
    ("try-off", "Try-off", "Take the garment off the person photo: the model generates a flat garment image."),
    ("try-on", "Try-on", "Dress the photo's own pose (its pose guide) in the garment: generates the person."),
    ("new-pose", "Try-on · new pose", "Dress the target pose in the garment: generates the person in that pose."),
    ("multi-view", "Multi-view", "Try-on of the target pose seen by N cameras around the body, in one batch."),
)
ENGINE_TASK = {"try-off": "try-off", "try-on": "try-on", "new-pose": "try-on", "multi-view": "multi-view"}

DEMO_NOTICE = (
    "<b>About the demo model.</b> OMFA Desktop ships a small demo model (~11 M parameters) trained by this "
    "project on its own synthetic world: a procedural mannequin in SMPL-X format wearing procedural T-shirts "
    "(stripes, checks, dots, prints, letters…) at 96×128 pixels. It shows the whole loop — try-off, try-on in a "
    "new pose, multi-view — offline on a CPU. It is <b>not</b> a model for real photos: for those, load a real "
    "OMFA checkpoint under Edit → Settings.")
UNTRAINED_NOTICE = (
    "<br><span style='color:#b42318'><b>The model loaded now is UNTRAINED</b> (random weights): the demo model "
    "is not in resources/models/demo yet, so a stand-in of the same size is used and <b>every output is noise"
    "</b>. The app, queue and gallery work; the pictures do not mean anything yet.</span>")

STATE_COLORS = {JobState.QUEUED: "#6b7280", JobState.RUNNING: "#1d6fd1", JobState.FINISHED: "#15803d",
                JobState.CANCELLED: "#9a5b00", JobState.FAILED: "#b42318"}


class NoticeBanner(QFrame):
    """The prominent, dismissable explanation of the demo model."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setStyleSheet("#notice { background: #fff8e1; border: 1px solid #e0b000; border-radius: 6px; }"
                           "#notice QLabel { color: #3d3000; }")
        self.text = QLabel(DEMO_NOTICE)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.close_button = QPushButton("Got it")
        self.close_button.clicked.connect(self.dismiss)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

    def set_untrained(self, untrained: bool, description: str = "") -> None:
        # The model's own description (omfa_config.json) says how far it is trained, e.g. the demo's status.
        extra = f"<br><i>This model: {html.escape(description)}</i>" if description and not untrained else ""
        self.text.setText(DEMO_NOTICE + (UNTRAINED_NOTICE if untrained else extra))

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()


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
        self.model_info: dict | None = None
        self.preview_job: Job | None = None
        self._job_items: dict[int, QListWidgetItem] = {}
        self._pending_submit = False

        self.queue = JobQueue(self)
        self.queue.threads = self.settings.threads
        self.guides = GuideService(self)
        self.store = GalleryStore()
        self.wardrobe_store = Wardrobe(self.store.root.parent / "wardrobe")  # beside the gallery, same data dir

        self._build_ui(with_viewport)
        self._build_menus()
        self._connect()
        if load_samples:
            self.load_samples()
        self.gallery.reload()
        self.wardrobe.reload(rescan=False)  # read once, by Wardrobe(): its notes are still to be said
        self.set_task("try-off")
        if notes:
            self.show_message("Some saved settings were invalid and were reset.", "\n".join(notes), "warning")
        self.reload_model()

    # ================================================================== UI
    def _build_ui(self, with_viewport: bool | None) -> None:
        self.notice = NoticeBanner()
        self.notice.setVisible(not self.settings.notice_dismissed)
        self.messages = MessageBar()

        # ---- task
        self.task_group = QButtonGroup(self)
        self.task_buttons: dict[str, QPushButton] = {}
        task_row = QHBoxLayout()
        task_row.setSpacing(0)
        for i, (key, label, tip) in enumerate(TASKS):
            b = QPushButton(label)
            b.setCheckable(True)
            b.setToolTip(tip)
            b.setObjectName("taskButton")
            self.task_group.addButton(b, i)
            self.task_buttons[key] = b
            task_row.addWidget(b)
        self.task_hint = QLabel()
        self.task_hint.setWordWrap(True)
        self.task_hint.setStyleSheet("color: palette(mid); font-size: 11px;")
        task_box = QGroupBox("Task")
        tl = QVBoxLayout(task_box)
        tl.addLayout(task_row)
        tl.addWidget(self.task_hint)

        # ---- inputs
        self.slots = {
            "person": ImageSlot("person", "Person photo", "The photo to take the garment off (try-off)."),
            "photo_guide": ImageSlot("photo_guide", "Photo's pose", "The pose guide of the person photo: optional for "
                                     "try-off, needed for try-on in the photo's pose. Shipped samples come with it.",
                                     optional=True),
            "garment": ImageSlot("garment", "Garment", "A flat garment image (or a try-off result)."),
            "head": ImageSlot("head", "Head", "The identity to keep (try-on); optional.", optional=True),
        }
        inputs_box = QGroupBox("Inputs")
        grid = QGridLayout(inputs_box)
        grid.setSpacing(6)
        for i, key in enumerate(("person", "photo_guide", "garment", "head")):
            grid.addWidget(self.slots[key], 0, i)

        # ---- generation settings
        self.steps = QSpinBox()
        self.steps.setRange(1, 999)  # engine: 1000 steps overruns DDIM's table (steps_offset=1)
        self.steps.setValue(50)
        self.steps.setToolTip("Denoising steps (the paper uses 50)")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setDecimals(2)
        self.guidance.setValue(2.0)
        self.guidance.setToolTip("Classifier-free guidance (the paper uses 2.0; 1.0 = conditional only)")
        self.sampler = QComboBox()
        self._fill_samplers(SAMPLERS, self.settings.default_sampler)
        self.guided = QSpinBox()
        self.guided.setRange(10, 100)
        self.guided.setSingleStep(10)
        self.guided.setSuffix(" %")
        self.guided.setValue(100)
        self.guided.setToolTip("Guidance runs on this first part of the steps; the rest skip the unconditional "
                               "pass (half the cost). The paper guides every step (100 %).")
        self.preset = QComboBox()
        for key, label in PRESET_LABELS.items():
            self.preset.addItem(label, key)
        self.preset.addItem("Custom", "custom")
        self.preset.setToolTip("Fast: about a third of the paper's compute per image, nearly the same picture "
                               "(benchmarks/bench_cost.py). Paper: DDIM 50 steps, guidance on every step.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(0)
        self.seed_lock = QCheckBox("Lock")
        self.seed_lock.setToolTip("Locked: every job uses this seed. Unlocked: a new random seed per job.")
        self.seed_lock.setChecked(True)
        self.seed_random = QPushButton("Random")
        self.seed_random.setToolTip("Draw a random seed now")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_lock)
        seed_row.addWidget(self.seed_random)
        self.precision = QComboBox()
        for p in ("auto", "fp32", "fp16", "bf16"):
            self.precision.addItem(p, p)
        self.precision.setToolTip("auto = the device's default (fp32 on the CPU, fp16 on CUDA). Another choice "
                                  "reloads the model in that precision before the job.")
        self.views = QSpinBox()
        self.views.setRange(2, 32)
        self.views.setValue(4)
        self.views.setToolTip("Multi-view: cameras around the body (one batch)")
        self.elevation = QDoubleSpinBox()
        self.elevation.setRange(-45.0, 60.0)
        self.elevation.setSingleStep(5.0)
        self.elevation.setDecimals(0)
        self.elevation.setSuffix("°")
        self.elevation.setToolTip("Camera height angle of the target-pose guides; positive looks down")
        form = QGridLayout()
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(6)

        def row(r: int, label: str, widget, col: int = 0, span: int = 1) -> None:
            form.addWidget(QLabel(label), r, 2 * col)
            if isinstance(widget, QWidget):
                form.addWidget(widget, r, 2 * col + 1, 1, span)
            else:
                form.addLayout(widget, r, 2 * col + 1, 1, span)

        row(0, "Preset", self.preset, 0, 3)
        row(1, "Steps", self.steps)
        row(1, "Guidance", self.guidance, 1)
        row(2, "Sampler", self.sampler)
        row(2, "Guided steps", self.guided, 1)
        row(3, "Seed", seed_row, 0, 3)
        row(4, "Views", self.views)
        row(4, "Elevation", self.elevation, 1)
        row(5, "Precision", self.precision)
        self.apply_preset(DEFAULT_PRESET)
        if self.settings.default_sampler != self.sampler.currentData():  # the user's default sampler wins
            self.sampler.setCurrentIndex(max(0, self.sampler.findData(self.settings.default_sampler)))
        self.preset.currentIndexChanged.connect(lambda _: self.apply_preset(self.preset.currentData()))
        for w in (self.steps, self.guided):
            w.valueChanged.connect(self._sync_preset)
        self.guidance.valueChanged.connect(self._sync_preset)
        self.sampler.currentIndexChanged.connect(self._sync_preset)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        settings_box = QGroupBox("Generation")
        settings_box.setLayout(form)

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

        # ---- queue
        self.job_list = QListWidget()
        self.job_list.setMinimumHeight(44)
        # its size hint (~190 px) would make the left column scroll; it takes whatever height is left
        self.job_list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.cancel_selected = QPushButton("Cancel selected")
        self.clear_done = QPushButton("Clear finished")
        ql = QVBoxLayout()
        ql.addWidget(self.job_list, 1)
        qb = QHBoxLayout()
        qb.addWidget(self.cancel_selected)
        qb.addWidget(self.clear_done)
        ql.addLayout(qb)
        queue_box = QGroupBox("Jobs")
        queue_box.setLayout(ql)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.addWidget(task_box)
        ll.addWidget(inputs_box)
        ll.addWidget(settings_box)
        ll.addLayout(run_row)
        ll.addWidget(queue_box, 1)
        left_scroll = QScrollArea()
        left_scroll.setWidgetResizable(True)
        left_scroll.setWidget(left)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setMinimumWidth(left.sizeHint().width() + 16)

        # ---- target pose
        self.pose = PosePanel(self.guides)
        self.pose.set_body_model(self.settings.smplx_folder, self.settings.smplx_gender)  # before the viewport
        self.pose_box = QGroupBox("Target pose")
        pl = QVBoxLayout(self.pose_box)
        pl.addWidget(self.pose)
        if with_viewport is None:
            with_viewport = os.environ.get("OMFA_VIEWPORT", "1") != "0"
        self.viewport = None
        if with_viewport:
            self._add_viewport()

        # ---- current job
        self.job_title = QLabel("No job yet")
        self.job_title.setStyleSheet("font-weight: 600;")
        self.preview = ImageView("the live preview of the\nrunning job appears here", min_size=(120, 160))
        self.preview.setStyleSheet("#imageView { background: #2b2b2b; color: #bbb; border-radius: 4px; }")
        self.preview_caption = QLabel("")
        self.preview_caption.setWordWrap(True)
        self.preview_caption.setStyleSheet("font-size: 11px;")
        self.preview_caption.setMinimumHeight(2 * self.preview_caption.fontMetrics().lineSpacing() + 6)
        self.preview_caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        job_box = QGroupBox("Current job")
        jl = QVBoxLayout(job_box)
        jl.addWidget(self.job_title)
        jl.addWidget(self.preview, 1)
        jl.addWidget(self.preview_caption)
        jl.addWidget(self.progress)

        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.pose_box)
        middle.addWidget(job_box)
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
        split.addWidget(left_scroll)
        split.addWidget(middle)
        split.addWidget(self.side_tabs)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 1)
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

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        for key, label in (("person", "Open &person photo…"), ("garment", "Open &garment…"), ("head", "Open &head…")):
            a = QAction(label, self)
            a.triggered.connect(self.slots[key].open_dialog)
            m.addAction(a)
        m.addSeparator()
        self.open_png_action = QAction("&Restore settings from a result PNG…", self)
        self.open_png_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_png_action.triggered.connect(self.open_result_dialog)
        m.addAction(self.open_png_action)
        self.samples_action = QAction("Load the &sample inputs", self)
        self.samples_action.triggered.connect(self.load_samples)
        m.addAction(self.samples_action)
        m.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        m.addAction(quit_action)
        e = self.menuBar().addMenu("&Edit")
        if self.viewport is not None:
            self.undo_action = QAction("&Undo pose edit", self)
            self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
            self.undo_action.triggered.connect(self.viewport.undo)
            self.redo_action = QAction("&Redo pose edit", self)
            self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
            self.redo_action.triggered.connect(self.viewport.redo)
            e.addAction(self.undo_action)
            e.addAction(self.redo_action)
            e.addSeparator()
        self.estimate_action = QAction("&Estimate pose from photo", self)
        self.estimate_action.setShortcut(QKeySequence("Ctrl+E"))
        self.estimate_action.setToolTip("Estimate the person photo's pose (hmr2 when set up in Settings, else the "
                                        "built-in BlazePose estimator) and put its guide in 'Photo's pose'")
        self.estimate_action.triggered.connect(lambda: self.estimate_photo_pose())
        e.addAction(self.estimate_action)
        self.estimate_box_action = QAction("Estimate pose in a person &box…", self)
        self.estimate_box_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.estimate_box_action.triggered.connect(lambda: self.estimate_in_box())
        e.addAction(self.estimate_box_action)
        e.addSeparator()
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        e.addAction(self.settings_action)
        c = self.menuBar().addMenu("&Create")
        self.turntable_action = QAction("&Turntable…", self)
        self.turntable_action.setShortcut(QKeySequence("Ctrl+T"))
        self.turntable_action.setToolTip("N views around the viewport's pose (GIF, MP4, contact sheet)")
        self.turntable_action.triggered.connect(lambda: self.work.turntable())
        c.addAction(self.turntable_action)
        self.p2p_action = QAction("&Person to person…", self)
        self.p2p_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.p2p_action.setToolTip("The garment one person wears, on another person (try-off, then try-on)")
        self.p2p_action.triggered.connect(lambda: self.work.person_to_person())
        c.addAction(self.p2p_action)
        self.batch_action = QAction("&Batch…", self)
        self.batch_action.setShortcut(QKeySequence("Ctrl+B"))
        self.batch_action.setToolTip("People × garments × poses into a results folder, resumable")
        self.batch_action.triggered.connect(lambda: self.work.batch())
        c.addAction(self.batch_action)
        h = self.menuBar().addMenu("&Help")
        about = QAction("About the &demo model", self)
        about.triggered.connect(self.notice.show)
        h.addAction(about)

    def _connect(self) -> None:
        from omfa_desktop.work import WorkActions

        self.work = WorkActions(self)
        self.gallery.layerRequested.connect(lambda e: self.work.layer(e))
        self.guides.estimated.connect(self._on_estimated)
        self.guides.failed.connect(self._on_estimate_failed)
        self.task_group.idClicked.connect(lambda i: self.set_task(TASKS[i][0]))
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(lambda: self.queue.cancel())
        self.cancel_selected.clicked.connect(self._cancel_selected)
        self.clear_done.clicked.connect(self._clear_done)
        self.seed_random.clicked.connect(self.randomize_seed)
        self.notice.dismissed.connect(self._notice_dismissed)
        self.messages.closed.connect(lambda: [s.mark_invalid(False) for s in self.slots.values()])
        for slot in self.slots.values():
            slot.error.connect(lambda msg, det: self.show_message(msg, det, "error"))
            slot.notice.connect(lambda msg: self.show_message(msg, "", "info"))
            slot.changed.connect(self._inputs_changed)
        self.views.valueChanged.connect(self._pose_params_changed)
        self.elevation.valueChanged.connect(self._pose_params_changed)
        self.pose.error.connect(self._pose_error)
        self.pose.bodyModelChanged.connect(self._body_model_changed)
        q = self.queue
        q.modelLoading.connect(self._on_model_loading)
        q.modelLoaded.connect(self._on_model_loaded)
        q.modelFailed.connect(self._on_model_failed)
        q.jobAdded.connect(self._on_job_added)
        q.jobChanged.connect(self._on_job_changed)
        q.jobProgress.connect(self._on_job_progress)
        q.jobDone.connect(self._on_job_done)
        self.gallery.useAsGarment.connect(self.use_as_garment)
        self.gallery.restoreRequested.connect(lambda e: self.apply_settings(e.metadata, source=e.id))
        self.gallery.message.connect(self.show_message)
        self.gallery.keepInWardrobe.connect(self.keep_in_wardrobe)
        self.wardrobe.useAsGarment.connect(self.use_wardrobe_garment)
        self.wardrobe.message.connect(self.show_message)

    def _fill_samplers(self, keys, current: str) -> None:
        self.sampler.blockSignals(True)
        self.sampler.clear()
        for k in keys:
            self.sampler.addItem(SAMPLER_LABELS.get(k, k), k)
        self.sampler.setCurrentIndex(max(0, self.sampler.findData(current)))
        self.sampler.blockSignals(False)

    # ================================================================== model
    def model_spec(self) -> tuple[str, str, str]:
        return (self.session_model or self.settings.model_folder, self.session_device or self.settings.device,
                self.session_precision or self.settings.precision)

    def reload_model(self) -> None:
        self.queue.load_model(*self.model_spec(), vae=self.settings.vae_folder)

    def _on_model_loading(self, what: str) -> None:
        self.model_info = None
        self.model_label.setText(f"loading {Path(what).name or what}…")
        self._update_buttons()

    def _on_model_loaded(self, info: dict) -> None:
        self.model_info = info
        untrained = not info["trained"]
        warn = " · <b style='color:#b42318'>UNTRAINED — outputs are noise</b>" if untrained else ""
        vae = f" · VAE {Path(info['vae']).name}" if info.get("vae") else ""
        self.model_label.setText(f"{info['device']} · {info['precision']} · {info['name']} "
                                 f"({info['parameters'] / 1e6:.1f} M){vae}{warn}")
        self.model_label.setToolTip(f"{info['describe']}\n{info['policy']}: {info['reason']}\n{info['folder']}")
        if info.get("vae_error"):
            self.show_message(f"VAE folder: {info['vae_error']}. The model's own codec is used instead; choose "
                              "another VAE or clear it under Edit → Settings.", "", "warning")
        self.notice.set_untrained(untrained, info.get("description", ""))
        if untrained:
            self.notice.show()  # the noise warning matters more than a dismissal from an earlier session
        if list(info["schedulers"]) != list(SAMPLERS):
            self._fill_samplers(info["schedulers"], self.sampler.currentData() or self.settings.default_sampler)
        self.precision.setItemText(0, f"auto ({info['precision']})")
        w, h = info["panel_sizes"]["person"]
        self.pose.render_enabled = True
        self.pose.set_params(width=w, height=h, style=info["render_style"])
        self.pose.schedule()
        self.statusBar().showMessage(f"Model ready: {info['describe']}", 6000)
        self._update_buttons()

    def _on_model_failed(self, message: str, details: str) -> None:
        self.model_info = None
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
                self.slots[key].set_path(s[kind])
        if self.pose.preset == "" and self.pose.preset_combo.findData("walking") >= 0:
            self.pose.set_preset("walking")

    def task(self) -> str:
        return TASKS[max(0, self.task_group.checkedId())][0]

    def set_task(self, key: str) -> None:
        keys = [t[0] for t in TASKS]
        i = keys.index(key)
        self.task_buttons[key].setChecked(True)
        self.task_hint.setText(TASKS[i][2])
        uses = {"try-off": {"person", "photo_guide", "head"}, "try-on": {"photo_guide", "garment", "head"},
                "new-pose": {"garment", "head"}, "multi-view": {"garment", "head"}}[key]
        for name, slot in self.slots.items():
            slot.setEnabled(name in uses)
            slot.mark_invalid(False)
        self.slots["person"].setToolTip("" if "person" in uses else "Generated by this task")
        self.slots["garment"].setToolTip("" if "garment" in uses else "Generated by try-off")
        self.pose_box.setEnabled(key in ("new-pose", "multi-view"))
        self.pose_box.setTitle("Target pose" + ("" if key in ("new-pose", "multi-view") else
                                                " — used by 'try-on · new pose' and 'multi-view'"))
        self.views.setEnabled(key == "multi-view")
        self.elevation.setEnabled(key in ("new-pose", "multi-view"))
        self._pose_params_changed()

    def _pose_error(self, message: str, details: str) -> None:
        if self._pending_submit:  # the job that waited for these guides is not submitted
            self._pending_submit = False
            self.generate_button.setText("Generate")
            self._update_buttons()
            message += " The job was not queued."
        self.show_message(message, details, "error")

    def _pose_params_changed(self, *_) -> None:
        views = self.views.value() if self.task() == "multi-view" else 1
        self.pose.set_params(views=views, elevation=float(self.elevation.value()))

    def _inputs_changed(self) -> None:
        if self.viewport is not None:
            self.viewport.set_overlay(self.slots["person"].image)

    def randomize_seed(self) -> int:
        seed = random.randrange(0, 2**31 - 1)
        self.seed.setValue(seed)
        return seed

    def apply_preset(self, name: str) -> None:
        """Set steps, sampler, guidance and guided steps from a sampling preset ("custom" changes nothing)."""
        if name not in SAMPLING_PRESETS:
            self._sync_preset()
            return
        p = SAMPLING_PRESETS[name]
        widgets = (self.steps, self.guidance, self.sampler, self.guided)
        for w in widgets:
            w.blockSignals(True)
        self.steps.setValue(p["steps"])
        self.guidance.setValue(p["guidance"])
        i = self.sampler.findData(p["scheduler"])
        if i >= 0:
            self.sampler.setCurrentIndex(i)
        self.guided.setValue(round(p["guidance_until"] * 100))
        for w in widgets:
            w.blockSignals(False)
        self._sync_preset()

    def _sync_preset(self, *_) -> None:
        """Show which preset the fields match ("Custom" once the user edits one)."""
        name = matching_preset(self.current_settings())
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(max(0, self.preset.findData(name)))
        self.preset.blockSignals(False)

    def current_settings(self) -> dict:
        """The generation settings as the widgets show them (what a job would use, seed aside)."""
        return {"mode": self.task(), "task": ENGINE_TASK[self.task()], "steps": self.steps.value(),
                "guidance": round(float(self.guidance.value()), 4), "scheduler": self.sampler.currentData(),
                "guidance_until": self.guided.value() / 100,
                "seed": self.seed.value(), "precision": self.precision.currentData(),
                "num_views": self.views.value() if self.task() == "multi-view" else 1,
                "elevation": float(self.elevation.value()) if self.task() in ("new-pose", "multi-view") else None}

    def apply_settings(self, meta: dict, source: str = "") -> dict:
        """Restore the widgets from PNG/gallery metadata ({"request": ..., "app": ...}) or bare settings."""
        s = meta.get("request", meta)
        app = meta.get("app", {})
        task = s.get("task", "try-off")
        mode = app.get("mode") or {"try-off": "try-off", "multi-view": "multi-view"}.get(
            task, "new-pose" if s.get("body") else "try-on")
        if mode not in ENGINE_TASK:
            mode = "try-off"
        notes = []
        self.set_task(mode)
        if "steps" in s:
            self.steps.setValue(int(s["steps"]))
        if "guidance" in s:
            self.guidance.setValue(float(s["guidance"]))
        self.guided.setValue(round(float(s.get("guidance_until", 1.0)) * 100))  # older results: every step
        sch = s.get("scheduler")
        if sch is not None:
            i = self.sampler.findData(sch)
            if i >= 0:
                self.sampler.setCurrentIndex(i)
            else:
                notes.append(f"sampler {sch!r} is not available here")
        if "seed" in s:
            seed = int(s["seed"])
            if seed > self.seed.maximum():
                notes.append(f"seed {seed} is larger than this window takes; use the command line to reproduce it")
            self.seed.setValue(min(seed, self.seed.maximum()))
            self.seed_lock.setChecked(True)
        prec = s.get("precision", "auto")
        self.precision.setCurrentIndex(max(0, self.precision.findData(prec if prec in ("fp16", "bf16", "fp32")
                                                                        else "auto")))
        if mode == "multi-view" and "num_views" in s:
            self.views.setValue(int(s["num_views"]))
        if "elevation" in app:
            self.elevation.setValue(float(app["elevation"]))
        if s.get("body"):
            from engine.body.state import BodyState, BodyStateError

            try:
                state = BodyState.from_dict(s["body"])
            except BodyStateError as e:
                notes.append(f"its body pose could not be read ({e})")
            else:
                preset = app.get("preset", "")
                i = self.pose.preset_combo.findData(preset)
                self.pose.preset_combo.blockSignals(True)
                self.pose.preset_combo.setCurrentIndex(max(0, i))
                self.pose.preset_combo.blockSignals(False)
                self.pose.set_state(state, preset if i >= 0 else "", bool(app.get("mirrored", False)),
                                    bool(app.get("edited", False)))
        self._pose_params_changed()
        where = f" from {source}" if source else ""
        if notes:
            self.show_message(f"Settings restored{where}, except: {'; '.join(notes)}.", "", "warning")
        else:
            self.show_message(f"Settings restored{where}: {mode}, {self.steps.value()} steps, "
                              f"{self.sampler.currentText()}, seed {self.seed.value()} (locked).", "", "info")
        return self.current_settings()

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
        if not isinstance(meta, dict) or not isinstance(meta.get("request", meta), dict):
            self.show_message(f"{path}: its OMFA settings are not in a form this version understands.", "", "error")
            return None
        return self.apply_settings(meta, source=Path(path).name)

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self, session_model=self.session_model)
        if dlg.exec() and dlg.result_settings is not None:
            self.set_app_settings(dlg.result_settings)

    def set_app_settings(self, new: AppSettings) -> None:
        """Save validated settings; reload the model if its folder, VAE, device or precision changed; switch
        the posed body if the SMPL-X folder or body changed."""
        old = self.settings
        self.settings = new
        self._save_settings()
        self.queue.threads = new.threads  # the jobs submitted from now on
        if (old.model_folder, old.device, old.precision) != (new.model_folder, new.device, new.precision):
            self.session_model = self.session_device = self.session_precision = ""
            self.reload_model()
        elif old.vae_folder != new.vae_folder:
            self.reload_model()  # the session's model (if any) again, with the new VAE
        if (old.smplx_folder, old.smplx_gender) != (new.smplx_folder, new.smplx_gender):
            self.pose.set_body_model(new.smplx_folder, new.smplx_gender)
        if old.default_sampler != new.default_sampler:
            self.sampler.setCurrentIndex(max(0, self.sampler.findData(new.default_sampler)))

    def _body_model_changed(self, name: str, note: str) -> None:
        from omfa_desktop.pose import body_label

        self.body_label.setText(f"body: {body_label(name)}" if name else "")
        if note:
            self.show_message(f"SMPL-X folder: {note} The shipped OMFA mannequin is used instead.", "", "warning")

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
        self.slots["garment"].set_image(img, label)
        self.set_task("try-on" if self.slots["photo_guide"].image is not None else "new-pose")
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
        """Build the request from the widgets and queue it. Returns the job (None if it waits for guides)."""
        if self.model_info is None:
            self.show_message("The model is still loading; try again in a moment.", "", "warning")
            return None
        mode = self.task()
        for s in self.slots.values():
            s.mark_invalid(False)
        needs = {"try-off": ["person"], "try-on": ["garment", "photo_guide"], "new-pose": ["garment"],
                 "multi-view": ["garment"]}[mode]
        for key in needs:
            if self.slots[key].image is None:
                what = {"photo_guide": "the pose guide of the photo (or choose 'Try-on · new pose')"}.get(
                    key, f"a {self.slots[key].title.lower()}")
                self._fail_field(key, f"{mode} needs {what}")
                return None
        if not self.seed_lock.isChecked():
            self.randomize_seed()
        if mode in ("new-pose", "multi-view"):
            cur = self.pose.current_guides()
            if cur is None:
                self.generate_button.setText("Rendering the pose…")
                self._pending_submit = True
                self._update_buttons()
                self.pose.when_guides_ready(lambda imgs, cams: self._submit(mode, imgs, cams))
                return None
            return self._submit(mode, *cur)
        return self._submit(mode, None, None)

    def _submit(self, mode: str, guides, cameras) -> Job | None:
        from engine.images import fit
        from engine.layout import PanelLayout
        from engine.request import RequestError, TryOnRequest

        self._pending_submit = False
        self.generate_button.setText("Generate")
        info = self.model_info
        self._update_buttons()
        if info is None:
            return None
        sizes = info["panel_sizes"]
        task = ENGINE_TASK[mode]

        def panel(key: str, panel_name: str):
            img = self.slots[key].image
            if img is None or panel_name not in sizes:
                return None
            return fit(img, *sizes[panel_name])

        kw: dict = {}
        app: dict = {}
        if task == "try-off":
            kw["person"] = panel("person", "person")
            g = panel("photo_guide", "person")
            kw["pose_guides"] = [g] if g is not None else []
            label = self.slots["person"].label
        else:
            kw["garment"] = panel("garment", "garment")
            label = self.slots["garment"].label
            if mode == "try-on":
                kw["pose_guides"] = [panel("photo_guide", "person")]
            else:
                kw["pose_guides"] = list(guides)
                kw["body"] = self.pose.state.to_dict()
                kw["cameras"] = list(cameras)
                app = {"preset": self.pose.preset, "mirrored": self.pose.mirrored, "edited": self.pose.edited,
                       "elevation": float(self.elevation.value()), "pose": self.pose.describe(),
                       "body_model": self.pose.body_name}
        kw["head"] = panel("head", "head")
        s = self.current_settings()
        req = TryOnRequest(task=task, steps=s["steps"], guidance=s["guidance"], scheduler=s["scheduler"],
                           guidance_until=s["guidance_until"], memory=self.settings.memory, seed=s["seed"], num_views=s["num_views"], precision=s["precision"], device="auto",
                           label=label, **kw)
        try:
            req.validate(PanelLayout.from_dict(info["layout"]), list(info["schedulers"]))
        except RequestError as e:
            self._fail_field(e.field, e.message)
            return None
        inputs = {k: self.slots[k].image for k in self.slots if self.slots[k].image is not None}
        return self.queue.submit(req, mode, app, inputs)

    def _cancel_selected(self) -> None:
        item = self.job_list.currentItem()
        if item is not None:
            self.queue.cancel(int(item.data(Qt.ItemDataRole.UserRole)))

    def _clear_done(self) -> None:
        for job in [j for j in self.queue.jobs if j.done]:
            self.queue.jobs.remove(job)
            item = self._job_items.pop(job.id, None)
            if item is not None:
                self.job_list.takeItem(self.job_list.row(item))

    def _update_buttons(self) -> None:
        loaded = self.model_info is not None
        self.generate_button.setEnabled(loaded and not self._pending_submit)
        if not loaded and not self._pending_submit:
            self.generate_button.setText("Loading the model…" if self.queue.loading else "No model")
        elif not self._pending_submit:
            self.generate_button.setText("Generate" if not self.queue.busy else "Generate (queue)")
        self.cancel_button.setEnabled(self.queue.running is not None)

    # ================================================================== job events
    def _on_job_added(self, job: Job) -> None:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, job.id)
        self.job_list.insertItem(0, item)
        self._job_items[job.id] = item
        self._on_job_changed(job)

    def _on_job_changed(self, job: Job) -> None:
        item = self._job_items.get(job.id)
        if item is not None:
            item.setText(f"{job.title()}\n   {job.state.value.upper()} — {job.status_text()}")
            item.setForeground(QColor(STATE_COLORS[job.state]))
            if job.state == JobState.RUNNING:
                f = QFont()
                f.setBold(True)
                item.setFont(f)
            else:
                item.setFont(QFont())
        if job.state == JobState.RUNNING:
            if self.preview_job is not job:
                self.preview_job = job
                self.preview.set_image(None)
                self.preview_caption.setText("")
            self.job_title.setText(job.title())
            if job.total:
                self.progress.setRange(0, job.total)
                self.progress.setValue(job.step)
                self.progress.setFormat(f"step {job.step}/{job.total} · {format_seconds(job.eta)} left")
            else:
                self.progress.setRange(0, 0)  # busy: encoding / loading
                self.progress.setFormat("preparing…")
            if job.cancel_event.is_set():
                self.progress.setFormat("cancelling after this step…")
        self._update_buttons()

    def _on_job_progress(self, job: Job, preview) -> None:
        if job.batch is not None:
            self.preview_caption.setText(f"Batch: {job.step} of {job.total} items done "
                                         f"({format_seconds(job.eta)} left); results in {job.batch['out']}.")
            return
        if preview is not None and not preview.isNull():
            self.preview.set_image(preview)
        untrained = self.model_info is not None and not self.model_info["trained"]
        self.preview_caption.setText(
            f"Live preview: the model's current estimate of the {'garment' if job.request.task == 'try-off' else 'person'}"
            f" (step {job.step}/{job.total}, low resolution)."
            + (" <b style='color:#b42318'>Untrained model: noise.</b>" if untrained else ""))

    def _on_job_done(self, job: Job) -> None:
        self._on_job_changed(job)
        is_current = self.preview_job is job
        if (job.chain is not None or job.batch is not None) and job.state != JobState.FAILED:
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
            last = job.step if job.state != JobState.FINISHED else job.total or job.step
            self.progress.setRange(0, max(1, job.total))
            self.progress.setValue(min(last, max(1, job.total)))
            self.progress.setFormat(job.status_text() if job.state != JobState.FAILED else "failed")
        self._update_buttons()

    # ================================================================== pose from the photo
    def estimate_photo_pose(self, box=None, backend: str = "auto") -> int | None:
        """Estimate the person photo's pose on the guide thread; the answer fills the 'Photo's pose' slot.
        ``box`` (x0, y0, x1, y1) limits the search to the person (None: the whole photo)."""
        photo = self.slots["person"].image
        if photo is None:
            self.show_message("Estimate pose: open a person photo first.", "", "warning")
            return None
        info = self.model_info or {}
        w, h = (info.get("panel_sizes") or {}).get("person", (96, 128))
        self._estimate_token = self.guides.estimate({
            "image": photo, "box": box, "backend": backend, "hmr2_folder": self.settings.hmr2_folder,
            "width": w, "height": h, "style": info.get("render_style", "parts_shaded"),
            "body_folder": self.settings.smplx_folder, "body_gender": self.settings.smplx_gender})
        self.statusBar().showMessage("Estimating the photo's pose…")
        return self._estimate_token

    def estimate_in_box(self, dialog_cls=None) -> int | None:
        """Let the user draw the person box (starting from the last estimate's), then estimate inside it."""
        from omfa_desktop.boxdialog import PersonBoxDialog

        photo = self.slots["person"].image
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
        if self.slots["person"].image is not None:
            result["photo_shape"] = self.slots["person"].image.shape  # the box belongs to this photo
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
        meta = {"request": job.request.settings(), "result": job.result.metadata(), "app": {"mode": job.mode, **job.app}}
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
        if event.mimeData().hasUrls() and any(u.toLocalFile().lower().endswith(".png") for u in event.mimeData().urls()):
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
