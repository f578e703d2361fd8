"""The window's chained and bulk work: turntables, person to person, outfit layers and batches.

Each action gathers its inputs (a dialog from omfa_desktop.dialogs, the window's inputs and viewport
pose), asks the guide thread for what needs GL (orbit guides, the pose and head of a photo), then queues ONE
job on the engine thread (engine.chain.Chain or an engine.batch run). :meth:`WorkActions.on_done` stores the
outcome: every stage of a chain in the gallery (a turntable as one entry with all its views), a batch's
summary with a link to its contact sheet.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices

from omfa_desktop.model.jobs import BatchPayload, ChainPayload, Job, JobKind, JobState

if TYPE_CHECKING:
    from engine.request import ModelInfo

log = logging.getLogger("omfa.desktop")


class WorkActions(QObject):
    """Owned by the main window (``window.work``); uses its queue, gallery, guides, inputs and settings."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self._waiting: dict[int, tuple[Callable, str]] = {}  # guide-thread token -> (callback, what)
        window.guides.rendered.connect(self._on_rendered)
        window.guides.estimated.connect(self._on_estimated)
        window.guides.failed.connect(self._on_failed)

    # ------------------------------------------------------------------ shared
    def _ready(self) -> Optional[ModelInfo]:
        if self.w.model_info is None:
            self.w.show_message("The model is still loading; try again in a moment.", "", "warning")
            return None
        return self.w.model_info

    def _size(self, panel: str) -> Optional[tuple[int, int]]:
        info = self.w.model_info
        return None if info is None else info.panel_sizes.get(panel)

    def _panel(self, img: Optional[np.ndarray], panel: str) -> Optional[np.ndarray]:
        """``img`` for a panel the model has (any size: the pipeline fits it), else None."""
        return None if img is None or self._size(panel) is None else img

    def sampling(self):
        """The session's sampler settings as a TryOnRequest (what every stage shares); a new seed unless locked."""
        self.w.session.next_seed()
        return self.w.session.sampler_request()

    def _render(self, views: int, elevation: float, then: Callable, what: str, state=None) -> int:
        """Guides of ``state`` (default: the viewport's pose) from ``views`` orbit cameras, on the guide thread;
        ``then(images, cameras)`` gets them."""
        pose = self.w.pose
        spec = {**pose.params, "views": views, "elevation": elevation, "keep": True,
                "state": (state if state is not None else pose.state).copy(),
                "body_folder": pose.body[0], "body_gender": pose.body[1]}
        token = self.w.guides.request(spec)
        self._waiting[token] = (then, what)
        self.w.statusBar().showMessage(f"Rendering {views} pose guide(s) for the {what}…")
        return token

    def _estimate(self, photo: np.ndarray, then: Callable, what: str) -> int:
        info = self.w.model_info
        w, h = self._size("person") or (96, 128)
        spec = {"image": photo, "box": None, "backend": "auto", "hmr2_folder": self.w.settings.hmr2_folder,
                "width": w, "height": h, "style": info.render_style if info else "parts_shaded",
                "body_folder": self.w.settings.smplx_folder, "body_gender": self.w.settings.smplx_gender,
                "head_size": self._size("head")}
        token = self.w.guides.estimate(spec)
        self._waiting[token] = (then, what)
        self.w.statusBar().showMessage(f"Estimating the pose for the {what}…")
        return token

    def _on_rendered(self, token: int, images, cameras, body=None) -> None:
        self._answer(token, images, cameras)

    def _on_estimated(self, token: int, result: dict) -> None:
        self._answer(token, result)

    def _answer(self, token: int, *args) -> None:
        cb = self._waiting.pop(token, None)
        if cb is None:
            return
        self.w.statusBar().clearMessage()
        try:
            cb[0](*args)
        except Exception as e:  # noqa: BLE001 - a failed hand-over is a message, and the window stays usable
            import traceback

            log.error("preparing the %s failed", cb[1], exc_info=True)
            self.w.show_message(f"The {cb[1]} could not be started: {e}", traceback.format_exc(), "error")

    def _on_failed(self, token: int, message: str, details: str) -> None:
        cb = self._waiting.pop(token, None)
        if cb is not None:
            self.w.statusBar().clearMessage()
            self.w.show_message(f"The {cb[1]} could not be prepared: {message}", details, "error")

    def _submit_chain(self, chain, mode: str, app: dict, inputs: dict) -> Optional[Job]:
        from engine.request import RequestError

        info = self.w.model_info
        # stages whose inputs are all here are checked now; a linked stage is checked when it runs (its
        # inputs are an earlier stage's output), and run_chain's error names the stage
        for st in chain.stages:
            if st.links:
                continue
            try:
                st.request.validate(info.layout, list(info.schedulers))
            except RequestError as e:
                self.w.show_message(f"{st.name}: {e.message}", "", "error")
                return None
        return self.w.queue.submit(ChainPayload(chain), mode, app, inputs)

    # ------------------------------------------------------------------ turntable
    def turntable(self, options=None, dialog_cls=None) -> Optional[int]:
        """N views around the viewport's pose, of the garment input — or, with no garment, of the garment taken
        off the person photo, around the photo's own pose when it has been estimated (Edit → Estimate pose).
        Returns the guide token it waits for (None if it stopped)."""
        if self._ready() is None:
            return None
        garment, photo = self.w.session.garment, self.w.session.person
        if garment is None and photo is None:
            self.w.show_message("Turntable: open a garment (or a person photo to take the garment from) first.",
                                "", "warning")
            return None
        if options is None:
            from omfa_desktop.dialogs import TurntableDialog

            k = self.w.model_info.views_per_canvas if self.w.model_info else 1
            dlg = (dialog_cls or TurntableDialog)(self.w, views_per_canvas=k)
            if not dlg.exec():
                return None
            options = dlg.options()
        state = self.photo_state() if garment is None else None  # around the photo's body, when estimated
        return self._render(options.views, options.elevation,
                            lambda guides, cams: self._submit_turntable(options, guides, cams, state),
                            "turntable", state)

    def photo_state(self):
        """The BodyState estimated from the current person photo (Edit → Estimate pose), or None."""
        est = getattr(self.w, "estimated_pose", None)
        photo = self.w.session.person
        if not est or photo is None or est.get("photo_shape") != photo.shape:
            return None
        return est.get("state")

    def _submit_turntable(self, options, guides, cameras, state=None) -> Optional[Job]:
        from engine.chain import turntable

        garment = self.w.session.garment  # any size: the pipeline fits each image to its panel
        photo = None if garment is not None else self.w.session.person
        photo_guide = self.w.session.photo_guide if photo is not None else None
        head = self._panel(self.w.session.head, "head")
        label = self.w.session.sources.get("garment" if garment is not None else "person", "")
        chain = turntable(list(guides), head, garment=garment, photo=photo, photo_guide=photo_guide,
                          batch=options.batch, sampling=self.sampling(), label=label or "turntable",
                          cameras=list(cameras), body=(state if state is not None else self.w.pose.state).to_dict(),
                          views_per_canvas=0 if getattr(options, "share_canvas", True) else 1)
        opts = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else dict(vars(options))
        app = {"turntable": opts, "preset": self.w.pose.preset, "pose": self.w.pose.describe()}
        inputs = {k: s.image for k, s in self.w.slots.items() if s.image is not None}
        return self._submit_chain(chain, "turntable", app, inputs)

    # ------------------------------------------------------------------ person to person
    def person_to_person(self, photo_a=None, photo_b=None, head=None, pose_source: str = "own",
                         dialog_cls=None) -> Optional[int]:
        """The garment worn in photo A on the person in photo B: in B's own pose (estimated) or the viewport's.
        Without arguments a dialog asks (A prefilled with the person input). Returns the guide token."""
        if self._ready() is None:
            return None
        if photo_a is None or photo_b is None:
            from omfa_desktop.dialogs import PersonToPersonDialog

            dlg = (dialog_cls or PersonToPersonDialog)(self.w, photo_a=self.w.session.person)
            if not dlg.exec():
                return None
            photo_a, photo_b, head, pose_source = dlg.photo_a, dlg.photo_b, dlg.head, dlg.pose_source
        if pose_source == "own" or (head is None and self._size("head") is not None):
            def estimated(result: dict) -> None:
                h = self._panel(head, "head") if head is not None else result.get("head")
                if pose_source == "own":
                    body = result["state"].to_dict() if hasattr(result["state"], "to_dict") else None
                    self._submit_p2p(photo_a, [result["guide"]], h, None, body)
                else:
                    self._render(1, 0.0, lambda g, c: self._submit_p2p(photo_a, g, h, c,
                                                                       self.w.pose.state.to_dict()),
                                 "person-to-person pose")

            return self._estimate(photo_b, estimated, "person-to-person (photo B)")
        return self._render(1, 0.0, lambda g, c: self._submit_p2p(photo_a, g, self._panel(head, "head"), c,
                                                                  self.w.pose.state.to_dict()),
                            "person-to-person pose")

    def _submit_p2p(self, photo_a, guides, head, cameras, body) -> Optional[Job]:
        from engine.chain import person_to_person

        chain = person_to_person(photo_a, list(guides), head, sampling=self.sampling(),
                                 label="person to person", cameras_b=list(cameras) if cameras else None, body_b=body)
        return self._submit_chain(chain, "person-to-person", {}, {"person": photo_a})

    # ------------------------------------------------------------------ outfit layer
    def layer(self, entry, garment=None, strength: Optional[float] = None, dialog_cls=None) -> Optional[Job]:
        """Another garment over a try-on result from the gallery (same pose, head and seed)."""
        from engine.chain import Chain, Stage

        if self._ready() is None:
            return None
        try:
            base = entry.output_images()[0]
            ins = entry.input_images()
        except Exception as e:  # noqa: BLE001
            self.w.show_message(f"Could not read gallery entry {entry.id}: {e}", "", "error")
            return None
        if garment is None or strength is None:
            from omfa_desktop.dialogs import LayerDialog

            dlg = (dialog_cls or LayerDialog)(self.w, base, garment=self.w.session.garment)
            if not dlg.exec():
                return None
            garment, strength = dlg.garment, dlg.strength
        guide = ins.get("guide_00")
        if guide is None:
            self.w.show_message(f"Gallery entry {entry.id} has no pose guide to layer over.", "", "error")
            return None
        s = entry.settings
        sampling = self.sampling()   # the session's sampler; the layer keeps the base's seed
        req = dataclasses.replace(sampling, task="try-on", person=base, garment=garment,
                                  head=self._panel(ins.get("head"), "head"), pose_guides=[guide],
                                  strength=float(strength),
                                  body=s.get("body"), label=f"layer over {entry.id}",
                                  seed=int(s.get("seed", sampling.seed)))
        chain = Chain("outfit", [Stage(f"layer over gallery {entry.id}", req)], label=f"outfit over {entry.id}")
        return self._submit_chain(chain, "outfit", {"base_entry": entry.id}, {"person": base, "garment": garment})

    # ------------------------------------------------------------------ batch
    def batch(self, items=None, out=None, dialog_cls=None) -> Optional[Job]:
        """People x garments x poses on the loaded model, into a results folder (resumable)."""
        if self._ready() is None:
            return None
        if items is None:
            from omfa_desktop.dialogs import BatchDialog

            dlg = (dialog_cls or BatchDialog)(self.w)
            last = getattr(self, "last_batch", None)  # this session's last choice
            if last:
                try:
                    dlg.set_values(last)
                except Exception:  # noqa: BLE001 - a stale remembered folder is not an error
                    log.debug("could not restore the last batch choice", exc_info=True)
            if not dlg.exec():
                return None
            items, out = dlg.items, dlg.out
            if hasattr(dlg, "values"):
                self.last_batch = dlg.values()
        req = self.sampling()
        sampling = {k: getattr(req, k) for k in ("steps", "guidance", "guidance_until", "scheduler", "seed",
                                                 "precision", "memory")}
        return self.w.queue.submit(BatchPayload(list(items), Path(out), sampling), "batch", {"out": str(out)},
                                   request=req)

    # ------------------------------------------------------------------ results
    def on_done(self, job: Job) -> bool:
        """Store a finished (or partly finished) chain / batch job. Returns False for other jobs."""
        if job.kind == JobKind.BATCH:
            self._batch_done(job)
            return True
        if job.kind != JobKind.CHAIN:
            return False
        res = job.result
        if res is None or not res.results:
            return True
        finished = [i for i, r in enumerate(res.results) if r.ok]
        entries = []
        try:
            if job.chain.kind == "turntable":
                entries = self._store_turntable(job)
            else:
                for i in finished:
                    entries.append(self.w.gallery.add_result(res.requests[i], res.results[i], job.chain.kind,
                                                             {**job.app, "chain_stage": i}))
        except Exception as e:  # noqa: BLE001 - a full disk must not lose the session
            import traceback

            log.warning("job %s: gallery save failed: %s", job.id, e)
            self.w.show_message(f"Job #{job.id} finished but could not be saved to the gallery ({e}).",
                                traceback.format_exc(), "error")
            return True
        if entries and job.state == JobState.FINISHED:
            final = res.outputs()
            if final:
                self.w.preview.set_image(final[0])
            kind = {"turntable": "turntable", "person-to-person": "person to person", "outfit": "layer"}[job.chain.kind]
            self.w.preview_caption.setText(f"{kind.capitalize()} of job #{job.id}: "
                                           f"{len(entries)} gallery entr{'y' if len(entries) == 1 else 'ies'} "
                                           f"({', '.join(e.id for e in entries)}).")
        elif entries:
            self.w.show_message(f"Job #{job.id} was cancelled; the {len(entries)} finished stage(s) are in the "
                                "gallery.", "", "info")
        return True

    def _store_turntable(self, job: Job) -> list:
        from engine.request import Result

        res, chain = job.result, job.chain
        first = 1 if chain.stages[0].request.task == "try-off" else 0
        entries = []
        if first and res.results and res.results[0].ok:
            entries.append(self.w.gallery.add_result(res.requests[0], res.results[0], "try-off",
                                                     {**job.app, "chain_stage": 0}))
        views = res.results[first:]
        if not views or not all(r.ok for r in views):
            return entries
        reqs = res.requests[first:]
        req = dataclasses.replace(reqs[0], pose_guides=[g for r in reqs for g in r.pose_guides],
                                  num_views=sum(r.num_views for r in reqs),
                                  cameras=[c for r in reqs for c in (r.cameras or [])] or None,
                                  chain={**chain.stage_info(first), "name": f"{sum(r.num_views for r in reqs)} views "
                                                                            f"in {len(reqs)} batch(es)"})
        timings = {k: sum(r.timings.get(k, 0.0) for r in views) for k in ("encode", "sample", "decode", "total")}
        timings["per_step"] = timings["sample"] / max(1, sum(r.steps_done for r in views))
        settings = {**views[0].settings, "num_views": req.num_views, "chain": req.chain}
        combined = Result("finished", {"person": [img for r in views for img in r.outputs]}, ("person",), settings,
                          timings, views[0].steps_done)
        entry = self.w.gallery.add_result(req, combined, "turntable", job.app)
        entries.append(entry)
        opts = job.app.get("turntable") or {}
        if opts.get("folder"):
            try:
                written = self.w.gallery.export_animation(entry, opts["folder"], fps=opts.get("fps", 8.0),
                                                          gif=opts.get("gif", True), mp4=opts.get("mp4", True),
                                                          sheet=opts.get("sheet", True))
                self.w.show_message(f"Turntable exported: {', '.join(p.name for p in written)} in {opts['folder']}.",
                                    "", "info")
            except Exception as e:  # noqa: BLE001
                self.w.show_message(f"The turntable is in the gallery but could not be exported: {e}", "", "error")
        return entries

    def _batch_done(self, job: Job) -> None:
        report = job.result
        if report is None:
            return
        html = report.html
        actions = [("Open results", lambda p=html: QDesktopServices.openUrl(QUrl.fromLocalFile(str(p))))] \
            if html else []
        kind = "warning" if report.count("failed") or report.cancelled else "info"
        self.w.show_message(f"Batch job #{job.id}: {report.summary()}.", "\n".join(
            f"{o.item.key}: {o.error}" for o in report.outcomes if o.status == "failed"), kind, actions=actions)
