"""Desktop app timings: launch to a usable window, and the viewport's frame time for a pose edit.

    python benchmarks/bench_desktop.py            (starts itself under xvfb-run when there is no display)

Launch is measured in a fresh process (cold imports): time to the first shown window, to a loaded model
(Generate enabled) and to the 3D body in the viewport. The frame time is measured in-process on the
viewport: a pose edit = mannequin forward (smplx LBS) + vertex normals + buffer upload + draw, and an
orbit = draw only; each finished with glFinish. Median of --runs, as wall time and as CPU time of the
process (all its threads, llvmpipe's included: less sensitive to other programs on a shared machine).
``--label NAME`` merges the numbers into benchmarks/results/desktop.json with the load average; run it
with PYTHONPATH=<an old checkout> for a "before" figure of the same script.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import LAUNCH, rerun_under_xvfb

ROOT = Path(__file__).resolve().parents[1]

def launch_times(model: str | None) -> dict:
    env = dict(os.environ, OMFA_DATA_DIR=tempfile.mkdtemp(prefix="omfa_bench_"), BENCH_MODEL=model or "",
               BENCH_USABLE_KEY="model loaded: Generate enabled")
    env["BENCH_T0"] = repr(time.time())
    out = subprocess.run([sys.executable, "-c", LAUNCH], capture_output=True, text=True, env=env, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH"):
            return json.loads(line[5:])
    raise RuntimeError(f"launch benchmark failed:\n{out.stderr[-2000:]}")


def frame_times(runs: int, model: str | None) -> tuple[list[tuple[str, float]], str]:
    os.environ["OMFA_DATA_DIR"] = tempfile.mkdtemp(prefix="omfa_bench_")
    from omfa_desktop.glenv import configure_gl_environment

    gl = configure_gl_environment()
    if not gl["viewport_ok"]:
        return [], f"no viewport: {gl['reason']}"
    from OpenGL import GL
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from engine.body.skeleton import JOINT_NAMES
    from omfa_desktop.window import MainWindow

    app = QApplication.instance() or QApplication([])
    w = MainWindow(model_folder=model)
    w.show()
    t = time.time()
    while (w.viewport is None or not w.viewport.ready or w.model_info is None) and time.time() - t < 600:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
    vp = w.viewport
    view = vp.view
    view.grab()
    vp.select(JOINT_NAMES.index("left_elbow"))

    def draw() -> None:
        view.makeCurrent()
        view.paintGL()
        GL.glFinish()
        view.doneCurrent()

    def edit() -> None:
        vp.rotate_selected(3.0, 1.0)  # what one mouse-move event of a joint drag does
        draw()

    def orbit() -> None:
        view.camera.orbit(3.0, 0.0)
        draw()

    def forward_only() -> None:
        vp.rotate_selected(3.0, 1.0)

    def median(fn) -> tuple[float, float]:
        fn()
        ts, cs = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            ts.append(time.perf_counter() - t0)
            cs.append(time.process_time() - c0)
        return 1000 * statistics.median(ts), 1000 * statistics.median(cs)

    vp.history.begin()  # one drag: no undo entries per frame
    rows = [("pose edit: forward + normals + upload + draw", median(edit)),
            ("  of which forward + guide scheduling (no draw)", median(forward_only)),
            ("orbit: draw only", median(orbit))]
    vp.history.commit()
    size = f"{view.width()}x{view.height()}, {len(view.vertices)} verts, {len(view.faces)} tris"
    w.shutdown()
    return rows, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--model", help="model folder (default: the demo model or its untrained stand-in)")
    ap.add_argument("--launches", type=int, default=1, help="cold launches to time (0: none)")
    ap.add_argument("--label", help="merge the results into benchmarks/results/desktop.json under this key")
    args = ap.parse_args(argv)
    code = rerun_under_xvfb(__file__, argv)
    if code is not None:
        return code

    load0 = os.getloadavg()[0]
    launches = [launch_times(args.model) for _ in range(args.launches)]
    if launches:
        print(f"Launch to a usable window ({launches[0].get('model')}; cold process; "
              f"{'median of ' + str(len(launches)) if len(launches) > 1 else 'one run'})")
        print(f"{'milestone':<42} {'s':>8}")
        for key in launches[0]:
            if key == "model":
                continue
            vals = [lt[key] for lt in launches if key in lt]
            print(f"{key:<42} {statistics.median(vals):8.2f}")
    rows, size = frame_times(args.runs, args.model)
    print(f"\nViewport frame time ({size}; median of {args.runs}; load average {os.getloadavg()[0]:.1f})")
    print(f"{'what':<48} {'wall ms':>8} {'cpu ms':>8}")
    for what, (ms, cpu) in rows:
        print(f"{what:<48} {ms:8.1f} {cpu:8.1f}")
    if args.label:
        import json

        path = Path(__file__).resolve().parent / "results" / "desktop.json"
        data = json.loads(path.read_text()) if path.is_file() else {}
        data[args.label] = {"when": time.strftime("%Y-%m-%d %H:%M"), "viewport": size, "runs": args.runs,
                            "load_avg_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
                            "frame_ms": {what.strip(): {"wall": round(ms, 2), "cpu": round(cpu, 2)}
                                         for what, (ms, cpu) in rows},
                            "launch": launches}
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {path} [{args.label}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
