"""An optional camera through Qt Multimedia. PySide6-Essentials (what the app installs) has no QtMultimedia:
then :func:`camera_available` is False and the kiosk takes photos from its drop folder instead.

Privacy: :meth:`CameraView.take` uses ``QImageCapture.capture()``, which hands the picture over in memory;
``captureToFile()`` would write it to the user's Pictures folder, outside the session, so it is never used.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

log = logging.getLogger("omfa.kiosk")


def camera_available() -> bool:
    """A camera Qt Multimedia can open is connected (False when the module is not installed)."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError:
        return False
    try:
        return bool(QMediaDevices.videoInputs())
    except Exception:  # noqa: BLE001 - a broken multimedia back end means: no camera
        log.warning("kiosk: Qt Multimedia could not list cameras", exc_info=True)
        return False


class CameraView(QWidget):
    """Live view of the default camera; ``take()`` emits ``captured`` with RGB uint8 (H, W, 3)."""

    captured = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtMultimedia import QCamera, QImageCapture, QMediaCaptureSession, QMediaDevices
        from PySide6.QtMultimediaWidgets import QVideoWidget

        self.camera = QCamera(QMediaDevices.defaultVideoInput())
        self.capture = QImageCapture()
        self.session = QMediaCaptureSession()
        self.session.setCamera(self.camera)
        self.session.setImageCapture(self.capture)
        self.video = QVideoWidget()
        self.video.setMinimumSize(480, 640)
        self.session.setVideoOutput(self.video)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.video)
        self.capture.imageCaptured.connect(self._captured)
        self.capture.errorOccurred.connect(lambda _id, _err, text: self.failed.emit(text))
        self.camera.errorOccurred.connect(lambda _err, text: self.failed.emit(text))

    def start(self) -> None:
        self.camera.start()

    def stop(self) -> None:
        self.camera.stop()

    def take(self) -> bool:
        if not self.capture.isReadyForCapture():
            return False
        self.capture.capture()   # in memory only (see the module docstring)
        return True

    def _captured(self, _id: int, image) -> None:
        from omfa_desktop.qtutil import from_qimage

        self.captured.emit(from_qimage(image))
