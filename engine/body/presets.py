"""Pose presets: JSON files in resources/poses/, each a (sparse) :class:`BodyState`."""

from __future__ import annotations

from pathlib import Path

from engine.body.state import BodyState, BodyStateError

POSES_DIR = Path(__file__).resolve().parents[2] / "resources" / "poses"


class PresetError(BodyStateError):
    """A preset is unknown or its file is malformed."""


def list_presets(folder: Path | None = None) -> list[str]:
    """Names of the available presets (file stems), sorted."""
    folder = folder or POSES_DIR
    return sorted(p.stem for p in folder.glob("*.json"))


def load_preset(name: str, folder: Path | None = None) -> BodyState:
    """The preset's body state (zero betas and translation unless the file says otherwise)."""
    folder = folder or POSES_DIR
    path = folder / f"{name}.json"
    if not path.is_file():
        raise PresetError(f"unknown pose preset {name!r}; available: {', '.join(list_presets(folder))}")
    try:
        return BodyState.from_json(path)
    except BodyStateError as e:
        raise PresetError(f"pose preset {path}: {e}") from None
