"""Kiosk mode (omfa_desktop/kiosk): the guided flow, the PIN guarding quitting and settings, the idle purge,
crash recovery (leftovers at start, failed jobs, a dead engine thread) — on the tiny model."""
import json
import logging

import pytest
from kiosk_testing import PIN, Clock, StubEstimator, drop_photo, files_under, fill_wardrobe, run_visit
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from engine.kiosk_store import PIN_MIN_ITERATIONS, hash_pin


@pytest.fixture
def make_kiosk(qtbot, data_dir, tiny_model_dir, tmp_path):
    """``make_kiosk(**kw)`` -> a shown KioskWindow on the tiny model (1 step), its model loaded; ``k.paths``
    has its kiosk root, drop, export and wardrobe folders."""
    from omfa_desktop.kiosk.window import KioskWindow
    from omfa_desktop.model.app_settings import AppSettings

    made = []
    paths = {"root": tmp_path / "kiosk", "drop": tmp_path / "drop", "export": tmp_path / "usb",
             "wardrobe": tmp_path / "wardrobe"}
    paths["export"].mkdir()
    fill_wardrobe(paths["wardrobe"])

    def make(wait: bool = True, pin: str | None = PIN, settings=None, **kw):
        if settings == "from disk":
            settings = None                      # KioskWindow reads settings.json itself
        elif settings is None:
            settings = AppSettings(kiosk_pin=hash_pin(pin, PIN_MIN_ITERATIONS) if pin else "",
                                   kiosk_drop_folder=str(paths["drop"]), kiosk_export_folder=str(paths["export"]),
                                   kiosk_wardrobe_folder=str(paths["wardrobe"]), kiosk_camera=False)
        kw.setdefault("model_folder", str(tiny_model_dir))
        kw.setdefault("sampling", {"steps": 1})
        kw.setdefault("drop_settle", 0.0)
        k = KioskWindow(settings=settings, root=paths["root"], fullscreen=False, camera=False, **kw)
        k.paths = paths
        qtbot.addWidget(k)
        k.resize(540, 960)
        k.show()
        made.append(k)
        if wait:
            qtbot.waitUntil(lambda: k.model_info is not None
                            or (k.queue is not None and k.queue.model_error is not None), timeout=120_000)
            assert k.model_info is not None, k.queue.model_error
        return k

    yield make
    for k in made:
        k._may_close = True
        k.shutdown()


def _key(k, key, mods=Qt.KeyboardModifier.NoModifier, to=None) -> bool:
    """Send a key press through the application (as a keyboard would); True if it was eaten."""
    before = k.filter.blocked
    ev = QKeyEvent(QEvent.Type.KeyPress, key, mods, chr(key) if key < 0x110000 and chr(key).isprintable() else "")
    QApplication.sendEvent(to or k, ev)
    return k.filter.blocked > before


def test_a_visit_from_drop_folder_to_result_leaves_nothing_behind(qtbot, make_kiosk, caplog):
    caplog.set_level(logging.INFO, "omfa.kiosk")
    stub = StubEstimator()
    k = make_kiosk(estimator=stub)
    assert k.current() == "start" and k.start_page.start_button.isEnabled()
    assert len(k.garment_page.cards) == 3
    run_visit(qtbot, k, k.paths["drop"], done=False)
    v = k.visit
    assert k.result_page.view.image() is not None and len(v.outputs) == 1
    folder = v.session.folder
    assert folder.parent == k.paths["root"] and len(files_under(folder)) == 2  # the photo and the result
    assert files_under(k.paths["drop"]) == []                                  # the photo was moved, not copied
    written = k.save_result()
    assert len(written) == 1 and written[0].parent == k.paths["export"] and "omfa-look-" in written[0].name
    assert "Saved" in k.result_page.message.message()
    k.result_page.done_button.click()
    assert k.current() == "start" and "deleted" in k.start_page.message.message()
    assert files_under(k.paths["root"]) == []
    assert not any(p.name.startswith("gallery") for p in k.paths["root"].parent.iterdir())
    assert k.queue.jobs == []                  # no history kept
    assert "session ended (done): purged, 3 file(s) deleted" in caplog.text
    assert folder.name not in caplog.text and "IMG_0001" not in caplog.text


