"""Cost per image: compute (TFLOP), CPU time, memory, overhead outside the UNet, multi-view scaling and the
quality of every fast setting. One command, tables on stdout, JSON in benchmarks/results/cost.json:

    .venv/bin/python benchmarks/bench_cost.py [--only flops,cpu,views,quality] [--n 8] [--repeats 3]

- flops:   TFLOP per image at 768x1024 on the meta device, like with like: samplers on the shipped canvas,
           canvases under one sampler, peers (recounted from their pipelines), multi-view designs.
- cpu:     the demo model on this CPU: median wall time per step and per image, peak RSS (a fresh process per
           setting), and the share of a generation spent outside the UNet.
- views:   multi-view cost for 1, 4 and 8 views (time and TFLOP).
- quality: each sampler setting against the paper's DDIM-50 output (same seed) and against the ground truth,
           on held-out synthetic test samples (foreground SSIM / PSNR).
Run it on an idle machine: times include whatever else the CPU is doing (the load average is printed).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Sampler settings compared everywhere (name -> request fields). "paper" and "fast" are engine.presets'.
SETTINGS = {
    "paper (DDIM 50, CFG all)": dict(scheduler="ddim", steps=50, guidance_until=1.0),
    "DDIM 20, CFG all": dict(scheduler="ddim", steps=20, guidance_until=1.0),
    "DPM++ 20, CFG all": dict(scheduler="dpm++2m", steps=20, guidance_until=1.0),
    "UniPC 20, CFG all": dict(scheduler="unipc", steps=20, guidance_until=1.0),
    "fast (DPM++ 20, CFG first 50%)": dict(scheduler="dpm++2m", steps=20, guidance_until=0.5),
    "DPM++ 15, CFG first 40%": dict(scheduler="dpm++2m", steps=15, guidance_until=0.4),
    "UniPC 15, CFG first 40%": dict(scheduler="unipc", steps=15, guidance_until=0.4),
}


def table(headers: list[str], rows: list[list]) -> str:
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"
    out = ["| " + " | ".join(headers) + " |", rule]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]  # a | in a cell is text
    return "\n".join(out)


# ================================================================================================ flops
def _rows(plans, base: float, label: str):
    rows, out = [], []
    for p in plans:
        f = p.flops()
        rows.append([p.name, f"{f['unet'] / 1e12:.1f}", f"{f['vae'] / 1e12:.1f}", f"{f['total'] / 1e12:.1f}",
                     f"{f['total'] / base:.2f}x", p.note])
        out.append({"name": p.name, **{k: v / 1e12 for k, v in f.items()}, label: f["total"] / base,
                    "note": p.note, "images": p.images})
    return rows, out


def bench_flops() -> dict:
    """Every ratio compares like with like (engine.cost): a sampler against the paper's sampler on the same
    canvas, a canvas against the shipped canvas under the same sampler, peers and OMFA making one try-on image
    of the same size, multi-view against one view of the same design. `omfa bench flops` prints each row."""
    from engine.cost import omfa_plan, paper_reference, peer_plans, reference_multiview_plan, shipped_panels

    shipped = shipped_panels("sdxl")
    label = "|".join(f"{p} {w}" for p, w in shipped.items())
    head = ["plan", "UNet", "VAE", "total", "ratio", "what runs"]
    out = {"shipped_canvas": shipped}
    # 1. samplers, on the shipped canvas
    ref = paper_reference()
    samplers = [paper_reference(), omfa_plan("DDIM 20, CFG on all", 20), omfa_plan("fast (DPM++ 20, CFG first 50%)", 20,
                guidance_until=0.5), omfa_plan("fastest (DPM++ 15, CFG first 40%)", 15, guidance_until=0.4)]
    samplers[0].name = "paper sampler (DDIM 50, CFG on all)"
    rows, out["samplers"] = _rows(samplers, ref.flops()["total"], "vs_paper_sampler_same_canvas")
    print(f"\n### Samplers on the shipped SDXL canvas ({label} x 1024), TFLOP per try-on image; ratio = vs the "
          "paper sampler on this canvas\n")
    print(table(head, rows))
    # 2. canvases, under the paper sampler
    canvases = [omfa_plan("person|garment (no head panel)", panels={"person": 768, "garment": 768}),
                omfa_plan(f"shipped: {label}"), omfa_plan("person|garment|head 768 (the layout before)",
                                                            panels={"person": 768, "garment": 768, "head": 768})]
    rows, out["canvases"] = _rows(canvases, ref.flops()["total"], "vs_shipped_canvas_same_sampler")
    print("\n### Canvases under the paper sampler; ratio = vs the shipped canvas\n")
    print(table(head, rows))
    # 3. peers: one try-on image at 768 x 1024 each
    fast = omfa_plan("OMFA fast, shipped canvas", 20, guidance_until=0.5)
    paper_ = paper_reference()
    paper_.name = "OMFA paper sampler, shipped canvas"
    rows, out["peers"] = _rows([*peer_plans(), paper_, fast], ref.flops()["total"], "vs_omfa_paper_sampler")
    print("\n### One try-on image at 768x1024; ratio = vs OMFA with the paper sampler on its shipped canvas\n")
    print(table(head, rows))
    # 4. multi-view, fast sampler
    mv = []
    for views in (1, 4, 8):
        for k in (1, 4):
            if k <= views:
                mv.append(("joint canvas", views, k, omfa_plan(f"{views} view(s), {k} per canvas", 20,
                                                                guidance_until=0.5, views=views, views_per_canvas=k)))
                mv.append(("clean panels once", views, k, reference_multiview_plan(
                    f"{views} view(s), {k} per canvas, garment|head once per step", views, k)))
    rows, out["multiview"] = [], []
    base = {d: next(p for dd, v, k, p in mv if dd == d and v == 1).flops()["total"] for d, *_ in mv}
    for design, views, k, p in mv:
        f = p.flops()["total"]
        rows.append([p.name, f"{f / 1e12:.0f}", f"{f / base[design]:.2f}x"])
        out["multiview"].append({"design": design, "views": views, "views_per_canvas": k, "total": f / 1e12,
                                 "vs_one_view": f / base[design]})
    print("\n### Multi-view, fast sampler, shipped canvas: TFLOP per request; ratio = vs one view of the same "
          "design\n")
    print(table(["plan", "total", "vs one view"], rows))
    return out


# ================================================================================================ cpu
def _load_pipe(model: str):
    from engine.pipeline import Pipeline

    return Pipeline.load_default(model or None, "cpu", "fp32")[0]


def _samples(n: int, data: str | None):
    from engine.evaluation import load_samples

    return load_samples(n, "test", data if data and any(Path(data).glob("test_*.npz")) else None)


def _request(task: str, s, seed: int, **fields):
    from engine.request import TryOnRequest

    common = dict(head=s.head, seed=seed, guidance=2.0, **fields)
    if task == "try-off":
        return TryOnRequest(task="try-off", person=s.person, pose_guides=[s.guide], **common)
    return TryOnRequest(task="try-on", garment=s.garment, pose_guides=[s.guide_b], **common)


class UNetTimer:
    """Wraps the model's forward to add up the time spent inside the UNet."""

    def __init__(self, pipe) -> None:
        self.model, self.inner, self.seconds, self.calls = pipe.model, pipe.model.forward, 0.0, 0
        pipe.model.forward = self

    def __call__(self, *a, **k):
        t = time.perf_counter()
        out = self.inner(*a, **k)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0


