"""Multi-view on shared canvases: k views side by side on one canvas [p1 .. pk | garment | head], so the garment
and head columns are computed once per step for k views (issue 7: "8 views <= 5x one view"), against one
canvas per view.

    .venv/bin/python benchmarks/bench_shared_canvas.py [--model resources/models/demo] [--views 8] [--orbits 4]

For each k (1, and up to 4 views per canvas whatever the model was trained on, to show what an untrained k
does): CPU time of ``--orbits`` multi-view requests of ``--views`` views each (fast preset, through
``Pipeline.run`` with ``views_per_canvas=k``), silhouette IoU of every view against its own guide, and SSIM
against the same views made one canvas per view. Writes benchmarks/results/shared_canvas.json and a strip
per k to /tmp/shared_canvas_k{k}.png (first orbit).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch
    from PIL import Image

    from engine.body.guide import pose_guides
    from engine.body.presets import load_preset
    from engine.images import load_image
    from engine.metrics import foreground_mask, silhouette_iou, ssim
    from engine.paths import SAMPLES
    from engine.pipeline import Pipeline
    from engine.presets import preset_settings
    from engine.request import RequestError, TryOnRequest

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "resources/models/demo"))
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--orbits", type=int, default=4)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    pipe = Pipeline.load(args.model, "cpu")
    trained = int(pipe.model.config.views_per_canvas)
    fast = preset_settings("fast")
    poses = ["walking", "waving", "running", "a_pose"]
    base: dict[int, list] = {}
    rows = []
    for k in (1, 2, 4):
        times, ious, sims = [], [], []
        for i in range(args.orbits):
            garment = load_image(SAMPLES / f"demo_{i:03d}_garment.png")
            head = load_image(SAMPLES / f"demo_{i:03d}_head.png")
            guides, _ = pose_guides(load_preset(poses[i % len(poses)]), 96, 128, views=args.views)
            req = TryOnRequest(task="multi-view", garment=garment, head=head, pose_guides=list(guides),
                               num_views=args.views, seed=i, views_per_canvas=k, **fast)
            t = time.perf_counter()
            try:
                if k > trained:  # measure what the model does with canvases it never saw
                    pipe.model.config.views_per_canvas = k
                outs = pipe.run(req).outputs
            except RequestError as e:
                print(f"k={k}: {e}")
                break
            finally:
                pipe.model.config.views_per_canvas = trained
            times.append(time.perf_counter() - t)
            if k == 1:
                base[i] = outs
            ious += [silhouette_iou(foreground_mask(o), foreground_mask(g)) for o, g in zip(outs, guides)]
            sims += [ssim(o, b) for o, b in zip(outs, base[i])]
            if i == 0:
                Image.fromarray(np.concatenate(outs, 1)).save(f"/tmp/shared_canvas_k{k}.png")
        if not times:
            continue
        rows.append({"views_per_canvas": k, "trained_on": k <= trained, "views": args.views,
                     "seconds_per_orbit": statistics.median(times), "iou_mean": float(np.mean(ious)),
                     "ssim_vs_one_view_per_canvas": float(np.mean(sims))})
    one = rows[0]["seconds_per_orbit"]
    print(f"{pipe.model.config.name}: trained on {trained} view(s) per canvas; {args.orbits} orbits x "
          f"{args.views} views, fast preset\n")
    print("| views per canvas | trained on | s per orbit (median) | vs one canvas per view | IoU vs guide | "
          "SSIM vs one canvas per view |\n|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['views_per_canvas']} | {'yes' if r['trained_on'] else 'no'} | {r['seconds_per_orbit']:.2f} | "
              f"{r['seconds_per_orbit'] / one:.2f}x | {r['iou_mean']:.3f} | {r['ssim_vs_one_view_per_canvas']:.3f} |")
    out = ROOT / "benchmarks/results/shared_canvas.json"
    out.write_text(json.dumps({"model": pipe.model.config.name, "preset": "fast", "rows": rows}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