def test_start_button_then_a_photo_sent_to_the_drop_folder(qtbot, make_kiosk):
    k = make_kiosk(estimator=StubEstimator(), drop_settle=0.2)
    k.start_page.start_button.click()
    assert k.current() == "photo" and k.visit is not None and not k.photo_page.use_button.isEnabled()
    assert "Send us a photo" in k.photo_page.instructions.text()
    drop_photo(k.paths["drop"])
    qtbot.waitUntil(lambda: k.photo_page.use_button.isEnabled(), timeout=10_000)
    k.photo_page.back_button.click()
    assert k.current() == "start" and files_under(k.paths["root"]) == [] and k.start_page.message.message() == ""


def test_the_pin_guards_quitting(qtbot, make_kiosk):
    k = make_kiosk(estimator=StubEstimator())
    assert k.close() is False and k.isVisible()         # a window-manager close is refused…
    assert k.current() == "pin"                          # …and asks for the PIN
    K, M = Qt.Key, Qt.KeyboardModifier
    for key, mods in ((K.Key_F4, M.AltModifier), (K.Key_Q, M.ControlModifier), (K.Key_W, M.ControlModifier),
                      (K.Key_Escape, M.NoModifier), (K.Key_F11, M.NoModifier), (K.Key_Tab, M.AltModifier),
                      (K.Key_Super_L, M.NoModifier)):
        assert _key(k, key, mods), (key, mods)
    assert not _key(k, Qt.Key.Key_5, to=k.pin_page) and k.pin_page.digits == "5"  # digits reach the PIN pad
    k.pin_page.clear()
    for d in "1111":
        k.pin_page.press(d)
    k.pin_page.press("OK")
    assert k.isVisible() and "Wrong PIN" in k.pin_page.message.message()
    k.pin_page.cancel_button.click()
    assert k.current() == "start"
    k.close()
    for d in PIN:
        k.pin_page.press(d)
    k.pin_page.press("OK")
    assert not k.isVisible() and k._shutting_down


def test_the_pin_guards_settings_and_is_rate_limited(qtbot, make_kiosk, data_dir):
    clock = Clock()
    k = make_kiosk(estimator=StubEstimator(), clock=clock)
    k.start_page.staff_button.click()
    assert k.current() == "pin"

    def enter(pin):
        for d in pin:
            k.pin_page.press(d)
        k.pin_page.press("OK")

    for _ in range(3):
        enter("2468")
    assert k.current() == "pin" and k.guard.locked_for() == 30
    enter(PIN)                                          # locked: even the right PIN waits
    assert k.current() == "pin"
    k.tick()
    assert not k.pin_page.keys["5"].isEnabled() and "Try again in 30 s" in k.pin_page.message.message()
    clock.t += 31
    k.tick()
    assert k.pin_page.keys["5"].isEnabled()
    enter(PIN)
    assert k.current() == "admin"
    k.admin_page.idle.setValue(45)
    k.admin_page.hint.setText("AirDrop to ‘Boutique screen’")
    assert k.save_admin() and k.idle.timeout == 45
    saved = json.loads((data_dir / "settings.json").read_text())
    assert saved["kiosk_idle_seconds"] == 45 and saved["kiosk_pin"].startswith("pbkdf2-sha256$")
    assert saved["kiosk_photo_hint"] == "AirDrop to ‘Boutique screen’"  # the text fields' table, both ways
    assert PIN not in (data_dir / "settings.json").read_text()
    assert "Boutique screen" in k.photo_page.instructions.text()
    assert not _key(k, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)   # staff may paste a path…
    assert _key(k, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)       # …but not quit
    k.admin_page.back_button.click()
    assert k.current() == "start"


def test_first_start_asks_staff_to_set_a_pin_stored_hashed(qtbot, make_kiosk, data_dir):
    k = make_kiosk(pin="", estimator=StubEstimator())
    assert k.current() == "pin" and not k.pin_page.cancel_button.isVisible() and not k.ready
    for d in "1111":                                     # refused: one digit repeated
        k.pin_page.press(d)
    k.pin_page.press("OK")
    assert "one digit repeated" in k.pin_page.message.message()
    for attempt in (PIN, "12345678"):                    # a mismatch starts again
        for d in attempt:
            k.pin_page.press(d)
        k.pin_page.press("OK")
    assert "different" in k.pin_page.message.message()
    for _ in range(2):
        for d in PIN:
            k.pin_page.press(d)
        k.pin_page.press("OK")
    assert k.current() == "start" and k.ready
    text = (data_dir / "settings.json").read_text()
    assert PIN not in text and json.loads(text)["kiosk_pin"].startswith("pbkdf2-sha256$600000$")


