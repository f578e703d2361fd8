"""Faults in the window: out of memory, worker exceptions, a full or read-only disk, a kill mid-save,
damaged files at start, unexpected exceptions. The app stays usable and nothing the user made is lost."""
import errno
import sys

import numpy as np
import pytest
import torch

from desktop_testing import run_job


def _inject(window, fail):
    """Make the engine's model forward call ``fail(n)`` (n = call count) before running."""
    pipe = window.queue.worker.pipe
    forward = pipe.model.forward
    calls = {"n": 0}

    def wrapped(x_in, t):
        calls["n"] += 1
        fail(calls["n"])
        return forward(x_in, t)

    pipe.model.forward = wrapped
    return calls


def _button(window, label):
    return next(b for b in window.messages.action_buttons if b.text() == label)


def test_out_of_memory_fails_the_job_cleanly_and_offers_the_low_memory_retry(qtbot, make_window):
    w = make_window()
    w.steps.setValue(2)

    def oom(n):
        if n == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB")

    calls = _inject(w, oom)
    job = run_job(qtbot, w)
    assert job.state.value == "failed" and job.retry == "low-memory"
    assert "out of memory" in job.message.lower() and "low-memory mode" in job.message
    assert "Retry with low memory" in [b.text() for b in w.messages.action_buttons]
    assert w.gallery.entries == [] and w.queue.ready and w.generate_button.isEnabled()
    # one click: the same request again, in the low-memory mode, and it finishes
    calls["n"] = 100
    _button(w, "Retry with low memory").click()
    retry = w.queue.jobs[-1]
    qtbot.waitUntil(lambda: retry.done, timeout=60_000)
    assert retry.state.value == "finished" and retry.request.memory == "low"
    assert retry.request.seed == job.request.seed and retry.request.steps == job.request.steps
    assert len(w.gallery.entries) == 1 and w.gallery.entries[0].settings["memory"] == "low"
    w.show_message("a later message", "", "info")  # a remedy belongs to its own message only
    assert w.messages.action_buttons == [] and w.messages.message() == "a later message"


def test_a_worker_exception_fails_one_job_and_the_next_one_runs(qtbot, make_window):
    w = make_window()
    w.steps.setValue(2)

    def boom(n):
        if n == 1:
            raise RuntimeError("a bug in a layer")

    _inject(w, boom)
    job = run_job(qtbot, w)
    assert job.state.value == "failed" and "RuntimeError: a bug in a layer" in job.message
    assert "Traceback" in job.details and w.messages.isVisible() and not w.messages.action_buttons
    assert w.queue.thread.isRunning()
    job2 = run_job(qtbot, w)
    assert job2.state.value == "finished" and len(w.gallery.entries) == 1


def test_a_full_disk_keeps_the_result_in_memory_until_saved_elsewhere(qtbot, make_window, data_dir, tmp_path,
                                                                      monkeypatch):
    from engine import persist
    from engine.export import read_png_metadata

    w = make_window()
    w.steps.setValue(2)
    real = persist.atomic_path

    def full(path):
        if data_dir in path.parents:
            raise persist.StorageError(errno.ENOSPC, persist.describe_os_error(OSError(errno.ENOSPC, ""), path))
        return real(path)

    monkeypatch.setattr(persist, "atomic_path", full)
    job = run_job(qtbot, w)
    assert job.state.value == "finished" and job.result is not None
    assert "could not be saved to the gallery" in w.messages.message() and "disk is full" in w.messages.message()
    assert w.gallery.entries == []
    gallery = data_dir / "gallery"
    assert not gallery.exists() or [p for p in gallery.iterdir() if p.name != "damaged"] == []  # nothing half-written
    out = tmp_path / "elsewhere" / "kept.png"
    written = w.save_job_result(job, out)
    assert written == [out] and read_png_metadata(out)["request"]["task"] == "try-off"
    from engine.images import load_image

    assert np.array_equal(load_image(out), job.result.outputs[0])


def test_a_kill_between_gallery_writes_never_leaves_a_corrupt_entry(qtbot, make_window, data_dir, monkeypatch):
    from omfa_desktop.model import gallery_store as gallery_mod

    w = make_window()
    w.steps.setValue(2)
    job = run_job(qtbot, w)
    assert len(w.gallery.entries) == 1
    good = w.gallery.entries[0].id
    # the app is killed after the output PNG and before the entry is committed: simulate by stopping add()
    # at each of its writes in turn, then restarting the store
    real_save = gallery_mod._save_plain_png
    for stop_at in range(1, 4):
        n = {"i": 0}

        def dying(img, path, stop_at=stop_at, n=n):
            n["i"] += 1
            if n["i"] == stop_at:
                raise KeyboardInterrupt  # not an OSError: nothing in add() gets to clean up, like a kill
            real_save(img, path)

        monkeypatch.setattr(gallery_mod, "_save_plain_png", dying)
        with pytest.raises(KeyboardInterrupt):
            w.gallery.store.add(job)
    monkeypatch.setattr(gallery_mod, "_save_plain_png", real_save)
    store = gallery_mod.GalleryStore(w.gallery.store.root)
    entries = store.load_all()
    assert [e.id for e in entries] == [good]  # the complete entry only
    assert len(store.problems) == 3 and all("interrupted save" in p for p in store.problems)
    assert len(list((data_dir / "gallery" / "damaged").iterdir())) == 3  # kept aside, not deleted
    assert store.load_all() and store.problems == []  # moved once


def test_damaged_gallery_entries_are_moved_aside_with_a_notice(qtbot, make_window, data_dir):
    w = make_window()
    w.steps.setValue(2)
    run_job(qtbot, w)
    run_job(qtbot, w)
    a, b = sorted((data_dir / "gallery").iterdir())
    (a / "entry.json").write_text('{"id": "x", "task": ')  # truncated JSON
    (b / "output_00.png").unlink()                         # an output image gone
    w.shutdown()
    w2 = make_window()
    assert w2.gallery.entries == []
    msg = w2.messages.message()
    assert "2 gallery entries could not be read" in msg and "damaged" in msg and "nothing was deleted" in msg
    moved = sorted(p.name for p in (data_dir / "gallery" / "damaged").iterdir())
    assert moved == sorted([a.name, b.name])


def test_a_read_only_data_folder_keeps_settings_for_the_session(qtbot, make_window, data_dir, monkeypatch):
    from engine import persist

    w = make_window()

    def read_only(path):
        raise persist.StorageError(errno.EROFS, persist.describe_os_error(OSError(errno.EROFS, ""), path))

    monkeypatch.setattr(persist, "atomic_path", read_only)
    w.notice.close_button.click()
    assert w.settings.notice_dismissed is True
    assert "were not saved" in w.messages.message() and "read-only" in w.messages.message()


def test_an_unexpected_exception_in_the_gui_is_shown_and_logged_not_fatal(qtbot, make_window, data_dir):
    from engine.logs import close_logging, setup_logging
    from omfa_desktop.startup import install_excepthook

    w = make_window()
    log_file = setup_logging()
    old = sys.excepthook, __import__("threading").excepthook
    try:
        install_excepthook(w, log_file)
        try:
            raise ValueError("a slot went wrong")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: "a slot went wrong" in w.messages.message(), timeout=5000)
        assert "kept" in w.messages.message() and str(log_file) in w.messages.message()
        w.steps.setValue(2)
        assert run_job(qtbot, w).state.value == "finished"  # still usable
    finally:
        sys.excepthook, __import__("threading").excepthook = old
        close_logging()
    text = log_file.read_text()
    assert "ValueError: a slot went wrong" in text and "torch=" in text and "PySide6=" in text
