"""Batch work: people x garments x poses, from folders or a CSV, into a results folder with a contact sheet.

Resumable: an item is done when its PNG exists and carries the item's fingerprint (its input files' sha256,
pose, model and sampler settings); a re-run skips done items and redoes an item whose inputs or settings
changed. Failures are written next to the results (``items/<key>.error.txt``) and retried on the next run.
Each intermediate is kept and reused: the garment taken off a photo (``garments/``), the head cropped from
a client's photo (``heads/``) and each pose guide (``guides/``).

Several GPUs or machines: the same command under ``accelerate launch`` (accelerate's PartialState splits
the items between processes; every process writes only its own items, the main one writes the sheet)::

    accelerate launch --multi_gpu --num_processes 4 -m engine.cli batch --people P --garments G \
        --poses walking,own --out R

(``--multi_gpu`` also on a machine without GPUs: the processes then share the CPU over gloo.)

Folder layout of the results::

    R/items/<person>__<garment>__<pose>.png   the try-ons (PNG metadata: request, result, batch item)
    R/garments/<garment>.png                  try-offs of garment photos (first stage of person to person)
    R/heads/<person>.png, R/guides/...        the other intermediates
    R/contact_sheet.png, R/index.html         every item, with its inputs and settings
"""
from __future__ import annotations

import csv
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from engine.errors import OmfaError
from engine.request import RequestError, TryOnRequest

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
OWN_POSE = "own"  # the pose of the client's own photo (estimated)


class BatchError(OmfaError, ValueError):
    """The batch cannot be planned (missing folder, bad CSV, unknown pose): the message says what to fix."""


@dataclass(frozen=True)
class BatchItem:
    """One try-on: ``person``'s head (and, for pose "own", their pose) wearing ``garment`` in ``pose``.

    person : a photo of the client; head : an explicit head image (else cropped from the photo)
    garment : a flat garment image, or a photo of someone wearing it when ``garment_is_photo``
    pose : a preset name, "own", a BodyState .json or a guide image (.png)
    """

    person: Path
    garment: Path
    pose: str
    head: Optional[Path] = None
    garment_is_photo: bool = False

    @property
    def key(self) -> str:
        """File name of the result: person[+head]__garment[-photo]__pose, unique within a plan."""
        who = _slug(self.person.stem)
        if self.head is not None and self.head.stem != self.person.stem:
            who += f"+{_slug(self.head.stem)}"
        what = _slug(self.garment.stem) + ("-photo" if self.garment_is_photo else "")
        return f"{who}__{what}__{_slug(Path(self.pose).stem)}"


@dataclass
class ItemOutcome:
    item: BatchItem
    status: str                 # "done" | "skipped" (done before) | "failed" | "cancelled"
    output: Optional[Path] = None
    error: str = ""
    seconds: float = 0.0
    reason: str = ""             # why it failed, for a UI's advice: "no-person" (the person gate refused a photo)
    outside_world: str = ""      # the demo model's warning when an input is outside its world (engine.domain)


