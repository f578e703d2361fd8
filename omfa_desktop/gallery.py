"""The gallery widget: every finished result with its inputs, settings and timings. The entries on disk
(their files and metadata) are omfa_desktop.model.gallery_store's, which has no Qt."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QFileDialog, QFrame, QGridLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)

from omfa_desktop.model.gallery_store import GalleryEntry, GalleryStore
from omfa_desktop.model.jobs import MODE_LABELS, format_seconds, plural
from omfa_desktop.qtutil import ImageView, scaled_pixmap


OUTSIDE_BADGE = "NOT ITS WORLD"  # on a result whose input the demo model was never trained on (engine.domain)
OUTSIDE_COLOR = "#c2410c"


def _icon(img: np.ndarray, garment: bool, size: QSize, outside: bool = False) -> QIcon:
    pm = QPixmap(size)
    pm.fill(QColor("#f3f3f3"))
    thumb = scaled_pixmap(img, size.width(), size.height())
    p = QPainter(pm)
    p.drawPixmap((size.width() - thumb.width()) // 2, (size.height() - thumb.height()) // 2, thumb)
    if outside:  # a band across the top, so it is seen before the picture is taken for a real answer
        f = QFont()
        f.setPixelSize(9)
        f.setBold(True)
        p.setFont(f)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(OUTSIDE_COLOR))
        p.drawRect(0, 0, size.width(), 14)
        p.setPen(QColor("white"))
        p.drawText(0, 0, size.width(), 14, Qt.AlignmentFlag.AlignCenter, OUTSIDE_BADGE)
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
        self.inputs_box = QGridLayout()
        self.world = QLabel()  # the demo model's "outside its world" badge on the selected result
        self.world.setObjectName("outsideWorld")
        self.world.setWordWrap(True)
        self.world.setStyleSheet(f"#outsideWorld {{ background: #fff1e6; color: {OUTSIDE_COLOR}; border: 1px solid "
                                 f"{OUTSIDE_COLOR}; border-radius: 4px; padding: 4px; font-size: 11px; }}")
        self.world.hide()
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
        dl.addWidget(self.world)
        out_label = QLabel("Result")
        out_label.setStyleSheet("color: palette(mid);")
        dl.addWidget(out_label)
        dl.addLayout(self.outputs_box, 3)
        self.inputs_label = QLabel("Inputs the model saw")
        self.inputs_label.setStyleSheet("color: palette(mid);")
        dl.addWidget(self.inputs_label)
        dl.addLayout(self.inputs_box, 1)
        dl.addWidget(self.info)
        dl.addLayout(buttons)
        # a turntable's views and guides need more room than the pane may have: it scrolls, nothing overlaps
        self.detail = QScrollArea()
        self.detail.setWidgetResizable(True)
        self.detail.setFrameShape(QFrame.Shape.NoFrame)
        self.detail.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the text wraps instead
        self.detail.setWidget(detail)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.list)
        split.addWidget(self.detail)
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
        outside = e.outside_world
        item = QListWidgetItem(_icon(img, e.is_garment, self.ICON, bool(outside)), e.title())
        item.setToolTip(f"{e.id}\n{e.folder}" + (f"\n{outside}" if outside else ""))
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
        self.world.hide()
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
        badge = "  [GARMENT]" if e.is_garment else ""
        outside = e.outside_world
        if outside:
            badge += f"  [{OUTSIDE_BADGE}]"
            self.world.setText(f"<b>{OUTSIDE_BADGE}</b> — {outside[0].upper()}{outside[1:]}. It was trained only on "
                               "its synthetic mannequin world; load a model for real photos under Edit → Models.")
            self.world.show()
        self.title.setText(f"{MODE_LABELS.get(e.mode, e.task)}{badge} — "
                           f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e.created))}")
        try:
            outs = e.output_images()
            ins = e.input_images()
        except Exception as err:  # noqa: BLE001
            self.message.emit(f"Could not read gallery entry {e.id}: {err}", "", "error")
            return
        cols = 4 if len(outs) > 4 else max(1, len(outs))
        small = len(outs) > 4   # many views: smaller thumbnails, the pane scrolls past two rows
        for i, img in enumerate(outs):
            v = ImageView(min_size=(48, 64) if small else (72, 96))
            v.set_image(img)
            v.setToolTip(f"view {i}" if len(outs) > 1 else "result")
            self.outputs_box.addWidget(v, i // cols, i % cols)
        guides = [k for k in ins if k.startswith("guide_")]
        shown = [(k, k) for k in ins if k not in guides]   # one guide stands for all the views' guides
        if guides:
            shown.append((guides[0], "guide" if len(guides) == 1 else f"guides ×{len(guides)}"))
        for i, (key, caption) in enumerate(shown):
            self.inputs_box.addWidget(self._input_cell(ins[key], caption), 0, i)
        self._show_info(e)

    def _input_cell(self, img: np.ndarray, caption: str) -> QWidget:
        """A thumbnail over its caption, at least as wide as the caption (a narrow pane scrolls instead)."""
        cell = QWidget()
        box = QVBoxLayout(cell)
        box.setContentsMargins(0, 0, 0, 0)
        v = ImageView(min_size=(48, 64))
        v.set_image(img)
        cap = QLabel(caption)
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        cap.setStyleSheet("font-size: 10px; color: palette(mid);")
        cap.setMinimumWidth(cap.sizeHint().width())
        box.addWidget(v, 1)
        box.addWidget(cap)
        return cell

    def _show_info(self, e: GalleryEntry) -> None:
        s, t = e.used_settings, e.timings
        model = s.get("model", "?") + ("" if s.get("model_trained", True) else " (UNTRAINED)")
        views = f"views {s.get('num_views')}"
        if (s.get("views_per_canvas") or 1) > 1:  # what ran: several views shared each canvas's garment and head
            views += f" ({s['views_per_canvas']} per canvas)"
        steps = s.get("steps")
        steps = plural(steps, "step") if isinstance(steps, int) else f"{steps} steps"
        lines = [f"task {s.get('task')} · {s.get('scheduler')} · {steps} · guidance {s.get('guidance')}",
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
