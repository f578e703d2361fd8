"""CPU threads vs. a busy machine: one try-off (fast preset, shipped sample, demo model) with 1 and 2 torch
threads, on the machine as it is and with a CPU hog of our own started beside it, and what the automatic
policy (engine.threads) picks in each case.

    python benchmarks/bench_threads.py [--repeats 3] [--hog-seconds 600] [--label NAME]

Each run is a fresh process (``omfa try-off --threads N``), so torch's thread pools start clean; the wall
time of the sampling (the CLI's reported total) is recorded with the 1-minute load average and the busy
cores engine.threads measured just before. Conditions alternate (1, 2, 1, 2, ...) so a change in the
background load hits both thread counts alike. Results: benchmarks/results/threads.json (merged under
--label), with the ratio t(2 threads) / t(1 thread) per condition: above 1, two threads are slower.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import save_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "threads.json"
HOG = "import time\nt = time.time() + {s}\nwhile time.time() < t: pass"


def try_off(threads: int, out: Path) -> dict:
    sample = ROOT / "resources" / "samples"
    argv = [sys.executable, "-m", "engine.cli", "try-off", "--person", str(sample / "demo_000_person.png"),
            "--head", str(sample / "demo_000_head.png"), "--guide", str(sample / "demo_000_guide.png"),
            "--preset", "fast", "--out", str(out), "--quiet"]
    if threads:
        argv += ["--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k not in ("OMFA_THREADS", "OMP_NUM_THREADS")}
    la = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(p.stderr[-1500:])
    m = re.search(r"\(([\d.]+) s, (\d+) ms/step", p.stdout)
    return {"threads": threads, "total_s": float(m.group(1)), "ms_per_step": int(m.group(2)),
            "process_wall_s": round(wall, 2), "load_avg_1min": round(la, 2)}


def condition(name: str, repeats: int, out: Path) -> dict:
    from engine.threads import plan_threads

    runs = []
    plans = []
    for _ in range(repeats):
        plan = plan_threads(0, window=0.5)
        plans.append({"intra": plan.intra, "busy": plan.busy})
        for n in (1, 2):
            r = try_off(n, out)
            runs.append(r)
            print(f"  {name}: {n} thread(s): {r['total_s']:.1f} s ({r['ms_per_step']} ms/step, load "
                  f"{r['load_avg_1min']})", flush=True)
    one = statistics.median(r["total_s"] for r in runs if r["threads"] == 1)
    two = statistics.median(r["total_s"] for r in runs if r["threads"] == 2)
    return {"median_s": {"1": one, "2": two}, "ratio_2_over_1": round(two / one, 2), "auto_picked": plans,
            "runs": runs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hog-seconds", type=int, default=900, help="upper bound on the hog's life")
    ap.add_argument("--label", default="run")
    ap.add_argument("--only", choices=["as-found", "with-hog"], action="append")
    args = ap.parse_args(argv)
    only = set(args.only or ["as-found", "with-hog"])
    out = Path(tempfile.mkdtemp(prefix="omfa_threads_")) / "t.png"
    res: dict = {"when": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(),
                 "what": "omfa try-off --preset fast on resources/samples/demo_000 with the demo model"}
    if "as-found" in only:
        print("machine as found:", flush=True)
        res["as_found"] = condition("as found", args.repeats, out)
    if "with-hog" in only:
        print("with one CPU hog of ours beside it:", flush=True)
        hog = subprocess.Popen([sys.executable, "-c", HOG.format(s=args.hog_seconds)])
        try:
            time.sleep(2)
            res["with_hog"] = condition("with hog", args.repeats, out)
        finally:
            hog.kill()
            hog.wait()
    for key in ("as_found", "with_hog"):
        if key in res:
            r = res[key]
            print(f"{key}: 1 thread {r['median_s']['1']:.1f} s, 2 threads {r['median_s']['2']:.1f} s, "
                  f"ratio 2/1 = {r['ratio_2_over_1']:.2f}; auto picked {[p['intra'] for p in r['auto_picked']]}")
    save_results(RESULTS, args.label, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
