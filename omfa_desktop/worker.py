"""Background work, so the window never blocks.

- :class:`EngineWorker` lives on its own QThread and owns the :class:`engine.pipeline.Pipeline`: it loads
  the model and runs one job at a time, reporting progress (step, total, ETA, a preview QImage of the x0
  estimate), and finishes, fails or is cancelled. Torch is imported on that thread, never on the GUI's.
- :class:`GuideWorker` lives on a second thread and makes the pose-guide renders (pyrender keeps its GL
  context current on the thread that uses it, so every guide render goes through this one thread). It is
  separate from the engine so the pose preview stays live during a generation.
- :class:`JobQueue` is the GUI-thread side: a list of :class:`Job` with explicit states (queued, running,
  finished, cancelled, failed), dispatching the next queued job when the worker is free.
"""
from __future__ import annotations

import itertools
import logging
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from engine.errors import OmfaError
from omfa_desktop.model.jobs import (MODE_LABELS, BatchPayload, ChainPayload, GeneratePayload, Job,  # noqa: F401
                                     JobKind, JobState, format_seconds)
from omfa_desktop.qtutil import to_qimage

if TYPE_CHECKING:  # torch stays off the GUI thread: no engine.pipeline import here
    from engine.request import ModelInfo

log = logging.getLogger("omfa.worker")

FIELD_LABELS = {"person": "Person photo", "photo_guide": "Photo's pose guide", "garment": "Garment", "head": "Head",
                "pose_guides": "Pose guide",
                "steps": "Steps", "guidance": "Guidance", "scheduler": "Sampler", "seed": "Seed",
                "num_views": "Views", "precision": "Precision", "device": "Device", "task": "Task"}


def readable_error(e: BaseException) -> str:
    """One line a person can act on (the traceback goes to the details)."""
    from engine.request import RequestError

    if isinstance(e, RequestError):
        return f"Invalid request — {FIELD_LABELS.get(e.field.split('[')[0], e.field)}: {e.message}"
    from engine.device import OutOfMemory

    text = str(e).strip() or e.__class__.__name__
    if isinstance(e, OutOfMemory):
        return text[0].upper() + text[1:]
    if "out of memory" in text.lower():
        return ("Out of memory: try the low-memory mode, fewer views, fp16 precision on a GPU, or a smaller model. "
                f"({text.splitlines()[0][:200]})")
    if isinstance(e, OmfaError):  # the project's own errors are written for people
        return e.for_people()
    return f"{e.__class__.__name__}: {text.splitlines()[0][:300]}"


class ModelNotLoaded(OmfaError, RuntimeError):
    pass


def load_pipeline(folder: str | None, device: str = "auto", precision: str = "auto", vae: str = ""):
    """(Pipeline, fallback: bool, folder: Path, vae_error: str) — see ``engine.pipeline.Pipeline.load_default``.

    A VAE that cannot be used does not cost the model: the model keeps its own codec and ``vae_error`` says
    why (the window shows it, naming the VAE folder setting).
    """
    from engine.model import ModelError
    from engine.pipeline import Pipeline

    pipe, fallback, path = Pipeline.load_default(folder, device, precision)
    vae_error = ""
    if vae:
        try:
            pipe.use_vae(vae)
        except ModelError as e:
            vae_error = str(e)
    return pipe, fallback, path, vae_error


