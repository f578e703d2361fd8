"""The wardrobe: garments kept across sessions (a try-off result, or any garment image), searchable, reusable as
the garment input of any try-on, exported and imported as a folder. Headless: the CLI and the app both use it.

On disk (``user_data_dir()/wardrobe/``)::

    <id>/garment.png   the garment, RGB, carrying the request that made it as PNG metadata (engine.export)
    <id>/thumb.png     a small copy for lists (rebuilt from garment.png when missing)
    <id>/item.json     name, tags, source, created, settings, pixel hash
    removed/<id>/      items removed with :meth:`Wardrobe.remove` (recoverable by moving them back)
    damaged/<id>/      items that could not be read at start (never deleted)

An export folder has the same per-item layout (without thumbnails) plus ``wardrobe.json``, an index.
Every write goes through :mod:`engine.persist`; an item is written into ``.staging-<id>`` and renamed into
place last, so a kill mid-save never leaves half an item.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from engine.errors import OmfaError
from engine.persist import StorageError, atomic_path, describe_os_error, read_json, write_bytes, write_json

GARMENT = "garment.png"
THUMB = "thumb.png"
ITEM = "item.json"
INDEX = "wardrobe.json"
STAGING = ".staging-"
DAMAGED = "damaged"
REMOVED = "removed"
THUMB_SIZE = (96, 128)      # (width, height) the thumbnail fits in
MAX_SIDE = 2048             # a kept garment's long side at most: a 79 MP photo is not kept at full size
FORMAT = 1
_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class WardrobeError(OmfaError, ValueError):
    """A garment image, an item's files or a folder the wardrobe cannot use; ``path`` names it when known."""


