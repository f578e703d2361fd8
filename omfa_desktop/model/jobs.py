"""Jobs as plain data (no Qt): what is queued, in which state, and what came of it.

A job is one of three kinds, each with its own typed payload (krita-ai-diffusion's JobQueue keeps the same
explicit states): a single generation, a chain of stages run as one job, or a batch on the loaded model.
omfa_desktop.worker.JobQueue runs them on the engine thread.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


class JobKind(str, Enum):
    GENERATE = "generate"   # one TryOnRequest -> engine.request.Result
    CHAIN = "chain"         # engine.chain.Chain -> engine.chain.ChainResult
    BATCH = "batch"         # engine.batch items -> engine.batch.BatchReport


@dataclass(frozen=True)
class GeneratePayload:
    request: Any                          # engine.request.TryOnRequest, images at the model's panel sizes


@dataclass(frozen=True)
class ChainPayload:
    chain: Any                            # engine.chain.Chain (turntable, person-to-person, outfit layer)


@dataclass(frozen=True)
class BatchPayload:
    items: list                           # engine.batch.BatchItem
    out: Path                             # the results folder (resumable)
    sampling: Optional[dict] = None       # sampler fields every item uses


Payload = GeneratePayload | ChainPayload | BatchPayload
KIND_OF = {GeneratePayload: JobKind.GENERATE, ChainPayload: JobKind.CHAIN, BatchPayload: JobKind.BATCH}

MODE_LABELS = {"try-off": "try-off", "try-on": "try-on", "new-pose": "try-on in a new pose",
               "multi-view": "multi-view", "person-to-person": "person to person", "turntable": "turntable",
               "outfit": "outfit layer", "batch": "batch"}


@dataclass(eq=False)
class Job:
    """One job: its payload, where it is in its life, and what came of it.

    Attributes
    ----------
    id : int
    payload : GeneratePayload | ChainPayload | BatchPayload   what to run; ``kind`` follows from it
    request : engine.request.TryOnRequest   the generation's request, a chain's first stage's, or a batch's
        sampler settings (what the queue shows)
    mode : str            the window's task ("try-off", "try-on", "new-pose", "multi-view", "turntable", ...)
    app : dict            extra UI settings to give back on restore (pose preset name, elevation, ...)
    inputs : dict         name -> (H, W, 3) uint8: the inputs as the user gave them (gallery thumbnails)
    result : engine.request.Result, engine.chain.ChainResult or engine.batch.BatchReport, by kind
    """

    id: int
    payload: Payload
    request: Any = None
    mode: str = ""
    app: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    state: JobState = JobState.QUEUED
    cancel_event: threading.Event = field(default_factory=threading.Event)
    step: int = 0
    total: int = 0
    eta: float = 0.0
    result: Any = None
    message: str = ""
    details: str = ""
    error_field: str = ""
    retry: str = ""          # a remedy the UI can offer after a failure ("low-memory")
    threads: int = 0         # CPU threads for torch (0: engine.threads chooses when the job starts)
    created: float = field(default_factory=time.time)
    started: float = 0.0
    ended: float = 0.0

    def __post_init__(self) -> None:
        if type(self.payload) not in KIND_OF:
            raise TypeError(f"a job's payload is one of {', '.join(k.__name__ for k in KIND_OF)}")
        if self.request is None and isinstance(self.payload, GeneratePayload):
            self.request = self.payload.request
        if self.request is None and isinstance(self.payload, ChainPayload):
            self.request = self.payload.chain.stages[0].request

    @property
    def kind(self) -> JobKind:
        return KIND_OF[type(self.payload)]

    @property
    def chain(self):
        """The chain of a CHAIN job (None for the other kinds)."""
        return self.payload.chain if isinstance(self.payload, ChainPayload) else None

    @property
    def batch(self) -> Optional[BatchPayload]:
        """The payload of a BATCH job (None for the other kinds)."""
        return self.payload if isinstance(self.payload, BatchPayload) else None

    @property
    def done(self) -> bool:
        return self.state in (JobState.FINISHED, JobState.CANCELLED, JobState.FAILED)

    def title(self) -> str:
        r = self.request
        if self.kind == JobKind.BATCH:
            return f"#{self.id} batch · {plural(len(self.payload.items), 'item')} · {plural(r.steps, 'step')}"
        if self.kind == JobKind.CHAIN:
            chain = self.payload.chain
            views = sum(s.request.num_views for s in chain.stages if s.request.task == "multi-view")
            extra = f" · {views} views" if chain.kind == "turntable" else f" · {len(chain.stages)} stages"
            return f"#{self.id} {MODE_LABELS.get(chain.kind, chain.kind)}{extra} · {plural(r.steps, 'step')}"
        views = f" · {r.num_views} views" if r.num_views > 1 else ""
        return f"#{self.id} {MODE_LABELS.get(self.mode, r.task)} · {plural(r.steps, 'step')} · seed {r.seed}{views}"

    def outside_world(self) -> str:
        """The demo model's warning when an input of this finished job did not look like its synthetic world
        (engine.domain), for a single result, every stage of a chain or every item of a batch; "" if none."""
        from engine.domain import describe

        r = self.result
        if r is None or self.state != JobState.FINISHED:
            return ""
        if self.kind == JobKind.BATCH:
            return next((o.outside_world for o in getattr(r, "outcomes", []) if o.outside_world), "")
        results = r.results if self.kind == JobKind.CHAIN else [r]
        return next((line for x in results if (line := describe(x.settings.get("outside_world")))), "")

    def status_text(self) -> str:
        if self.state == JobState.RUNNING:
            if self.cancel_event.is_set():
                return "cancelling…"
            if self.total:
                return f"running {self.step}/{self.total} · {format_seconds(self.eta)} left"
            return "running: preparing"
        if self.state == JobState.FINISHED:
            if self.kind == JobKind.BATCH and self.result is not None:
                return self.result.summary()
            total = (getattr(self.result, "timings", None) or {}).get("total") if self.result is not None else None
            if total is None and self.kind == JobKind.CHAIN and self.result is not None:
                total = sum(r.timings.get("total", 0.0) for r in self.result.results)
            return f"finished in {format_seconds(total)}" if total is not None else "finished"
        if self.state == JobState.CANCELLED:
            return f"cancelled after {self.step} step(s)" if self.step else "cancelled"
        if self.state == JobState.FAILED:
            return f"failed: {self.message}"
        return "queued"


def plural(n: int, one: str, many: str | None = None) -> str:
    """"1 step", "2 steps" (a one-step turbo job must not read "1 steps")."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def format_seconds(s: float | None) -> str:
    if s is None:
        return "?"
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    m, sec = divmod(int(round(s)), 60)
    return f"{m} min {sec:02d} s"
