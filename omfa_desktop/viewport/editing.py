"""Pose edits with undo/redo (no Qt): every edit stores the whole previous state, so undo is bit-exact."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PoseSnapshot:
    """One point of the pose history: the body state and where it came from."""

    state: object          # engine.body.state.BodyState
    preset: str = ""
    mirrored: bool = False
    edited: bool = False   # joints were changed by hand after the preset
    label: str = ""        # what made it ("preset walking", "rotate left_elbow", ...)

    def copy(self) -> "PoseSnapshot":
        return PoseSnapshot(self.state.copy(), self.preset, self.mirrored, self.edited, self.label)


class PoseHistory:
    """Linear undo/redo over :class:`PoseSnapshot`; a drag is one entry (``begin`` ... ``commit``)."""

    def __init__(self, snapshot: PoseSnapshot, limit: int = 500) -> None:
        self.current = snapshot.copy()
        self.undo_stack: list[PoseSnapshot] = []
        self.redo_stack: list[PoseSnapshot] = []
        self.limit = limit
        self._drag_start: PoseSnapshot | None = None

    def push(self, snapshot: PoseSnapshot) -> None:
        """Make ``snapshot`` current, remembering the previous one (no entry if nothing changed)."""
        if self._drag_start is not None:  # inside a drag: only move the current state
            self.current = snapshot.copy()
            return
        if snapshot.state == self.current.state and snapshot.preset == self.current.preset \
                and snapshot.mirrored == self.current.mirrored:
            return
        self.undo_stack.append(self.current)
        del self.undo_stack[:-self.limit]
        self.current = snapshot.copy()
        self.redo_stack.clear()

    def begin(self) -> None:
        """Start a continuous edit (a joint drag): intermediate states make no entries."""
        if self._drag_start is None:
            self._drag_start = self.current.copy()

    def commit(self) -> None:
        """End the continuous edit: one entry from its start to the current state (if it changed)."""
        start, self._drag_start = self._drag_start, None
        if start is not None and start.state != self.current.state:
            self.undo_stack.append(start)
            del self.undo_stack[:-self.limit]
            self.redo_stack.clear()

    @property
    def dragging(self) -> bool:
        return self._drag_start is not None

    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    def undo(self) -> PoseSnapshot | None:
        if self._drag_start is not None:
            self.commit()
        if not self.undo_stack:
            return None
        self.redo_stack.append(self.current)
        self.current = self.undo_stack.pop()
        return self.current.copy()

    def redo(self) -> PoseSnapshot | None:
        if not self.redo_stack:
            return None
        self.undo_stack.append(self.current)
        self.current = self.redo_stack.pop()
        return self.current.copy()