class EngineWorker(QObject):
    """Owns the Pipeline; every slot runs on the engine thread."""

    loading = Signal(str)
    loaded = Signal(object)                           # engine.request.ModelInfo
    loadFailed = Signal(str, str)                     # message, details
    started = Signal(int)                             # job id
    progress = Signal(int, int, int, float, QImage)   # job id, step, total, eta (s), preview of the output
    finished = Signal(int, object)                    # job id, engine.request.Result
    failed = Signal(int, str, str)                    # job id, message, details
    cancelled = Signal(int, object)                   # job id, Result (status "cancelled") or None

    def __init__(self) -> None:
        super().__init__()
        self.pipe = None
        self.spec: tuple[str, str, str, str] = ("", "auto", "auto", "")
        self.load_error = "the model has not been loaded yet"

    @Slot(str, str, str, str)
    def load(self, folder: str, device: str, precision: str, vae: str = "") -> None:
        self.spec = (folder, device, precision, vae)
        self.loading.emit(folder or "the demo model")
        self.pipe = None
        try:
            from engine.warmup import model_load_settled, wait

            # Let the start-up prefetch finish its imports first: diffusers' lazy package is not safe to
            # import from two threads at once ("cannot import name 'UNet2DConditionModel'").
            wait()
            pipe, fallback, path, vae_error = load_pipeline(folder, device, precision, vae)
            info = pipe.info(fallback, path, vae_error)
        except Exception as e:  # noqa: BLE001 - any load failure becomes a message
            model_load_settled()
            self.load_error = readable_error(e)
            log.error("model load failed (%s): %s", folder or "demo", self.load_error, exc_info=True)
            self.loadFailed.emit(self.load_error, traceback.format_exc())
            return
        self.pipe = pipe
        model_load_settled()
        log.info("model loaded: %s on %s", info.describe, info.policy)
        self.loaded.emit(info)

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.cancel_event.is_set():
            self.cancelled.emit(job.id, None)
            return
        self.started.emit(job.id)
        try:
            req = job.request
            if self.pipe is not None and req.precision not in ("auto", self.pipe.policy.precision):
                from engine.device import DeviceError, select_device
                from engine.request import RequestError

                folder, device, _, vae = self.spec
                try:  # refuse an impossible precision before dropping the loaded model
                    select_device(device, req.precision)
                except DeviceError as e:
                    raise RequestError("precision", str(e)) from None
                self.load(folder, device, req.precision, vae)
            if self.pipe is None:
                raise ModelNotLoaded(f"no model is loaded ({self.load_error})")
            self._use_threads(job)
            if job.kind == JobKind.BATCH:
                result = self._run_batch(job)
            elif job.kind == JobKind.CHAIN:
                result = self._run_chain(job)
            else:
                crop = _preview_crop(self.pipe.layout, req.task)

                def on_progress(p) -> None:
                    img = QImage()
                    if p.preview is not None:
                        img = to_qimage(p.preview[:, crop] if crop is not None else p.preview)
                    self.progress.emit(job.id, p.step, p.total, float(p.eta), img)

                result = self.pipe.run(req, progress=on_progress, cancel=job.cancel_event)
        except Exception as e:  # noqa: BLE001 - never let a job take the thread (or the app) down
            from engine.device import OutOfMemory
            from engine.request import RequestError

            if isinstance(e, RequestError):
                job.error_field = e.field
            if isinstance(e, OutOfMemory) and not e.low_memory_tried:
                job.retry = "low-memory"
            log.error("job %s failed: %s", job.id, readable_error(e), exc_info=not isinstance(e, RequestError))
            self.failed.emit(job.id, readable_error(e), traceback.format_exc())
            return
        if getattr(result, "status", "") == "cancelled" or getattr(result, "cancelled", False):
            self.cancelled.emit(job.id, result)
        else:
            self.finished.emit(job.id, result)

    def _use_threads(self, job: Job) -> None:
        """The CPU thread policy for this job, on this (the engine) thread, from the cores free right now:
        other programs come and go between jobs (engine.threads)."""
        if self.pipe.policy.device != "cpu":
            return
        from engine.threads import use_threads

        plan = use_threads(job.threads)
        log.info("job %s: %s", job.id, plan.reason)

    def _run_chain(self, job: Job):
        """All stages of a chain as one job; progress counts the steps of every stage."""
        from engine.chain import ChainResult, run_chain

        chain = job.chain
        steps = ChainResult("", chain, []).stage_steps()
        t0 = time.perf_counter()

        def on_progress(i: int, n: int, p) -> None:
            done = sum(steps[:i]) + p.step
            total = sum(steps[:i]) + p.total + sum(steps[i + 1:])
            crop = _preview_crop(self.pipe.layout, chain.stages[i].request.task)
            img = to_qimage(p.preview[:, crop] if crop is not None else p.preview) if p.preview is not None \
                else QImage()
            elapsed = time.perf_counter() - t0
            self.progress.emit(job.id, done, total, elapsed / max(done, 1) * (total - done), img)

        return run_chain(self.pipe, chain, on_progress, job.cancel_event)

    def _run_batch(self, job: Job):
        """An engine.batch run on the loaded model; progress counts items."""
        from engine.batch import BatchRunner

        b = job.batch
        runner = BatchRunner(self.pipe, b.out, b.sampling)
        t0 = time.perf_counter()

        def on_item(done: int, total: int, outcome) -> None:
            elapsed = time.perf_counter() - t0
            self.progress.emit(job.id, done, total, elapsed / max(done, 1) * (total - done), QImage())

        return runner.run(b.items, on_item, job.cancel_event)


