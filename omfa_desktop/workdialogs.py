"""Dialogs that collect the inputs of the chained jobs: a batch, a turntable, person to person, a layer.

They run nothing: each checks what it collects (the batch is planned by :mod:`engine.batch`, images are
read by :func:`engine.images.read_image`), enables OK only when the job can start, and leaves the results in
attributes for the caller, which submits the work. Every input has a setter so tests (and the window,
restoring last-used values) need no file dialog.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QButtonGroup, QCheckBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPushButton, QRadioButton, QSlider, QSpinBox,
                               QTabWidget, QVBoxLayout, QWidget)

from engine.batch import IMAGE_SUFFIXES, OWN_POSE, BatchError, BatchItem, plan_csv, plan_folders
from omfa_desktop.inputs import ImageSlot
from omfa_desktop.qtutil import ImageView

ERROR_STYLE = "color: #b42318;"
POSE_FILTER = ("Pose files (*.json " + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;Body state (*.json);;"
               "Pose guide image (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)")
CSV_FILTER = "CSV files (*.csv);;All files (*)"


def hint_style() -> str:
    """Small, and halfway to the background: readable on light and dark themes (palette(mid) is too faint)."""
    pal = QApplication.palette()
    fg, bg = pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window)
    mix = [round(0.62 * a + 0.38 * b) for a, b in zip(fg.getRgb()[:3], bg.getRgb()[:3])]
    return "color: #{:02x}{:02x}{:02x}; font-size: 11px;".format(*mix)


def hint_label(text: str) -> QLabel:
    """A small grey explanation under a field."""
    label = WrapLabel(text)
    label.setStyleSheet(hint_style())
    return label


class WrapLabel(QLabel):
    """A word-wrapped label whose minimum height is that of its text wrapped at its current width.

    A plain wrapped QLabel tells the layout one guessed line; the top-level layout then gives it more lines'
    height anyway and squeezes its neighbours below their minimum (image slots drawn over their buttons).
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._placed = False  # resized while shown: its width is the layout's, not Qt's default

    def _width_known(self) -> bool:
        return self._placed or self.minimumWidth() == self.maximumWidth()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        size = super().minimumSizeHint()
        if self._width_known() and self.text():
            size.setHeight(max(size.height(), self.heightForWidth(self.width())))
        return size

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.isVisible() and (not self._placed or event.oldSize().width() != event.size().width()):
            self._placed = True
            self.updateGeometry()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        self.updateGeometry()


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _buttons(dialog: QDialog, ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    """OK (the default button: Enter presses it when it is enabled) and Cancel (Esc)."""
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    ok.setDefault(True)
    box.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box, ok


def _no_default(*buttons: QPushButton) -> None:
    """Buttons inside a dialog: Enter must not press them (it is OK's key)."""
    for b in buttons:
        b.setAutoDefault(False)
        b.setDefault(False)


class PathField(QWidget):
    """A path typed or chosen with Browse… (a folder, an existing file, or a folder that may not exist yet).

    ``changed(text)`` on every edit. The file dialog opens only from Browse…; :meth:`set_text` sets it directly.
    """

    changed = Signal(str)

    def __init__(self, mode: str, caption: str, placeholder: str = "", tip: str = "", file_filter: str = "",
                 start_dir: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        assert mode in ("dir", "file")
        self.mode, self.caption, self.file_filter, self.start_dir = mode, caption, file_filter, start_dir
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.edit.setToolTip(tip)
        self.edit.textChanged.connect(self.changed)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip(f"{caption}: choose with a file dialog")
        _no_default(self.browse_button)
        self.browse_button.clicked.connect(self.browse)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.browse_button)

    def text(self) -> str:
        return self.edit.text().strip()

    def set_text(self, text: str | Path | None) -> None:
        self.edit.setText("" if text is None else str(text))

    def _start(self) -> str:
        p = Path(self.text()).expanduser() if self.text() else None
        if p is not None and (p.is_dir() or p.parent.is_dir()):
            return str(p)
        return self.start_dir

    def browse(self) -> None:
        if self.mode == "dir":
            path = QFileDialog.getExistingDirectory(self, self.caption, self._start())
        else:
            path, _ = QFileDialog.getOpenFileName(self, self.caption, self._start(), self.file_filter)
        if path:
            self.set_text(path)


class SlotBox(QWidget):
    """An :class:`ImageSlot` (Browse…, drag and drop, preview) sized for a dialog, with its problems said
    under it: a file that cannot be used shows its :class:`engine.images.ImageError` message in red (the slot
    keeps its previous image); a file that had to be changed (rotated, first frame...) a grey note."""

    def __init__(self, key: str, title: str, hint: str, width: int = 190, start_dir: str = "",
                 optional: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slot = ImageSlot(key, title, hint, optional=optional)
        self.slot.setMinimumWidth(width)
        self.slot.setMaximumWidth(width)
        self.slot.view.setMinimumSize(width - 24, int((width - 24) * 4 / 3))
        self.slot.view.setToolTip(hint)
        self.slot.open_button.setText("Browse…")
        self.slot.last_dir = start_dir
        _no_default(self.slot.open_button, self.slot.clear_button)
        self.message = WrapLabel()
        self.message.setFixedWidth(width)
        self.message.hide()
        # bound methods, not lambdas: a lambda holding ``self`` on a child's signal makes a cycle that PySide6
        # may free in the wrong order (a crash when the dialog is collected)
        self.slot.error.connect(self._error)
        self.slot.notice.connect(self._notice)
        self.slot.changed.connect(self._changed)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.slot, 1)
        lay.addWidget(self.message)

    def _error(self, text: str, _details: str = "") -> None:
        self._say(text, ERROR_STYLE)

    def _notice(self, text: str) -> None:
        self._say(text, hint_style())

    def _say(self, text: str, style: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(style)
        self.message.show()

    def _changed(self) -> None:  # a new image: what was said about the last file is stale (a note follows)
        self.message.hide()
        self.message.clear()

    def error(self) -> str:
        """The error shown under the slot ("" when none)."""
        return self.message.text() if self.message.isVisibleTo(self) and self.message.styleSheet() == ERROR_STYLE \
            else ""

    # the slot's state, for the dialogs
    @property
    def image(self) -> Optional[np.ndarray]:
        return self.slot.image

    @property
    def path(self) -> Optional[Path]:
        return self.slot.path

    def set_path(self, path: str | Path) -> bool:
        """Load an image file: True when loaded; else the message shows under the slot and nothing changes."""
        return self.slot.set_path(path)

    def set_image(self, img: Optional[np.ndarray], label: str = "") -> None:
        self.slot.set_image(img, label)
        if img is not None:
            self.slot.path = None  # given as pixels: no file behind it


# ====================================================================== batch
class BatchDialog(QDialog):
    """Batch try-on: people x garments x poses from folders, or the rows of a CSV file, into an output folder.

    ``BatchDialog(parent=None, start_dir="")``. Planning (engine.batch.plan_folders / plan_csv) runs on every
    change; the summary says how many try-ons, or the planning error in red, and OK is enabled only when the
    plan and the output folder are good. After ``exec()`` is accepted: ``.items`` (list of
    :class:`engine.batch.BatchItem`) and ``.out`` (Path). ``values()`` / ``set_values()`` round-trip every
    choice (for remembering them); ``set_paths()``, ``set_poses()`` and ``add_pose_file()`` set them directly.
    """

    SOURCES = ("folders", "csv")

    def __init__(self, parent: QWidget | None = None, start_dir: str = "") -> None:
        super().__init__(parent)
        from engine.body.presets import list_presets

        self.setWindowTitle("Batch try-on")
        self.start_dir = start_dir
        self.items: list[BatchItem] = []
        self.out: Optional[Path] = None
        self.plan: list[BatchItem] = []      # the current plan (empty while it fails)
        self.problem = ""                    # why OK is disabled ("" when it is enabled)

        intro = hint_label("Dress every client photo in every garment and pose, or run the try-ons listed in "
                           "a CSV file. The results, a contact sheet and an index.html go to the output folder.")

        # ---- source: folders
        self.people = PathField("dir", "People folder", "folder of client photos",
                                "Photos of the clients: every photo is dressed in every garment and pose",
                                start_dir=start_dir)
        self.garments = PathField("dir", "Garments folder", "folder of garment images",
                                  "Flat garment images (or photos of people wearing them: tick the box below)",
                                  start_dir=start_dir)
        self.garment_photos = QCheckBox("The garments folder holds photos of people wearing them\n"
                                        "(take each garment off first)")
        self.garment_photos.setToolTip("Each garment photo gets a try-off first (once, kept in the output "
                                       "folder's garments/), then the garment is put on every client")
        self.heads = PathField("dir", "Heads folder", "optional",
                               "Head images named like the people's photos (anna.png for anna.jpg)",
                               start_dir=start_dir)
        self.poses = QListWidget()
        self.poses.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.poses.setToolTip("Tick the poses to dress every client in; each ticked pose multiplies the batch")
        own = QListWidgetItem("Client's own pose (estimated from the photo)")
        own.setData(Qt.ItemDataRole.UserRole, OWN_POSE)
        own.setToolTip("The pose each client has in their photo, estimated from it (pose name 'own')")
        self._add_pose_item(own)
        for name in list_presets():
            item = QListWidgetItem(name.replace("_", " "))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"Preset pose “{name}”")
            self._add_pose_item(item)
        self.poses.setMinimumHeight(150)
        self.add_pose_button = QPushButton("Add pose file…")
        self.add_pose_button.setToolTip("A pose saved as a body-state .json, or a pose guide image")
        self.remove_pose_button = QPushButton("Remove file")
        self.remove_pose_button.setToolTip("Take the selected pose file out of the list")
        _no_default(self.add_pose_button, self.remove_pose_button)
        self.add_pose_button.clicked.connect(self._browse_pose)
        self.remove_pose_button.clicked.connect(self._remove_pose)
        self.pose_count = QLabel()
        self.pose_count.setStyleSheet(hint_style())
        pose_buttons = QHBoxLayout()
        pose_buttons.addWidget(self.add_pose_button)
        pose_buttons.addWidget(self.remove_pose_button)
        pose_buttons.addStretch(1)
        pose_buttons.addWidget(self.pose_count)
        pose_col = QVBoxLayout()
        pose_col.setSpacing(4)
        pose_col.addWidget(self.poses, 1)
        pose_col.addLayout(pose_buttons)

        folders = QWidget()
        ff = QFormLayout(folders)
        ff.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        ff.addRow("People", self.people)
        ff.addRow("", hint_label("Client photos: each is dressed in every garment and pose."))
        ff.addRow("Garments", self.garments)
        ff.addRow("", self.garment_photos)
        ff.addRow("Heads", self.heads)
        ff.addRow("", hint_label("Optional: head images named like the people's photos; otherwise the head is "
                                 "cropped from each photo."))
        ff.addRow("Poses", pose_col)

        # ---- source: CSV
        self.csv = PathField("file", "CSV file", "a .csv file listing the try-ons",
                             "One try-on per row: person, garment, pose[, head, garment_kind]",
                             file_filter=CSV_FILTER, start_dir=start_dir)
        csv_page = QWidget()
        cf = QFormLayout(csv_page)
        cf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        cf.addRow("CSV file", self.csv)
        cf.addRow("", hint_label(
            "One try-on per row, with a header row naming the columns <b>person, garment, pose</b> and, "
            "optionally, <b>head</b> and <b>garment_kind</b>.<br>"
            "person, garment, head: image files (relative paths are relative to the CSV file).<br>"
            "pose: a preset name (walking, t_pose…), <i>own</i> (the client's pose from their photo), "
            "a pose .json or a guide image.<br>"
            "garment_kind: <i>image</i> (a flat garment, the default) or <i>photo</i> (someone wearing it: "
            "taken off first)."))

        self.tabs = QTabWidget()
        self.tabs.addTab(folders, "Folders")
        self.tabs.addTab(csv_page, "CSV file")
        self.tabs.setTabToolTip(0, "Every person × every garment × every ticked pose")
        self.tabs.setTabToolTip(1, "Exactly the try-ons listed in a CSV file")

        # ---- output and summary
        self.out_field = PathField("dir", "Output folder", "folder for the results (made if needed)",
                                   "Results go to items/, with contact_sheet.png and index.html",
                                   start_dir=start_dir)
        out_form = QFormLayout()
        out_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        out_form.addRow("Output folder", self.out_field)
        out_form.addRow("", hint_label("Run the same batch again to finish an interrupted one: finished items "
                                       "are skipped."))
        self.summary = WrapLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setToolTip("What the batch will make, or what to fix first")
        self.buttons, self.ok_button = _buttons(self, "Start batch")

        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.tabs, 1)
        lay.addLayout(out_form)
        lay.addWidget(self.summary)
        lay.addWidget(self.buttons)

        for field in (self.people, self.garments, self.heads, self.csv, self.out_field):
            field.changed.connect(self._replan)
        self.garment_photos.toggled.connect(self._replan)
        self.poses.itemChanged.connect(self._replan)
        self.poses.currentItemChanged.connect(self._pose_buttons)
        self.tabs.currentChanged.connect(self._replan)
        self.resize(620, 680)
        self._pose_buttons()
        self._replan()

    # ------------------------------------------------------------------ poses
    def _add_pose_item(self, item: QListWidgetItem, checked: bool = False) -> QListWidgetItem:
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.poses.addItem(item)
        return item

    def _pose_item(self, value: str) -> Optional[QListWidgetItem]:
        for i in range(self.poses.count()):
            if self.poses.item(i).data(Qt.ItemDataRole.UserRole) == value:
                return self.poses.item(i)
        return None

    @staticmethod
    def _is_file_pose(item: Optional[QListWidgetItem]) -> bool:
        return item is not None and bool(item.data(Qt.ItemDataRole.UserRole + 1))

    def add_pose_file(self, path: str | Path, checked: bool = True) -> None:
        """Add a pose file (.json or guide image) to the list, ticked; a file already listed is ticked."""
        value = str(Path(path).expanduser())
        item = self._pose_item(value)
        if item is None:
            item = QListWidgetItem(f"{Path(value).name}  (file)")
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setData(Qt.ItemDataRole.UserRole + 1, True)
            item.setToolTip(value)
            self._add_pose_item(item, checked)
        elif checked:
            item.setCheckState(Qt.CheckState.Checked)
        self.poses.setCurrentItem(item)
        self._replan()

    def _browse_pose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a pose file", self.start_dir, POSE_FILTER)
        if path:
            self.start_dir = str(Path(path).parent)
            self.add_pose_file(path)

    def _remove_pose(self) -> None:
        item = self.poses.currentItem()
        if self._is_file_pose(item):
            self.poses.takeItem(self.poses.row(item))
            self._replan()

    def _pose_buttons(self, *_) -> None:
        self.remove_pose_button.setEnabled(self._is_file_pose(self.poses.currentItem()))

    def poses_chosen(self) -> list[str]:
        """The ticked poses, in list order: preset names, "own", pose file paths."""
        return [self.poses.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.poses.count())
                if self.poses.item(i).checkState() == Qt.CheckState.Checked]

    def set_poses(self, poses: Sequence[str]) -> None:
        """Tick exactly ``poses`` (preset names, "own" / engine.batch.OWN_POSE, pose file paths: added)."""
        wanted = [str(p) for p in poses]
        self.poses.blockSignals(True)
        for i in range(self.poses.count()):
            item = self.poses.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in wanted
                               else Qt.CheckState.Unchecked)
        self.poses.blockSignals(False)
        for p in wanted:
            if self._pose_item(p) is None:
                self.add_pose_file(p)  # a path (or an unknown name: planning says what is wrong with it)
        self._replan()

    # ------------------------------------------------------------------ paths and values
    def source(self) -> str:
        """"folders" or "csv": the tab shown."""
        return self.SOURCES[self.tabs.currentIndex()]

    def set_source(self, source: str) -> None:
        self.tabs.setCurrentIndex(self.SOURCES.index(source))

    def set_paths(self, people=None, garments=None, heads=None, csv=None, out=None,
                  garment_photos: Optional[bool] = None, source: Optional[str] = None) -> None:
        """Set the given fields (None leaves a field as it is). Without ``source``, giving ``csv`` alone shows
        the CSV tab and giving people or garments shows the Folders tab."""
        for field, value in ((self.people, people), (self.garments, garments), (self.heads, heads),
                             (self.csv, csv), (self.out_field, out)):
            if value is not None:
                field.set_text(value)
        if garment_photos is not None:
            self.garment_photos.setChecked(bool(garment_photos))
        if source is None:
            if people is not None or garments is not None:
                source = "folders"
            elif csv is not None:
                source = "csv"
        if source is not None:
            self.set_source(source)
        self._replan()

    def values(self) -> dict:
        """Every choice, for remembering it (JSON-friendly); :meth:`set_values` restores it."""
        return {"source": self.source(), "people": self.people.text(), "garments": self.garments.text(),
                "garment_photos": self.garment_photos.isChecked(), "heads": self.heads.text(),
                "csv": self.csv.text(), "poses": self.poses_chosen(), "out": self.out_field.text()}

    def set_values(self, values: dict) -> None:
        """Restore :meth:`values` (unknown keys are ignored; pose files that no longer exist are left out)."""
        from engine.body.presets import list_presets

        v = dict(values or {})
        self.set_paths(people=v.get("people"), garments=v.get("garments"), heads=v.get("heads"),
                       csv=v.get("csv"), out=v.get("out"), garment_photos=v.get("garment_photos"),
                       source=v.get("source") if v.get("source") in self.SOURCES else None)
        if isinstance(v.get("poses"), list):
            known = set(list_presets()) | {OWN_POSE}
            self.set_poses([p for p in v["poses"] if isinstance(p, str)
                            and (p in known or Path(p).expanduser().is_file())])

    # ------------------------------------------------------------------ planning
    def _make_plan(self) -> list[BatchItem]:
        if self.source() == "csv":
            if not self.csv.text():
                raise BatchError("Choose a CSV file listing the try-ons.")
            items = plan_csv(self.csv.text())
            if not items:
                raise BatchError(f"{self.csv.text()}: has a header row but no try-ons")
            return items
        if not self.people.text():
            raise BatchError("Choose the people folder (the client photos).")
        if not self.garments.text():
            raise BatchError("Choose the garments folder.")
        if not self.poses_chosen():
            raise BatchError("Tick at least one pose.")
        return plan_folders(self.people.text(), self.garments.text(), self.poses_chosen(),
                            heads=self.heads.text() or None, garment_photos=self.garment_photos.isChecked())

    @staticmethod
    def _same_key(items: Sequence[BatchItem]) -> str:
        """Two items saved under one name would overwrite each other (engine.batch.BatchRunner refuses that)."""
        seen: dict[str, BatchItem] = {}
        for it in items:
            other = seen.setdefault(it.key, it)
            if other != it:
                return (f"{other.person.name} / {other.garment.name} and {it.person.name} / {it.garment.name} "
                        f"would both be saved as {it.key}.png: give the files distinct names")
        return ""

    def _describe(self, items: Sequence[BatchItem]) -> str:
        n = len(items)
        if self.source() == "csv":
            text = f"{_plural(n, 'row')} in the CSV = {_plural(n, 'try-on')}"
        else:
            people = len({i.person for i in items})
            garments = len({i.garment for i in items})
            poses = len({i.pose for i in items})
            text = (f"{_plural(people, 'person', 'people')} × {_plural(garments, 'garment')} × "
                    f"{_plural(poses, 'pose')} = {_plural(n, 'try-on')}")
            if self.heads.text():
                with_head = len({i.person for i in items if i.head is not None})
                text += f"; {with_head} of {people} with a head image"
        photos = len({i.garment for i in items if i.garment_is_photo})
        if photos:
            text += f" (+ {_plural(photos, 'try-off')} of garment photos first)"
        return text

    def _out_problem(self) -> str:
        out = self.out_field.text()
        if not out:
            return "Choose an output folder for the results."
        p = Path(out).expanduser()
        if p.exists() and not p.is_dir():
            return f"The output folder {p} is a file, not a folder."
        return ""

    def _replan(self, *_) -> None:
        self.pose_count.setText(f"{len(self.poses_chosen())} ticked")
        try:
            self.plan = self._make_plan()
            problem = self._same_key(self.plan)
        except BatchError as e:
            self.plan, problem = [], str(e)
        except Exception as e:  # noqa: BLE001 - planning reads the disk; whatever goes wrong is said, not raised
            self.plan, problem = [], f"The batch cannot be planned: {e.__class__.__name__}: {e}"
        if problem:
            self.plan = []
            self.problem = problem
            self.summary.setText(problem)
        else:
            self.problem = self._out_problem()
            text = self._describe(self.plan)
            out = Path(self.out_field.text()).expanduser() if self.out_field.text() else None
            if out is not None and (out / "items").is_dir():
                done = sum((out / "items" / f"{i.key}.png").is_file() for i in self.plan)
                if done:
                    text += (f"\n{done} of them already in the output folder: skipped if their inputs and "
                             "settings are unchanged.")
            self.summary.setText(text + (f"\n{self.problem}" if self.problem else ""))
        self.summary.setStyleSheet(ERROR_STYLE if self.problem else "font-weight: bold;")
        self.ok_button.setEnabled(not self.problem)

    def accept(self) -> None:
        self._replan()  # the folders may have changed since the last edit
        if self.problem:
            return
        self.items = list(self.plan)
        self.out = Path(self.out_field.text()).expanduser()
        super().accept()


