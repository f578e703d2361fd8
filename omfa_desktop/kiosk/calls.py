"""The kiosk's links to its threads: guide-thread answers delivered to callbacks, and a watch on the engine
thread (a kiosk restarts its engine instead of waiting for staff)."""
from __future__ import annotations

import weakref
from typing import Callable

from PySide6.QtCore import QObject, Slot

from omfa_desktop.worker import GuideService, JobQueue


class GuideCalls(QObject):
    """Answers from the guide thread delivered to callbacks, by token (GuideService answers every request on
    one signal). Also the default *estimator*: ``estimate(spec, done(result), fail(message, details))``."""

    def __init__(self, service: GuideService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.waiting: dict[int, tuple[Callable, Callable]] = {}
        service.rendered.connect(self._rendered)
        service.estimated.connect(self._estimated)
        service.failed.connect(self._failed)

    def render(self, spec: dict, done: Callable, fail: Callable) -> int:
        token = self.service.request({**spec, "keep": True})
        self.waiting[token] = (done, fail)
        return token

    def estimate(self, spec: dict, done: Callable, fail: Callable) -> int:
        token = self.service.estimate(spec)
        self.waiting[token] = (done, fail)
        return token

    def _rendered(self, token: int, images, cameras, body=None) -> None:
        cb = self.waiting.pop(token, None)
        if cb is not None:
            cb[0](images, cameras)

    def _estimated(self, token: int, result: dict) -> None:
        cb = self.waiting.pop(token, None)
        if cb is not None:
            cb[0](result)

    def _failed(self, token: int, message: str, details: str) -> None:
        cb = self.waiting.pop(token, None)
        if cb is not None:
            cb[1](message, details)


class EngineWatch(QObject):
    """Tells the kiosk when a queue's engine thread ends. It lives on the GUI thread (the queue is its
    parent), so the thread's ``finished`` reaches it as a queued call, never on the dying thread."""

    def __init__(self, queue: JobQueue, on_stop: Callable) -> None:
        super().__init__(queue)
        self.ref = weakref.ref(queue)
        self.on_stop = on_stop
        queue.thread.finished.connect(self.stopped)

    @Slot()
    def stopped(self) -> None:
        self.on_stop(self.ref())
