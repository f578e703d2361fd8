"""The gallery: every finished result with its inputs, settings and timings, kept on disk across restarts.

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
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QSplitter, QVBoxLayout, QWidget)

from omfa_desktop.qtutil import ImageView, scaled_pixmap
from omfa_desktop.worker import MODE_LABELS, format_seconds

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


def _icon(img: np.ndarray, garment: bool, size: QSize) -> QIcon:
    pm = QPixmap(size)
    pm.fill(QColor("#f3f3f3"))
    thumb = scaled_pixmap(img, size.width(), size.height())
    p = QPainter(pm)
    p.drawPixmap((size.width() - thumb.width()) // 2, (size.height() - thumb.height()) // 2, thumb)
    if garment:
        f = QFont()
        f.setPixelSize(10)
        f.setBold(True)
        p.setFont(f)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#1d4f91"))
        p.drawRect(0, size.height() - 15, size.width(), 15)
        p.setPen(QColor("white"))
        p.drawText(0, size.height() - 15, size.width(), 15, Qt.AlignmentFlag.AlignCenter, "GARMENT")
    p.end()
    return QIcon(pm)


class GalleryWidget(QWidget):
    """The list of results and the selected result's details (outputs beside their inputs)."""

    useAsGarment = Signal(object)       # GalleryEntry
    restoreRequested = Signal(object)   # GalleryEntry
    keepInWardrobe = Signal(object)     # GalleryEntry (a try-off result)
    layerRequested = Signal(object)     # GalleryEntry (a try-on result to layer another garment over)
    message = Signal(str, str, str)     # text, details, kind

    ICON = QSize(72, 96)

    def __init__(self, store: GalleryStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.entries: list[GalleryEntry] = []
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(self.ICON)
        self.list.setGridSize(QSize(self.ICON.width() + 18, self.ICON.height() + 34))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setMinimumHeight(140)
        self.list.currentRowChanged.connect(self._show_current)

        self.title = QLabel("No results yet: run a job and it appears here.")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: 600;")
        self.outputs_box = QGridLayout()
        self.inputs_box = QHBoxLayout()
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setStyleSheet("font-family: monospace; font-size: 11px;")
        self.use_button = QPushButton("Use as garment → try-on")
        self.use_button.setToolTip("Put this generated garment into the garment input and switch to try-on")
        self.restore_button = QPushButton("Restore settings")
        self.save_button = QPushButton("Save PNG…")
        self.delete_button = QPushButton("Delete")
        self.keep_button = QPushButton("Keep in wardrobe")
        self.keep_button.setToolTip("Keep this garment in the wardrobe, to find and reuse it in any later session")
        self.keep_button.clicked.connect(lambda: self.current() and self.keepInWardrobe.emit(self.current()))
        self.layer_button = QPushButton("Layer another garment…")
        self.layer_button.setToolTip("Try on another garment over this result (an outfit: the layer below stays "
                                     "where the new garment does not cover it)")
        self.layer_button.clicked.connect(lambda: self.current() and self.layerRequested.emit(self.current()))
        self.animate_button = QPushButton("Export animation…")
        self.animate_button.setToolTip("Save the views as an animated GIF, an MP4 and a contact sheet, each "
                                       "carrying the settings")
        self.animate_button.clicked.connect(self._export_animation_dialog)
        self.use_button.clicked.connect(lambda: self.current() and self.useAsGarment.emit(self.current()))
        self.restore_button.clicked.connect(lambda: self.current() and self.restoreRequested.emit(self.current()))
        self.save_button.clicked.connect(self._save_dialog)
        self.delete_button.clicked.connect(self.delete_current)
        buttons = QGridLayout()
        buttons.addWidget(self.use_button, 0, 0, 1, 2)
        buttons.addWidget(self.restore_button, 1, 0)
        buttons.addWidget(self.save_button, 1, 1)
        buttons.addWidget(self.keep_button, 2, 0)
        buttons.addWidget(self.delete_button, 2, 1)
        buttons.addWidget(self.layer_button, 3, 0)
        buttons.addWidget(self.animate_button, 3, 1)

        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.title)
        out_label = QLabel("Result")
        out_label.setStyleSheet("color: palette(mid);")
        dl.addWidget(out_label)
        dl.addLayout(self.outputs_box, 3)
        in_label = QLabel("Inputs the model saw")
        in_label.setStyleSheet("color: palette(mid);")
        dl.addWidget(in_label)
        dl.addLayout(self.inputs_box, 1)
        dl.addWidget(self.info)
        dl.addLayout(buttons)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.list)
        split.addWidget(detail)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self._show_current(-1)

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        self.entries = self.store.load_all()
        self.list.clear()
        for e in self.entries:
            self.list.addItem(self._item(e))
        if self.store.problems:
            n = len(self.store.problems)
            self.message.emit(f"{n} gallery entr{'y' if n == 1 else 'ies'} could not be read and "
                              f"{'was' if n == 1 else 'were'} moved to {self.store.root / self.store.DAMAGED} "
                              "(nothing was deleted).", "\n".join(self.store.problems), "warning")
        self.list.setCurrentRow(0 if self.entries else -1)

    def add_job(self, job) -> GalleryEntry:
        entry = self.store.add(job)
        self.entries.insert(0, entry)
        self.list.insertItem(0, self._item(entry))
        self.list.setCurrentRow(0)
        return entry

    def add_result(self, request, result, mode: str, app: dict | None = None) -> GalleryEntry:
        """One stage of a chained job (or any request + Result) as a new entry, selected."""
        entry = self.store.add_result(request, result, mode, app)
        self.entries.insert(0, entry)
        self.list.insertItem(0, self._item(entry))
        self.list.setCurrentRow(0)
        return entry

    def current(self) -> GalleryEntry | None:
        row = self.list.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def delete_current(self) -> None:
        e = self.current()
        if e is None:
            return
        row = self.list.currentRow()
        self.store.delete(e)
        self.entries.pop(row)
        self.list.takeItem(row)

    def _item(self, e: GalleryEntry) -> QListWidgetItem:
        try:
            img = e.output_images()[0]
        except Exception:  # noqa: BLE001 - a missing file shows as an empty icon
            img = np.full((128, 96, 3), 220, np.uint8)
        item = QListWidgetItem(_icon(img, e.is_garment, self.ICON), e.title())
        item.setToolTip(f"{e.id}\n{e.folder}")
        return item

    # ------------------------------------------------------------------ detail
    def _clear(self, layout) -> None:
        while layout.count():
            w = layout.takeAt(0).widget()
            if w is not None:
                w.hide()  # at once: deleteLater waits for the event loop, and until then it would still paint
                w.deleteLater()

    def _show_current(self, row: int) -> None:
        self._clear(self.outputs_box)
        self._clear(self.inputs_box)
        e = self.current()
        for b in (self.use_button, self.restore_button, self.save_button, self.delete_button):
            b.setEnabled(e is not None)
        if e is None:
            self.title.setText("No results yet: run a job and it appears here.")
            self.info.setText("")
            for b in (self.use_button, self.keep_button, self.layer_button, self.animate_button):
                b.setEnabled(False)
            return
        self.use_button.setEnabled(e.is_garment)
        self.keep_button.setEnabled(e.is_garment)
        self.layer_button.setEnabled(e.task in ("try-on", "multi-view"))
        self.animate_button.setEnabled(len(e.outputs) > 1)
        s, t = e.used_settings, e.timings
        badge = "  [GARMENT]" if e.is_garment else ""
        self.title.setText(f"{MODE_LABELS.get(e.mode, e.task)}{badge} — "
                           f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e.created))}")
        try:
            outs = e.output_images()
            ins = e.input_images()
        except Exception as err:  # noqa: BLE001
            self.message.emit(f"Could not read gallery entry {e.id}: {err}", "", "error")
            return
        cols = 4 if len(outs) > 4 else max(1, len(outs))
        for i, img in enumerate(outs):
            v = ImageView(min_size=(72, 96))
            v.set_image(img)
            v.setToolTip(f"view {i}" if len(outs) > 1 else "result")
            self.outputs_box.addWidget(v, i // cols, i % cols)
        for name, img in ins.items():
            box = QVBoxLayout()
            v = ImageView(min_size=(48, 64))
            v.set_image(img)
            cap = QLabel(name.replace("_00", "").replace("_", " "))
            cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cap.setStyleSheet("font-size: 10px; color: palette(mid);")
            w = QWidget()
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(v, 1)
            box.addWidget(cap)
            w.setLayout(box)
            self.inputs_box.addWidget(w)
        model = s.get("model", "?") + ("" if s.get("model_trained", True) else " (UNTRAINED)")
        views = f"views {s.get('num_views')}"
        if (s.get("views_per_canvas") or 1) > 1:  # what ran: several views shared each canvas's garment and head
            views += f" ({s['views_per_canvas']} per canvas)"
        lines = [f"task {s.get('task')} · {s.get('scheduler')} · {s.get('steps')} steps · guidance {s.get('guidance')}",
                 f"seed {s.get('seed')} · {views} · {s.get('device')} {s.get('precision')}",
                 f"model {model}"]
        chain = s.get("chain") or e.settings.get("chain")
        if chain:
            lines.insert(0, f"{MODE_LABELS.get(chain.get('kind'), chain.get('kind'))}: stage "
                            f"{chain.get('stage', 0) + 1} of {chain.get('of', '?')} — {chain.get('name', '')}"
                            f" (chain {chain.get('id', '?')})")
        if s.get("strength", 1.0) < 1.0:
            lines.append(f"started from the layer below at strength {s['strength']:.2f}")
        elif s.get("noise_prior"):
            lines.append("started from the model's latent prior")
        if t:
            lines.append(f"time {format_seconds(t.get('total'))} total · {t.get('per_step', 0) * 1000:.0f} ms/step"
                         f" · encode {format_seconds(t.get('encode'))} · decode {format_seconds(t.get('decode'))}")
        self.info.setText("\n".join(lines))

    def export_animation(self, entry: GalleryEntry, folder: str | Path, fps: float = 8.0, gif: bool = True,
                         mp4: bool = True, sheet: bool = True) -> list[Path]:
        """The entry's views as turntable.gif / .mp4 / contact_sheet.png in ``folder``, carrying its metadata.
        Raises engine.media.MediaError or engine.persist.StorageError with a message."""
        from engine.media import export_views

        return export_views(entry.output_images(), folder, entry.metadata, fps=fps, gif=gif, mp4=mp4, sheet=sheet,
                            prefix=f"{entry.id}_")

    def _export_animation_dialog(self) -> None:
        e = self.current()
        if e is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export the views (GIF, MP4, contact sheet) to")
        if not folder:
            return
        try:
            written = self.export_animation(e, folder)
        except Exception as err:  # noqa: BLE001 - MediaError, StorageError: shown, nothing lost
            self.message.emit(f"Could not export the animation: {err}", "", "error")
            return
        self.message.emit(f"Exported {', '.join(p.name for p in written)} to {folder} (settings inside).", "",
                          "info")

    def _save_dialog(self) -> None:
        e = self.current()
        if e is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save result as PNG", f"{e.id}.png", "PNG images (*.png)")
        if not path:
            return
        try:
            written = e.save_png(path)
        except Exception as err:  # noqa: BLE001
            self.message.emit(f"Could not save {path}: {err}", "", "error")
            return
        self.message.emit(f"Saved {', '.join(str(p) for p in written)} (with its settings inside).", "", "info")
