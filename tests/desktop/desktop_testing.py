"""Helpers for the desktop tests (imported by name: tests/desktop is on sys.path)."""
from omfa_desktop.glenv import STATE as GL_STATE


def run_job(qtbot, window, timeout=120_000):
    """Press Generate and wait for the job to end; returns the job."""
    job = window.generate()
    if job is None:  # waiting for the pose guides
        qtbot.waitUntil(lambda: window.queue.jobs, timeout=60_000)
        job = window.queue.jobs[-1]
    qtbot.waitUntil(lambda: job.done, timeout=timeout)
    return job


def gl_available() -> bool:
    return bool(GL_STATE.get("viewport_ok"))
