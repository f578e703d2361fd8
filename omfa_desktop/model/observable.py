"""A tiny observer: assigning a public attribute that changes its value tells every listener.

The pattern of napari's EventedModel and krita-ai-diffusion's ``bind()``, small enough to read at a glance:
a view subscribes once with :meth:`Observable.on_change` and gets ``(field, value)`` for every change, from
the widgets or from code (restoring a result's settings, a preset, the model loading).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

Listener = Callable[[str, Any], None]


def same(a: Any, b: Any) -> bool:
    """Equal for notification purposes: arrays by identity (comparing pixels would cost more than it saves)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - objects whose == is not a bool are "changed"
        return False


class Observable:
    """Base class: ``obj.field = value`` notifies listeners ``(field, value)`` when the value changed.

    Names starting with ``_`` are private and never notify. A listener may assign other fields (a derived
    field following its sources); a listener that raises does not stop the others (it is re-raised after).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        old = self.__dict__.get(name, _MISSING)
        object.__setattr__(self, name, value)
        if old is _MISSING or not same(old, value):
            self.notify(name, value)

    def on_change(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(field, value)`` after every change; returns a function that unsubscribes."""
        listeners = self.__dict__.setdefault("_listeners", [])
        listeners.append(callback)

        def unsubscribe() -> None:
            if callback in listeners:
                listeners.remove(callback)
        return unsubscribe

    def notify(self, name: str, value: Any = None) -> None:
        """Tell the listeners that ``name`` changed (also for changes made in place, e.g. a dict's item)."""
        error = None
        for cb in list(self.__dict__.get("_listeners", ())):
            try:
                cb(name, value)
            except Exception as e:  # noqa: BLE001 - one broken view must not silence the others
                error = error or e
        if error is not None:
            raise error


_MISSING = object()
