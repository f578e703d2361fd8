"""The kiosk: a full-screen, touch-only, locked-down try-on for an unattended boutique screen.

Flow (one customer = one *visit* = one session folder, engine.kiosk_store):

    Start ─(touch, or a photo in the drop folder)─► Photo ─► Garment ─► Pose ─► Working ─► Result
      ▲                                                                                  │
      └─── Done · idle timeout · a failed or cancelled job · an unexpected error ◄───────┘
           (each purges the session folder and says why, kindly)

- The photo gives the pose and the head: GuideService.estimate with ``head_size`` (BlazePose built in), on
  the guide thread. "My pose" uses that guide; a preset pose renders its guide; "Turntable" renders N views
  around the customer's pose and runs engine.chain.turntable as ONE job.
- Jobs go through a JobQueue (its own engine thread). A failed job, an engine thread that stopped, or a job
  that stops making progress for ``stall_seconds`` make the kiosk build a new JobQueue and reload the model:
  the next customer gets a working screen without anyone restarting the app.
- Staff reach the admin screen (and quitting) only through the PIN (salted PBKDF2 in the settings, rate-
  limited). The window ignores close requests, and an application-wide event filter eats the keys that
  would leave it (omfa_desktop.kiosk.lockdown).
- Privacy: the customer's photo and results exist only in the session folder and in this window's memory
  while the visit lasts; nothing goes to the gallery, the wardrobe, recent files or the log (the log gets
  counts and reasons, never names or paths of customer files).
"""
from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QStackedWidget, QVBoxLayout, QWidget

from engine.kiosk_store import DropFolder, IdleClock, KioskStore, PinGuard, PinState, Session, start_page
from omfa_desktop.kiosk import pages as P
from omfa_desktop.kiosk.calls import EngineWatch, GuideCalls
from omfa_desktop.kiosk.lockdown import KioskEventFilter
from omfa_desktop.kiosk.sources import PRESETS, PhotoAndOffer
from omfa_desktop.kiosk.staff import StaffScreens
from omfa_desktop.kiosk.style import STYLE
from omfa_desktop.model.app_settings import AppSettings, load_settings
from omfa_desktop.model.jobs import ChainPayload, Job, JobState
from omfa_desktop.model.session import Session as Look
from omfa_desktop.qtutil import to_qimage
from omfa_desktop.worker import GuideService, JobQueue

if TYPE_CHECKING:
    from engine.request import ModelInfo

log = logging.getLogger("omfa.kiosk")

SORRY = "Sorry, something went wrong on our side. Your photo has been deleted — please start again."
TEXT = {
    "done": "Thank you! Your photo and results have been deleted from this screen.",
    "idle": "We cleared the screen for the next customer. Your photo has been deleted.",
    "cancelled": "Cancelled. Your photo has been deleted — start again whenever you like.",
    "failed": "Sorry, we could not create your look this time. Your photo has been deleted — please try again.",
    "no-person": "We could not see a whole person in that photo. Please try again with a full-length photo, "
                 "facing the camera, in good light.",
    "back": "",
}


@dataclass
class Visit:
    """What one customer's visit holds (all of it goes at the end of the visit). ``look`` is the session
    model (omfa_desktop.model.session) of the try-on: the photo, garment and head, the sampler settings with
    the visit's own seed; its requests come from ``look.to_request`` as the main window's do."""

    session: Session
    look: Look
    estimate: Optional[dict] = None
    garment_id: str = ""
    pose: str = ""
    job: Optional[Job] = None
    outputs: list = field(default_factory=list)      # (H, W, 3) uint8 of the last result
    files: list = field(default_factory=list)        # result files in the session folder
    busy: bool = False

    @property
    def photo(self) -> Optional[np.ndarray]:
        return self.look.person