class UnknownItem(OmfaError, KeyError):
    """No item with that id; ``str()`` is the plain message (KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown wardrobe item"


def wardrobe_dir() -> Path:
    from engine.paths import user_data_dir

    return user_data_dir() / "wardrobe"


def normalize_tags(tags: str | Iterable[str] | None) -> list[str]:
    """Lowercase, stripped, inner spaces collapsed, unique, in order; a string is split on commas.

    >>> normalize_tags(["Stripes", " blue ,stripes", "", "Long  Sleeve"])
    ['stripes', 'blue', 'long sleeve']
    """
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for t in tags:
        for part in str(t).split(","):
            part = " ".join(part.lower().split())
            if part and part not in out:
                out.append(part)
    return out


def pixel_sha256(image: np.ndarray) -> str:
    """sha256 of the pixels and their shape: the same garment saved twice has the same hash whatever the PNG
    encoder or metadata did to the file."""
    a = np.ascontiguousarray(np.asarray(image, np.uint8))
    return hashlib.sha256(f"{a.shape}".encode() + a.tobytes()).hexdigest()


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        what = (f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray)
                else type(image).__name__)
        raise WardrobeError(f"a wardrobe garment must be an RGB uint8 image (H, W, 3), not a {what}")
    if min(image.shape[:2]) < 1:
        raise WardrobeError(f"a wardrobe garment cannot be empty (shape {image.shape})")
    return image


def _bounded(image: np.ndarray) -> np.ndarray:
    """``image`` downscaled to MAX_SIDE on its long side (as it is kept), unchanged when it is smaller."""
    h, w = image.shape[:2]
    if max(h, w) <= MAX_SIDE:
        return image
    from PIL import Image

    im = Image.fromarray(image)
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(im, dtype=np.uint8).copy()


def _jsonable(metadata: dict | None) -> dict | None:
    """A plain-JSON copy of ``metadata`` (numpy values become lists/numbers, anything else its str)."""
    if metadata is None:
        return None
    from engine.export import _jsonable as convert

    return json.loads(json.dumps(metadata, default=convert))


@dataclass
class WardrobeItem:
    """One kept garment. ``garment``/``thumbnail`` are its files; pixels are read on demand
    (:meth:`Wardrobe.image`). ``settings`` is the request/metadata that produced it, when known."""

    id: str
    name: str
    tags: list[str]
    source: str                 # where it came from: "try-off of photo.jpg, gallery 20250101-…", "file g.png"
    created: float              # epoch seconds
    garment: Path
    thumbnail: Path
    settings: dict | None = None
    pixel_sha256: str = ""
    size: tuple[int, int] = (0, 0)   # (width, height)
    folder: Path = field(default=Path("."), repr=False)

    def date_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created))

    def info(self) -> dict:
        """The fields as plain data (what ``item.json`` holds, and what the app passes around)."""
        return {"id": self.id, "name": self.name, "tags": list(self.tags), "source": self.source,
                "created": self.created, "settings": self.settings, "pixel_sha256": self.pixel_sha256,
                "size": list(self.size)}

    def to_json(self) -> dict:
        return {"format": FORMAT, **self.info()}

    def haystack(self) -> str:
        return " ".join([self.name, *self.tags, self.source]).lower()

    @classmethod
    def from_json(cls, d: Any, folder: Path) -> "WardrobeItem":
        """Validate ``item.json`` content; WardrobeError (a ValueError) naming the first bad field."""
        if not isinstance(d, dict):
            raise WardrobeError(f"{ITEM} holds a {type(d).__name__}, not an object", path=folder / ITEM)

        def field_of(key: str, types: tuple, default: Any = ...) -> Any:
            if key not in d:
                if default is ...:
                    raise WardrobeError(f"{ITEM} has no '{key}'", path=folder / ITEM)
                return default
            v = d[key]
            if isinstance(v, bool) or not isinstance(v, types):
                raise WardrobeError(f"{ITEM}: '{key}' is {_kind(v)}, not {_kind(types[0]())}",
                                    path=folder / ITEM)
            return v

        tags = field_of("tags", (list,), [])
        if not all(isinstance(t, str) for t in tags):
            raise WardrobeError(f"{ITEM}: 'tags' must be a list of strings", path=folder / ITEM)
        size = field_of("size", (list,), [0, 0])
        if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in size):
            raise WardrobeError(f"{ITEM}: 'size' must be [width, height]", path=folder / ITEM)
        created = float(field_of("created", (int, float)))
        if not np.isfinite(created):
            raise WardrobeError(f"{ITEM}: 'created' is not a time", path=folder / ITEM)
        return cls(id=folder.name, name=field_of("name", (str,)), tags=normalize_tags(tags),
                   source=field_of("source", (str,), ""), created=created,
                   garment=folder / GARMENT, thumbnail=folder / THUMB,
                   settings=field_of("settings", (dict, type(None)), None),
                   pixel_sha256=field_of("pixel_sha256", (str,), ""), size=(size[0], size[1]), folder=folder)


def _kind(v: Any) -> str:
    return {str: "text", list: "a list", dict: "an object", int: "a number", float: "a number",
            bool: "true/false", type(None): "null"}.get(type(v), type(v).__name__)


def _matches(item: WardrobeItem, words: list[str]) -> bool:
    hay = item.haystack()
    for w in words:
        if w.startswith("tag:") and len(w) > 4:
            if w[4:] not in item.tags:
                return False
        elif w not in hay:
            return False
    return True


def _search_words(text: str) -> list[str]:
    try:
        words = shlex.split(text)          # "long sleeve" in quotes is one word
    except ValueError:                     # an unbalanced quote: plain words then
        words = text.replace('"', " ").replace("'", " ").split()
    return [" ".join(w.lower().split()) for w in words if w.strip()]


def _default_name(source: str, created: float) -> str:
    """'Try-off of anna.jpg · 2025-01-02 14:03' from the source's first clause ("try-off of anna.jpg, job 12")."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
    what = source.split(",")[0].strip()[:80] or "garment"
    return f"{what[0].upper()}{what[1:]} · {when}"


def _clean_name(name: str | None, source: str, created: float) -> str:
    name = " ".join(str(name or "").split())[:200]
    return name or _default_name(source, created)


