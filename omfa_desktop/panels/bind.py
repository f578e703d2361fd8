"""Two-way binding of a widget to a field of an Observable (the idea of krita-ai-diffusion's ``bind()``).

The widget writes the field when the user edits it; a change of the field from anywhere else (a restored
result, a preset, the model loading) updates the widget, with its signals blocked so the edit does not echo.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtWidgets import (QAbstractButton, QComboBox, QDoubleSpinBox, QSpinBox, QWidget)

from omfa_desktop.model.observable import Observable


def bind(model: Observable, name: str, widget: QWidget, to_widget: Callable[[Any], Any] = lambda v: v,
         from_widget: Callable[[Any], Any] = lambda v: v) -> None:
    """Keep ``widget`` and ``model.<name>`` equal: a spin box's value, a combo box's item data, a check box's
    state. ``to_widget``/``from_widget`` convert between the two (a fraction shown in percent)."""
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        signal, read, write = widget.valueChanged, widget.value, widget.setValue
    elif isinstance(widget, QComboBox):
        signal, read = widget.currentIndexChanged, widget.currentData

        def write(v: Any) -> None:
            i = widget.findData(v)
            if i >= 0:
                widget.setCurrentIndex(i)
    elif isinstance(widget, QAbstractButton):
        signal, read, write = widget.toggled, widget.isChecked, widget.setChecked
    else:
        raise TypeError(f"bind() does not know {type(widget).__name__}")

    def show(field: str, value: Any) -> None:
        if field == name:
            widget.blockSignals(True)
            try:
                write(to_widget(value))
            finally:
                widget.blockSignals(False)

    signal.connect(lambda *_: setattr(model, name, from_widget(read())))
    model.on_change(show)
    show(name, getattr(model, name))
