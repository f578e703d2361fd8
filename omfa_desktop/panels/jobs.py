"""The queue (every job with its state) and the running job (title, live preview, caption, progress)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar,
                               QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from omfa_desktop.model.jobs import Job, JobKind, JobState, format_seconds
from omfa_desktop.qtutil import ImageView

STATE_COLORS = {JobState.QUEUED: "#6b7280", JobState.RUNNING: "#1d6fd1", JobState.FINISHED: "#15803d",
                JobState.CANCELLED: "#9a5b00", JobState.FAILED: "#b42318"}


class JobsPanel(QGroupBox):
    """The queue's jobs, newest first, coloured by state; cancel one, clear the finished ones."""

    def __init__(self, queue, parent: QWidget | None = None) -> None:
        super().__init__("Jobs", parent)
        self.queue = queue
        self.items: dict[int, QListWidgetItem] = {}
        self.job_list = QListWidget()
        self.job_list.setMinimumHeight(44)
        # its size hint (~190 px) would make the left column scroll; it takes whatever height is left
        self.job_list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.cancel_selected = QPushButton("Cancel selected")
        self.clear_done = QPushButton("Clear finished")
        lay = QVBoxLayout(self)
        lay.addWidget(self.job_list, 1)
        row = QHBoxLayout()
        row.addWidget(self.cancel_selected)
        row.addWidget(self.clear_done)
        lay.addLayout(row)
        self.cancel_selected.clicked.connect(self._cancel_selected)
        self.clear_done.clicked.connect(self._clear_done)
        queue.jobAdded.connect(self.add)
        queue.jobChanged.connect(self.update_job)

    def add(self, job: Job) -> None:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, job.id)
        self.job_list.insertItem(0, item)
        self.items[job.id] = item
        self.update_job(job)

    def update_job(self, job: Job) -> None:
        item = self.items.get(job.id)
        if item is None:
            return
        item.setText(f"{job.title()}\n   {job.state.value.upper()} — {job.status_text()}")
        item.setForeground(QColor(STATE_COLORS[job.state]))
        font = QFont()
        font.setBold(job.state == JobState.RUNNING)
        item.setFont(font)

    def _cancel_selected(self) -> None:
        item = self.job_list.currentItem()
        if item is not None:
            self.queue.cancel(int(item.data(Qt.ItemDataRole.UserRole)))

    def _clear_done(self) -> None:
        for job in [j for j in self.queue.jobs if j.done]:
            self.queue.jobs.remove(job)
            item = self.items.pop(job.id, None)
            if item is not None:
                self.job_list.takeItem(self.job_list.row(item))


class CurrentJobPanel(QGroupBox):
    """The running job: its title, the live preview of the model's estimate, a caption and the progress."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Current job", parent)
        self.job: Job | None = None
        self.title = QLabel("No job yet")
        self.title.setStyleSheet("font-weight: 600;")
        self.preview = ImageView("the live preview of the\nrunning job appears here", min_size=(120, 160))
        self.preview.setStyleSheet("#imageView { background: #2b2b2b; color: #bbb; border-radius: 4px; }")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("font-size: 11px;")
        self.caption.setMinimumHeight(2 * self.caption.fontMetrics().lineSpacing() + 6)
        self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.preview, 1)
        lay.addWidget(self.caption)
        lay.addWidget(self.progress)

    def update_job(self, job: Job) -> None:
        """A job changed: the running one takes over the panel."""
        if job.state != JobState.RUNNING:
            return
        if self.job is not job:
            self.job = job
            self.preview.set_image(None)
            self.caption.setText("")
        self.title.setText(job.title())
        if job.total:
            self.progress.setRange(0, job.total)
            self.progress.setValue(job.step)
            self.progress.setFormat(f"step {job.step}/{job.total} · {format_seconds(job.eta)} left")
        else:
            self.progress.setRange(0, 0)  # busy: encoding / loading
            self.progress.setFormat("preparing…")
        if job.cancel_event.is_set():
            self.progress.setFormat("cancelling after this step…")

    def show_progress(self, job: Job, preview, untrained: bool) -> None:
        if job.kind == JobKind.BATCH:
            self.caption.setText(f"Batch: {job.step} of {job.total} items done "
                                 f"({format_seconds(job.eta)} left); results in {job.batch.out}.")
            return
        if preview is not None and not preview.isNull():
            self.preview.set_image(preview)
        what = "garment" if job.request.task == "try-off" else "person"
        self.caption.setText(f"Live preview: the model's current estimate of the {what} (step {job.step}/{job.total}, "
                             "low resolution)." + (" <b style='color:#b42318'>Untrained model: noise.</b>"
                                                   if untrained else ""))

    def show_end(self, job: Job) -> None:
        """The progress bar's last word on a job that ended (it stays until the next job runs)."""
        last = job.step if job.state != JobState.FINISHED else job.total or job.step
        self.progress.setRange(0, max(1, job.total))
        self.progress.setValue(min(last, max(1, job.total)))
        self.progress.setFormat(job.status_text() if job.state != JobState.FAILED else "failed")