class KioskWindow(StaffScreens, PhotoAndOffer, QWidget):
    """The kiosk window.

    Parameters
    ----------
    model_folder, device, precision : as MainWindow (default: settings, else the demo model)
    settings : AppSettings, optional     default: load_settings() (tests pass their own)
    root : folder of the session folders (default user_data_dir()/kiosk); leftovers are purged now
    wardrobe : engine.wardrobe.Wardrobe, optional   the garments offered (default: the setting's folder)
    estimator : object with ``estimate(spec, done, fail)``, optional   default: the guide thread (BlazePose)
    sampling : dict, optional    TryOnRequest sampler fields over the "fast" preset (tests: {"steps": 1})
    fullscreen : bool            frameless, stays on top, full screen (False in tests)
    camera : bool, optional      force the camera on/off (default: the setting and what Qt Multimedia finds)
    clock : callable             monotonic seconds (tests drive the idle clock and the PIN lockout with it)
    stall_seconds : float        a running job with no progress for this long counts as a crashed engine
    """

    def __init__(self, model_folder: str | None = None, device: str | None = None, precision: str | None = None,
                 settings: AppSettings | None = None, root: str | Path | None = None, wardrobe=None,
                 estimator=None, sampling: dict | None = None, fullscreen: bool = True, camera: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, turntable_views: int = 8,
                 stall_seconds: float = 300.0, drop_settle: float = 0.6) -> None:
        super().__init__()
        self.setObjectName("kiosk")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setWindowTitle("OMFA — try it on")
        self.setStyleSheet(STYLE)
        self.fullscreen = fullscreen
        if fullscreen:  # no title bar to close it, above other windows; the OS kiosk mode does the rest
            self.setWindowFlags(Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint
                                | Qt.WindowType.WindowStaysOnTopHint)
        if settings is None:
            settings, notes = load_settings()
        else:
            notes = []
        self.settings = settings
        self.clock = clock
        self.turntable_views = turntable_views
        self.stall_seconds = stall_seconds
        self.drop_settle = drop_settle
        self.model_spec = (model_folder or os.environ.get("OMFA_MODEL") or settings.model_folder,
                           device or settings.device, precision or settings.precision)
        from engine.presets import preset_settings

        self.sampling = {**preset_settings("fast"), **(sampling or {})}

        # privacy first: whatever a crashed run left behind goes before anything else happens
        self.store = KioskStore(root)
        self.leftovers_purged = self.store.purge_leftovers()

        self.visit: Optional[Visit] = None
        self.model_info: Optional[ModelInfo] = None
        self.queue: Optional[JobQueue] = None
        self.engine_restarts = 0
        self.sessions_served = 0
        self._stuck: list[JobQueue] = []      # queues whose thread would not stop (never destroyed while running)
        self._shutting_down = False
        self._may_close = False
        self._pin_purpose = ""
        self._pin_return = "start"
        self._new_pin = ""
        self._job_seen = (None, -1, 0.0)      # (job id, step, when) for the stall watchdog
        self._flip = (0, [])                  # turntable frame index, QImages
        self.preset_guides: dict[str, tuple[np.ndarray, dict]] = {}
        self._thumbs: dict[str, Any] = {}     # wardrobe id -> pixmap (store garments, not customer data)

        self.guides = GuideService(self)
        self.calls = GuideCalls(self.guides, self)
        self.estimator = estimator or self.calls
        self._wardrobe_given = wardrobe
        self.wardrobe = wardrobe
        self.camera_wanted = camera
        self.camera_view = None
        self.drop: Optional[DropFolder] = None
        self.pin_state = PinState()           # 'a PIN exists' + lockout, apart from settings.json
        self.guard = PinGuard(settings.kiosk_pin, clock=clock, state=self.pin_state)
        self.idle = IdleClock(settings.kiosk_idle_seconds, clock=clock)

        self._build()
        self._apply_settings(first=True)
        self._make_queue()

        self.filter = KioskEventFilter(self._activity, lambda: self.current() == "admin", self)
        QApplication.instance().installEventFilter(self.filter)
        self.ticker = QTimer(self)
        self.ticker.setInterval(500)
        self.ticker.timeout.connect(self.tick)
        self.ticker.start()
        self.flipper = QTimer(self)
        self.flipper.setInterval(400)
        self.flipper.timeout.connect(self._next_frame)

        first = start_page(settings.kiosk_pin, notes, self.pin_state)
        if first == "needs-staff":
            # A PIN that existed but cannot be read must not let the next passer-by choose a new one.
            log.error("kiosk: the staff PIN record is missing or damaged; the kiosk waits for staff")
            self.needs_staff.text.setText("The staff PIN could not be read. Staff: set it again with\n"
                                          "omfa-desktop --set-kiosk-pin\nthen restart the app.")
            self.go("needs-staff")
        elif first == "setup":
            self._ask_new_pin("start", "Welcome! Set the staff PIN",
                              "Staff need it to change settings or close the app. 4 to 12 digits.")
        else:
            self.go("start")
        log.info("kiosk: started (%s session(s) purged at start, camera %s, drop folder %s, export %s)",
                 self.leftovers_purged, "on" if self.camera_view is not None else "off",
                 "set" if settings.kiosk_drop_folder else "not set",
                 "set" if settings.kiosk_export_folder else "not set")

    # ================================================================== building
    def _build(self) -> None:
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        self.start_page = P.StartPage()
        self.photo_page = P.PhotoPage()
        self.garment_page = P.GarmentPage()
        self.pose_page = P.PosePage()
        self.working_page = P.WorkingPage()
        self.result_page = P.ResultPage()
        self.pin_page = P.PinPage()
        self.admin_page = P.AdminPage()
        self.needs_staff = P.NeedsStaffPage()
        for name, page in (("start", self.start_page), ("photo", self.photo_page), ("garment", self.garment_page),
                           ("pose", self.pose_page), ("working", self.working_page), ("result", self.result_page),
                           ("pin", self.pin_page), ("admin", self.admin_page), ("needs-staff", self.needs_staff)):
            self.pages[name] = page
            self.stack.addWidget(page)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)
        self.overlay = P.IdleOverlay(self)
        self.overlay.button.clicked.connect(self._still_here)

        sp = self.start_page
        sp.start_button.clicked.connect(lambda: self.start_session())  # not clicked(bool) as a photo
        sp.staff_button.clicked.connect(lambda: self.ask_pin("admin"))
        sp.set_ready(False)
        pp = self.photo_page
        pp.back_button.clicked.connect(lambda: self.end_session("back"))
        pp.use_button.clicked.connect(self.use_photo)
        pp.capture_button.clicked.connect(self._capture)
        self.garment_page.chosen.connect(self.choose_garment)
        self.garment_page.back_button.clicked.connect(lambda: self.go("photo"))
        self.pose_page.set_poses([("own", "My pose")] + list(PRESETS))
        self.pose_page.chosen.connect(self.choose_pose)
        self.pose_page.back_button.clicked.connect(lambda: self.go("garment"))
        self.working_page.cancel_button.clicked.connect(self.cancel_job)
        rp = self.result_page
        rp.save_button.clicked.connect(self.save_result)
        rp.again_button.clicked.connect(self.another_garment)
        rp.done_button.clicked.connect(lambda: self.end_session("done"))
        self.pin_page.entered.connect(self._pin_entered)
        self.pin_page.cancelled.connect(self._pin_cancelled)
        ap = self.admin_page
        ap.back_button.clicked.connect(self.lock)
        ap.save_button.clicked.connect(self.save_admin)
        ap.quit_button.clicked.connect(self.quit_app)
        ap.pin_button.clicked.connect(lambda: self._ask_new_pin("admin", "New staff PIN", "4 to 12 digits."))

    # ================================================================== engine
    def _make_queue(self) -> None:
        q = JobQueue(self)
        q.threads = self.settings.threads  # engine.threads: 0 = from the cores free at each job
        q.modelLoaded.connect(self._on_model_loaded)
        q.modelFailed.connect(self._on_model_failed)
        q.jobChanged.connect(self._on_job_changed)
        q.jobProgress.connect(self._on_job_progress)
        q.jobDone.connect(self._on_job_done)
        q.watch = EngineWatch(q, self._engine_stopped)
        self.queue = q
        self.model_info = None
        self._update_ready()
        folder, device, precision = self.model_spec
        q.load_model(folder, device, precision, vae=self.settings.vae_folder)

    def restart_engine(self, why: str) -> None:
        """Drop the JobQueue (and its engine thread) and start a fresh one that reloads the model."""
        old = self.queue
        self.queue = None
        self.engine_restarts += 1
        log.warning("kiosk: restarting the engine (%s)", why)
        if old is not None:
            old.blockSignals(True)
            if old.shutdown(timeout_ms=3000):
                old.setParent(None)
                old.deleteLater()
            else:  # a stuck step: keep it referenced, a running QThread must never be destroyed (Qt aborts)
                self._stuck.append(old)
        if not self._shutting_down:
            self._make_queue()

    def _engine_stopped(self, q: Optional[JobQueue]) -> None:
        if q is None or q is not self.queue or self._shutting_down:
            return
        log.error("kiosk: the engine thread stopped unexpectedly")
        if self.visit is not None and self.visit.job is not None:
            self.end_session("failed")
        self.restart_engine("the engine thread stopped")

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_info = info
        self._update_ready()
        self._render_preset_icons()

    def _on_model_failed(self, message: str, details: str) -> None:
        self.model_info = None
        log.error("kiosk: the model could not be loaded: %s", message)
        self.start_page.set_ready(False, "Resting — please ask our staff")
        QTimer.singleShot(60_000, lambda: self.queue is not None and self.queue.model_info is None
                          and not self.queue.loading and self.restart_engine("retry loading the model"))

    def _update_ready(self) -> None:
        self.start_page.set_ready(self.ready)

    @property
    def ready(self) -> bool:
        return self.model_info is not None and bool(self.settings.kiosk_pin) and self.queue is not None

    def _sizes(self) -> dict:
        return self.model_info.panel_sizes if self.model_info else {}

    # ================================================================== pages
    def go(self, name: str) -> None:
        if name != "result":
            self.flipper.stop()
        self.stack.setCurrentWidget(self.pages[name])
        if name == "pin":
            self.pin_page.setFocus()  # a staff keyboard types into the PIN pad
        if self.camera_view is not None:
            (self.camera_view.start if name == "photo" else self.camera_view.stop)()
        self.idle.touch()
        self.overlay.hide()

    def current(self) -> str:
        w = self.stack.currentWidget()
        return next((k for k, v in self.pages.items() if v is w), "")

    def present(self) -> None:
        """Show the kiosk: full screen (the OS kiosk session gives it the whole display) or a window."""
        if self.fullscreen:
            self.showFullScreen()
        else:
            self.show()
        self.raise_()
        self.activateWindow()

    # ================================================================== the visit
    def start_session(self, photo: Path | None = None) -> bool:
        """Begin a visit (Start, or a photo arriving while the start screen shows)."""
        if not self.ready or self.visit is not None:
            return False
        try:
            session = self.store.new_session()
        except OSError as e:
            log.error("kiosk: no session folder could be made (%s)", e.strerror or e.__class__.__name__)
            self.start_page.message.show_text(SORRY)
            return False
        self.visit = Visit(session, self._new_look())
        if self._wardrobe_given is None:
            self._reload_wardrobe()
        self.start_page.message.show_text("")
        self.photo_page.message.show_text("")
        self.photo_page.set_photo(None)
        self.photo_page.use_button.setText("Use this photo")
        self.go("photo")
        if photo is not None:
            self.accept_photo_file(photo)
        return True

    def use_photo(self) -> None:
        """Find the pose and the head in the photo (guide thread); then the garments."""
        v = self.visit
        if v is None or v.photo is None or v.busy or self.model_info is None:
            return
        sizes = self._sizes()
        w, h = sizes.get("person", (96, 128))
        spec = {"image": v.photo, "box": None, "backend": "auto", "hmr2_folder": self.settings.hmr2_folder,
                "width": w, "height": h, "style": self.model_info.render_style,
                "body_folder": self.settings.smplx_folder, "body_gender": self.settings.smplx_gender,
                "head_size": sizes.get("head"), "scratch": str(v.session.folder)}  # hmr2's photo copy: purged
        v.busy = True
        self.photo_page.use_button.setEnabled(False)
        self.photo_page.use_button.setText("Looking at your photo…")
        self.estimator.estimate(spec, self._for(v, self._estimated), self._for(v, self._estimate_failed))

    def _for(self, visit: Visit, fn: Callable) -> Callable:
        """``fn`` if the visit is still the current one when the answer comes (else the answer is dropped)."""
        def call(*args):
            if self.visit is visit:
                fn(*args)
        return call

    def _estimated(self, result: dict) -> None:
        v = self.visit
        v.busy = False
        self.photo_page.use_button.setText("Use this photo")
        v.estimate = result
        head = result.get("head")
        v.look.set_input("head", head if isinstance(head, np.ndarray) and head.dtype == np.uint8 else None, "photo")
        self.pose_page.set_icon("own", result.get("guide"))
        self.garment_page.message.show_text("")
        self.go("garment")

    def _estimate_failed(self, message: str, details: str) -> None:
        log.info("kiosk: no pose found in the customer's photo (%s)", self._scrub(message)[:200])
        self.end_session("no-person", kind="warning")

    def choose_garment(self, item_id: str) -> None:
        from engine.images import ImageError

        v = self.visit
        if v is None:
            return
        try:
            v.look.set_input("garment", self.wardrobe.image(item_id), item_id)
        except (ImageError, KeyError, OSError):
            log.warning("kiosk: a wardrobe garment could not be read")
            self.garment_page.message.show_text("That garment is not available right now — please choose "
                                                "another.")
            return
        v.garment_id = item_id
        self.pose_page.message.show_text("")
        self.go("pose")

    def choose_pose(self, key: str) -> None:
        """Submit the try-on: ``own`` (the photo's pose), a preset, or ``turntable``."""
        v = self.visit
        if v is None or v.look.garment is None or v.estimate is None or v.job is not None or v.busy:
            return
        if self.model_info is None:
            self.pose_page.message.show_text("Just a moment — the screen is getting ready.")
            return
        v.pose = key
        self.working_page.reset("Preparing…")
        self.working_page.title.setText("Creating your look…" if key != "turntable" else
                                        "Turning you around…")
        self.go("working")
        self.idle.pause(True)    # the customer is watching the progress, not walking away
        w, h = self._sizes().get("person", (96, 128))
        style = self.model_info.render_style
        if key == "own":
            state = v.estimate.get("state")
            body = state.to_dict() if hasattr(state, "to_dict") else None
            self._submit_single([v.estimate["guide"]], None, body)
        elif key == "turntable":
            state = v.estimate.get("state")
            if state is None:
                from engine.body.presets import load_preset

                state = load_preset("walking")
            spec = {"state": state, "width": w, "height": h, "style": style, "views": self.turntable_views,
                    "elevation": 0.0, "azimuth": 0.0, "body_folder": self.settings.smplx_folder,
                    "body_gender": self.settings.smplx_gender}
            v.busy = True
            self.calls.render(spec, self._for(v, lambda g, c: self._submit_turntable(g, c, state)),
                              self._for(v, self._render_failed))
        else:
            cached = self.preset_guides.get(key)
            if cached is not None:
                self._submit_single([cached[0]], [cached[1]] if cached[1] else None, None, key)
                return
            from engine.body.presets import load_preset

            spec = {"state": load_preset(key), "width": w, "height": h, "style": style, "views": 1,
                    "elevation": 0.0, "body_folder": self.settings.smplx_folder,
                    "body_gender": self.settings.smplx_gender}
            v.busy = True
            self.calls.render(spec, self._for(v, lambda g, c: self._submit_single(g, c, None, key)),
                              self._for(v, self._render_failed))

    def _render_failed(self, message: str, details: str) -> None:
        log.error("kiosk: a pose guide could not be rendered: %s", message)
        self.end_session("failed", kind="warning")

    def _new_look(self) -> Look:
        """A visit's session model: the kiosk's sampler settings with a seed of its own, the loaded model."""
        look = Look(task="new-pose", seed=secrets.randbelow(2**31 - 1), precision=self.model_spec[2] or "auto",
                    memory=self.settings.memory, model_info=self.model_info)
        for k, v in self.sampling.items():
            setattr(look, k, v)
        look.on_change(lambda name, value: self.photo_page.set_photo(value) if name == "person" else None)
        return look

    def _request(self, guides, cameras, body, what: str):
        """The visit's request for ``guides`` (None when the engine would refuse it: the visit ends)."""
        v = self.visit
        v.busy = False
        v.look.model_info = self.model_info
        try:
            return v.look.to_request(guides, cameras, body=body, label="kiosk")
        except Exception as e:  # noqa: BLE001 - a request the engine refuses is our bug, not the customer's
            log.error("kiosk: the %s request was refused: %s", what, self._scrub(str(e)))
            self.end_session("failed", kind="warning")
            return None

    def _submit_single(self, guides, cameras, body, preset: str = "") -> None:
        req = self._request(guides, cameras, body, "try-on")
        if req is not None:
            self._queue_job(req, "try-on", None)

    def _submit_turntable(self, guides, cameras, state) -> None:
        from engine.chain import turntable

        base = self._request([guides[0]], None, None, "turntable")
        if base is None:
            return
        chain = turntable(list(guides), base.head, garment=base.garment, batch=8, sampling=base, label="kiosk",
                          cameras=list(cameras), body=state.to_dict() if hasattr(state, "to_dict") else None)
        try:
            for st in chain.stages:
                st.request.validate(self.model_info.layout, list(self.model_info.schedulers))
        except Exception as e:  # noqa: BLE001
            log.error("kiosk: the turntable request was refused: %s", self._scrub(str(e)))
            self.end_session("failed", kind="warning")
            return
        self._queue_job(chain.stages[0].request, "turntable", chain)

    def _queue_job(self, request, mode: str, chain) -> None:
        if self.queue is None:
            self.end_session("failed", kind="warning")
            return
        job = self.queue.submit(ChainPayload(chain) if chain is not None else request, mode, {"kiosk": True})
        self.visit.job = job
        self._job_seen = (job.id, -1, self.clock())

    def cancel_job(self) -> None:
        v = self.visit
        if v is not None and v.job is not None and self.queue is not None:
            self.working_page.cancel_button.setEnabled(False)
            self.working_page.status.setText("Cancelling…")
            self.queue.cancel(v.job)
        elif v is not None:  # still rendering the guides: nothing is queued yet
            self.end_session("cancelled")

    # ------------------------------------------------------------------ job events
    def _on_job_changed(self, job: Job) -> None:
        v = self.visit
        if v is None or job is not v.job or job.done:
            return
        if job.step != self._job_seen[1]:
            self._job_seen = (job.id, job.step, self.clock())
        wp = self.working_page
        if job.total:
            wp.progress.setRange(0, job.total)
            wp.progress.setValue(job.step)
            left = f" · about {max(1, round(job.eta))} s left" if job.step else ""
            wp.status.setText(f"Step {job.step} of {job.total}{left}")
        if job.cancel_event.is_set():
            wp.status.setText("Cancelling…")

    def _on_job_progress(self, job: Job, preview) -> None:
        v = self.visit
        if v is not None and job is v.job and preview is not None and not preview.isNull():
            self.working_page.preview.set_image(preview)

    def _on_job_done(self, job: Job) -> None:
        q = self.queue
        if q is not None and job in q.jobs:
            q.jobs.remove(job)   # the kiosk keeps no history: a finished job's images go with it
        v = self.visit
        if v is None or job is not v.job:
            return
        v.job = None
        self.idle.pause(False)
        if job.state == JobState.FINISHED:
            try:
                outputs = job.result.outputs() if job.chain is not None else job.result.outputs
                self._show_result(outputs)
            except Exception:  # noqa: BLE001 - storing or showing failed (a full disk): start over, kindly
                log.error("kiosk: the result could not be shown", exc_info=True)
                self.end_session("failed", kind="warning")
        elif job.state == JobState.CANCELLED:
            self.end_session("cancelled")
        else:
            log.error("kiosk: job failed: %s", self._scrub(job.message)[:300])
            self.end_session("failed", kind="warning")
            # The failure may have left the engine in a bad state (CUDA errors, a half-loaded model):
            # a fresh engine costs a model reload, and the next customer gets a working screen.
            self.restart_engine("a job failed")

    def _show_result(self, outputs: list[np.ndarray]) -> None:
        from PIL import Image

        v = self.visit
        v.outputs = [np.asarray(o, np.uint8) for o in outputs]
        for img in v.outputs:   # the results live in the session folder (and go with it)
            path = v.session.path("result")
            Image.fromarray(img).save(path)
            v.files.append(path)
        rp = self.result_page
        rp.message.show_text("")
        frames = [to_qimage(o) for o in v.outputs]
        rp.view.set_image(frames[0])
        rp.photo_thumb.set_image(v.photo)
        rp.garment_thumb.set_image(v.look.garment)
        turning = len(frames) > 1
        rp.title.setText("See it all around!" if turning else "Here you are!")
        rp.view_label.setText(f"View 1 of {len(frames)}" if turning else "")
        self._flip = (0, frames)
        self.go("result")
        if turning:
            self.flipper.start()
        rp.save_button.setEnabled(True)
        rp.save_button.setText("Save to USB")

    def _next_frame(self) -> None:
        i, frames = self._flip
        if len(frames) < 2 or self.current() != "result":
            self.flipper.stop()
            return
        i = (i + 1) % len(frames)
        self._flip = (i, frames)
        self.result_page.view.set_image(frames[i])
        self.result_page.view_label.setText(f"View {i + 1} of {len(frames)}")

    def save_result(self) -> list[Path]:
        """Copy the result to the store's export folder (a USB stick), staged in the session folder."""
        from PIL import Image

        from engine.kiosk_store import export_files
        from engine.media import save_gif, upscaled
        from engine.persist import StorageError

        v = self.visit
        folder = self.settings.kiosk_export_folder
        if v is None or not v.outputs or not folder:
            return []
        rp = self.result_page
        try:
            frames, _ = upscaled(v.outputs, min_width=480)  # small models' panels are too small to keep as is
            staged = [v.session.path("export", ".png")]
            Image.fromarray(frames[0]).save(staged[0])
            if len(frames) > 1:
                staged.append(save_gif(frames, v.session.path("export", ".gif"), fps=2.5))
            written = export_files(staged, folder)
        except (StorageError, OSError) as e:
            log.warning("kiosk: saving to the export folder failed (%s)",
                        "not available" if "not available" in str(e) else e.__class__.__name__)
            rp.message.show_text("Saving did not work — is the USB stick plugged in? Please ask our staff.")
            return []
        rp.message.show_text(f"Saved to the USB stick ({len(written)} file{'s' if len(written) > 1 else ''}).",
                             "info")
        rp.save_button.setEnabled(False)
        rp.save_button.setText("Saved ✓")
        log.info("kiosk: a result was exported (%d file(s))", len(written))
        return written

    def another_garment(self) -> None:
        v = self.visit
        if v is None:
            return
        self.flipper.stop()
        self.result_page.clear()
        v.outputs = []
        self.go("garment")

    def end_session(self, reason: str, message: str | None = None, kind: str = "info") -> None:
        """End the visit: cancel its job, purge its folder, forget its images, back to the start screen."""
        v, self.visit = self.visit, None
        if v is not None:
            if v.job is not None and self.queue is not None and not v.job.done:
                self.queue.cancel(v.job)
            self.store.purge(v.session, reason)
            self.sessions_served += 1
        if self.drop is not None:
            self.drop.clear()   # anything sent after the photo taken belongs to the customer who just left
        self.flipper.stop()
        self._flip = (0, [])
        self.photo_page.set_photo(None)
        self.photo_page.message.show_text("")
        self.working_page.preview.set_image(None)
        self.result_page.clear()
        self.pose_page.set_icon("own", None)
        self.idle.pause(False)
        self.go("start")
        text = TEXT.get(reason, SORRY) if message is None else message
        self.start_page.message.show_text(text, kind)

    # ================================================================== idle, activity, watchdog
    def _activity(self) -> None:
        self.idle.touch()
        if self.overlay.isVisible():
            self.overlay.hide()

    def _still_here(self) -> None:
        self.idle.touch()
        self.overlay.hide()

    def tick(self) -> None:
        """Twice a second: the drop folder, the idle clock, the PIN lockout, the engine watchdog."""
        page = self.current()
        if page in ("start", "photo"):
            self._poll_drop()
        if page == "pin":
            self.pin_page.set_locked(self.guard.locked_for())
        self._watchdog()
        if page in ("start", "needs-staff") or (page == "pin" and self._pin_purpose == "setup"):
            self.overlay.hide()
            return
        state = self.idle.state()
        if state == "warning":
            self.overlay.show_remaining(self.idle.remaining())
        elif state == "expired":
            self.overlay.hide()
            if self.visit is not None:
                self.end_session("idle")
            else:  # staff walked away from the PIN pad or the admin screen: lock it again
                self.lock()

    def _watchdog(self) -> None:
        v = self.visit
        if v is None or v.job is None or v.job.done or self.queue is None:
            return
        job_id, step, since = self._job_seen
        if job_id == v.job.id and self.clock() - since > self.stall_seconds:
            log.error("kiosk: job made no progress for %.0f s; the engine is considered stuck", self.stall_seconds)
            self.end_session("failed", kind="warning")
            self.restart_engine("a job stopped making progress")

    # ================================================================== window
    def show_message(self, text: str, details: str = "", kind: str = "error", actions=()) -> None:
        """For omfa_desktop.app.install_excepthook: an unexpected error (already logged) ends the visit with
        a kind word; customers never see technical text."""
        if kind != "error":
            return
        if self.visit is not None:
            self.end_session("error", SORRY, "warning")
        else:
            self.start_page.message.show_text(SORRY)

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._may_close:
            self.shutdown()
            event.accept()
            return
        event.ignore()  # Alt+F4, a window-manager close, a stray close(): only staff may close the kiosk
        log.info("kiosk: a close request was refused (no PIN)")
        self.ask_pin("quit")

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.overlay.setGeometry(self.rect())

    def shutdown(self) -> None:
        """Purge the visit, stop timers, the event filter and the engine thread."""
        if self._shutting_down:
            return
        self._shutting_down = True
        if self.visit is not None:
            self.end_session("closed")
        self.ticker.stop()
        self.flipper.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.filter)
        if self.camera_view is not None:
            self.camera_view.stop()
        if self.queue is not None:
            self.queue.blockSignals(True)
            self.queue.shutdown()
        for q in self._stuck:
            q.shutdown(timeout_ms=1000)
        self.guides.shutdown()

    def _scrub(self, text: str) -> str:
        """Text for the log without the paths that could name a customer's file."""
        out = str(text)
        for p, name in ((self.store.root, "<kiosk>"), (self.drop.path if self.drop else None, "<drop folder>")):
            if p is not None:
                out = out.replace(str(p), name)
        return out