def _preview_crop(layout, task: str) -> Optional[slice]:
    """The latent-width slice of the generated panel (the preview covers the whole canvas)."""
    from engine.layout import GENERATED, Task

    try:
        generated = sorted(GENERATED[Task.parse(task)])
        return layout.slices(latent=True)[generated[0]]
    except (ValueError, KeyError, IndexError):
        return None


def resolve_body_model(folder: str = "", gender: str = "neutral"):
    """(BodyModel, note): the user's SMPL-X from ``folder`` when it is set and loads, otherwise the shipped
    mannequin — with ``note`` saying why SMPL-X was not used ("" when nothing went wrong). Never raises for
    a bad SMPL-X folder; raises only if the mannequin itself cannot be loaded."""
    from engine.body.model import BodyModel, BodyModelError

    note = ""
    if folder:
        try:
            return BodyModel.load_smplx(folder, gender or "neutral"), ""
        except BodyModelError as e:
            note = str(e)
        except Exception as e:  # noqa: BLE001 - a damaged file must not cost the guides
            note = f"{e.__class__.__name__}: {e}"
    return BodyModel.load_mannequin(), note


def body_key(folder: str, gender: str) -> tuple:
    """Identifies a body-model choice, including the SMPL-X file's modification time (a replaced file reloads)."""
    if not folder:
        return ("", "")
    root = Path(folder).expanduser()
    stamp = None
    for cand in (root / f"SMPLX_{gender.upper()}.npz", root / "smplx" / f"SMPLX_{gender.upper()}.npz"):
        try:
            st = cand.stat()
        except OSError:
            continue
        stamp = (str(cand), st.st_mtime_ns, st.st_size)
        break
    return (str(root), gender, stamp)


# what to do when no pose can be had from a photo, said the app's way (the command line says --box)
APP_POSE_ADVICE = ("draw the person box (Edit → Estimate pose in a person box…), or pose the body by hand in the "
                   "viewport")


