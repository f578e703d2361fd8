"""Multi-view on a shared canvas: k views side by side on ONE canvas [p1 .. pk | garment | head], so the garment
and head columns are computed once per step for k views instead of k times (the route to "8 views <= 5x one
view" of issue 7), against the normal multi-view batch (one canvas per view).

    .venv/bin/python benchmarks/bench_shared_canvas.py

The demo model was trained on one person panel per canvas; this measures what it does with several (4 samples
x 4 orbit views, fast preset): CPU time, silhouette IoU against each view's guide, SSIM against the normal
batch's output. Writes benchmarks/results/shared_canvas.json and /tmp/shared_canvas_k4.png (top: normal,
bottom: 4 views on one canvas).
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import time, numpy as np, torch
torch.set_num_threads(2)
from engine.pipeline import Pipeline
from engine.request import TryOnRequest
from engine.presets import preset_settings
from engine.codec import to_tensor, to_uint8
from engine.diffusion import sample, make_scheduler
from engine.body.guide import pose_guides
from engine.body.presets import load_preset
from engine.images import load_image
from engine.metrics import ssim, silhouette_iou, foreground_mask
from engine.paths import SAMPLES
pipe = Pipeline.load("resources/models/demo", "cpu")
m = pipe.model; lay = m.layout; f = lay.factor
P = preset_settings("fast")
res = {1: [], 2: [], 4: []}; times = {1: 0, 2: 0, 4: 0}; ious = {1: [], 2: [], 4: []}
for i in range(4):
    g = load_image(SAMPLES / f"demo_00{i}_garment.png"); h = load_image(SAMPLES / f"demo_00{i}_head.png")
    guides, _ = pose_guides(load_preset(["walking", "waving", "running", "a_pose"][i]), 96, 128, views=4)
    t = time.perf_counter()
    base = pipe.run(TryOnRequest(task="multi-view", garment=g, head=h, pose_guides=guides, num_views=4, seed=i, **P)).outputs
    times[1] += time.perf_counter() - t
    for gd, o in zip(guides, base):
        ious[1].append(silhouette_iou(foreground_mask(o), foreground_mask(gd)))
    with torch.no_grad():
        zg = pipe._encode(to_tensor(g)); zh = pipe._encode(to_tensor(h)); zp = pipe._encode(to_tensor(list(guides)))
    C, hh = zg.shape[1], zg.shape[2]; wp = zp.shape[-1]
    for k in (2, 4):
        outs = []
        t = time.perf_counter()
        for start in range(0, 4, k):
            x0 = torch.cat([torch.zeros(1, C, hh, wp * k), zg, zh], -1)
            pose = torch.zeros_like(x0); mask = torch.zeros(1, 1, hh, x0.shape[-1])
            for j in range(k):
                pose[..., j*wp:(j+1)*wp] = zp[start+j:start+j+1]; mask[..., j*wp:(j+1)*wp] = 1
            gen = torch.Generator("cpu").manual_seed(i)
            noise = torch.randn(x0.shape, generator=gen)
            with torch.no_grad():
                out = sample(m, x0, pose, mask, make_scheduler(P["scheduler"], m.config.noise_schedule), steps=P["steps"],
                             guidance=P["guidance"], generator=gen, noise=noise, guidance_until=P["guidance_until"])
                for j in range(k):
                    outs.append(to_uint8(m.codec.decode(out.latents[..., j*wp:(j+1)*wp]))[0])
        times[k] += time.perf_counter() - t
        for gd, o, b in zip(guides, outs, base):
            res[k].append(ssim(o, b)); ious[k].append(silhouette_iou(foreground_mask(o), foreground_mask(gd)))
    if i == 0:
        from PIL import Image
        Image.fromarray(np.concatenate([np.concatenate(base, 1), np.concatenate(outs, 1)], 0)).resize((768, 512)).save("/tmp/shared_canvas_k4.png")
rows = []
for k in (1, 2, 4):
    rows.append({"views_per_canvas": k, "seconds_16_views": times[k], "iou_mean": float(np.mean(ious[k])),
                 "ssim_vs_one_view_per_canvas": float(np.mean(res[k])) if res[k] else None})
    print(f"{k} view(s) per canvas: {times[k]:6.2f} s for 16 views, IoU vs guide {np.mean(ious[k]):.3f}, "
          f"SSIM vs one view per canvas {np.mean(res[k]) if res[k] else float('nan'):.3f}")
out = Path(__file__).resolve().parent / "results" / "shared_canvas.json"
out.write_text(json.dumps({"model": m.config.name, "preset": "fast", "rows": rows}, indent=1))
print(f"wrote {out}")
