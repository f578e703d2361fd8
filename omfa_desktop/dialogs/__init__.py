"""Dialogs that collect the inputs of the chained jobs, one module each: a batch, a turntable, person to
person, a layer.

They run nothing: each checks what it collects (the batch is planned by :mod:`engine.batch`, images are
read by :func:`engine.images.read_image`), enables OK only when the job can start, and leaves the results in
attributes for the caller, which submits the work. Every input has a setter so tests (and the window,
restoring last-used values) need no file dialog. Shared pieces: :mod:`.common`.
"""
from omfa_desktop.dialogs.batch import BatchDialog
from omfa_desktop.dialogs.layer import LayerDialog
from omfa_desktop.dialogs.person_to_person import PersonToPersonDialog
from omfa_desktop.dialogs.turntable import TurntableDialog, TurntableOptions, mp4_available

__all__ = ["BatchDialog", "LayerDialog", "PersonToPersonDialog", "TurntableDialog", "TurntableOptions", "mp4_available"]