# ====================================================================== turntable
@dataclass
class TurntableOptions:
    """A turntable's settings: ``views`` cameras around the body made ``batch`` at a time (one generation
    each), at ``elevation`` degrees; exported at ``fps`` as GIF / MP4 / a contact sheet into ``folder``
    ("" = only the gallery)."""

    views: int = 8
    batch: int = 8
    elevation: float = 0.0
    fps: int = 8
    gif: bool = True
    mp4: bool = True
    sheet: bool = True
    folder: str = ""
    share_canvas: bool = True  # several views side by side on one canvas (as many as the model was trained for)

    @property
    def batches(self) -> int:
        return -(-self.views // max(1, self.batch))


def mp4_available() -> bool:
    """MP4 export needs PyAV (engine.media.save_mp4)."""
    return importlib.util.find_spec("av") is not None


class TurntableDialog(QDialog):
    """Turntable: views around the body, in batches, exported as GIF / MP4 / contact sheet.

    ``TurntableDialog(parent=None, options=None, start_dir="", views_per_canvas=1)`` (``options``: the
    last-used :class:`TurntableOptions`; ``views_per_canvas``: how many views the loaded model takes on one
    canvas — "Share canvases" is offered only when that is more than 1); ``options()`` returns the choice,
    ``set_options()`` sets it.
    """

    def __init__(self, parent: QWidget | None = None, options: Optional[TurntableOptions] = None,
                 start_dir: str = "", views_per_canvas: int = 1) -> None:
        super().__init__(parent)
        self.setWindowTitle("Turntable")
        self._mp4 = mp4_available()
        intro = hint_label("Views all around the body in the current pose, with the current garment and head. "
                           "They go to the gallery; the exports are made from them.")

        self.views = QSpinBox()
        self.views.setRange(2, 72)
        self.views.setToolTip("How many cameras around the body (evenly spaced over 360°)")
        self.quick = {}
        views_row = QHBoxLayout()
        views_row.addWidget(self.views, 1)
        for n in (8, 24):
            b = QPushButton(str(n))
            b.setToolTip(f"{n} views")
            b.setFixedWidth(44)
            _no_default(b)
            b.clicked.connect(partial(self.views.setValue, n))  # not a lambda on self: see SlotBox
            views_row.addWidget(b)
            self.quick[n] = b
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setToolTip("Views generated together in one generation (they share the clean panels)")
        self.share = QCheckBox("Share canvases: faster")
        self.share.setToolTip("Put several views side by side on one canvas, so the garment and head are computed "
                              f"once for them (this model: up to {views_per_canvas}). Off: one canvas per view, "
                              "slower and a little closer to the guide")
        # A model trained on one person panel has nothing to share: the option would only mislead.
        self.share.setVisible(views_per_canvas > 1)
        self.elevation = QSpinBox()
        self.elevation.setRange(-30, 45)
        self.elevation.setSingleStep(5)
        self.elevation.setSuffix("°")
        self.elevation.setToolTip("Camera height angle: positive looks down on the body, negative up at it")
        self.fps = QSpinBox()
        self.fps.setRange(1, 30)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Frames per second of the GIF and the MP4")
        self.gif = QCheckBox("GIF")
        self.gif.setToolTip("An animated GIF that loops (turntable.gif)")
        self.mp4 = QCheckBox("MP4")
        self.mp4.setToolTip("An H.264 video (turntable.mp4)" if self._mp4
                            else "MP4 export needs PyAV (pip install av); GIF works without it")
        self.mp4.setEnabled(self._mp4)
        self.sheet = QCheckBox("Contact sheet")
        self.sheet.setToolTip("Every view on one PNG, labelled with its angle (contact_sheet.png)")
        formats = QHBoxLayout()
        for c in (self.gif, self.mp4, self.sheet):
            formats.addWidget(c)
        formats.addStretch(1)
        self.folder = PathField("dir", "Export folder", "optional: empty = only the gallery",
                                "The folder for the GIF, MP4 and contact sheet; empty: the views go only to the "
                                "gallery", start_dir=start_dir)
        self.cost = QLabel()
        self.cost.setStyleSheet("font-weight: bold;")
        self.cost.setToolTip("Each batch is one generation: the time of one multi-view job")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Views", views_row)
        form.addRow("Views per batch", self.batch)
        form.addRow("", hint_label("Each batch is one generation; smaller uses less GPU memory."))
        form.addRow("", self.share)
        form.addRow("Camera elevation", self.elevation)
        form.addRow("Frame rate", self.fps)
        form.addRow("Export", formats)
        form.addRow("Export folder", self.folder)
        self.buttons, self.ok_button = _buttons(self, "Make turntable")
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.cost)
        lay.addStretch(1)
        lay.addWidget(self.buttons)
        for spin in (self.views, self.batch, self.fps):
            spin.valueChanged.connect(self._update)
        for c in (self.gif, self.mp4, self.sheet):
            c.toggled.connect(self._update)
        self.folder.changed.connect(self._update)
        self.set_options(options or TurntableOptions())
        self.resize(480, 0)

    def set_options(self, o: TurntableOptions) -> None:
        self.views.setValue(int(o.views))
        self.batch.setValue(int(o.batch))
        self.elevation.setValue(int(round(o.elevation)))
        self.fps.setValue(int(round(o.fps)))
        self.gif.setChecked(bool(o.gif))
        self.mp4.setChecked(bool(o.mp4) and self._mp4)
        self.sheet.setChecked(bool(o.sheet))
        self.share.setChecked(bool(getattr(o, "share_canvas", True)))
        self.folder.set_text(o.folder or "")
        self._update()

    def options(self) -> TurntableOptions:
        return TurntableOptions(views=self.views.value(), batch=self.batch.value(),
                                elevation=float(self.elevation.value()), fps=self.fps.value(),
                                gif=self.gif.isChecked(), mp4=self.mp4.isChecked(), sheet=self.sheet.isChecked(),
                                folder=self.folder.text(), share_canvas=self.share.isChecked())

    def _update(self, *_) -> None:
        o = self.options()
        n, rest = o.batches, o.views % o.batch
        text = f"{o.views} views = {_plural(n, 'batch', 'batches')}"
        if n > 1 and rest:
            text += f" (the last of {_plural(rest, 'view')})"
        text += f"; a {o.views / o.fps:.1f} s loop at {o.fps} fps"
        if o.folder and not (o.gif or o.mp4 or o.sheet):
            text += "\nNo export format ticked: nothing is written to the export folder."
        self.cost.setText(text)