class Wardrobe:
    """The garments kept under ``root`` (default ``user_data_dir()/wardrobe``).

    Reading happens once at construction (:meth:`reload`): items that cannot be read (bad or missing
    ``item.json``, missing ``garment.png``, wrong field types) and leftovers of an interrupted save are moved to
    ``root/damaged/``, never deleted; ``problems`` lists each, ``load_notes`` says it in one line first.
    Writes raise :class:`engine.persist.StorageError` with a readable message and leave the wardrobe as it was.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else wardrobe_dir()
        self.problems: list[str] = []
        self._items: dict[str, WardrobeItem] = {}
        self.reload()

    # ------------------------------------------------------------------ reading
    @property
    def load_notes(self) -> list[str]:
        """Empty when everything loaded; else a summary line, then one line per item moved aside."""
        if not self.problems:
            return []
        n = len(self.problems)
        head = (f"{n} wardrobe item{'' if n == 1 else 's'} could not be read and {'was' if n == 1 else 'were'} "
                f"moved to {self.root / DAMAGED} (nothing was deleted).")
        return [head, *self.problems]

    def reload(self) -> list[WardrobeItem]:
        """Read every item from disk again; returns :meth:`items`."""
        self.problems = []
        self._items = {}
        try:
            children = sorted(self.root.iterdir()) if self.root.is_dir() else []
        except OSError as e:
            self.problems.append(f"{self.root}: cannot be listed ({e.strerror or e})")
            children = []
        for path in children:
            if path.name in (DAMAGED, REMOVED):
                continue
            if path.name.startswith(STAGING):
                self._move_aside(path, "an interrupted save (the app stopped while writing it)")
                continue
            if not path.is_dir():
                if path.name.startswith(".") and path.name.endswith(".part"):
                    continue  # a write in progress by persist.atomic_path (another process)
                self._move_aside(path, "not a wardrobe item (a stray file)")
                continue
            try:
                item = self._read_item(path)
            except ValueError as e:
                self._move_aside(path, str(e))
                continue
            self._items[item.id] = item
        return self.items()

    def _read_item(self, folder: Path) -> WardrobeItem:
        data, note = read_json(folder / ITEM)   # a damaged item.json is moved aside inside the folder
        if data is None:
            raise WardrobeError(f"{ITEM} is damaged ({note})" if note else f"{ITEM} is missing", path=folder / ITEM)
        item = WardrobeItem.from_json(data, folder)
        try:
            with open(item.garment, "rb") as f:
                head = f.read(8)
        except FileNotFoundError:
            raise WardrobeError(f"{GARMENT} is missing", path=item.garment) from None
        except OSError as e:
            raise WardrobeError(f"{GARMENT} cannot be read ({e.strerror or e})", path=item.garment) from None
        if head != _PNG_SIGNATURE:
            raise WardrobeError(f"{GARMENT} is not a PNG file (empty or damaged)", path=item.garment)
        return item

    def _move_aside(self, path: Path, why: str) -> None:
        base = self.root / DAMAGED / path.name.removeprefix(STAGING)
        target, n = base, 1
        try:
            target.parent.mkdir(exist_ok=True)
            while target.exists():
                n += 1
                target = base.with_name(f"{base.name}-{n}")
            os.replace(path, target)
            self.problems.append(f"{path.name}: {why}; moved to {target}")
        except OSError as e:
            self.problems.append(f"{path.name}: {why}; could not be moved aside ({e.strerror or e})")

    def items(self) -> list[WardrobeItem]:
        """Every item, newest first."""
        return sorted(self._items.values(), key=lambda i: (i.created, i.id), reverse=True)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, id: str) -> WardrobeItem:
        try:
            return self._items[id]
        except KeyError:
            raise UnknownItem(f"no wardrobe item '{id}' in {self.root}") from None

    def search(self, text: str = "") -> list[WardrobeItem]:
        """Items whose name, tags or source contain every word of ``text`` (case-insensitive), newest first.
        ``tag:xyz`` matches only items tagged exactly ``xyz``; quotes keep words together ("long sleeve")."""
        words = _search_words(text or "")
        return [i for i in self.items() if _matches(i, words)]

    def image(self, id: str) -> np.ndarray:
        """The garment's pixels, RGB uint8 (H, W, 3); engine.images.ImageError if its file went bad since."""
        from engine.images import load_image

        return load_image(self.get(id).garment)

    def thumbnail(self, id: str) -> np.ndarray:
        """The small copy, RGB uint8 (h, w, 3) within THUMB_SIZE; the garment itself when the thumb is unreadable."""
        from engine.images import ImageError, load_image

        item = self.get(id)
        try:
            return load_image(item.thumbnail)
        except ImageError:
            return _thumb(load_image(item.garment))

    def _hashes(self) -> dict[str, str]:
        """pixel sha256 -> item id, for duplicate checks (items without a stored hash are hashed now)."""
        out = {}
        for item in self._items.values():
            h = item.pixel_sha256
            if not h:
                try:
                    h = pixel_sha256(self.image(item.id))
                except (ValueError, OSError):
                    continue
            out[h] = item.id
        return out

    def find_duplicate(self, image: np.ndarray) -> WardrobeItem | None:
        """The item holding exactly these pixels, if any."""
        hit = self._hashes().get(pixel_sha256(_bounded(image)))
        return self._items.get(hit) if hit else None

    # ------------------------------------------------------------------ writing
    def add(self, image: np.ndarray, name: str | None = None, tags: str | Iterable[str] = (), source: str = "",
            metadata: dict | None = None, *, created: float | None = None, id: str | None = None) -> WardrobeItem:
        """Keep a garment. ``image`` RGB uint8 (H, W, 3); ``name`` defaults to the source and the date; ``tags``
        are normalised (:func:`normalize_tags`); ``metadata`` (the request that made it, JSON-able) is kept as
        the item's settings and inside garment.png. ``created``/``id`` are for imports (an id already taken or
        malformed is replaced by a new one). Raises WardrobeError (a ValueError) for a bad image, StorageError
        for a failed write (nothing is left behind)."""
        image = _bounded(_check_image(image))
        created = time.time() if created is None else float(created)
        source = " ".join(str(source or "").split())
        new_id = id if id and _ID.match(id) and not (self.root / id).exists() else self._new_id(created)
        item = WardrobeItem(id=new_id, name=_clean_name(name, source, created), tags=normalize_tags(tags),
                            source=source, created=created, garment=self.root / new_id / GARMENT,
                            thumbnail=self.root / new_id / THUMB, settings=_jsonable(metadata),
                            pixel_sha256=pixel_sha256(image), size=(image.shape[1], image.shape[0]),
                            folder=self.root / new_id)
        self._commit(item, image)
        self._items[item.id] = item
        return item

    def _new_id(self, created: float) -> str:
        while True:
            candidate = time.strftime("%Y%m%d-%H%M%S", time.localtime(created)) + "-" + secrets.token_hex(3)
            if candidate not in self._items and not (self.root / candidate).exists():
                return candidate

    def _commit(self, item: WardrobeItem, image: np.ndarray) -> None:
        from engine.export import save_png
        from engine.persist import staging_folder

        with staging_folder(self.root, f"{STAGING}{item.id}-") as stage:
            # The PNG carries what made it (so it re-opens in the window) and the item's fixed facts; the
            # editable ones (name, tags) live in item.json only.
            png_meta = {**(item.settings or {}),
                        "wardrobe": {"id": item.id, "source": item.source, "created": item.created}}
            save_png(image, stage / GARMENT, png_meta)
            _save_plain_png(_thumb(image), stage / THUMB)
            write_json(stage / ITEM, item.to_json())
            stage.rename(item.folder)  # the commit point: before it the item does not exist, after it is complete

    def update(self, id: str, name: str | None = None, tags: str | Iterable[str] | None = None) -> WardrobeItem:
        """Rename and/or retag (None leaves a field as it is; an empty name gets the default name)."""
        old = self.get(id)
        new = dataclasses.replace(old, tags=list(old.tags) if tags is None else normalize_tags(tags),
                                  name=old.name if name is None else _clean_name(name, old.source, old.created))
        write_json(old.folder / ITEM, new.to_json())   # StorageError: nothing changed, on disk or here
        self._items[id] = new
        return new

    def remove(self, id: str) -> Path:
        """Take an item out of the wardrobe; returns where it went.

        The folder is moved to ``root/removed/`` rather than deleted: a garment can be the only copy of a long
        job's result, a Remove click is easy to regret, and a move is as atomic as a delete. Moving it back
        into ``root`` restores it; emptying ``removed/`` frees the space.
        """
        item = self.get(id)
        base = self.root / REMOVED / item.folder.name
        target, n = base, 1
        made = not target.parent.exists()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            while target.exists():
                n += 1
                target = base.with_name(f"{base.name}-{n}")
            os.replace(item.folder, target)
        except OSError as e:
            if made:  # leave no trace of a remove that did not happen
                with contextlib.suppress(OSError):
                    target.parent.rmdir()
            raise StorageError(e.errno, describe_os_error(e, item.folder)) from e
        del self._items[id]
        return target

    # ------------------------------------------------------------------ folders
    def export(self, ids: Iterable[str], folder: str | Path) -> Path:
        """Write the items to ``folder``: ``<id>/garment.png`` + ``<id>/item.json`` each, and ``wardrobe.json``
        (an index) last. ``folder`` must be missing, empty or an earlier export (whose index is extended).
        Raises UnknownItem, WardrobeError (a folder holding other things) or StorageError."""
        folder = Path(folder)
        items = [self.get(i) for i in ids]
        index_path = folder / INDEX
        if folder.exists() and not folder.is_dir():
            raise WardrobeError(f"{folder} is a file, not a folder", path=folder)
        if folder.is_dir() and any(folder.iterdir()) and not index_path.is_file():
            raise WardrobeError(f"{folder} is not empty and is not a wardrobe export: choose an empty folder",
                                path=folder)
        listed: dict[str, dict] = {}
        if index_path.is_file():
            try:  # read plainly: a damaged index of an earlier export is rewritten, not moved about
                old = json.loads(index_path.read_text(encoding="utf-8"))
                listed = {e["folder"]: e for e in old.get("items", []) if (folder / e["folder"]).is_dir()}
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                listed = {}
        for item in items:
            try:
                data = item.garment.read_bytes()
            except OSError as e:
                raise StorageError(e.errno, f"could not read {item.garment}: {e.strerror or e}") from e
            write_bytes(folder / item.id / GARMENT, data)    # byte for byte: the PNG keeps its metadata
            write_json(folder / item.id / ITEM, item.to_json())
            listed[item.id] = {"folder": item.id, "name": item.name, "tags": item.tags}
        write_json(index_path, {"format": FORMAT, "kind": "omfa-wardrobe", "exported": time.time(),
                                "items": list(listed.values())})
        return folder

    def import_folder(self, folder: str | Path) -> tuple[list[WardrobeItem], list[str]]:
        """Add the items of an export folder (or of another wardrobe's root). Returns (the items added, notes):
        duplicates (same pixels as an item already here) are skipped, and an item that cannot be read is
        reported by name with the reason; neither stops the others. WardrobeError if ``folder`` is not a folder;
        StorageError if writing here fails (items added before it stay, complete)."""
        from engine.images import ImageError, read_image

        folder = Path(folder)
        if not folder.is_dir():
            raise WardrobeError(f"{folder}: {'no such folder' if not folder.exists() else 'not a folder'}",
                                path=folder)
        # The source is only read, never changed: no persist.read_json here (it would move files about in it).
        hashes = self._hashes()
        added: list[WardrobeItem] = []
        notes: list[str] = []
        subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in (DAMAGED, REMOVED)
                            and not p.name.startswith("."))
        for sub in subfolders:
            try:
                text = (sub / ITEM).read_text(encoding="utf-8")
            except FileNotFoundError:
                notes.append(f"{sub.name}: not imported: it has no {ITEM} (not a wardrobe item)")
                continue
            except (OSError, UnicodeDecodeError) as e:
                notes.append(f"{sub.name}: not imported: {ITEM} cannot be read ({e})")
                continue
            try:
                data = json.loads(text)
                meta = WardrobeItem.from_json(data, sub)
            except ValueError as e:
                why = f"{ITEM} is not valid JSON ({e})" if isinstance(e, json.JSONDecodeError) else str(e)
                notes.append(f"{sub.name}: not imported: {why}")
                continue
            try:
                read = read_image(sub / GARMENT)
            except ImageError as e:
                notes.append(f"{sub.name} ('{meta.name}'): not imported: {GARMENT} {e.reason}")
                continue
            h = pixel_sha256(read.pixels)
            if h in hashes:
                same = self._items.get(hashes[h])
                notes.append(f"{sub.name} ('{meta.name}'): already in the wardrobe"
                             + (f" as '{same.name}'" if same else "") + "; skipped")
                continue
            item = self.add(read.pixels, meta.name, meta.tags, meta.source, meta.settings,
                            created=meta.created, id=sub.name)
            hashes[h] = item.id
            added.append(item)
        if not subfolders:
            notes.append(f"{folder} holds no wardrobe items (expected one folder per item with {GARMENT} "
                         f"and {ITEM})")
        return added, notes


def _thumb(image: np.ndarray) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(np.asarray(image, np.uint8))
    im.thumbnail(THUMB_SIZE, Image.Resampling.LANCZOS)
    return np.asarray(im.convert("RGB"))


def _save_plain_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format="PNG")
