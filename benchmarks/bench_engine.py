"""Engine speed on this machine: UNet forward, one sampling step with CFG, a whole try-off, and FLOPs.

    .venv/bin/python benchmarks/bench_engine.py [--model resources/models/demo] [--steps 50]

Prints a table. Run on an idle machine; numbers include the CPU's current load.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resources/models/demo")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from engine.device import select_device
    from engine.model import build_model, unet_flops
    from engine.paths import SAMPLES
    from engine.pipeline import Pipeline
    from engine.request import TryOnRequest
    from PIL import Image

    policy = select_device("auto")
    if (Path(args.model) / "omfa_config.json").is_file():
        pipe = Pipeline.load(args.model)
    else:
        pipe = Pipeline(build_model("demo").to(policy.device, policy.dtype), policy)
    lay = pipe.layout
    print(f"model: {pipe.describe()}; device {policy.describe()}; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []

    x = torch.randn(2, 9, lay.latent_height, lay.latent_width, device=policy.device, dtype=policy.dtype)
    t = torch.tensor([500, 500], device=policy.device)
    with torch.no_grad():
        pipe.model(x, t)
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            pipe.model(x, t)
            times.append(time.perf_counter() - t0)
    rows.append(("UNet forward, batch 2 (cond+uncond)", statistics.median(times) * 1000, "ms"))

    person = np.asarray(Image.open(SAMPLES / "demo_000_person.png").convert("RGB"))
    head = np.asarray(Image.open(SAMPLES / "demo_000_head.png").convert("RGB"))
    totals, steps = [], []
    for _ in range(args.repeats):
        r = pipe.run(TryOnRequest(task="try-off", person=person, head=head, steps=args.steps))
        totals.append(r.timings["total"])
        steps.append(r.timings["per_step"])
    rows.append((f"try-off, {args.steps} DDIM steps, CFG 2.0: total", statistics.median(totals), "s"))
    rows.append(("  per step (one batched CFG forward + scheduler)", statistics.median(steps) * 1000, "ms"))
    per_fwd = unet_flops("demo", 96, 128, 3)
    rows.append(("demo UNet FLOPs per forward (batch 1, meta device)", per_fwd / 1e9, "GFLOP"))
    for preset, w, h, n in (("sdxl", 768, 1024, 2), ("sdxl", 768, 1024, 3), ("sd15", 384, 512, 2)):
        rows.append((f"{preset} {n} panels of {w}x{h}: per forward", unet_flops(preset, w, h, n) / 1e12, "TFLOP"))
    width = max(len(r[0]) for r in rows)
    for name, value, unit in rows:
        print(f"  {name:<{width}}  {value:10.2f} {unit}")


if __name__ == "__main__":
    main()