# ====================================================================== person to person
class PersonToPersonDialog(QDialog):
    """Garment from one person onto another: photo A (wearing it) and photo B (to dress), B's head, the pose.

    ``PersonToPersonDialog(parent=None, photo_a=None, photo_b=None, start_dir="")``: ``photo_a`` / ``photo_b``
    prefill the slots (an RGB uint8 array, or an image path). Results: ``.photo_a``, ``.photo_b``, ``.head``
    (arrays; ``head`` None when B's head is cropped from the photo), ``.pose_source`` ("own" | "viewport"),
    ``.paths`` ({"photo_a", "photo_b", "head"}: file paths, None for an image given as pixels).
    Setters: ``set_photo_a(path)``, ``set_photo_b(path)``, ``set_head(path)`` (each True when loaded),
    ``set_head_source("crop" | "image")``, ``set_pose_source("own" | "viewport")``.
    """

    def __init__(self, parent: QWidget | None = None, photo_a=None, photo_b=None, start_dir: str = "",
                 label_a: str = "current person photo", label_b: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Garment from one person onto another")
        intro = hint_label("Takes the garment off the person in photo A, then puts it on the person in photo B "
                           "(two generations, both kept in the gallery).")
        self.box_a = SlotBox("photo_a", "Photo A", "Photo of the person wearing the garment", start_dir=start_dir)
        self.box_b = SlotBox("photo_b", "Photo B", "Photo of the person to dress", start_dir=start_dir)
        self.box_head = SlotBox("head", "Head of B", "A head image of B (instead of the crop from photo B)",
                                width=150, start_dir=start_dir)
        captions = {self.box_a: "Photo of the person wearing the garment",
                    self.box_b: "Photo of the person to dress",
                    self.box_head: "B's head, if not cropped from photo B"}
        top = QGridLayout()
        top.setHorizontalSpacing(12)
        for col, box in enumerate((self.box_a, self.box_b, self.box_head)):
            cap = WrapLabel(captions[box])
            cap.setFixedWidth(box.slot.maximumWidth())
            cap.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
            top.addWidget(cap, 0, col, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
            top.addWidget(box, 1, col, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)

        self.head_crop = QRadioButton("Crop B's head from the photo")
        self.head_crop.setToolTip("The head is found in photo B with the pose estimator and cropped")
        self.head_image = QRadioButton("Use a head image…")
        self.head_image.setToolTip("Use the head image on the right (Browse… or drop one there)")
        self.head_group = QButtonGroup(self)
        self.head_group.addButton(self.head_crop)
        self.head_group.addButton(self.head_image)
        self.head_crop.setChecked(True)
        head_box = QGroupBox("Head")
        hl = QVBoxLayout(head_box)
        hl.addWidget(self.head_crop)
        hl.addWidget(self.head_image)
        self.pose_own = QRadioButton("B's own pose (estimated from the photo)")
        self.pose_own.setToolTip("B is dressed in the pose of photo B")
        self.pose_viewport = QRadioButton("The pose in the viewport")
        self.pose_viewport.setToolTip("B is dressed in the pose set in the pose panel / 3D viewport")
        self.pose_group = QButtonGroup(self)
        self.pose_group.addButton(self.pose_own)
        self.pose_group.addButton(self.pose_viewport)
        self.pose_own.setChecked(True)
        pose_box = QGroupBox("Target pose")
        pl = QVBoxLayout(pose_box)
        pl.addWidget(self.pose_own)
        pl.addWidget(self.pose_viewport)
        choices = QHBoxLayout()
        choices.addWidget(head_box, 1)
        choices.addWidget(pose_box, 1)

        self.status = QLabel()
        self.status.setStyleSheet(hint_style())
        self.buttons, self.ok_button = _buttons(self, "Dress B")
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(top)
        lay.addLayout(choices)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)

        for box in (self.box_a, self.box_b, self.box_head):
            box.slot.changed.connect(self._update)
        self.head_image.toggled.connect(self._update)
        self.head_image.clicked.connect(self._head_clicked)
        self._prefill(self.box_a, photo_a, label_a)
        self._prefill(self.box_b, photo_b, label_b or "given photo")
        self._update()
        # an explicit size: Qt's own first size follows the previews' pixmaps, which are scaled to the size a
        # widget has before it is laid out (640x480), and comes out far too tall
        self.resize(self.minimumSizeHint().width(), self.minimumSizeHint().height() + 20)

    @staticmethod
    def _prefill(box: SlotBox, value, label: str) -> None:
        if value is None:
            return
        if isinstance(value, (str, Path)):
            box.set_path(value)
        else:
            box.set_image(np.asarray(value, np.uint8), label)

    def _head_clicked(self) -> None:  # the user chose "Use a head image…" and none is there yet: ask for one
        if self.box_head.image is None:
            self.box_head.slot.open_dialog()

    # ------------------------------------------------------------------ setters
    def set_photo_a(self, path: str | Path) -> bool:
        return self.box_a.set_path(path)

    def set_photo_b(self, path: str | Path) -> bool:
        return self.box_b.set_path(path)

    def set_head(self, path: str | Path) -> bool:
        """Load a head image and choose "Use a head image"."""
        ok = self.box_head.set_path(path)
        if ok:
            self.head_image.setChecked(True)
        return ok

    def set_head_source(self, source: str) -> None:
        """"crop" (from photo B) or "image" (the head image slot)."""
        (self.head_image if source == "image" else self.head_crop).setChecked(True)

    def set_pose_source(self, source: str) -> None:
        """"own" (B's pose, estimated from photo B) or "viewport"."""
        (self.pose_viewport if source == "viewport" else self.pose_own).setChecked(True)

    # ------------------------------------------------------------------ results
    @property
    def photo_a(self) -> Optional[np.ndarray]:
        return self.box_a.image

    @property
    def photo_b(self) -> Optional[np.ndarray]:
        return self.box_b.image

    @property
    def head(self) -> Optional[np.ndarray]:
        return self.box_head.image if self.head_image.isChecked() else None

    @property
    def head_source(self) -> str:
        return "image" if self.head_image.isChecked() else "crop"

    @property
    def pose_source(self) -> str:
        return "viewport" if self.pose_viewport.isChecked() else "own"

    @property
    def paths(self) -> dict:
        return {"photo_a": self.box_a.path, "photo_b": self.box_b.path,
                "head": self.box_head.path if self.head_image.isChecked() else None}

    def missing(self) -> list[str]:
        """What is still needed before OK."""
        need = []
        if self.photo_a is None:
            need.append("photo A (the person wearing the garment)")
        if self.photo_b is None:
            need.append("photo B (the person to dress)")
        if self.head_image.isChecked() and self.box_head.image is None:
            need.append("the head image")
        return need

    def _update(self, *_) -> None:
        self.box_head.setEnabled(self.head_image.isChecked())
        need = self.missing()
        self.status.setText("Still needed: " + ", ".join(need) + "." if need else "Ready: A's garment onto B.")
        self.ok_button.setEnabled(not need)

    def accept(self) -> None:
        if self.missing():
            return
        super().accept()


# ====================================================================== layer
class LayerDialog(QDialog):
    """Layer another garment over a result: the result is the starting image of a generation (strength < 1).

    ``LayerDialog(parent=None, base=None, garment=None, strength=0.75, start_dir="")``: ``base`` is the result
    (RGB uint8), ``garment`` an optional prefilled garment (array or path). Results: ``.garment`` (array),
    ``.strength`` (float, 0.30–1.00), ``.garment_path`` (None for a garment given as pixels). Setters:
    ``set_garment(path)`` (True when loaded), ``set_strength(value)``.
    """

    STRENGTH_RANGE = (0.30, 1.00)

    def __init__(self, parent: QWidget | None = None, base: Optional[np.ndarray] = None, garment=None,
                 strength: float = 0.75, start_dir: str = "", garment_label: str = "given garment") -> None:
        super().__init__(parent)
        self.setWindowTitle("Layer another garment over this result")
        intro = hint_label("The result below is the starting point: the new garment is generated over it, so "
                           "the layer underneath can still show (e.g. a jacket over a shirt).")
        self.base = None if base is None else np.asarray(base, np.uint8)
        self.base_view = ImageView("no result", min_size=(166, 221))
        self.base_view.set_image(self.base)
        self.base_view.setToolTip("The result to layer over (the layer below)")
        base_frame = QFrame()  # framed like the garment slot beside it
        base_frame.setObjectName("baseFrame")
        base_frame.setStyleSheet("#baseFrame { border: 1px solid palette(mid); border-radius: 6px; }")
        base_frame.setMaximumWidth(300)
        base_cap = QLabel("<b>This result</b><br><span style='font-size:10px; color:gray'>the layer below</span>")
        base_cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        size = QLabel("—" if self.base is None else "{1}×{0}".format(*self.base.shape[:2]))
        size.setAlignment(Qt.AlignmentFlag.AlignCenter)
        size.setStyleSheet("font-size: 10px; color: palette(mid);")
        base_col = QVBoxLayout(base_frame)
        base_col.setContentsMargins(6, 6, 6, 6)
        base_col.setSpacing(4)
        base_col.addWidget(base_cap)
        base_col.addWidget(self.base_view, 1)
        base_col.addWidget(size)
        self.box = SlotBox("garment", "Garment", "The garment to put over the result (a flat garment image)",
                           start_dir=start_dir)
        plus = QLabel("+")
        plus.setStyleSheet("font-size: 22px; color: palette(mid);")
        top = QHBoxLayout()
        top.addWidget(base_frame, 1)
        top.addWidget(plus)
        top.addWidget(self.box, 0, Qt.AlignmentFlag.AlignTop)

        lo, hi = (round(v * 100) for v in self.STRENGTH_RANGE)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(5)
        self.slider.setTickInterval(10)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("How much the generation may change the result: lower keeps more of the layer "
                               "below; 1.0 ignores it (a fresh try-on)")
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(36)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Strength"))
        srow.addWidget(self.slider, 1)
        srow.addWidget(self.value_label)
        self.buttons, self.ok_button = _buttons(self, "Layer it")
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(top, 1)
        lay.addLayout(srow)
        lay.addWidget(hint_label("Lower keeps more of the layer below; 1.0 ignores it."))
        lay.addWidget(self.buttons)
        self.slider.valueChanged.connect(self._update)
        self.box.slot.changed.connect(self._update)
        if isinstance(garment, (str, Path)):
            self.box.set_path(garment)
        elif garment is not None:
            self.box.set_image(np.asarray(garment, np.uint8), garment_label)
        self.set_strength(strength)
        self._update()
        self.resize(max(540, self.minimumSizeHint().width()), 560)  # see PersonToPersonDialog's resize

    def set_garment(self, path: str | Path) -> bool:
        return self.box.set_path(path)

    def set_strength(self, value: float) -> None:
        lo, hi = self.STRENGTH_RANGE
        self.slider.setValue(round(min(max(float(value), lo), hi) * 100))

    @property
    def strength(self) -> float:
        return self.slider.value() / 100.0

    @property
    def garment(self) -> Optional[np.ndarray]:
        return self.box.image

    @property
    def garment_path(self) -> Optional[Path]:
        return self.box.path

    def _update(self, *_) -> None:
        self.value_label.setText(f"{self.strength:.2f}")
        self.ok_button.setEnabled(self.garment is not None)

    def accept(self) -> None:
        if self.garment is None:
            return
        super().accept()
