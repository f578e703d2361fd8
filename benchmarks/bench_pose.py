"""Pose from a photo on the synthetic held-out split, where the true pose is known: PA-MPJPE and speed.

    .venv/bin/python benchmarks/bench_pose.py [--n 48] [--data runs/data] [--front 45]

For each test sample's person photo (upscaled to 384x512: BlazePose wants more than 96x128 pixels) the offline
estimator (BlazePose + SMPL-X fit) gives a pose; the 12 limb joints of the fitted body and of the true body
(both on the mannequin) are compared after Procrustes alignment (mm). "Front-facing" = camera yaw within
±--front degrees. Writes benchmarks/results/pose.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--data", default="runs/data")
    ap.add_argument("--front", type=float, default=45.0)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "pose.json"))
    args = ap.parse_args(argv)
    from PIL import Image

    from engine.body.blazepose import BlazePose
    from engine.body.fit import J_IDX, fit_landmarks, procrustes_mpjpe
    from engine.body.model import BodyModel
    from engine.body.state import BodyState
    from engine.evaluation import load_samples

    data = args.data if any(Path(args.data).glob("test_*.npz")) else None
    samples = load_samples(args.n, "test", data)
    bp, body = BlazePose(), BodyModel.load_mannequin()
    rows, t_det, t_fit, missed = [], [], [], 0
    for s in samples:
        img = np.asarray(Image.fromarray(s.person).resize((384, 512), Image.BICUBIC))
        t0 = time.perf_counter()
        lm = bp.estimate(img)
        t_det.append(time.perf_counter() - t0)
        yaw = float(s.meta["pose_a"]["view"]["yaw_deg"])
        if lm is None:
            missed += 1
            rows.append({"yaw": yaw, "mpjpe_mm": None})
            continue
        t0 = time.perf_counter()
        est = fit_landmarks(lm, (384, 512), body)
        t_fit.append(time.perf_counter() - t0)
        _, pred = body.forward(est.state)
        _, gt = body.forward(BodyState.from_dict(s.meta["pose_a"]["state"]))
        rows.append({"yaw": yaw, "mpjpe_mm": 1000 * procrustes_mpjpe(pred[J_IDX], gt[J_IDX])})
    ok = [r for r in rows if r["mpjpe_mm"] is not None]
    front = [r["mpjpe_mm"] for r in ok if abs(((r["yaw"] + 180) % 360) - 180) <= args.front]
    allm = [r["mpjpe_mm"] for r in ok]
    res = {"n": len(samples), "no_person_found": missed, "front_n": len(front),
           "pa_mpjpe_mm_front_mean": statistics.mean(front) if front else None,
           "pa_mpjpe_mm_front_median": statistics.median(front) if front else None,
           "pa_mpjpe_mm_all_mean": statistics.mean(allm) if allm else None,
           "landmarks_ms_median": 1000 * statistics.median(t_det),
           "fit_ms_median": 1000 * statistics.median(t_fit) if t_fit else None,
           "rows": rows}
    print(f"| samples | person found | front-facing (±{args.front:.0f}°) | PA-MPJPE front, mean / median (mm) | "
          f"PA-MPJPE all (mm) | landmarks (ms) | fit (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    def f(v):
        return f"{v:.0f}" if v is not None else "n/a"

    print(f"| {len(samples)} | {len(samples) - missed} | {len(front)} | {f(res['pa_mpjpe_mm_front_mean'])} / "
          f"{f(res['pa_mpjpe_mm_front_median'])} | {f(res['pa_mpjpe_mm_all_mean'])} | "
          f"{res['landmarks_ms_median']:.0f} | {f(res['fit_ms_median'])} |")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
