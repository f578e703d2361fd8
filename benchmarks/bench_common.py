"""What the desktop benchmarks share: the child program that times a window launch, and how results are kept.

Imported by benchmarks/bench_startup.py and bench_desktop.py (run as scripts, so this folder is on sys.path).
"""
from __future__ import annotations

import json
from pathlib import Path

# A fresh interpreter that times launch -> window shown -> model usable -> 3D body -> first guide render; it
# prints one "BENCH{json}" line. BENCH_T0 is the parent's time.time() before the start; BENCH_MODEL a model
# folder (empty: the default); BENCH_USABLE_KEY the name of the "model usable" mark. Model info is read as a
# dict too, so the same program times checkouts from before the session model.
LAUNCH = r"""
import json, os, sys, time
t0 = float(os.environ["BENCH_T0"])
marks = {"python started": time.time() - t0}
from omfa_desktop.glenv import configure_gl_environment
configure_gl_environment()
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication
from omfa_desktop.window import MainWindow
app = QApplication([])
w = MainWindow(model_folder=os.environ.get("BENCH_MODEL") or None)
w.show()
app.processEvents()
marks["window shown"] = time.time() - t0
def wait(cond, key, timeout=600):
    t = time.time()
    while not cond() and time.time() - t < timeout:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)
    if cond():
        marks[key] = time.time() - t0
usable_key = os.environ.get("BENCH_USABLE_KEY", "model usable")
wait(lambda: (w.model_info is not None and w.generate_button.isEnabled()) or w.queue.model_error is not None,
     usable_key)
if w.queue.model_error is not None:  # a model that cannot load: say why at once, not after the timeout
    marks.pop(usable_key, None)
    marks["model error"] = w.queue.model_error[0]
    w.shutdown()
    print("BENCH" + json.dumps(marks))
    sys.exit(0)
if w.viewport is not None:
    wait(lambda: w.viewport.ready, "3D body in the viewport")
wait(lambda: w.pose.current_guides() is not None, "first guide render shown")
info = w.model_info
marks["model"] = (info["describe"] if isinstance(info, dict) else info.describe) if info else "none"
w.shutdown()
print("BENCH" + json.dumps(marks))
"""


def save_results(path: Path, label: str, res: dict, merge: bool = False) -> None:
    """Keep ``res`` under ``label`` in the JSON file ``path`` (other labels stay; ``merge`` updates the label's
    own entries instead of replacing them) and say so."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    if merge:
        data.setdefault(label, {}).update(res)
    else:
        data[label] = res
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path} [{label}]")


def rerun_under_xvfb(script: str, argv: list[str] | None) -> int | None:
    """On Linux without a display, run ``script`` again under xvfb-run and return its exit code; None when a
    display is there (or this is already the re-run) and the caller goes on."""
    import os
    import shutil
    import subprocess
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("DISPLAY") or os.environ.get("BENCH_CHILD"):
        return None
    if not shutil.which("xvfb-run"):
        print("no display and no xvfb-run: install xvfb", file=sys.stderr)
        return 1
    env = dict(os.environ, BENCH_CHILD="1")
    return subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, script,
                            *(argv if argv is not None else sys.argv[1:])], env=env)