def test_a_damaged_pin_record_waits_for_staff_instead_of_asking_anyone(qtbot, make_kiosk, data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "settings.json").write_text(json.dumps({"kiosk_pin": "pbkdf2-sha256$10$00$00"}))
    from omfa_desktop.model.app_settings import load_settings

    settings, notes = load_settings()
    assert settings.kiosk_pin == "" and notes
    k = make_kiosk(settings="from disk", wait=False, estimator=StubEstimator())
    assert k.current() == "needs-staff" and "--set-kiosk-pin" in k.needs_staff.text.text()


def test_a_damaged_settings_file_never_leads_to_pin_setup_on_later_starts(qtbot, make_kiosk, data_dir):
    """Set a PIN, damage settings.json, start (needs staff, the file is moved aside), start again: still
    needs staff, never the PIN setup screen; --set-kiosk-pin from the OS unlocks it."""
    import io

    from omfa_desktop.kiosk import set_pin_interactive

    assert set_pin_interactive(io.StringIO("482915\n482915\n"), io.StringIO()) == 0
    (data_dir / "settings.json").write_text("{damaged")
    for _ in range(2):
        k = make_kiosk(settings="from disk", wait=False, estimator=StubEstimator())
        assert k.current() == "needs-staff" and k._pin_purpose != "setup"
        k._may_close = True
        k.shutdown()
    assert not (data_dir / "settings.json").exists()                 # moved aside at the first start
    assert set_pin_interactive(io.StringIO("482915\n482915\n"), io.StringIO()) == 0
    k = make_kiosk(settings="from disk", wait=False, estimator=StubEstimator())
    assert k.current() == "start"


def test_idle_timeout_warns_then_purges_the_session_and_returns_to_start(qtbot, make_kiosk, caplog):
    caplog.set_level(logging.INFO, "omfa.kiosk")
    clock = Clock()
    k = make_kiosk(estimator=StubEstimator(), clock=clock)
    drop_photo(k.paths["drop"])
    k._poll_drop()
    folder = k.visit.session.folder
    assert k.current() == "photo" and len(files_under(folder)) == 1
    clock.t += 80                                        # 90 s timeout: the last 15 s warn
    k.tick()
    assert k.overlay.isVisible() and "10 s" in k.overlay.text.text()
    QApplication.sendEvent(k.photo_page, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier))
    assert not k.overlay.isVisible()                     # any touch or key: still there
    k.tick()
    assert k.current() == "photo" and k.visit is not None
    clock.t += 91
    k.tick()
    assert k.current() == "start" and k.visit is None
    assert not folder.exists() and files_under(k.paths["root"]) == []
    assert "cleared the screen" in k.start_page.message.message()
    assert k.photo_page.preview.image() is None
    assert "session ended (idle): purged, 1 file(s) deleted" in caplog.text


def test_idle_also_locks_an_abandoned_admin_screen(qtbot, make_kiosk):
    clock = Clock()
    k = make_kiosk(estimator=StubEstimator(), clock=clock)
    k.ask_pin("admin")
    for d in PIN:
        k.pin_page.press(d)
    k.pin_page.press("OK")
    assert k.current() == "admin"
    clock.t += 200
    k.tick()
    assert k.current() == "start"


def test_a_restart_after_a_crash_purges_leftover_sessions(qtbot, make_kiosk, caplog, tmp_path):
    caplog.set_level(logging.INFO, "omfa.kiosk")
    root = tmp_path / "kiosk"
    for name in ("session-0123456789abcdef", "session-fedcba9876543210"):
        (root / name).mkdir(parents=True)
        (root / name / "photo_01.jpg").write_bytes(b"a customer's photo")
        (root / name / "result_02.png").write_bytes(b"a result")
    drop_photo(tmp_path / "drop", "sent_before_the_crash.jpg")
    k = make_kiosk(wait=False, estimator=StubEstimator())
    assert k.leftovers_purged == 2 and files_under(root) == [] and files_under(tmp_path / "drop") == []
    assert "purged 2 leftover session(s) at start (4 file(s))" in caplog.text
    assert "0123456789abcdef" not in caplog.text and "photo_01" not in caplog.text


