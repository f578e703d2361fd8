"""The app's CPU thread policy (engine.threads through the settings) and a responsive UI during a job."""
import time

from PySide6.QtCore import QElapsedTimer, Qt, QTimer


def _engine_thread_threads(w) -> list:
    """torch.get_num_threads() as seen on the engine thread, at each progress step of the next jobs."""
    import torch

    seen = []
    w.queue.worker.progress.connect(lambda *a: seen.append(torch.get_num_threads()),
                                    Qt.ConnectionType.DirectConnection)  # runs on the engine thread
    return seen


def test_the_thread_setting_reaches_the_engine_thread_per_job(qtbot, make_window, monkeypatch):
    from omfa_desktop.model.app_settings import AppSettings, load_settings

    w = make_window()
    seen = _engine_thread_threads(w)
    w.steps.setValue(2)
    w.set_app_settings(AppSettings(**{**load_settings()[0].__dict__, "threads": 2}))
    job = w.generate()
    qtbot.waitUntil(lambda: job.done, timeout=60_000)
    assert job.state.value == "finished" and job.threads == 2 and seen == [2, 2]
    assert load_settings()[0].threads == 2  # persisted
    seen.clear()
    w.set_app_settings(AppSettings(**{**load_settings()[0].__dict__, "threads": 1}))
    job = w.generate()
    qtbot.waitUntil(lambda: job.done, timeout=60_000)
    assert job.threads == 1 and seen == [1, 1]


def test_the_settings_dialog_has_the_thread_override(qtbot, data_dir):
    from omfa_desktop.settings import AppSettings, SettingsDialog

    dlg = SettingsDialog(AppSettings())
    qtbot.addWidget(dlg)
    assert dlg.threads_spin.value() == 0 and dlg.threads_spin.text().startswith("auto")
    dlg.threads_spin.setValue(3)
    assert dlg.try_accept() is True and dlg.result_settings.threads == 3


def test_the_ui_thread_stays_responsive_while_a_job_runs(qtbot, make_window):
    # A 10 ms timer on the UI thread while the engine thread samples: the longest gap between its ticks is
    # the worst event-loop latency a user would feel. Generous bound: the machine is shared.
    w = make_window()
    w.steps.setValue(400)
    job = w.generate()
    qtbot.waitUntil(lambda: job.step >= 1, timeout=60_000)
    gaps, clock = [], QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    step0, t0 = job.step, time.monotonic()
    qtbot.waitUntil(lambda: time.monotonic() - t0 > 1.5, timeout=10_000)
    timer.stop()
    running = job.state.value == "running" and job.step > step0
    w.queue.cancel(job)
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert running, "the job was not running during the measurement"
    gaps.sort()
    assert len(gaps) >= 30 and gaps[-1] < 400, gaps[-5:]  # worst gap (ms); typically ~10-30


def test_a_fresh_app_loads_its_model_while_the_start_up_prefetch_runs(tiny_model_dir):
    # A fresh interpreter (nothing imported yet): JobQueue starts engine.warmup's import thread and the
    # engine thread's load right after it. Loading while diffusers was half-imported by the other thread
    # failed ("cannot import name 'UNet2DConditionModel' from 'diffusers'") before the load waited for it.
    import subprocess
    import sys

    code = f"""
import sys, time
from PySide6.QtCore import QCoreApplication, QEventLoop
app = QCoreApplication([])
from omfa_desktop.worker import JobQueue
q = JobQueue()
q.load_model({str(tiny_model_dir)!r}, "cpu", "auto")
t = time.time()
while q.model_info is None and q.model_error is None and time.time() - t < 240:
    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
print("LOADED" if q.model_info is not None else f"FAILED {{q.model_error}}")
from engine.warmup import wait_model
print("GATE OPEN" if wait_model(0.01) else "GATE SHUT")  # the viewport's body load waits on this gate
q.shutdown()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "LOADED" in out.stdout, (out.stdout + out.stderr)[-2000:]
    assert "GATE OPEN" in out.stdout, out.stdout