class GuideWorker(QObject):
    """Renders pose guides (engine.body.guide.pose_guides) on the guide thread; stale requests are skipped.

    The body model is the request's choice (``body_folder``/``body_gender`` in the spec: a user's SMPL-X,
    or "" for the shipped mannequin), loaded once and kept; the answer says which body was used.
    """

    rendered = Signal(int, object, object, object)  # token, list of (H, W, 3) uint8, camera dicts, body info
    failed = Signal(int, str, str)                   # token, message, details
    estimated = Signal(int, object)                  # token, {"state", "camera", "box", "backend", "notes", "guide"}

    def __init__(self) -> None:
        super().__init__()
        self.latest = 0          # written by the GUI thread: the newest token asked for
        self.body_models: dict[tuple, tuple] = {}   # body_key -> (BodyModel, note)

    def body_model(self, folder: str = "", gender: str = "neutral"):
        key = body_key(folder, gender)
        if key not in self.body_models:
            if len(self.body_models) > 4:
                self.body_models.clear()
            self.body_models[key] = resolve_body_model(folder, gender)
        return self.body_models[key]

    @Slot(int, object)
    def render(self, token: int, spec: dict) -> None:
        if token < self.latest and not spec.get("keep"):
            return  # a newer request is queued; skip this one
        try:
            from engine.body.guide import pose_guides

            body, note = self.body_model(spec.get("body_folder", ""), spec.get("body_gender", "neutral"))
            images, cams = pose_guides(spec["state"], spec["width"], spec["height"], views=spec.get("views", 1),
                                       elevation_deg=spec.get("elevation", 0.0),
                                       start_azimuth_deg=spec.get("azimuth", 0.0),
                                       style=spec.get("style", "parts_shaded"), body_model=body)
        except Exception as e:  # noqa: BLE001
            self.failed.emit(token, readable_error(e), traceback.format_exc())
            return
        self.rendered.emit(token, images, [c.to_dict() for c in cams],
                           {"body_model": body.name, "body_error": note, "vertices": body.num_vertices})


    @Slot(int, object)
    def estimate(self, token: int, spec: dict) -> None:
        """Pose from a photo (engine.body.estimate) and its guide, rendered here because GL lives on this
        thread. ``spec``: image, box (or None), backend, hmr2_folder, width, height, style, body_folder/gender."""
        try:
            from engine.body.estimate import photo_guide
            from engine.body.estimators import estimate_pose
            from engine.body.hmr2 import Hmr2Adapter

            body, _ = self.body_model(spec.get("body_folder", ""), spec.get("body_gender", "neutral"))
            hmr2 = Hmr2Adapter(spec["hmr2_folder"], scratch=spec.get("scratch", "")) \
                if spec.get("hmr2_folder") else None
            est = estimate_pose(spec["image"], spec.get("box"), spec.get("backend", "auto"), hmr2, body)
            guide = photo_guide(est, spec["width"], spec["height"], spec.get("style", "parts_shaded"), body)
            head = None
            if spec.get("head_size"):  # a head-panel crop around the estimated head (person-to-person)
                from engine.body.estimate import head_crop

                head = head_crop(spec["image"], est, *spec["head_size"], body_model=body)
        except Exception as e:  # noqa: BLE001 - every failure becomes a message
            from engine.body.estimate import EstimatorUnavailable
            from engine.body.gate import NoPersonFound

            if isinstance(e, (EstimatorUnavailable, NoPersonFound)) and not e.hint:  # the app's own advice
                e.hint = APP_POSE_ADVICE
            self.failed.emit(token, readable_error(e), traceback.format_exc())
            return
        self.estimated.emit(token, {"state": est.state, "camera": est.camera.to_dict(), "box": est.box,
                                    "backend": est.backend, "notes": est.notes, "guide": guide, "head": head})


_GUIDE_THREAD: dict = {}
_GUIDE_TOKENS = itertools.count(1)


def _guide_thread() -> tuple[QThread, GuideWorker]:
    """The one guide thread of the process.

    The engine caches one pyrender offscreen renderer (and its EGL context) per size for the life of the
    process, and a GL context can only be current on one thread: so every guide render, for every window,
    runs on this single thread. It is stopped at exit.
    """
    if not _GUIDE_THREAD:
        import atexit

        thread = QThread()
        thread.setObjectName("omfa-guides")
        worker = GuideWorker()
        worker.moveToThread(thread)
        thread.start()
        _GUIDE_THREAD.update(thread=thread, worker=worker)
        atexit.register(stop_guide_thread)
    return _GUIDE_THREAD["thread"], _GUIDE_THREAD["worker"]


