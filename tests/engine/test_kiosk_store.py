"""engine/kiosk_store.py: PIN hashing and its rate limit, session folders and their purge, the drop folder,
the idle clock and exports — the kiosk's rules, without Qt."""
import logging
import os

import pytest

from engine.kiosk_store import (PIN_MIN_ITERATIONS, DropFolder, IdleClock, KioskStore, PinGuard, PinState,
                                export_files, hash_pin, parse_pin_record, pin_problem, start_page, verify_pin)
from engine.persist import StorageError

FAST = PIN_MIN_ITERATIONS  # the lowest accepted count keeps the tests quick


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def test_pin_is_stored_salted_and_hashed_never_in_clear():
    a, b = hash_pin("90817263", FAST), hash_pin("90817263", FAST)
    assert a != b                                    # a fresh salt each time
    assert "90817263" not in a and a.startswith("pbkdf2-sha256$200000$")
    iterations, salt, digest = parse_pin_record(a)
    assert iterations == FAST and len(salt) == 16 and len(digest) == 32
    assert verify_pin("90817263", a) and verify_pin("90817263", b)
    assert not verify_pin("90817264", a) and not verify_pin("", a) and not verify_pin("9081726３", a)
    assert not verify_pin("90817263", "garbage") and not verify_pin("90817263", "")
    assert parse_pin_record(hash_pin("1234"))[0] >= 600_000  # the default


def test_pin_rules_and_weak_records_are_refused():
    assert pin_problem("12a4") and pin_problem("123") and pin_problem("1" * 13) and pin_problem("0000")
    assert pin_problem("4821") == ""
    with pytest.raises(ValueError):
        hash_pin("12")
    with pytest.raises(ValueError):
        hash_pin("4821", iterations=1000)
    weak = "pbkdf2-sha256$1000$" + "00" * 16 + "$" + "00" * 32
    with pytest.raises(ValueError, match="out of range"):
        parse_pin_record(weak)
    assert not verify_pin("4821", weak)  # a downgraded record never unlocks


def test_wrong_pins_lock_the_keypad_for_longer_and_longer():
    clock = Clock()
    guard = PinGuard(hash_pin("4821", FAST), free_attempts=3, base_lockout=30, max_lockout=100, clock=clock)
    assert [guard.attempt("1111") for _ in range(2)] == ["wrong", "wrong"]
    assert guard.attempts_left() == 1
    assert guard.attempt("1111") == "wrong" and guard.locked_for() == 30
    assert guard.attempt("4821") == "locked"          # even the right PIN, while locked
    clock.t += 30
    assert guard.attempt("2222") == "wrong" and guard.locked_for() == 60   # doubled
    clock.t += 60
    assert guard.attempt("2222") == "wrong" and guard.locked_for() == 100  # capped
    clock.t += 100
    assert guard.attempt("4821") == "ok" and guard.failures == 0 and guard.attempts_left() == 3


def test_once_a_pin_was_set_no_damage_or_restart_offers_pin_setup(tmp_path):
    """A damaged settings file loses its PIN record; the separate state file still says one existed."""
    state = PinState(tmp_path / "kiosk-pin-state.json")
    assert start_page("", [], state) == "setup"                      # a new computer: staff choose a PIN
    record = hash_pin("4821", FAST)
    assert start_page(record, [], state) == "start" and state.pin_was_set()
    assert "4821" not in state.path.read_text() and record not in state.path.read_text()
    damaged = ["/x/settings.json was damaged (Expecting value); it was moved aside to settings.json.damaged-1"]
    assert start_page("", damaged, state) == "needs-staff"           # first start after the damage
    assert start_page("", [], state) == "needs-staff"                # and every restart after it
    assert start_page("pbkdf2-sha256$10$00$00", [], state) == "needs-staff"  # a hand-edited record
    state.path.write_text("{garbage")                                # the state file damaged too: fail closed
    assert start_page("", [], state) == "needs-staff"
    state.path.unlink()
    state.path.mkdir()                                               # unreadable (a folder in its place)
    assert start_page("", [], state) == "needs-staff"


def test_the_lockout_count_and_pause_survive_a_restart(tmp_path):
    clock, wall = Clock(), Clock(5_000_000.0)
    state = PinState(tmp_path / "kiosk-pin-state.json", wall=wall)
    record = hash_pin("4821", FAST)
    state.mark_pin_set()
    guard = PinGuard(record, clock=clock, state=state)
    assert [guard.attempt("1111") for _ in range(3)] == ["wrong"] * 3 and guard.locked_for() == 30
    wall.t += 10                                                     # power cut; back 10 s later
    again = PinGuard(record, clock=Clock(7.0), state=PinState(state.path, wall=wall))
    assert again.failures == 3 and again.locked_for() == pytest.approx(20)
    assert again.attempt("4821") == "locked"
    wall.t += 20
    again = PinGuard(record, clock=Clock(99.0), state=PinState(state.path, wall=wall))
    assert again.attempt("2222") == "wrong" and again.locked_for() == 60   # doubled: the count was kept
    wall.t += 60
    again.clock.t += 60
    assert again.attempt("4821") == "ok"
    assert PinGuard(record, state=PinState(state.path, wall=wall)).failures == 0
    state.path.write_text('{"pin_set": true, "failures": "many"}')  # damaged count: one wrong try from a pause
    assert PinGuard(record, clock=clock, state=state).attempts_left() == 0