def test_a_photo_without_a_person_returns_to_start_kindly(qtbot, make_kiosk):
    stub = StubEstimator()
    stub.fail = True
    k = make_kiosk(estimator=stub)
    drop_photo(k.paths["drop"])
    k._poll_drop()
    k.photo_page.use_button.click()
    qtbot.waitUntil(lambda: k.current() == "start", timeout=10_000)
    assert "could not see a whole person" in k.start_page.message.message()
    assert files_under(k.paths["root"]) == []


def test_a_file_that_is_no_photo_is_refused_on_the_photo_screen(qtbot, make_kiosk):
    k = make_kiosk(estimator=StubEstimator())
    k.paths["drop"].mkdir(exist_ok=True)
    (k.paths["drop"] / "scan.jpg").write_bytes(b"%PDF-1.4 not a photo")
    k._poll_drop()
    assert k.current() == "photo" and "PDF" in k.photo_page.message.message()
    assert not k.photo_page.use_button.isEnabled() and files_under(k.visit.session.folder) == []


def test_a_failed_job_returns_to_start_and_the_engine_is_rebuilt(qtbot, make_kiosk, caplog):
    caplog.set_level(logging.INFO, "omfa.kiosk")
    k = make_kiosk(estimator=StubEstimator())
    old = k.queue

    def boom(*a, **kw):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    old.worker.pipe.run = boom                           # the injected failure
    drop_photo(k.paths["drop"])
    k._poll_drop()
    k.photo_page.use_button.click()
    qtbot.waitUntil(lambda: k.current() == "garment", timeout=10_000)
    next(iter(k.garment_page.cards.values())).click()
    k.pose_page.cards["own"].click()
    qtbot.waitUntil(lambda: k.current() == "start", timeout=60_000)
    assert "could not create your look" in k.start_page.message.message()
    assert files_under(k.paths["root"]) == []
    assert k.queue is not old and k.engine_restarts == 1
    qtbot.waitUntil(lambda: k.model_info is not None, timeout=120_000)
    run_visit(qtbot, k, k.paths["drop"])                # the next customer is served by the new engine
    assert "restarting the engine (a job failed)" in caplog.text


def test_a_dead_engine_thread_is_replaced_without_restarting_the_app(qtbot, make_kiosk):
    k = make_kiosk(estimator=StubEstimator())
    old = k.queue
    old.thread.quit()                                    # the engine thread ends under the kiosk
    qtbot.waitUntil(lambda: k.queue is not old and k.queue is not None, timeout=30_000)
    qtbot.waitUntil(lambda: k.model_info is not None, timeout=120_000)
    run_visit(qtbot, k, k.paths["drop"])


def test_a_stuck_job_is_abandoned_by_the_watchdog(qtbot, make_kiosk):
    import threading

    clock = Clock()
    k = make_kiosk(estimator=StubEstimator(), clock=clock, stall_seconds=60)
    release = threading.Event()
    old = k.queue
    run = old.worker.pipe.run
    old.worker.pipe.run = lambda *a, **kw: (release.wait(60), run(*a, **kw))[1]
    try:
        drop_photo(k.paths["drop"])
        k._poll_drop()
        k.photo_page.use_button.click()
        qtbot.waitUntil(lambda: k.current() == "garment", timeout=10_000)
        next(iter(k.garment_page.cards.values())).click()
        k.pose_page.cards["own"].click()
        qtbot.waitUntil(lambda: old.running is not None, timeout=10_000)
        clock.t += 61
        k.tick()
        assert k.current() == "start" and k.queue is not old and files_under(k.paths["root"]) == []
    finally:
        release.set()


def test_cancel_returns_to_start_and_purges(qtbot, make_kiosk):
    k = make_kiosk(estimator=StubEstimator(), sampling={"steps": 30})
    drop_photo(k.paths["drop"])
    k._poll_drop()
    k.photo_page.use_button.click()
    qtbot.waitUntil(lambda: k.current() == "garment", timeout=10_000)
    next(iter(k.garment_page.cards.values())).click()
    k.pose_page.cards["own"].click()
    qtbot.waitUntil(lambda: k.visit.job is not None and k.visit.job.step >= 1, timeout=60_000)
    k.working_page.cancel_button.click()
    qtbot.waitUntil(lambda: k.current() == "start", timeout=60_000)
    assert "Cancelled" in k.start_page.message.message() and files_under(k.paths["root"]) == []