def bench_cpu(model: str, data: str | None, repeats: int, compile: bool = False) -> dict:
    import torch

    pipe = _load_pipe(model)
    s = _samples(1, data)[0]
    timer = UNetTimer(pipe)
    rows, out = [], {}
    for name, fields in SETTINGS.items():
        pipe.run(_request("try-on", s, 0, **{**fields, "steps": 2}))  # warm-up
        times, inside, calls = [], [], 0
        for r in range(repeats):
            timer.reset()
            t = time.perf_counter()
            res = pipe.run(_request("try-on", s, r, **fields))
            times.append(time.perf_counter() - t)
            inside.append(timer.seconds)
            calls = timer.calls
        total = statistics.median(times)
        overhead = 1 - statistics.median([i / t for i, t in zip(inside, times)])
        peak = _peak_rss(model, fields)
        out[name] = {"image_s": total, "step_s": total / fields["steps"], "unet_calls": calls,
                     "outside_unet": overhead, "peak_rss_mb": peak, "decode_s": res.timings["decode"]}
        rows.append([name, f"{total:.2f}", f"{total / fields['steps'] * 1000:.0f}", calls,
                     f"{overhead * 100:.1f}%", f"{peak:.0f}" if peak else "n/a"])
    # switchable speed-ups on top of the fast setting (a fresh pipeline each: they change the model)
    fast = SETTINGS["fast (DPM++ 20, CFG first 50%)"]
    for label, kw in (("fast + channels_last", {"channels_last": True}),
                      *((("fast + torch.compile", {"compile": True}),) if compile else ())):
        p2 = _load_pipe(model)
        try:
            p2.optimize(**kw)
            p2.run(_request("try-on", s, 0, **{**fast, "steps": 2}))  # warm-up (and the compile)
            times = []
            for r in range(repeats):
                t = time.perf_counter()
                p2.run(_request("try-on", s, r, **fast))
                times.append(time.perf_counter() - t)
        except Exception as e:  # noqa: BLE001 - e.g. no C++ compiler for torch.compile: reported, not fatal
            rows.append([label, "failed", str(e).splitlines()[0][:60], "", "", ""])
            out[label] = {"error": str(e)}
            continue
        total = statistics.median(times)
        out[label] = {"image_s": total, "step_s": total / fast["steps"]}
        rows.append([label, f"{total:.2f}", f"{total / fast['steps'] * 1000:.0f}", "", "", ""])
    print(f"\n### CPU, demo model ({pipe.describe()}), try-on, {torch.get_num_threads()} threads, median of "
          f"{repeats}; load average {os.getloadavg()[0]:.1f}\n")
    print(table(["setting", "s / image", "ms / step", "UNet calls", "outside the UNet", "peak RSS (MB)"], rows))
    return out


