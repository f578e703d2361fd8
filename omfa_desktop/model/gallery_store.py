"""The gallery's store (no Qt): every finished result with its inputs, settings and timings, kept on disk across
restarts.

On disk (``user_data_dir()/gallery/<id>/``)::

    entry.json        id, created, mode, task, file names, and the metadata below
    output_00.png     the generated image(s), one per view, each carrying the full request as PNG metadata
    input_person.png  the inputs exactly as the model saw them (panel size), and guide_00.png ... the guides

The metadata is the CLI's: ``{"request": TryOnRequest.settings(), "result": Result.metadata(), "app": {...}}``
so a PNG saved here re-opens in the window (and a PNG from ``omfa try-off`` too).
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omfa_desktop.model.jobs import MODE_LABELS

INPUT_NAMES = ("person", "garment", "head")


def gallery_dir() -> Path:
    from engine.paths import user_data_dir

    return user_data_dir() / "gallery"


def _read_rgb(path: Path) -> np.ndarray:
    from engine.images import load_image

    return load_image(path)


def _save_plain_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    from engine.persist import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(img, np.uint8)).save(tmp, format="PNG")


@dataclass
class GalleryEntry:
    """One result in the gallery (pixels are read from disk on demand)."""

    id: str
    folder: Path
    mode: str
    task: str
    created: float
    outputs: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)     # name -> file (person, garment, head, guide_00..)
    metadata: dict = field(default_factory=dict)

    @property
    def is_garment(self) -> bool:
        """Try-off results are garments: usable as the garment input of a try-on."""
        return self.task == "try-off"

    @property
    def settings(self) -> dict:
        return self.metadata.get("request", {})

    @property
    def outside_world(self) -> str:
        """The demo model's warning when an input did not look like its synthetic world ("" when not)."""
        from engine.export import outside_world_warning

        return outside_world_warning(self.metadata)

    @property
    def used_settings(self) -> dict:
        """What actually ran: the request's settings plus model, device and resolved precision."""
        return self.metadata.get("result", {}).get("settings") or self.settings

    @property
    def timings(self) -> dict:
        return self.metadata.get("result", {}).get("timings", {})

    def output_paths(self) -> list[Path]:
        return [self.folder / f for f in self.outputs]

    def output_images(self) -> list[np.ndarray]:
        return [_read_rgb(p) for p in self.output_paths()]

    def input_images(self) -> dict[str, np.ndarray]:
        return {k: _read_rgb(self.folder / f) for k, f in self.inputs.items() if (self.folder / f).is_file()}

    def title(self) -> str:
        kind = "garment" if self.is_garment else MODE_LABELS.get(self.mode, self.task)
        return f"{kind} · {time.strftime('%H:%M', time.localtime(self.created))}"

    def save_png(self, path: str | Path) -> list[Path]:
        """Write the output(s) as PNG with the full request metadata; N views get _viewNN suffixes."""
        from engine.export import save_png

        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        outs = self.output_images()
        written = []
        for i, img in enumerate(outs):
            p = path if len(outs) == 1 else path.with_name(f"{path.stem}_view{i:02d}.png")
            written.append(save_png(img, p, {**self.metadata, "view": i}))
        return written

    def to_json(self) -> dict:
        return {"id": self.id, "created": self.created, "mode": self.mode, "task": self.task,
                "outputs": self.outputs, "inputs": self.inputs, "metadata": self.metadata, "format": 1}


class GalleryStore:
    """Reads and writes gallery entries under ``root`` (default ``user_data_dir()/gallery``).

    An entry is written into a hidden staging folder and renamed into place only once every file is on disk,
    so a crash or a kill mid-save never leaves a half entry in the gallery. Leftovers of an interrupted save
    and entries that cannot be read are moved to ``root/damaged/`` (never deleted) and listed in ``problems``.
    """

    STAGING = ".staging-"
    DAMAGED = "damaged"

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else gallery_dir()
        self.problems: list[str] = []

    def add(self, job) -> GalleryEntry:
        """Store a finished job (``worker.Job`` with a ``Result``). Raises engine.persist.StorageError (disk
        full, read-only folder, ...) with nothing left behind; the job keeps its result in memory."""
        return self.add_result(job.request, job.result, job.mode, job.app)

    def add_result(self, req, result, mode: str, app: dict | None = None) -> GalleryEntry:
        """Store one request and its Result (a job, or one stage of a chained job) as an entry."""
        from engine.export import save_png
        from engine.persist import staging_folder, write_json

        base = time.strftime("%Y%m%d-%H%M%S") + f"-{req.task}"
        with staging_folder(self.root, f"{self.STAGING}{base}-") as stage:
            meta = {"request": req.settings(), "result": result.metadata(), "app": {"mode": mode, **(app or {})}}
            outputs = []
            for i, img in enumerate(result.outputs):
                name = f"output_{i:02d}.png"
                save_png(img, stage / name, {**meta, "view": i})
                outputs.append(name)
            inputs = {}
            for name in INPUT_NAMES:
                img = getattr(req, name, None)
                if img is not None:
                    inputs[name] = f"input_{name}.png"
                    _save_plain_png(img, stage / inputs[name])
            for i, g in enumerate(req.pose_guides):
                inputs[f"guide_{i:02d}"] = f"guide_{i:02d}.png"
                _save_plain_png(g, stage / inputs[f"guide_{i:02d}"])
            folder = self.root / base
            n = 1
            while folder.exists():
                n += 1
                folder = self.root / f"{base}-{n}"
            entry = GalleryEntry(folder.name, folder, mode, req.task, time.time(), outputs, inputs, meta)
            write_json(stage / "entry.json", entry.to_json())
            stage.rename(folder)  # the commit point: before it the entry does not exist, after it is complete
        return entry

    def load_all(self) -> list[GalleryEntry]:
        """Every readable entry, newest first; damaged ones are moved to ``damaged/`` and listed in ``problems``."""
        self.problems = []
        entries = []
        if not self.root.is_dir():
            return entries
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name == self.DAMAGED:
                continue
            if folder.name.startswith(self.STAGING):
                self._move_aside(folder, "an interrupted save (the app stopped while writing it)")
                continue
            f = folder / "entry.json"
            try:
                d = json.loads(f.read_text())
                e = GalleryEntry(d["id"], folder, d.get("mode", d["task"]), d["task"], float(d["created"]),
                                 list(d["outputs"]), dict(d.get("inputs", {})), dict(d.get("metadata", {})))
                e.id = folder.name  # the folder is the identity (a copied folder must not alias another)
                if not e.outputs or not all(p.is_file() for p in e.output_paths()):
                    raise ValueError("an output image is missing")
            except FileNotFoundError:
                self._move_aside(folder, "entry.json is missing")
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                self._move_aside(folder, f"{err.__class__.__name__}: {err}")
                continue
            entries.append(e)
        entries.sort(key=lambda e: e.created, reverse=True)
        return entries

    def _move_aside(self, folder: Path, why: str) -> None:
        target = self.root / self.DAMAGED / folder.name.removeprefix(self.STAGING)
        try:
            target.parent.mkdir(exist_ok=True)
            n = 1
            base = target
            while target.exists():
                n += 1
                target = base.with_name(f"{base.name}-{n}")
            folder.rename(target)
            self.problems.append(f"{folder.name}: {why}; moved to {target}")
        except OSError as err:
            self.problems.append(f"{folder.name}: {why}; could not be moved aside ({err})")

    def delete(self, entry: GalleryEntry) -> None:
        if entry.folder.parent.resolve() == self.root.resolve():
            shutil.rmtree(entry.folder, ignore_errors=True)