def stop_guide_thread(timeout_ms: int = 60_000) -> None:
    if _GUIDE_THREAD:
        thread = _GUIDE_THREAD["thread"]
        thread.quit()
        if thread.wait(timeout_ms):  # a render in progress finishes first (seconds on a busy CPU)
            _GUIDE_THREAD.clear()
        # else: keep the references: destroying a running QThread aborts the process (Qt 6 qFatal)


class GuideService(QObject):
    """A window's handle on the guide thread: ``request(spec) -> token``; answers come as signals
    (for every token; callers keep the tokens they asked for)."""

    rendered = Signal(int, object, object, object)
    failed = Signal(int, str, str)
    estimated = Signal(int, object)
    _render = Signal(int, object)
    _estimate = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread, self.worker = _guide_thread()
        self._render.connect(self.worker.render)
        self._estimate.connect(self.worker.estimate)
        self.worker.rendered.connect(self.rendered)
        self.worker.failed.connect(self.failed)
        self.worker.estimated.connect(self.estimated)

    def estimate(self, spec: dict) -> int:
        """Estimate the pose in a photo (see GuideWorker.estimate); the answer comes as ``estimated``."""
        token = next(_GUIDE_TOKENS)
        self._estimate.emit(token, spec)
        return token

    def request(self, spec: dict) -> int:
        """Ask for guides; ``spec`` has state (BodyState), width, height, views, elevation, azimuth, style,
        and optionally body_folder / body_gender (a user's SMPL-X; default the mannequin).
        With ``keep=True`` the request is never skipped as stale (a job is waiting for it)."""
        token = next(_GUIDE_TOKENS)
        if not spec.get("keep"):
            self.worker.latest = token
        self._render.emit(token, spec)
        return token

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop listening (the shared thread lives on until exit)."""
        for sig, slot in ((self._render, self.worker.render), (self.worker.rendered, self.rendered),
                          (self.worker.failed, self.failed), (self._estimate, self.worker.estimate),
                          (self.worker.estimated, self.estimated)):
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass


class JobQueue(QObject):
    """The GUI-thread job list and its engine thread. One job runs at a time, in submission order."""

    jobAdded = Signal(object)
    jobChanged = Signal(object)
    jobProgress = Signal(object, QImage)
    jobDone = Signal(object)                # finished, cancelled or failed
    modelLoading = Signal(str)
    modelLoaded = Signal(object)
    modelFailed = Signal(str, str)
    _load = Signal(str, str, str, str)
    _run = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs: list[Job] = []
        self.running: Job | None = None
        self.model_info: Optional[ModelInfo] = None
        self.model_error: tuple[str, str] | None = None
        self.loading = False
        self.threads = 0  # CPU threads for the jobs submitted from now on (the app setting; 0 = automatic)
        self._ids = itertools.count(1)
        from engine.warmup import prefetch
        from omfa_desktop.pyside_import_hook import lighten

        lighten()  # PySide6's per-import check, made cheap before torch and diffusers import (idempotent)
        prefetch()  # the model's imports begin now, not after the window is built (engine.warmup)
        self.thread = QThread()
        self.thread.setObjectName("omfa-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self.thread)
        self._load.connect(self.worker.load)
        self._run.connect(self.worker.run)
        w = self.worker
        w.loading.connect(self._on_loading)
        w.loaded.connect(self._on_loaded)
        w.loadFailed.connect(self._on_load_failed)
        w.started.connect(self._on_started)
        w.progress.connect(self._on_progress)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        self.thread.finished.connect(self.worker.deleteLater)
        self.thread.start()

    # ------------------------------------------------------------------ commands
    def load_model(self, folder: str = "", device: str = "auto", precision: str = "auto", vae: str = "") -> None:
        """(Re)load the model (with ``vae`` replacing its codec, if given); runs after any job already running."""
        from engine.warmup import model_load_started

        self.loading = True
        model_load_started()
        self._load.emit(folder or "", device, precision, vae or "")

    def submit(self, payload, mode: str = "", app: dict | None = None, inputs: dict | None = None,
               request=None) -> Job:
        """Queue a job: a GeneratePayload, a ChainPayload or a BatchPayload (a bare TryOnRequest is a
        GeneratePayload). ``request``: what the queue shows for a batch (its sampler settings)."""
        if not isinstance(payload, (GeneratePayload, ChainPayload, BatchPayload)):
            payload = GeneratePayload(payload)
        job = Job(next(self._ids), payload, request, mode, dict(app or {}), dict(inputs or {}), threads=self.threads)
        self.jobs.append(job)
        self.jobAdded.emit(job)
        self._dispatch()
        return job

    def cancel(self, job: Job | int | None = None) -> None:
        """Cancel a job (default: the running one). A running job stops before its next step."""
        if job is None:
            job = self.running
        if isinstance(job, int):
            job = self.get(job)
        if job is None or job.done:
            return
        job.cancel_event.set()
        if job.state == JobState.QUEUED and job is not self.running:
            job.state = JobState.CANCELLED
            job.ended = time.time()
            self.jobChanged.emit(job)
            self.jobDone.emit(job)
        else:
            self.jobChanged.emit(job)

    def cancel_all(self) -> None:
        for job in list(self.jobs):
            self.cancel(job)

    def get(self, job_id: int) -> Job | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    @property
    def busy(self) -> bool:
        return self.running is not None or any(j.state == JobState.QUEUED for j in self.jobs)

    @property
    def ready(self) -> bool:
        """A model is loaded and nothing is running or waiting."""
        return self.model_info is not None and not self.loading and not self.busy

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Cancel everything and stop the engine thread (waits for the current step to end)."""
        self.cancel_all()
        self.thread.quit()
        return self.thread.wait(timeout_ms)

    # ------------------------------------------------------------------ internals
    def _dispatch(self) -> None:
        if self.running is not None:
            return
        job = next((j for j in self.jobs if j.state == JobState.QUEUED), None)
        if job is None:
            return
        self.running = job
        self._run.emit(job)

    def _on_loading(self, what: str) -> None:
        self.loading = True
        self.modelLoading.emit(what)

    def _on_loaded(self, info: ModelInfo) -> None:
        self.loading = False
        self.model_info = info
        self.model_error = None
        self.modelLoaded.emit(info)

    def _on_load_failed(self, message: str, details: str) -> None:
        self.loading = False
        self.model_info = None
        self.model_error = (message, details)
        self.modelFailed.emit(message, details)

    def _on_started(self, job_id: int) -> None:
        job = self.get(job_id)
        if job is None:
            return
        job.state = JobState.RUNNING
        job.started = time.time()
        self.jobChanged.emit(job)

    def _on_progress(self, job_id: int, step: int, total: int, eta: float, preview: QImage) -> None:
        job = self.get(job_id)
        if job is None:
            return
        job.step, job.total, job.eta = step, total, eta
        self.jobChanged.emit(job)
        self.jobProgress.emit(job, preview)

    def _end(self, job_id: int, state: JobState, **attrs) -> None:
        job = self.get(job_id)
        if job is None:
            return
        job.state = state
        job.ended = time.time()
        for k, v in attrs.items():
            setattr(job, k, v)
        if self.running is job:
            self.running = None
        self.jobChanged.emit(job)
        self.jobDone.emit(job)
        self._dispatch()

    def _on_finished(self, job_id: int, result) -> None:
        job = self.get(job_id)
        self._end(job_id, JobState.FINISHED, result=result,
                  step=getattr(result, "steps_done", job.total if job is not None else 0))

    def _on_failed(self, job_id: int, message: str, details: str) -> None:
        self._end(job_id, JobState.FAILED, message=message, details=details)

    def _on_cancelled(self, job_id: int, result) -> None:
        attrs = {"result": result}
        if result is not None and hasattr(result, "steps_done"):
            attrs["step"] = result.steps_done
        self._end(job_id, JobState.CANCELLED, **attrs)
