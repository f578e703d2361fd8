"""BodyState: everything that poses and shapes an SMPL-X body, in axis-angle, as plain numpy arrays."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.body.skeleton import BODY_JOINT_NAMES, HAND_JOINT_NAMES, JOINT_NAMES, mirror_joint_index
from engine.errors import OmfaError

__all__ = ["BodyState", "BodyStateError", "JOINT_NAMES", "BODY_JOINT_NAMES", "HAND_JOINT_NAMES"]


class BodyStateError(OmfaError, ValueError):
    """A body state (or its JSON) is malformed; the message names the field."""


_SHAPES: dict[str, tuple[int, ...]] = {
    "betas": (10,),
    "global_orient": (3,),
    "body_pose": (21, 3),
    "left_hand_pose": (15, 3),
    "right_hand_pose": (15, 3),
    "jaw_pose": (3,),
    "transl": (3,),
}
_JOINTS_OF = {"body_pose": BODY_JOINT_NAMES, "left_hand_pose": HAND_JOINT_NAMES,
              "right_hand_pose": HAND_JOINT_NAMES}


def _zeros(name: str):
    return field(default_factory=lambda: np.zeros(_SHAPES[name], np.float32))


@dataclass
class BodyState:
    """Shape and pose of one SMPL-X body (batch size 1), axis-angle rotations in radians.

    Attributes
    ----------
    betas : np.ndarray, shape (10,)
    global_orient : np.ndarray, shape (3,)   root rotation about the pelvis
    body_pose : np.ndarray, shape (21, 3)    joints 1..21 of ``JOINT_NAMES``
    left_hand_pose, right_hand_pose : np.ndarray, shape (15, 3)   full finger rotations (not PCA)
    jaw_pose : np.ndarray, shape (3,)
    transl : np.ndarray, shape (3,)          metres
    """

    betas: np.ndarray = _zeros("betas")
    global_orient: np.ndarray = _zeros("global_orient")
    body_pose: np.ndarray = _zeros("body_pose")
    left_hand_pose: np.ndarray = _zeros("left_hand_pose")
    right_hand_pose: np.ndarray = _zeros("right_hand_pose")
    jaw_pose: np.ndarray = _zeros("jaw_pose")
    transl: np.ndarray = _zeros("transl")

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _check(f.name, getattr(self, f.name)))

    # ------------------------------------------------------------------ access by joint name
    def joint_rotation(self, name: str) -> np.ndarray:
        """Axis-angle (3,) of a joint by SMPL-X name (``"pelvis"`` is the global orient)."""
        arr, i = self._slot(name)
        return arr[i].copy() if i is not None else arr.copy()

    def set_joint_rotation(self, name: str, axis_angle) -> None:
        """Set a joint's axis-angle rotation by SMPL-X name (eyes are not posable here)."""
        arr, i = self._slot(name)
        value = _check(name, np.asarray(axis_angle, np.float32).reshape(3), (3,))
        if i is None:
            arr[:] = value
        else:
            arr[i] = value

    def _slot(self, name: str) -> tuple[np.ndarray, int | None]:
        if name == "pelvis":
            return self.global_orient, None
        if name == "jaw":
            return self.jaw_pose, None
        if name in BODY_JOINT_NAMES:
            return self.body_pose, BODY_JOINT_NAMES.index(name)
        for side in ("left", "right"):
            if name.startswith(side + "_") and name[len(side) + 1:] in HAND_JOINT_NAMES:
                return getattr(self, f"{side}_hand_pose"), HAND_JOINT_NAMES.index(name[len(side) + 1:])
        raise BodyStateError(f"unknown joint {name!r}; expected one of the SMPL-X names in JOINT_NAMES")

    # ------------------------------------------------------------------ mirror
    def mirrored(self) -> "BodyState":
        """The left-right mirror image of this state (reflection across the x=0 plane).

        Left and right joints swap, and each axis-angle r = (x, y, z) becomes (x, -y, -z): a rotation
        conjugated by the reflection diag(-1, 1, 1) keeps its x component and flips y and z. The
        translation's x is negated. Shape (betas) is symmetric and stays.
        """
        perm = mirror_joint_index()
        flip = np.array([1.0, -1.0, -1.0], np.float32)
        full = self.full_pose()  # (55, 3)
        mirrored = full[perm] * flip
        out = BodyState.from_full_pose(mirrored, betas=self.betas.copy(),
                                       transl=self.transl * np.array([-1.0, 1.0, 1.0], np.float32))
        return out

    def full_pose(self) -> np.ndarray:
        """All 55 joint rotations, SMPL-X order (eyes zero). Returns np.ndarray, shape (55, 3)."""
        return np.concatenate([self.global_orient[None], self.body_pose, self.jaw_pose[None],
                               np.zeros((2, 3), np.float32), self.left_hand_pose,
                               self.right_hand_pose]).astype(np.float32)

    @classmethod
    def from_full_pose(cls, full: np.ndarray, betas=None, transl=None) -> "BodyState":
        """Inverse of :meth:`full_pose`; ``full`` has shape (55, 3)."""
        full = _check("full_pose", np.asarray(full, np.float32), (55, 3))
        kw: dict[str, Any] = {}
        if betas is not None:
            kw["betas"] = betas
        if transl is not None:
            kw["transl"] = transl
        return cls(global_orient=full[0], body_pose=full[1:22], jaw_pose=full[22],
                   left_hand_pose=full[25:40], right_hand_pose=full[40:55], **kw)

    def copy(self) -> "BodyState":
        return BodyState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, list]:
        """Plain lists, JSON-ready (full arrays, SMPL-X order)."""
        return {f.name: getattr(self, f.name).tolist() for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "BodyState":
        """Build from a dict as written by :meth:`to_dict`.

        Missing fields are zero. ``body_pose`` and the hand poses may also be given sparsely as
        ``{joint_name: [x, y, z]}`` (how presets are written). Unknown keys other than ``name`` and
        ``description`` are an error, so typos do not pass silently.
        """
        if not isinstance(data, dict):
            raise BodyStateError(f"body state must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - set(_SHAPES) - {"name", "description", "version"}
        if unknown:
            raise BodyStateError(f"unknown field(s) {sorted(unknown)}; expected {list(_SHAPES)}")
        kw = {}
        for name in _SHAPES:
            if name not in data:
                continue
            value = data[name]
            if isinstance(value, dict) and name in _JOINTS_OF:
                arr = np.zeros(_SHAPES[name], np.float32)
                for joint, aa in value.items():
                    if joint not in _JOINTS_OF[name]:
                        raise BodyStateError(f"{name}: unknown joint {joint!r}")
                    arr[_JOINTS_OF[name].index(joint)] = _check(f"{name}.{joint}", aa, (3,))
                value = arr
            kw[name] = _check(name, value)
        return cls(**kw)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "BodyState":
        """Parse JSON text, or read it from a file path. A file that is binary, nested too deeply, larger than
        a body state can be, or not a regular file (a FIFO would block the read forever) is refused with one
        line naming it (BodyStateError with ``path``)."""
        from engine.persist import JsonError, load_json, parse_json

        text = str(text_or_path)
        if isinstance(text_or_path, Path) or (not text.lstrip().startswith("{") and Path(text).exists()):
            path = Path(text_or_path)
            try:
                data = load_json(path, max_bytes=4 << 20)  # a full state is ~10 KB
            except JsonError as e:
                raise BodyStateError(f"body state file {e}", path=path, field=e.field) from None
            except OSError as e:
                raise BodyStateError(f"cannot read body state file {path}: {e.strerror or e}", path=path) from None
            try:
                return cls.from_dict(data)
            except BodyStateError as e:
                raise BodyStateError(f"body state file {path}: {e}", path=path) from None
        try:
            data = parse_json(text)
        except JsonError as e:
            raise BodyStateError(f"the body state {e.reason}", field=e.field) from None
        return cls.from_dict(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BodyState):
            return NotImplemented
        return all(np.array_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    def allclose(self, other: "BodyState", atol: float = 1e-6) -> bool:
        return all(np.allclose(getattr(self, f.name), getattr(other, f.name), atol=atol) for f in fields(self))


def _check(name: str, value, shape: tuple[int, ...] | None = None) -> np.ndarray:
    shape = shape or _SHAPES[name]
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise BodyStateError(f"{name}: expected numbers of shape {shape}, got {value!r:.60}") from None
    if arr.size != int(np.prod(shape)):
        raise BodyStateError(f"{name}: expected shape {shape}, got {arr.shape}")
    arr = arr.reshape(shape).copy()
    if not np.all(np.isfinite(arr)):
        raise BodyStateError(f"{name}: contains NaN or infinity")
    return arr