def test_an_unexpected_error_ends_the_visit_without_technical_text(qtbot, make_kiosk):
    k = make_kiosk(estimator=StubEstimator())
    drop_photo(k.paths["drop"])
    k._poll_drop()
    k.show_message("Something went wrong: KeyError: 'x'. It was written to the log (/home/x/omfa.log).", "tb")
    assert k.current() == "start" and "KeyError" not in k.start_page.message.message()
    assert files_under(k.paths["root"]) == []


def test_real_path_blazepose_preset_pose_and_turntable_then_export(qtbot, make_kiosk):
    """No stubs: the drop folder's watcher/poll, BlazePose on the guide thread, a preset's rendered guide, and
    an 8-view turntable chain as one job, exported as PNG + GIF."""
    from engine.media import frame_count

    k = make_kiosk(drop_settle=0.2)
    drop_photo(k.paths["drop"], "IMG_2001.JPG")
    qtbot.waitUntil(lambda: k.current() == "photo" and k.visit is not None and k.visit.photo is not None,
                    timeout=10_000)                        # taken by the watcher/tick, no call from the test
    k.photo_page.use_button.click()
    qtbot.waitUntil(lambda: k.current() != "photo", timeout=120_000)
    assert k.current() == "garment" and k.visit.estimate["backend"] == "blazepose"
    assert k.visit.estimate["head"] is not None
    qtbot.waitUntil(lambda: "walking" in k.preset_guides, timeout=60_000)
    next(iter(k.garment_page.cards.values())).click()
    k.pose_page.cards["walking"].click()
    qtbot.waitUntil(lambda: k.current() != "working", timeout=120_000)
    assert k.current() == "result" and len(k.visit.outputs) == 1
    k.result_page.again_button.click()
    assert k.current() == "garment"
    next(iter(k.garment_page.cards.values())).click()
    k.pose_page.turntable_button.click()
    qtbot.waitUntil(lambda: k.current() != "working", timeout=180_000)
    assert k.current() == "result" and len(k.visit.outputs) == 8 and k.flipper.isActive()
    assert k.result_page.view_label.text() == "View 1 of 8"
    written = k.save_result()
    assert [p.suffix for p in written] == [".png", ".gif"] and frame_count(written[1]) == 8
    k.result_page.done_button.click()
    assert files_under(k.paths["root"]) == [] and files_under(k.paths["drop"]) == [] and k.visit is None


def test_set_kiosk_pin_from_the_command_line_stores_only_the_hash(data_dir, monkeypatch, capsys):
    import io

    from omfa_desktop.app import main

    monkeypatch.setattr("sys.stdin", io.StringIO("482915\n482915\n"))
    assert main(["--set-kiosk-pin"]) == 0
    text = (data_dir / "settings.json").read_text()
    assert "482915" not in text and json.loads(text)["kiosk_pin"].startswith("pbkdf2-sha256$600000$")
    assert "The kiosk PIN is set" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("482915\n482916\n"))
    assert main(["--set-kiosk-pin"]) == 2 and "different" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("12\n"))
    assert main(["--set-kiosk-pin"]) == 2 and "4 to 12 digits" in capsys.readouterr().err
    assert json.loads((data_dir / "settings.json").read_text())["kiosk_pin"] == json.loads(text)["kiosk_pin"]


def test_the_start_in_kiosk_setting_is_read_without_touching_a_damaged_file(data_dir):
    from omfa_desktop.kiosk import kiosk_enabled

    assert kiosk_enabled() is False                      # no settings yet
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "settings.json").write_text(json.dumps({"kiosk": True}))
    assert kiosk_enabled() is True
    (data_dir / "settings.json").write_text("{damaged")
    assert kiosk_enabled() is False and (data_dir / "settings.json").read_text() == "{damaged"


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_a_cat_or_a_cup_goes_back_to_start_with_the_real_estimator(qtbot, make_kiosk, name, tmp_path):
    """No stub: the guide thread's estimator runs the person gate (engine.body.gate) and refuses the photo."""
    from PIL import Image

    from engine.body.blazepose import available
    from engine.data.negatives import skimage_photo

    if available():
        pytest.skip("BlazePose runtime missing")
    src = tmp_path / f"{name}.jpg"
    Image.fromarray(skimage_photo(name)).save(src)
    k = make_kiosk()
    drop_photo(k.paths["drop"], "IMG_0002.jpg", src)
    k._poll_drop()
    k.photo_page.use_button.click()
    qtbot.waitUntil(lambda: k.current() == "start", timeout=60_000)
    assert "could not see a whole person" in k.start_page.message.message()
    assert files_under(k.paths["root"]) == []