def _peak_rss(model: str, fields: dict) -> float | None:
    """Peak resident memory of a fresh process that loads the model and makes one image."""
    code = (f"import resource,sys; sys.path.insert(0, {str(ROOT)!r});"
            "from benchmarks.bench_cost import _load_pipe,_samples,_request;"
            f"p=_load_pipe({model!r}); s=_samples(1, None)[0]; p.run(_request('try-on', s, 0, **{fields!r}));"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=ROOT)
        return int(r.stdout.strip().splitlines()[-1]) / 1024
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


# ================================================================================================ views
def bench_views(model: str, data: str | None, repeats: int) -> dict:
    from engine.cost import omfa_plan
    from engine.request import TryOnRequest

    pipe = _load_pipe(model)
    s = _samples(1, data)[0]
    fast = SETTINGS["fast (DPM++ 20, CFG first 50%)"]
    rows, out, base_t, base_f = [], {}, None, None
    # one canvas per view, then (for a model trained on them) k views sharing each canvas's garment and head
    for k in sorted({1, int(pipe.model.config.views_per_canvas)}):
        for views in (1, 4, 8):
            if k > 1 and views == 1:
                continue
            req = TryOnRequest(task="multi-view", garment=s.garment, head=s.head, pose_guides=[s.guide_b] * views,
                               num_views=views, seed=0, views_per_canvas=k, **fast)
            pipe.run(TryOnRequest(**{**req.__dict__, "steps": 2}))
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                pipe.run(req)
                times.append(time.perf_counter() - t)
            t = statistics.median(times)
            f = omfa_plan("", steps=20, guidance_until=0.5, views=views, views_per_canvas=k,
                          panels={"person": 768, "garment": 768, "head": 384}).flops()["total"] / 1e12
            base_t, base_f = base_t or t, base_f or f
            out[f"{views}" if k == 1 else f"{views}@{k}"] = {
                "views": views, "views_per_canvas": k, "seconds": t, "vs_one_view": t / base_t, "tflop_sdxl": f,
                "tflop_vs_one_view": f / base_f}
            rows.append([views, k, f"{t:.2f}", f"{t / base_t:.2f}x", f"{f:.0f}", f"{f / base_f:.2f}x"])
    print("\n### Multi-view (fast setting): demo model on this CPU, and SDXL TFLOP\n")
    print(table(["views", "views per canvas", "CPU s", "vs 1 view", "SDXL TFLOP", "vs 1 view"], rows))
    return out


