"""The kiosk's staff screens: the PIN pad (set, change, check with a lockout) and the admin page.

A mixin of KioskWindow (its pages, settings, guard and visit are the window's): the customer flow stays in
omfa_desktop.kiosk.window, what staff do lives here.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from engine.kiosk_store import PinGuard

log = logging.getLogger("omfa.kiosk")

#: The admin page's text fields and the settings they edit: one table, so that filling the page and saving
#: it cannot drift apart.
_TEXT_FIELDS = (("drop", "kiosk_drop_folder"), ("hint", "kiosk_photo_hint"), ("export", "kiosk_export_folder"),
                ("wardrobe", "kiosk_wardrobe_folder"))


class StaffScreens:
    """PIN and admin behaviour of :class:`omfa_desktop.kiosk.window.KioskWindow`."""

    def ask_pin(self, purpose: str) -> None:
        """The PIN pad, for ``purpose`` "admin" or "quit"; the current page comes back on Cancel."""
        if self.current() == "pin":
            return
        self._pin_return = self.current() or "start"
        self._pin_purpose = purpose
        titles = {"admin": ("Staff only", "Enter the PIN to open the settings."),
                  "quit": ("Staff only", "Enter the PIN to close the app.")}
        self.pin_page.ask(*titles[purpose])
        self.pin_page.cancel_button.show()
        self.go("pin")
        self.pin_page.set_locked(self.guard.locked_for())

    def _ask_new_pin(self, back: str, title: str, subtitle: str) -> None:
        self._pin_purpose = "setup" if back == "start" else "change"
        self._pin_return = back
        self._new_pin = ""
        self.pin_page.ask(title, subtitle)
        self.pin_page.cancel_button.setVisible(back != "start")
        self.pin_page.set_locked(0)
        self.go("pin")

    def _pin_entered(self, pin: str) -> None:
        from engine.kiosk_store import pin_problem

        purpose = self._pin_purpose
        page = self.pin_page
        if purpose in ("setup", "change"):
            if not self._new_pin:
                problem = pin_problem(pin)
                if problem:
                    page.message.show_text(problem[0].upper() + problem[1:] + ".")
                    return
                self._new_pin = pin
                page.subtitle.setText("Enter the same PIN again.")
                page.message.show_text("")
                return
            if pin != self._new_pin:
                self._new_pin = ""
                page.subtitle.setText("4 to 12 digits.")
                page.message.show_text("The two PINs were different. Start again.")
                return
            self._store_pin(pin)
            return
        result = self.guard.attempt(pin)
        if result == "ok":
            log.info("kiosk: staff unlocked (%s)", purpose)
            if purpose == "quit":
                self.quit_app()
            else:
                self.open_admin()
        elif result == "locked":
            page.set_locked(self.guard.locked_for())
        else:
            left = self.guard.attempts_left()
            if self.guard.locked_for() > 0:
                page.set_locked(self.guard.locked_for())
            else:
                page.message.show_text(f"Wrong PIN. {left} more tr{'y' if left == 1 else 'ies'} before a pause.")

    def _store_pin(self, pin: str) -> None:
        from engine.kiosk_store import hash_pin
        from engine.persist import StorageError
        from omfa_desktop.model.app_settings import save_settings

        record = hash_pin(pin)
        new = dataclasses.replace(self.settings, kiosk_pin=record)
        try:
            save_settings(new)
        except StorageError as e:
            self.pin_page.message.show_text(f"The PIN could not be saved: {e}")
            self._new_pin = ""
            return
        self.settings = new
        self.pin_state.mark_pin_set(keep_lockout=False)
        self.guard = PinGuard(record, clock=self.clock, state=self.pin_state)
        self._new_pin = ""
        log.info("kiosk: the staff PIN was %s", "set" if self._pin_purpose == "setup" else "changed")
        if self._pin_return == "admin":
            self.open_admin()
            self.admin_page.message.show_text("The new PIN is saved.", "info")
        else:
            self._update_ready()
            self.go("start")

    def _pin_cancelled(self) -> None:
        back = self._pin_return if self._pin_return not in ("pin", "") else "start"
        self._pin_purpose = ""
        self.go("admin" if back == "admin" else back)

    def open_admin(self) -> None:
        s = self.settings
        ap = self.admin_page
        ap.idle.setValue(s.kiosk_idle_seconds)
        for field, setting in _TEXT_FIELDS:
            getattr(ap, field).setText(getattr(s, setting))
        ap.camera.setChecked(s.kiosk_camera)
        ap.start_kiosk.setChecked(s.kiosk)
        ap.message.show_text("")
        self._refresh_admin_status()
        self._pin_purpose = ""
        self.go("admin")

    def _refresh_admin_status(self) -> None:
        s = self.settings
        info = self.model_info
        export = s.kiosk_export_folder
        export_state = ("not set (no Save button)" if not export else
                        "ready" if Path(export).expanduser().is_dir() else "<b>not available</b> (USB stick?)")
        drop = ("not set" if self.drop is None else
                "ready" if self.drop.available() else "<b>not available</b>")
        self.admin_page.status.setText(
            f"Model: {info.describe if info else 'not loaded'}<br>"
            f"Garments offered: {len(self.wardrobe.items()) if self.wardrobe is not None else 0}<br>"
            f"Camera: {'on' if self.camera_view is not None else 'none found (Qt Multimedia)'} · "
            f"drop folder: {drop} · export: {export_state}<br>"
            f"Visits since start: {self.sessions_served} · engine restarts: {self.engine_restarts} · "
            f"keys blocked: {self.filter.blocked}")

    def save_admin(self) -> bool:
        from engine.persist import StorageError
        from omfa_desktop.model.app_settings import SettingsError, save_settings, validate

        ap = self.admin_page
        texts = {setting: getattr(ap, field).text().strip() for field, setting in _TEXT_FIELDS}
        new = dataclasses.replace(self.settings, kiosk_idle_seconds=ap.idle.value(), **texts,
                                  kiosk_camera=ap.camera.isChecked(), kiosk=ap.start_kiosk.isChecked())
        try:
            validate(new, check_device=False, deep=False)
            save_settings(new)
        except SettingsError as e:
            ap.message.show_text(f"{e.field}: {e.message}")
            return False
        except StorageError as e:
            ap.message.show_text(f"Not saved: {e}")
            return False
        self.settings = new
        self._apply_settings()
        self._refresh_admin_status()
        ap.message.show_text("Saved.", "info")
        log.info("kiosk: settings changed by staff")
        return True

    def lock(self) -> None:
        """Leave the staff screens."""
        self._pin_purpose = ""
        if self.visit is not None:
            self.end_session("idle")
        else:
            self.go("start")
            self._update_ready()

    def quit_app(self) -> None:
        log.info("kiosk: closed by staff")
        self._may_close = True
        self.close()