def test_sessions_are_private_folders_purged_with_a_count_only(tmp_path, caplog):
    caplog.set_level(logging.INFO, "omfa.kiosk")
    store = KioskStore(tmp_path / "kiosk")
    s = store.new_session()
    assert s.folder.parent == store.root and s.folder.name.startswith("session-")
    assert (s.folder.stat().st_mode & 0o777) == 0o700
    p = s.path("photo", ".jpg")
    p.write_bytes(b"x")
    (s.folder / "sub").mkdir()
    (s.folder / "sub" / "result.png").write_bytes(b"y")
    ro = s.path("result")
    ro.write_bytes(b"z")
    os.chmod(ro, 0o400)
    assert len(s.files()) == 3
    assert store.purge(s, "done") == 3
    assert not s.folder.exists() and store.sessions() == []
    assert "session ended (done): purged, 3 file(s) deleted" in caplog.text
    assert s.folder.name not in caplog.text and "photo" not in caplog.text


def test_leftover_sessions_of_a_crashed_run_are_purged_at_start(tmp_path, caplog):
    caplog.set_level(logging.INFO, "omfa.kiosk")
    root = tmp_path / "kiosk"
    for name in ("session-aaaa", "session-bbbb"):
        (root / name).mkdir(parents=True)
        (root / name / "photo_01.jpg").write_bytes(b"customer")
    (root / "notes.txt").write_text("not a session")  # anything else in the root is left alone
    store = KioskStore(root)
    assert store.purge_leftovers() == 2
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    assert "purged 2 leftover session(s) at start (2 file(s))" in caplog.text
    assert "session-aaaa" not in caplog.text
    assert KioskStore(root).purge_leftovers() == 0


def test_drop_folder_takes_a_settled_photo_into_the_session_and_clears_strays(tmp_path):
    clock = Clock()
    drop = DropFolder(tmp_path / "drop", settle=0.5, clock=clock)
    assert not drop.available() and drop.poll() is None
    drop.path.mkdir()
    (drop.path / ".hidden.jpg").write_bytes(b"h")
    (drop.path / "upload.jpg.part").write_bytes(b"p")
    (drop.path / "readme.txt").write_bytes(b"t")
    photo = drop.path / "IMG_0001.JPG"
    photo.write_bytes(b"half")
    assert drop.poll() is None                        # just seen
    clock.t += 0.2
    photo.write_bytes(b"half a photo, still growing")
    os.utime(photo, ns=(1, 1))
    assert drop.poll() is None                        # it changed: the settle time starts again
    clock.t += 0.6
    assert drop.poll() == photo
    store = KioskStore(tmp_path / "kiosk")
    s = store.new_session()
    taken = drop.take(photo, s)
    assert taken.parent == s.folder and taken.suffix == ".jpg" and not photo.exists()
    assert taken.read_bytes() == b"half a photo, still growing"
    (drop.path / "late.png").write_bytes(b"x")
    assert drop.clear() == 1
    assert sorted(p.name for p in drop.path.iterdir()) == [".hidden.jpg", "readme.txt", "upload.jpg.part"]


def test_idle_clock_warns_then_expires_and_pauses_while_a_job_runs():
    clock = Clock()
    idle = IdleClock(60, warn=15, clock=clock)
    assert idle.state() == "active"
    clock.t += 46
    assert idle.state() == "warning" and idle.remaining() == 14
    idle.touch()
    assert idle.state() == "active"
    idle.pause(True)
    clock.t += 1000
    assert idle.state() == "active"
    idle.pause(False)
    clock.t += 60
    assert idle.state() == "expired"
    idle.set_timeout(20)
    assert idle.warn == 10
    idle.set_timeout(90)
    assert idle.warn == 15


def test_export_copies_under_neutral_names_or_says_the_stick_is_missing(tmp_path):
    src = tmp_path / "result_01.png"
    src.write_bytes(b"png")
    gif = tmp_path / "turn_02.gif"
    gif.write_bytes(b"gif")
    with pytest.raises(StorageError, match="USB stick"):
        export_files([src], tmp_path / "usb")
    (tmp_path / "usb").mkdir()
    out = export_files([src, gif], tmp_path / "usb")
    assert [p.suffix for p in out] == [".png", ".gif"] and all(p.name.startswith("omfa-look-") for p in out)
    assert out[0].read_bytes() == b"png" and sorted(os.listdir(tmp_path / "usb")) == sorted(p.name for p in out)
