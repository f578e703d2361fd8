"""Chained jobs: several generations where a later one takes an earlier one's output as an input.

A :class:`Chain` is a list of :class:`Stage` s, each a complete :class:`~engine.request.TryOnRequest` plus
:class:`Link` s saying which of its inputs come from which earlier stage's output. :func:`run_chain` runs the
stages in order, fills the links, and stamps every stage's request with the chain's provenance
(``request.chain``), so each stage's PNG says where its inputs came from and :meth:`Chain.settings` replays
the whole chain.

Builders for what a stylist asks for:

- :func:`person_to_person`: take the garment off person A's photo, put it on person B (B's head, B's pose
  or any other) — two stages;
- :func:`outfit`: try on one garment, then another over it (the second stage starts from the first result
  with ``strength`` < 1, so what the new layer does not cover stays) — one stage per garment;
- :func:`turntable`: N views around the body in batches of views sharing the clean panels (one UNet call
  per step per batch), optionally after a try-off on a photo.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import Callable, Optional, Sequence

import numpy as np

from engine.layout import Task
from engine.request import RequestError, Result, TryOnRequest

CHAIN_KINDS = ("person-to-person", "outfit", "turntable")


@dataclass
class Link:
    """Input ``field`` of a stage is view ``view`` of panel ``panel`` of stage ``stage``'s output."""

    field: str
    stage: int
    panel: str
    view: int = 0

    def to_dict(self) -> dict:
        return {"field": self.field, "stage": self.stage, "panel": self.panel, "view": self.view}


@dataclass
class Stage:
    name: str
    request: TryOnRequest
    links: list[Link] = field(default_factory=list)


@dataclass
class Chain:
    kind: str
    stages: list[Stage]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    label: str = ""

    def __post_init__(self) -> None:
        if not self.stages:
            raise RequestError("chain", "a chain needs at least one stage")
        for i, st in enumerate(self.stages):
            for ln in st.links:
                if not 0 <= ln.stage < i:
                    raise RequestError("chain", f"stage {i} ({st.name}) takes {ln.field} from stage {ln.stage}, "
                                                "which does not run before it")
                if ln.field not in ("person", "garment", "head"):
                    raise RequestError("chain", f"stage {i}: cannot link into {ln.field!r}")

    def stage_info(self, i: int) -> dict:
        """The provenance stamped on stage ``i``'s request (``request.chain``)."""
        return {"id": self.id, "kind": self.kind, "label": self.label, "stage": i, "of": len(self.stages),
                "name": self.stages[i].name, "links": [ln.to_dict() for ln in self.stages[i].links]}

    def settings(self) -> dict:
        """JSON (no pixels): enough, with the source images, to replay the chain."""
        return {"id": self.id, "kind": self.kind, "label": self.label,
                "stages": [{"name": s.name, "request": s.request.settings(),
                            "links": [ln.to_dict() for ln in s.links]} for s in self.stages]}


@dataclass
class ChainResult:
    status: str                     # "finished" | "cancelled"
    chain: Chain
    results: list[Result]           # one per stage run (fewer when cancelled)
    requests: list[TryOnRequest] = field(default_factory=list)  # as run: links filled, provenance stamped

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    @property
    def final(self) -> Optional[Result]:
        return self.results[-1] if self.results else None

    def stage_steps(self) -> list[int]:
        """Denoising steps each stage will run (a strength below 1 runs only the tail of the schedule)."""
        return [max(1, round(s.request.steps * min(1.0, s.request.strength))) if s.request.strength < 1
                else s.request.steps for s in self.chain.stages]

    def outputs(self) -> list[np.ndarray]:
        """The chain's product: the last stage's outputs, or every stage's views for a turntable."""
        if self.chain.kind == "turntable":
            first = 1 if self.chain.stages[0].request.task == Task.TRY_OFF else 0
            return [img for r in self.results[first:] for img in r.outputs]
        return self.final.outputs if self.final else []


# stage index, number of stages, the stage's own progress (engine.pipeline.Progress)
ChainProgress = Callable[[int, int, object], None]


def run_chain(pipe, chain: Chain, progress: Optional[ChainProgress] = None,
              cancel: Optional[threading.Event] = None) -> ChainResult:
    """Run ``chain`` on ``pipe`` (an engine.pipeline.Pipeline). Each stage's request is validated when its
    turn comes (after its links are filled); errors name the stage."""
    results: list[Result] = []
    requests: list[TryOnRequest] = []
    n = len(chain.stages)
    for i, st in enumerate(chain.stages):
        images = {}
        for ln in st.links:
            src = results[ln.stage]
            views = src.images.get(ln.panel) or []
            if ln.view >= len(views):
                raise RequestError("chain", f"stage {i} ({st.name}) needs view {ln.view} of the {ln.panel} "
                                            f"of stage {ln.stage}, which made {len(views)}")
            images[ln.field] = views[ln.view]
        request = replace(st.request, chain=chain.stage_info(i), **images)
        requests.append(request)
        try:
            result = pipe.run(request, None if progress is None else (lambda p, i=i: progress(i, n, p)), cancel)
        except RequestError as e:
            raise RequestError(e.field, f"stage {i + 1} of {n} ({st.name}): {e.message}") from None
        _pass_on_outside_world(result, st.links, results)
        results.append(result)
        if not result.ok:
            return ChainResult("cancelled", chain, results, requests)
    return ChainResult("finished", chain, results, requests)


