"""A cheaper unconditional branch: run it on the generated panel only (Pipeline.optimize(uncond_panel=True)).

    .venv/bin/python benchmarks/bench_uncond.py [--n 8]

On the shipped samples (held-out split), for the "fast" and "fastest" presets with and without the cropped
unconditional branch: SSIM against the paper preset's output (DDIM 50, same seed), per task; and the UNet
work per image counted in canvas columns (the UNet's cost is about linear in the canvas width at the demo
model's size). Writes benchmarks/results/uncond.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--model", default=str(ROOT / "resources" / "models" / "demo"))
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "uncond.json"))
    args = ap.parse_args(argv)

    from engine.cost import guided_steps
    from engine.images import load_image
    from engine.metrics import ssim
    from engine.paths import SAMPLES
    from engine.pipeline import Pipeline
    from engine.presets import preset_settings
    from engine.request import TryOnRequest

    pipe = Pipeline.load(args.model, "cpu")
    lay = pipe.layout
    canvas = sum(lay.panel_size(p)[0] for p in lay.panels)
    scores: dict[str, dict[str, list[float]]] = {}
    for i in range(args.n):
        s = {k: load_image(SAMPLES / f"demo_{i:03d}_{k}.png") for k in ("person", "garment", "head", "guide_b")}
        for task, kw in (("try-off", dict(person=s["person"], head=s["head"])),
                         ("try-on", dict(garment=s["garment"], head=s["head"], pose_guides=[s["guide_b"]]))):
            pipe.optimize(uncond_panel=False)
            ref = pipe.run(TryOnRequest(task=task, seed=i, **kw, **preset_settings("paper"))).outputs[0]
            for preset in ("fast", "fastest"):
                for panel in (False, True):
                    pipe.optimize(uncond_panel=panel)
                    out = pipe.run(TryOnRequest(task=task, seed=i, **kw, **preset_settings(preset))).outputs[0]
                    key = preset + (" + uncond on the panel" if panel else "")
                    scores.setdefault(key, {}).setdefault(task, []).append(ssim(out, ref))
    rows = []
    paper = preset_settings("paper")
    paper_cols = canvas * (paper["steps"] + guided_steps(paper["steps"], 2.0, 1.0))
    for key, per_task in scores.items():
        p = preset_settings(key.split(" ")[0])
        guided = guided_steps(p["steps"], p["guidance"], p["guidance_until"])
        gen = {"try-off": lay.panel_size("garment")[0], "try-on": lay.panel_size("person")[0]}
        row = {"setting": key}
        for task, vals in per_task.items():
            u = gen[task] if "uncond" in key else canvas
            cols = canvas * p["steps"] + u * guided
            row[task] = {"ssim_vs_paper_mean": float(np.mean(vals)), "ssim_vs_paper_min": float(np.min(vals)),
                         "unet_work_vs_paper": cols / paper_cols}
        rows.append(row)
    print(f"{'setting':34s} {'task':8s} {'SSIM vs paper (mean / min)':>28s} {'UNet work vs paper':>20s}")
    for r in rows:
        for task in ("try-off", "try-on"):
            t = r[task]
            print(f"{r['setting']:34s} {task:8s} {t['ssim_vs_paper_mean']:>14.3f} / {t['ssim_vs_paper_min']:.3f}"
                  f" {t['unet_work_vs_paper']:>19.2f}x")
    Path(args.json).write_text(json.dumps({"n": args.n, "model": pipe.model.config.name, "rows": rows}, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
