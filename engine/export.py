"""PNG files that carry the request that made them (Pillow text chunks), and reading them back."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import OmfaError

KEY = "omfa"  # the iTXt chunk holding the JSON settings


def save_png(image: np.ndarray, path: str | Path, metadata: dict[str, Any]) -> Path:
    """Write ``image`` (H, W, 3) uint8 with ``metadata`` as JSON in the PNG (atomically: an interrupted or
    failed write leaves no partial file). Raises engine.persist.StorageError (disk full, read-only, ...)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from engine.persist import atomic_path

    info = PngInfo()
    info.add_itxt(KEY, json.dumps(metadata, default=_jsonable))
    info.add_text("Software", "OMFA Desktop")
    warning = outside_world_warning(metadata)
    if warning:  # PNG's own "Warning" keyword: any image viewer shows it, not only OMFA
        info.add_itxt("Warning", warning)
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format="PNG", pnginfo=info)
    return Path(path)


class MetadataError(OmfaError, ValueError):
    """A file's OMFA settings cannot be read: not readable, none there, or damaged. ``path`` is the file."""


def outside_world(metadata: dict[str, Any]) -> dict:
    """The inputs the demo model flagged as outside its synthetic world (engine.domain), from a result's
    metadata ({} when none, or when the model is not a synthetic-world model)."""
    result = metadata.get("result") if isinstance(metadata, dict) else None
    settings = result.get("settings") if isinstance(result, dict) else None
    found = settings.get("outside_world") if isinstance(settings, dict) else None
    return found if isinstance(found, dict) else {}


def outside_world_warning(metadata: dict[str, Any]) -> str:
    """One line saying the result is outside the model's world ("" when it is not)."""
    from engine.domain import describe

    return describe(outside_world(metadata))


def read_png_metadata(path: str | Path) -> dict[str, Any]:
    """The OMFA metadata of a PNG written by :func:`save_png`; MetadataError (a ValueError) when there is none."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            text = im.text.get(KEY) if hasattr(im, "text") else None
    except (UnidentifiedImageError, OSError) as e:
        raise MetadataError(f"{path}: not a readable PNG ({e})", path=path) from None
    if not text:
        raise MetadataError(f"{path}: has no OMFA settings (not made by OMFA Desktop)", path=path)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise MetadataError(f"{path}: its OMFA settings are damaged (invalid JSON)", path=path) from None


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    return str(o)
