"""The Wardrobe tab: garments kept across sessions (engine.wardrobe), searched, renamed and tagged, reused as
the garment input, exported to and imported from a folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QSplitter, QVBoxLayout, QWidget)

from engine.wardrobe import INDEX, Wardrobe, WardrobeItem
from omfa_desktop.qtutil import ImageView, scaled_pixmap

EMPTY_TEXT = ("No garments kept yet. Select a try-off result in the Gallery and press “Keep in wardrobe”, "
              "or Import… a wardrobe folder.")


def _icon(img: np.ndarray, size: QSize) -> QIcon:
    pm = QPixmap(size)
    pm.fill(QColor("#f3f3f3"))
    thumb = scaled_pixmap(img, size.width(), size.height())
    p = QPainter(pm)
    p.drawPixmap((size.width() - thumb.width()) // 2, (size.height() - thumb.height()) // 2, thumb)
    p.end()
    return QIcon(pm)


class WardrobeWidget(QWidget):
    """Search box, the kept garments as thumbnails, the selected one's details and actions.

    Signals: ``useAsGarment(pixels, info)`` — RGB uint8 (H, W, 3) and the item's fields
    (:meth:`engine.wardrobe.WardrobeItem.info`); ``message(text, details, kind)`` as the gallery's, for the
    window's message bar (kind "error", "warning" or "info").
    """

    useAsGarment = Signal(object, dict)
    message = Signal(str, str, str)

    ICON = QSize(72, 96)

    def __init__(self, wardrobe: Wardrobe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wardrobe = wardrobe
        self.shown: list[WardrobeItem] = []
        self._icons: dict[str, QIcon] = {}

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, tags, source…  (tag:stripes)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self.refresh())
        self.count = QLabel()
        self.count.setStyleSheet("color: palette(mid); font-size: 11px;")

        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(self.ICON)
        self.list.setGridSize(QSize(self.ICON.width() + 22, self.ICON.height() + 40))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setMinimumHeight(140)
        self.list.currentRowChanged.connect(self._show_current)
        self.list.itemDoubleClicked.connect(lambda _: self.use_current())

        self.preview = ImageView(min_size=(96, 128))
        self.preview.setMaximumHeight(320)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(self._commit_edits)
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("comma separated, e.g. stripes, blue")
        self.tags_edit.editingFinished.connect(self._commit_edits)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.date_label = QLabel()
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Tags", self.tags_edit)
        form.addRow("Source", self.source_label)
        form.addRow("Kept", self.date_label)

        self.use_button = QPushButton("Use as garment → try-on")
        self.use_button.setToolTip("Put this garment into the garment input and switch to try-on")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Take it out of the wardrobe (moved to the wardrobe's removed/ folder)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the garments listed (narrow them with the search) to a folder")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Add the garments of an exported wardrobe folder (duplicates are skipped)")
        self.use_button.clicked.connect(self.use_current)
        self.remove_button.clicked.connect(self.remove_current)
        self.export_button.clicked.connect(self._export_dialog)
        self.import_button.clicked.connect(self._import_dialog)
        buttons = QGridLayout()
        buttons.addWidget(self.use_button, 0, 0, 1, 3)
        buttons.addWidget(self.remove_button, 1, 0)
        buttons.addWidget(self.export_button, 1, 1)
        buttons.addWidget(self.import_button, 1, 2)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.search, 1)
        row.addWidget(self.count)
        tl.addLayout(row)
        tl.addWidget(self.list, 1)
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.empty)
        dl.addWidget(self.preview, 1)
        dl.addLayout(form)
        dl.addLayout(buttons)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(detail)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([300, 400])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.refresh()

    # ------------------------------------------------------------------ data
    def reload(self, rescan: bool = True) -> None:
        """Show the wardrobe (read from disk again when ``rescan``); say so when items had to be moved aside."""
        if rescan:
            self.wardrobe.reload()
        self._icons.clear()
        self.refresh()
        notes = self.wardrobe.load_notes
        if notes:
            self.message.emit(notes[0], "\n".join(notes[1:]), "warning")

    def refresh(self, select: str | None = None) -> None:
        """Fill the list with the items the search finds; keep the selection (or select ``select``)."""
        keep = select or (self.current().id if self.current() else None)
        self.shown = self.wardrobe.search(self.search.text())
        self.list.blockSignals(True)
        self.list.clear()
        for item in self.shown:
            self.list.addItem(self._list_item(item))
        self.list.blockSignals(False)
        ids = [i.id for i in self.shown]
        self.list.setCurrentRow(ids.index(keep) if keep in ids else (0 if ids else -1))
        self._show_current(self.list.currentRow())
        total = len(self.wardrobe)
        self.count.setText(f"{len(self.shown)} of {total}" if self.search.text().strip()
                           else f"{total} item{'' if total == 1 else 's'}")
        self.export_button.setEnabled(bool(self.shown))

    def _list_item(self, item: WardrobeItem) -> QListWidgetItem:
        icon = self._icons.get(item.id)
        if icon is None:
            try:
                img = self.wardrobe.thumbnail(item.id)
            except Exception:  # noqa: BLE001 - an unreadable file shows as an empty icon, not an error
                img = np.full((128, 96, 3), 220, np.uint8)
            icon = self._icons[item.id] = _icon(img, self.ICON)
        li = QListWidgetItem(icon, item.name)
        li.setToolTip(f"{item.name}\n{', '.join(item.tags) or 'no tags'}\n{item.source}\n{item.date_text()}")
        return li

    def current(self) -> WardrobeItem | None:
        row = self.list.currentRow()
        return self.shown[row] if 0 <= row < len(self.shown) else None

    # ------------------------------------------------------------------ actions
    def keep(self, image: np.ndarray, name: str | None = None, tags=(), source: str = "",
             metadata: dict | None = None) -> WardrobeItem | None:
        """Add a garment (or find it already kept) and select it; None (and a message) if it failed."""
        from engine.persist import StorageError

        same = self.wardrobe.find_duplicate(image)
        if same is not None:
            self.search.clear()
            self.refresh(select=same.id)
            self.message.emit(f"This garment is already in the wardrobe as “{same.name}”.", "", "info")
            return same
        try:
            item = self.wardrobe.add(image, name, tags, source, metadata)
        except (StorageError, ValueError) as e:
            self.message.emit(f"Could not keep the garment in the wardrobe: {e}", "", "error")
            return None
        self.search.blockSignals(True)
        self.search.clear()   # the new item must be visible
        self.search.blockSignals(False)
        self.refresh(select=item.id)
        self.message.emit(f"Kept in the wardrobe as “{item.name}”; rename and tag it there.", "", "info")
        return item

    def use_current(self) -> None:
        item = self.current()
        if item is None:
            return
        try:
            img = self.wardrobe.image(item.id)
        except Exception as e:  # noqa: BLE001 - ImageError (the file went bad since) or OSError
            self.message.emit(f"Could not read the wardrobe garment “{item.name}”: {e}", "", "error")
            return
        self.useAsGarment.emit(img, item.info())

    def remove_current(self) -> None:
        from engine.persist import StorageError

        item = self.current()
        if item is None:
            return
        try:
            where = self.wardrobe.remove(item.id)
        except StorageError as e:
            self.message.emit(f"Could not remove “{item.name}”: {e}", "", "error")
            return
        self._icons.pop(item.id, None)
        row = self.list.currentRow()
        self.refresh()
        self.list.setCurrentRow(min(row, len(self.shown) - 1))
        self.message.emit(f"Removed “{item.name}” from the wardrobe (kept in {where.parent}; move its folder "
                          "back to restore it).", "", "info")

    def _commit_edits(self) -> None:
        from engine.persist import StorageError

        item = self.current()
        if item is None:
            return
        name, tags = self.name_edit.text(), self.tags_edit.text()
        if name.strip() == item.name and tags == ", ".join(item.tags):
            return
        try:
            new = self.wardrobe.update(item.id, name=name, tags=tags)
        except StorageError as e:
            self.message.emit(f"Could not save the name and tags of “{item.name}”: {e}", "", "error")
            self._show_current(self.list.currentRow())   # back to what is stored
            return
        self.refresh(select=new.id)

    def export_to(self, folder: str | Path) -> Path | None:
        """Export the items listed to ``folder``; a folder holding other things gets a new subfolder."""
        import time

        from engine.persist import StorageError

        folder = Path(folder)
        if folder.is_dir() and any(folder.iterdir()) and not (folder / INDEX).is_file():
            folder = folder / time.strftime("OMFA wardrobe %Y-%m-%d %H%M%S")
        try:
            self.wardrobe.export([i.id for i in self.shown], folder)
        except (StorageError, ValueError) as e:
            self.message.emit(f"Could not export the wardrobe: {e}", "", "error")
            return None
        n = len(self.shown)
        self.message.emit(f"Exported {n} garment{'' if n == 1 else 's'} to {folder}.", "", "info")
        return folder

    def import_from(self, folder: str | Path) -> list[WardrobeItem]:
        from engine.persist import StorageError

        try:
            added, notes = self.wardrobe.import_folder(folder)
        except (StorageError, ValueError) as e:
            self.message.emit(f"Could not import {folder}: {e}", "", "error")
            self.refresh()
            return []
        self.search.clear()
        self.refresh(select=added[0].id if added else None)
        bad = [n for n in notes if "not imported" in n]
        skipped = len(notes) - len(bad)
        text = f"Imported {len(added)} garment{'' if len(added) == 1 else 's'} from {folder}"
        if skipped:
            text += f"; {skipped} already in the wardrobe"
        if bad:
            text += f"; {len(bad)} could not be read (see Details)"
        self.message.emit(text + ".", "\n".join(notes), "warning" if bad else "info")
        return added

    def _export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the listed garments to a folder")
        if folder:
            self.export_to(folder)

    def _import_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a wardrobe folder")
        if folder:
            self.import_from(folder)

    # ------------------------------------------------------------------ detail
    def _show_current(self, row: int) -> None:
        item = self.current()
        has = item is not None
        for w in (self.use_button, self.remove_button, self.name_edit, self.tags_edit):
            w.setEnabled(has)
        self.empty.setVisible(len(self.wardrobe) == 0)
        if not has:
            self.preview.set_image(None)
            for w in (self.name_edit, self.tags_edit):
                w.setText("")
            self.source_label.setText("")
            self.date_label.setText("")
            return
        try:
            self.preview.set_image(self.wardrobe.image(item.id))
        except Exception:  # noqa: BLE001 - said when it is used; the preview stays empty
            self.preview.set_image(None)
        self.name_edit.setText(item.name)
        self.tags_edit.setText(", ".join(item.tags))
        self.source_label.setText(item.source or "—")
        w, h = item.size
        self.date_label.setText(item.date_text() + (f" · {w}×{h} px" if w and h else ""))
