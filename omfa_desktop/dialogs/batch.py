"""The batch dialog: people x garments x poses (or a CSV plan) into a results folder."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QTabWidget, QVBoxLayout, QWidget)

from engine.batch import OWN_POSE, BatchError, BatchItem, plan_csv, plan_folders
from omfa_desktop.dialogs.common import (CSV_FILTER, ERROR_STYLE, POSE_FILTER, PathField, WrapLabel, hint_label,
                                         hint_style, no_default, ok_buttons)
from omfa_desktop.model.jobs import plural


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
        no_default(self.add_pose_button, self.remove_pose_button)
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
        self.buttons, self.ok_button = ok_buttons(self, "Start batch")

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
            text = f"{plural(n, 'row')} in the CSV = {plural(n, 'try-on')}"
        else:
            people = len({i.person for i in items})
            garments = len({i.garment for i in items})
            poses = len({i.pose for i in items})
            text = (f"{plural(people, 'person', 'people')} × {plural(garments, 'garment')} × "
                    f"{plural(poses, 'pose')} = {plural(n, 'try-on')}")
            if self.heads.text():
                with_head = len({i.person for i in items if i.head is not None})
                text += f"; {with_head} of {people} with a head image"
        photos = len({i.garment for i in items if i.garment_is_photo})
        if photos:
            text += f" (+ {plural(photos, 'try-off')} of garment photos first)"
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