# ============================================================================================ builders
def _sampling(base: Optional[TryOnRequest]) -> dict:
    """The sampler settings every stage shares (steps, guidance, scheduler, seed, precision, memory...)."""
    base = base or TryOnRequest()
    keep = ("steps", "guidance", "guidance_until", "scheduler", "seed", "precision", "device", "memory")
    return {k: getattr(base, k) for k in keep}


def person_to_person(photo_a: np.ndarray, pose_guides_b: Sequence[np.ndarray], head_b: Optional[np.ndarray],
                     guide_a: Optional[np.ndarray] = None, sampling: Optional[TryOnRequest] = None,
                     label: str = "", cameras_b: Optional[list] = None, body_b: Optional[dict] = None) -> Chain:
    """Garment from person A's photo onto person B: try-off on A, then try-on with B's head in B's pose (or
    any pose: ``pose_guides_b`` are the target guides; several make a multi-view try-on)."""
    s = _sampling(sampling)
    views = len(pose_guides_b)
    off = TryOnRequest(task="try-off", person=photo_a, pose_guides=[guide_a] if guide_a is not None else [],
                       label=f"{label} · garment from A".strip(" ·"), **s)
    on = TryOnRequest(task="try-on" if views == 1 else "multi-view", head=head_b,
                      pose_guides=list(pose_guides_b), num_views=views, cameras=cameras_b, body=body_b,
                      label=f"{label} · on B".strip(" ·"), **s)
    return Chain("person-to-person", [Stage("take the garment off person A", off),
                                      Stage("put it on person B", on, [Link("garment", 0, "garment")])],
                 label=label)


def outfit(garments: Sequence[np.ndarray], pose_guide: np.ndarray, head: Optional[np.ndarray] = None,
           strength: float = 0.75, sampling: Optional[TryOnRequest] = None, label: str = "",
           names: Optional[Sequence[str]] = None) -> Chain:
    """Layers: try on ``garments[0]``, then each next garment starting from the previous result at
    ``strength`` (lower keeps more of the layer below; 1.0 would forget it). Same pose, head and seed
    throughout, so the chain is reproducible from its settings and the garment images."""
    if len(garments) < 1:
        raise RequestError("garments", "an outfit needs at least one garment")
    s = _sampling(sampling)
    names = list(names or [f"garment {i + 1}" for i in range(len(garments))])
    stages = [Stage(f"try on {names[0]}", TryOnRequest(task="try-on", garment=garments[0], head=head,
                                                       pose_guides=[pose_guide], label=label, **s))]
    for i, g in enumerate(garments[1:], start=1):
        req = TryOnRequest(task="try-on", garment=g, head=head, pose_guides=[pose_guide], strength=strength,
                           label=label, **s)
        stages.append(Stage(f"layer {names[i]} over it", req, [Link("person", i - 1, "person")]))
    return Chain("outfit", stages, label=label)


def turntable(pose_guides: Sequence[np.ndarray], head: Optional[np.ndarray], garment: Optional[np.ndarray] = None,
              photo: Optional[np.ndarray] = None, photo_guide: Optional[np.ndarray] = None, batch: int = 8,
              sampling: Optional[TryOnRequest] = None, label: str = "", cameras: Optional[list] = None,
              body: Optional[dict] = None, views_per_canvas: int = 0) -> Chain:
    """N views around the body (``pose_guides``, one per view, e.g. engine.body.guide.pose_guides with
    ``views=N``), generated ``batch`` views at a time: each batch is one multi-view request whose clean
    panels are encoded once and shared by its views. The garment is given, or taken off ``photo`` first.
    ``views_per_canvas``: 0 = as many views side by side on one canvas as the model was trained for (they
    share its garment and head columns); 1 = one canvas per view."""
    if (garment is None) == (photo is None):
        raise RequestError("garment", "a turntable needs either a garment image or a photo to take it from")
    if not len(pose_guides):
        raise RequestError("pose_guides", "a turntable needs at least one view")
    if not 1 <= batch <= 64:
        raise RequestError("batch", f"views per batch must be between 1 and 64, not {batch}")
    s = _sampling(sampling)
    stages: list[Stage] = []
    if photo is not None:
        stages.append(Stage("take the garment off the photo",
                            TryOnRequest(task="try-off", person=photo, label=label,
                                         pose_guides=[photo_guide] if photo_guide is not None else [], **s)))
    links = [Link("garment", 0, "garment")] if photo is not None else []
    n = len(pose_guides)
    for start in range(0, n, batch):
        chunk = list(pose_guides[start:start + batch])
        req = TryOnRequest(task="multi-view", garment=garment, head=head, pose_guides=chunk, num_views=len(chunk),
                           cameras=cameras[start:start + batch] if cameras else None, body=body,
                           views_per_canvas=views_per_canvas,
                           label=f"{label} · views {start + 1}-{start + len(chunk)} of {n}".strip(" ·"), **s)
        stages.append(Stage(f"views {start + 1}-{start + len(chunk)} of {n}", req, list(links)))
    return Chain("turntable", stages, label=label)


def _pass_on_outside_world(result: Result, links: Sequence[Link], earlier: Sequence[Result]) -> None:
    """An input made by an earlier stage from an input outside the model's world (engine.domain) is outside
    it too: say so on this stage's result (its own inputs were checked by the pipeline)."""
    for ln in links:
        source = earlier[ln.stage].settings.get("outside_world")
        if source and "outside_world" in result.settings:
            result.settings["outside_world"][ln.field] = {
                "inside": False, "from_stage": ln.stage,
                "reasons": [f"made by stage {ln.stage + 1} from {', '.join(sorted(source))} input(s) outside it"]}