@dataclass
class BatchReport:
    outcomes: list[ItemOutcome] = field(default_factory=list)
    cancelled: bool = False
    sheet: Optional[Path] = None
    html: Optional[Path] = None
    sheet_error: str = ""       # the contact sheet or index could not be written (the items are kept)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        parts = [f"{self.count('done')} made", f"{self.count('skipped')} already done",
                 f"{self.count('failed')} failed"]
        if self.cancelled:
            parts.append("interrupted: run the same command again to finish")
        if self.sheet_error:
            parts.append(f"but the contact sheet was not written ({self.sheet_error})")
        return ", ".join(parts)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _entry_problem(p: Path) -> str:
    """Why the folder entry ``p`` is not an input image ("" when it is one). Never opens the entry: a FIFO
    would block the read until someone writes to it."""
    import stat

    try:
        st = p.lstat()
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = p.stat()
        except OSError:
            return "a link to nothing (its target is missing)"
        if not stat.S_ISREG(target.st_mode):
            return "a link to something that is not a file"
        st = target
    if stat.S_ISDIR(st.st_mode):
        return "a folder (folders are not searched)"
    if stat.S_ISFIFO(st.st_mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "a device or socket, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image type ({p.suffix or 'no extension'}; {', '.join(IMAGE_SUFFIXES)})"
    return ""


def _images_in(folder: Path, what: str, skipped: Optional[list] = None) -> list[Path]:
    """The image files directly in ``folder``; every other entry (hidden files aside) goes in ``skipped`` as
    (path, why)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise BatchError(f"{what} folder {folder} does not exist")
    files = []
    for p in sorted(folder.iterdir()):
        why = _entry_problem(p)
        if not why:
            files.append(p)
        elif skipped is not None and not p.name.startswith("."):
            skipped.append((p, why))
    if not files:
        raise BatchError(f"{what} folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def check_pose(pose: str) -> str:
    from engine.body.presets import list_presets

    if pose == OWN_POSE or pose in list_presets():
        return pose
    p = Path(pose).expanduser()
    if p.suffix.lower() in (".json",) + IMAGE_SUFFIXES and p.is_file():
        return str(p)
    raise BatchError(f"pose {pose!r} is not a preset ({', '.join(list_presets())}), '{OWN_POSE}' (the client's "
                     "own pose from their photo), a pose .json or a guide image")


def plan_folders(people: str | Path, garments: str | Path, poses: Sequence[str], heads: str | Path | None = None,
                 garment_photos: bool = False, skipped: Optional[list] = None) -> list[BatchItem]:
    """Every person x garment x pose. ``heads``: a folder of head images named like the people's photos
    (``anna.png`` for ``anna.jpg``); people without one get a head cropped from their photo. ``skipped``
    (a list) receives (path, why) for each folder entry that is not an image file (FIFOs, folders, links)."""
    ppl = _images_in(people, "people", skipped)
    gar = _images_in(garments, "garments", skipped)
    if not poses:
        raise BatchError("give at least one pose (a preset name, 'own', a .json or a guide image)")
    poses = [check_pose(p) for p in poses]
    head_of = {p.stem: p for p in _images_in(heads, "heads", skipped)} if heads else {}
    return [BatchItem(p, g, pose, head_of.get(p.stem), garment_photos) for p in ppl for g in gar for pose in poses]


def plan_csv(path: str | Path) -> list[BatchItem]:
    """Rows ``person,garment,pose[,head][,garment_kind]`` (a header row names the columns; relative paths are
    relative to the CSV). ``garment_kind`` is "image" (flat garment, default) or "photo" (taken off first)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise BatchError(f"{path}: cannot be read as a CSV text file ({e})") from None
    rows = list(csv.DictReader(text.splitlines()))
    need = {"person", "garment", "pose"}
    if not rows or not need <= set(rows[0]):
        raise BatchError(f"{path}: needs a header row with the columns person, garment, pose "
                         "(optional: head, garment_kind)")
    items = []
    for n, row in enumerate(rows, start=2):
        def file(col: str, required: bool = True, row: dict = row, n: int = n) -> Optional[Path]:
            v = (row.get(col) or "").strip()
            if not v:
                if required:
                    raise BatchError(f"{path}, line {n}: the {col} column is empty")
                return None
            p = Path(v).expanduser()
            p = p if p.is_absolute() else path.parent / p
            if not p.is_file():
                raise BatchError(f"{path}, line {n}: {col} file {p} does not exist")
            return p

        kind = (row.get("garment_kind") or "image").strip().lower()
        if kind not in ("image", "photo"):
            raise BatchError(f"{path}, line {n}: garment_kind must be 'image' or 'photo', not {kind!r}")
        pose = (row.get("pose") or "").strip()
        if pose and not Path(pose).is_absolute() and Path(pose).suffix and not Path(pose).exists():
            pose = str(path.parent / pose)
        try:
            pose = check_pose(pose)
        except BatchError as e:
            raise BatchError(f"{path}, line {n}: {e}") from None
        items.append(BatchItem(file("person"), file("garment"), pose, file("head", False), kind == "photo"))
    return items


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


BatchProgress = Callable[[int, int, ItemOutcome], None]  # items finished (incl. skipped), total, the outcome


class BatchRunner:
    """Runs items on one pipeline. ``sampling``: TryOnRequest fields shared by every item (steps, seed...).
    ``person_check``: every client photo and garment photo goes through the person gate (engine.body.gate) first;
    an item whose photo shows nobody fails with that reason and the others run."""

    def __init__(self, pipe, out: str | Path, sampling: Optional[dict] = None, person_check: bool = True) -> None:
        self.pipe = pipe
        self.out = Path(out).expanduser()
        self.sampling = dict(sampling or {})
        self.person_check = person_check
        self._cache: dict[tuple, object] = {}

    # ------------------------------------------------------------------ fingerprint and outputs
    def fingerprint(self, item: BatchItem) -> str:
        parts = [_sha(item.person), _sha(item.garment), item.pose if not Path(item.pose).is_file()
                 else _sha(Path(item.pose)), _sha(item.head) if item.head else "-", str(item.garment_is_photo),
                 self.pipe.model.config.name, repr(sorted(self.sampling.items()))]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]

    def output(self, item: BatchItem) -> Path:
        return self.out / "items" / f"{item.key}.png"

    def is_done(self, item: BatchItem) -> bool:
        from engine.export import read_png_metadata

        p = self.output(item)
        if not p.is_file():
            return False
        try:
            return read_png_metadata(p).get("batch", {}).get("fingerprint") == self.fingerprint(item)
        except ValueError:
            return False  # damaged or foreign: made again

    # ------------------------------------------------------------------ run
    def run(self, items: Sequence[BatchItem], progress: Optional[BatchProgress] = None,
            cancel: Optional[threading.Event] = None, sheet: bool = True) -> BatchReport:
        """Run ``items`` (this process's share when under ``accelerate launch``), then write the sheet."""
        keys: dict[str, BatchItem] = {}
        for it in items:
            if it.key in keys and keys[it.key] != it:
                raise BatchError(f"two items would both be saved as {it.key}.png ({keys[it.key].person} and "
                                 f"{it.person}): give the files distinct names")
            keys[it.key] = it
        state = _partial_state()
        report = BatchReport()
        mine = list(items)
        if state is not None and state.num_processes > 1:
            with state.split_between_processes(mine) as share:  # accelerate's split: contiguous, even
                mine = list(share)
        total = len(mine)
        for item in mine:
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            outcome = self._run_item(item, cancel)
            report.outcomes.append(outcome)
            if outcome.status == "cancelled":
                report.cancelled = True
            if progress is not None:
                progress(len(report.outcomes), total, outcome)
            if report.cancelled:
                break
        if state is not None and state.num_processes > 1:
            state.wait_for_everyone()
        if sheet and (state is None or state.is_main_process):
            from engine.persist import StorageError

            try:
                report.sheet, report.html = self.write_sheet(items)
            except StorageError as e:  # after hours of work: the items are kept; the caller says which file
                report.sheet_error = str(e)
        return report

    def _run_item(self, item: BatchItem, cancel) -> ItemOutcome:
        from engine.body.estimate import EstimatorUnavailable
        from engine.body.render import RenderError
        from engine.domain import describe
        from engine.body.gate import NoPersonFound
        from engine.body.state import BodyStateError
        from engine.export import save_png
        from engine.images import ImageError
        from engine.persist import StorageError, write_text

        t0 = time.perf_counter()
        err = self.out / "items" / f"{item.key}.error.txt"
        try:
            if self.is_done(item):
                return ItemOutcome(item, "skipped", self.output(item))
            request = self._request(item, cancel)
            if request is None:
                return ItemOutcome(item, "cancelled")
            result = self.pipe.run(request, None, cancel)
            if not result.ok:
                return ItemOutcome(item, "cancelled")
            meta = {"request": request.settings(), "result": result.metadata(),
                    "batch": {"fingerprint": self.fingerprint(item), "key": item.key, "person": str(item.person),
                              "garment": str(item.garment), "pose": item.pose,
                              "head": str(item.head) if item.head else None,
                              "garment_is_photo": item.garment_is_photo}}
            out = save_png(result.outputs[0], self.output(item), meta)
            err.unlink(missing_ok=True)
            return ItemOutcome(item, "done", out, seconds=time.perf_counter() - t0,
                               outside_world=describe(result.settings.get("outside_world")))
        except (RequestError, ImageError, EstimatorUnavailable, RenderError, BodyStateError, BatchError,
                NoPersonFound, OSError) as e:  # OSError: an input moved or deleted since planning
            message = str(e) if not isinstance(e, OSError) or isinstance(e, StorageError) else \
                f"{getattr(e, 'filename', None) or item.key}: cannot be read ({e.strerror or e})"
            try:
                write_text(err, message + "\n")
            except StorageError:
                pass
            return ItemOutcome(item, "failed", error=message, seconds=time.perf_counter() - t0,
                               reason="no-person" if isinstance(e, NoPersonFound) else "")

    # ------------------------------------------------------------------ inputs (each made once, kept)
    def _request(self, item: BatchItem, cancel) -> Optional[TryOnRequest]:
        lay = self.pipe.layout
        self._gate(item.person)  # before any work: a photo with nobody in it fails the item, nothing is written
        if item.garment_is_photo:
            self._gate(item.garment)
        garment = self._garment(item, cancel)
        if garment is None:
            return None
        head = self._head(item) if "head" in lay.panels else None
        guide, body = self._guide(item)
        chain = None
        if item.garment_is_photo:
            chain = {"kind": "person-to-person", "stage": 1, "of": 2, "name": "put it on the client",
                     "garment_from": str(self._garment_path(item).relative_to(self.out))}
        return TryOnRequest(task="try-on", garment=garment, head=head, pose_guides=[guide], body=body,
                            chain=chain, label=item.key, **self.sampling)

    def _photo(self, path: Path) -> np.ndarray:
        from engine.images import read_image

        key = ("photo", path)
        if key not in self._cache:
            self._cache[key] = read_image(path).pixels
        return self._cache[key]

    def _gate(self, path: Path) -> None:
        """The person gate on a photo (once per photo per run): NoPersonFound naming the file."""
        if not self.person_check:
            return
        from engine.body.gate import NoPersonFound, find_person

        key = ("gate", path)
        if key not in self._cache:
            from engine.body.blazepose import BlazePoseUnavailable

            try:
                self._cache[key] = find_person(self._photo(path)).found
            except BlazePoseUnavailable:
                self._cache[key] = True  # no gate here: the estimator says what is missing where it is needed
        if not self._cache[key]:
            raise NoPersonFound(path.name, path=path)

    def _garment_path(self, item: BatchItem) -> Path:
        return self.out / "garments" / f"{_slug(item.garment.stem)}.png"

    def _garment(self, item: BatchItem, cancel) -> Optional[np.ndarray]:
        if not item.garment_is_photo:
            return self._photo(item.garment)  # any size: the pipeline fits it
        from engine.export import read_png_metadata, save_png
        from engine.images import load_image

        path = self._garment_path(item)
        sha = _sha(item.garment)
        if path.is_file():
            try:
                if read_png_metadata(path).get("batch", {}).get("source_sha256") == sha:
                    return load_image(path)
            except ValueError:
                pass
        req = TryOnRequest(task="try-off", person=self._photo(item.garment), label=item.garment.name,
                           chain={"kind": "person-to-person", "stage": 0, "of": 2,
                                  "name": "take the garment off the photo"}, **self.sampling)
        result = self.pipe.run(req, None, cancel)
        if not result.ok:
            return None
        save_png(result.outputs[0], path, {"request": req.settings(), "result": result.metadata(),
                                           "batch": {"source": str(item.garment), "source_sha256": sha}})
        return result.outputs[0]

    def _estimate(self, path: Path):
        from engine.body.estimators import estimate_pose

        key = ("estimate", path)
        if key not in self._cache:
            # the photo went through the gate in _request (or the user turned it off)
            self._cache[key] = estimate_pose(self._photo(path), person_check=False, name=path.name)
        return self._cache[key]

    def _head(self, item: BatchItem) -> np.ndarray:
        from engine.body.estimate import head_crop
        from engine.export import save_png

        if item.head is not None:
            return self._photo(item.head)
        key = ("head", item.person)
        if key not in self._cache:
            w, h = self.pipe.layout.panel_size("head")
            crop = head_crop(self._photo(item.person), self._estimate(item.person), w, h)
            save_png(crop, self.out / "heads" / f"{_slug(item.person.stem)}.png", {"source": str(item.person)})
            self._cache[key] = crop
        return self._cache[key]

    def _guide(self, item: BatchItem) -> tuple[np.ndarray, Optional[dict]]:
        from engine.body.estimate import photo_guide
        from engine.body.guide import pose_guides
        from engine.body.presets import list_presets, load_preset
        from engine.body.state import BodyState
        from engine.export import save_png

        w, h = self.pipe.layout.panel_size("person")
        style = self.pipe.model.config.render_style
        p = Path(item.pose)
        if item.pose == OWN_POSE:
            key, name = ("guide", OWN_POSE, item.person), f"own__{_slug(item.person.stem)}"
        else:
            key, name = ("guide", item.pose), _slug(p.stem)
        if key not in self._cache:
            body = None
            if item.pose == OWN_POSE:
                est = self._estimate(item.person)
                guide, body = photo_guide(est, w, h, style), est.state.to_dict()
            elif item.pose in list_presets():
                state = load_preset(item.pose)
                guide, body = pose_guides(state, w, h, style=style)[0][0], state.to_dict()
            elif p.suffix.lower() == ".json":
                state = BodyState.from_json(p)
                guide, body = pose_guides(state, w, h, style=style)[0][0], state.to_dict()
            else:
                guide = self._photo(p)
            save_png(guide, self.out / "guides" / f"{name}.png", {"pose": item.pose})
            self._cache[key] = (guide, body)
        return self._cache[key]

    # ------------------------------------------------------------------ contact sheet
    def write_sheet(self, items: Sequence[BatchItem]) -> tuple[Optional[Path], Optional[Path]]:
        """contact_sheet.png (every item's result, or a grey cell if it failed) and index.html."""
        from engine.images import ImageError, load_image
        from engine.media import save_contact_sheet, save_html_sheet, sheet_cell

        if not items:
            return None, None
        w, h = self.pipe.layout.panel_size("person")
        cells, labels, rows = [], [], []
        for it in items:
            out = self.output(it)
            ok = out.is_file()
            try:
                cells.append(load_image(out) if ok else np.full((h, w, 3), 200, np.uint8))
            except ImageError:  # damaged since it was made: shown as not made (a re-run makes it again)
                ok = False
                cells.append(np.full((h, w, 3), 200, np.uint8))
            labels.append(it.key.replace("__", " · ") if ok else f"{it.key} (not made)")
            err = self.out / "items" / f"{it.key}.error.txt"
            details = {"person": it.person.name, "garment": it.garment.name
                       + (" (photo)" if it.garment_is_photo else ""), "pose": Path(it.pose).name}
            if err.is_file():
                details["error"] = err.read_text(errors="replace").strip()
            rows.append({"image": out if ok else None, "label": it.key, "details": details})
        settings = {"batch": {"items": len(items), "made": sum(self.output(i).is_file() for i in items),
                              "model": self.pipe.model.config.name, "sampling": self.sampling}}
        sheet = save_contact_sheet(cells, self.out / "contact_sheet.png", settings, labels=labels,
                                   cell=sheet_cell((w, h)), title=f"OMFA batch: {len(items)} items")
        html = save_html_sheet(self.out / "index.html", rows, f"OMFA batch — {len(items)} items", settings)
        return sheet, html


def _partial_state():
    """accelerate's process state when launched by ``accelerate launch`` (several processes), else None: a
    plain run needs no distributed setup."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 and "ACCELERATE_USE_CPU" not in os.environ:
        return None
    import torch
    from accelerate import PartialState

    # without a GPU, cpu=True makes accelerate join the processes over gloo (MULTI_CPU) instead of
    # quietly running each as a single process that would do every item
    return PartialState(cpu=not torch.cuda.is_available())


def process_device(default: str = "auto") -> str:
    """The device of this process under ``accelerate launch`` (one GPU each), else ``default``."""
    state = _partial_state()
    if state is None or state.num_processes <= 1:
        return default
    return "cpu" if state.device.type == "cpu" else str(state.device)
