"""Where the kiosk's pictures come from: the drop folder and the camera (a customer's photo), the wardrobe
(the garments offered) and the preset poses (their cards show the exact guides they send).

A mixin of KioskWindow: it reads the window's settings, pages, store and visit.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer

from engine.kiosk_store import DropFolder
from omfa_desktop.kiosk import pages as P

log = logging.getLogger("omfa.kiosk")
# The pose cards after "My pose": presets that show a garment well from the front.
PRESETS = (("walking", "Walking"), ("contrapposto", "Relaxed"), ("hands_on_hips", "Hands on hips"),
           ("waving", "Waving"), ("hand_in_pocket", "Hand in pocket"))
PHOTO_MAX_SIDE = 1280   # the estimator needs no more; a 48 MP phone photo would cost 150 MB per visit
PHOTO_MAX_SIDE = 1280   # the estimator needs no more; a 48 MP phone photo would cost 150 MB per visit


class PhotoAndOffer:
    """Drop folder, camera, wardrobe and pose cards of :class:`omfa_desktop.kiosk.window.KioskWindow`."""

    def _apply_settings(self, first: bool = False) -> None:
        """(Re)read the kiosk settings: drop folder, camera, wardrobe, export button, idle timeout."""
        s = self.settings
        self.idle.set_timeout(s.kiosk_idle_seconds)
        self.drop = DropFolder(s.kiosk_drop_folder, settle=self.drop_settle, clock=self.clock) \
            if s.kiosk_drop_folder else None
        if self.drop is not None and not self.drop.available():
            try:  # the kiosk's own folder: create it (a mount point that is missing stays missing)
                self.drop.path.mkdir(parents=True, exist_ok=True)
            except OSError:
                log.warning("kiosk: the drop folder is not available")
        if first and self.drop is not None:
            self.drop.clear()  # photos sent before a crash or a restart: their owner is long gone
        self._watch_drop()
        want_camera = s.kiosk_camera if self.camera_wanted is None else self.camera_wanted
        if want_camera and self.camera_view is None:
            from omfa_desktop.kiosk.camera import CameraView, camera_available

            if camera_available():
                try:
                    self.camera_view = CameraView()
                    self.camera_view.captured.connect(self._captured)
                    self.camera_view.failed.connect(lambda text: log.warning("kiosk: camera: %s", text))
                    self.photo_page.camera_box.addWidget(self.camera_view)
                except Exception:  # noqa: BLE001 - no camera is a degraded kiosk, not a broken one
                    log.warning("kiosk: the camera could not be opened", exc_info=True)
                    self.camera_view = None
        hint = s.kiosk_photo_hint or "Send it to this screen's photo folder — our staff will show you how."
        self.photo_page.set_instructions(_html(hint), self.drop is not None, self.camera_view is not None)
        self.result_page.save_button.setVisible(bool(s.kiosk_export_folder))
        if self._wardrobe_given is None or not first:
            self._reload_wardrobe(force=True)
        else:
            self._reload_wardrobe(force=False)

    def _watch_drop(self) -> None:
        from PySide6.QtCore import QFileSystemWatcher

        old = getattr(self, "watcher", None)
        if old is not None:
            old.deleteLater()
        self.watcher = None
        if self.drop is not None and self.drop.available():
            # The watcher answers at once on local disks; the 0.5 s tick polls too (network shares and
            # some file systems send no change notifications).
            self.watcher = QFileSystemWatcher([str(self.drop.path)], self)
            self.watcher.directoryChanged.connect(lambda _p: QTimer.singleShot(0, self._poll_drop))

    def _reload_wardrobe(self, force: bool = True) -> None:
        from engine.wardrobe import Wardrobe

        if self._wardrobe_given is not None and not force:
            self.wardrobe = self._wardrobe_given
        elif self._wardrobe_given is not None:
            self.wardrobe = self._wardrobe_given
            self.wardrobe.reload()
        else:
            self.wardrobe = Wardrobe(self.settings.kiosk_wardrobe_folder or None)
        items = self.wardrobe.items()
        cards, teaser = [], []
        for item in items:
            pix = self._thumbs.get(item.id)
            if pix is None:
                try:
                    img = self.wardrobe.image(item.id)
                except Exception:  # noqa: BLE001 - an unreadable garment is just not offered
                    continue
                pix = P.pixmap_of(img, P.GarmentPage.ICON)
                self._thumbs[item.id] = pix
            cards.append((item.id, item.name, pix))
            if len(teaser) < 6:
                teaser.append(pix.toImage())
        for gone in set(self._thumbs) - {i.id for i in items}:
            del self._thumbs[gone]
        key = [(c[0], c[1]) for c in cards]
        if key != getattr(self, "_cards_key", None):  # rebuild the cards only when the offer changed
            self._cards_key = key
            self.garment_page.set_items(cards)
            self.start_page.set_teaser(teaser)

    def _render_preset_icons(self) -> None:
        """The exact guides the preset poses send, rendered once per model: the pose cards show them."""
        w, h = self._sizes().get("person", (96, 128))
        style = self.model_info.render_style if self.model_info else "parts_shaded"
        from engine.body.presets import PresetError, load_preset

        self.preset_guides = {}
        for name, _ in PRESETS:
            try:
                state = load_preset(name)
            except PresetError:
                continue
            spec = {"state": state, "width": w, "height": h, "style": style, "views": 1, "elevation": 0.0,
                    "body_folder": self.settings.smplx_folder, "body_gender": self.settings.smplx_gender}

            def done(images, cameras, name=name):
                self.preset_guides[name] = (images[0], cameras[0] if cameras else None)
                self.pose_page.set_icon(name, images[0])

            self.calls.render(spec, done, lambda m, d, name=name: log.warning("kiosk: pose %s: %s", name, m))

    def _poll_drop(self) -> None:
        if self.drop is None or self.current() not in ("start", "photo"):
            return
        if self.current() == "start" and not self.ready:
            return
        if self.visit is not None and self.visit.busy:
            return
        path = self.drop.poll()
        if path is None:
            return
        if self.visit is None:
            if not self.start_session():
                return
        try:
            taken = self.drop.take(path, self.visit.session)
        except OSError:
            log.warning("kiosk: a photo in the drop folder could not be taken")
            return
        self.accept_photo_file(taken)

    def accept_photo_file(self, path: Path) -> bool:
        """A photo file (already in the session folder) becomes the visit's photo."""
        from engine.images import ImageError, read_image

        if self.visit is None:
            return False
        try:
            pixels = read_image(path).pixels
        except ImageError as e:
            self.photo_page.message.show_text(f"We could not use that file: it {e.reason}. "
                                              "Please send a photo (JPEG or PNG).")
            path.unlink(missing_ok=True)
            return False
        self.visit.estimate = None
        self.photo_page.message.show_text("")
        # the photo page shows it (_new_look)
        self.visit.look.set_input("person", _limit(pixels, PHOTO_MAX_SIDE), "photo")
        if self.current() != "photo":
            self.go("photo")
        return True

    def _capture(self) -> None:
        if self.camera_view is not None:
            self.camera_view.take()

    def _captured(self, pixels: np.ndarray) -> None:
        if self.visit is None:
            return
        from PIL import Image

        path = self.visit.session.path("photo")
        Image.fromarray(pixels).save(path)
        self.accept_photo_file(path)


def _limit(img: np.ndarray, max_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    from PIL import Image

    s = max_side / max(h, w)
    return np.asarray(Image.fromarray(img).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))


def _html(text: str) -> str:
    import html

    return html.escape(text)