# ================================================================================================ quality
def bench_quality(model: str, data: str | None, n: int) -> dict:
    import numpy as np

    from engine.evaluation import try_on_foreground
    from engine.metrics import psnr, ssim

    pipe = _load_pipe(model)
    samples = _samples(n, data)
    out, rows = {}, []
    ref: dict[tuple[str, int], np.ndarray] = {}
    for name, fields in SETTINGS.items():
        scores = {k: [] for k in ("off_vs_paper", "on_vs_paper", "off_gt", "on_gt", "off_gt_psnr", "on_gt_psnr")}
        for task in ("try-off", "try-on"):
            key = "off" if task == "try-off" else "on"
            for i, s in enumerate(samples):
                img = pipe.run(_request(task, s, i, **fields)).outputs[0]
                gt = s.garment if task == "try-off" else s.person_b
                mask = s.garment_mask if task == "try-off" else try_on_foreground(s)
                if name.startswith("paper"):
                    ref[(task, i)] = img
                scores[f"{key}_vs_paper"].append(ssim(img, ref[(task, i)]))
                scores[f"{key}_gt"].append(ssim(img, gt, mask))
                scores[f"{key}_gt_psnr"].append(psnr(img, gt, mask))
        m = {k: float(np.mean(v)) for k, v in scores.items()}
        out[name] = m
        rows.append([name, f"{m['off_vs_paper']:.3f}", f"{m['on_vs_paper']:.3f}", f"{m['off_gt']:.3f}",
                     f"{m['on_gt']:.3f}", f"{m['off_gt_psnr']:.2f}", f"{m['on_gt_psnr']:.2f}"])
    print(f"\n### Quality of each setting, demo model, {n} held-out samples per task (same seeds)\n")
    print(table(["setting", "SSIM vs paper, try-off", "SSIM vs paper, try-on", "fg SSIM vs GT, try-off",
                 "fg SSIM vs GT, try-on", "fg PSNR vs GT, try-off", "fg PSNR vs GT, try-on"], rows))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="flops,cpu,views,quality")
    ap.add_argument("--model", default="", help="model folder (default: the shipped demo model)")
    ap.add_argument("--data", default="runs/data", help="test shards (default: rendered when absent)")
    ap.add_argument("--n", type=int, default=8, help="held-out samples per task for the quality table")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "cost.json"))
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.is_file() else {}
    machine = {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0], "when": time.strftime("%Y-%m-%d %H:%M")}
    runs = {"flops": lambda: bench_flops(), "cpu": lambda: bench_cpu(args.model, args.data, args.repeats, args.compile),
            "views": lambda: bench_views(args.model, args.data, args.repeats),
            "quality": lambda: bench_quality(args.model, args.data, args.n)}
    for part, run in runs.items():
        if part in parts:
            results[part] = run()
            # each part keeps the machine it ran on ("machine" at the top: the parts run before this was kept)
            results.setdefault("machine_by_part", {})[part] = machine
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
