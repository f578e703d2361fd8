"""Start-up timings: the CLI's --help, the app's launch to a usable model, and scripts/run.sh's second launch.

    python benchmarks/bench_startup.py --label after [--root DIR] [--venv DIR] [--launches 3]

Each measurement runs in fresh processes (cold Python imports; the OS file cache is warm after the first)
and records the 1-minute load average around it: this machine is shared, and a loaded CPU stretches every
number. Results are merged into benchmarks/results/startup.json under ``--label`` (e.g. "before" measured
with ``--root`` on a checkout of the old commit, "after" on this one).

- ``cli_help``: ``python -m engine.cli --help`` wall time and whether it imported torch.
- ``app``: launch of the window (under Xvfb) to "model usable" = the model loaded and Generate enabled,
  with the other milestones of benchmarks/bench_desktop.py.
- ``run_sh``: ``scripts/run.sh --help`` twice with ``--venv`` as OMFA_VENV (a copy of the project's venv:
  run.sh installs into it); the second run is what every later launch costs.
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

from bench_common import LAUNCH, rerun_under_xvfb, save_results

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "startup.json"

CLI_HELP = r"""
import sys, time, contextlib, io
t0 = time.perf_counter()
from engine.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["--help"])
    except SystemExit:
        pass
print("BENCH", time.perf_counter() - t0, "torch" in sys.modules)
"""

def load() -> float:
    return round(os.getloadavg()[0], 2)


def run_python(root: Path, code: str, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={**os.environ, **(env or {})}, timeout=900)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("BENCH")]
    if not lines:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-2000:]}")
    return lines[-1][5:].strip()


def cli_help(root: Path, runs: int) -> dict:
    times, torch_imported = [], False
    la0 = load()
    for _ in range(runs):
        t = time.perf_counter()
        _, torch_flag = run_python(root, CLI_HELP).split()
        times.append(time.perf_counter() - t)
        torch_imported |= torch_flag == "True"
    return {"seconds_median": round(statistics.median(times), 3), "seconds": [round(t, 3) for t in times],
            "imports_torch": torch_imported, "load_avg_1min": [la0, load()]}


def app_launch(root: Path, launches: int) -> dict:
    runs = []
    la0 = load()
    for _ in range(launches):
        env = {"OMFA_DATA_DIR": tempfile.mkdtemp(prefix="omfa_bench_"), "BENCH_T0": repr(time.time())}
        runs.append(json.loads(run_python(root, LAUNCH, env)))
    keys = [k for k in runs[0] if k != "model"]
    return {"model": runs[0]["model"],
            "seconds_median": {k: round(statistics.median(r[k] for r in runs if k in r), 2) for k in keys},
            "runs": runs, "load_avg_1min": [la0, load()]}


def run_sh(root: Path, venv: Path) -> dict:
    env = {**os.environ, "OMFA_VENV": str(venv), "OMFA_SKIP_APT": os.environ.get("OMFA_SKIP_APT", "0")}
    out = {}
    for name in ("first launch", "second launch"):
        la = load()
        t = time.perf_counter()
        p = subprocess.run([str(root / "scripts" / "run.sh"), "--help"], capture_output=True, text=True, env=env,
                           timeout=1800)
        out[name] = {"seconds": round(time.perf_counter() - t, 2), "exit": p.returncode, "load_avg_1min": la,
                     "setup_said": [ln for ln in p.stdout.splitlines() if "[setup]" in ln]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True, help="key in the results JSON (e.g. before, after)")
    ap.add_argument("--root", type=Path, default=HERE.parent, help="the checkout to measure (default: this one)")
    ap.add_argument("--venv", type=Path, help="a venv copy for the run.sh measurement (skipped without it)")
    ap.add_argument("--runs", type=int, default=5, help="--help runs")
    ap.add_argument("--launches", type=int, default=3, help="app launches")
    ap.add_argument("--only", choices=["cli_help", "app", "run_sh"], action="append")
    args = ap.parse_args(argv)
    code = rerun_under_xvfb(__file__, argv)
    if code is not None:
        return code
    root = args.root.resolve()
    only = set(args.only or ["cli_help", "app", "run_sh"])
    rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    res: dict = {"commit": rev, "cores": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M")}
    if "cli_help" in only:
        res["cli_help"] = cli_help(root, args.runs)
        print(f"omfa --help: {res['cli_help']['seconds_median']:.2f} s (torch imported: "
              f"{res['cli_help']['imports_torch']}; load {res['cli_help']['load_avg_1min']})")
    if "app" in only:
        res["app"] = app_launch(root, args.launches)
        for k, v in res["app"]["seconds_median"].items():
            print(f"app: {k:<28} {v:6.2f} s")
        print(f"app: load {res['app']['load_avg_1min']}")
    if "run_sh" in only and args.venv:
        res["run_sh"] = run_sh(root, args.venv)
        for k, v in res["run_sh"].items():
            print(f"scripts/run.sh --help, {k}: {v['seconds']:.1f} s (load {v['load_avg_1min']})")
    save_results(RESULTS, args.label, res, merge=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
