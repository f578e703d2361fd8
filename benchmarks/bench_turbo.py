"""The turbo student against its teacher's "fast" sampler, on a held-out split (issue 24's bar).

    .venv/bin/python benchmarks/bench_turbo.py --split val --n 32 --steps 1,2,4     # choices
    .venv/bin/python benchmarks/bench_turbo.py --split test --n 64 --steps 1        # reported (the val choice)

For the first n samples of the split (the synthetic world, seed 0, as ``omfa eval`` renders them) and the
same requests as ``omfa eval`` (try-off: person + guide + head; try-on in pose B: garment + head + guide B;
seed i for sample i), the teacher runs the "fast" preset and the student the "turbo" preset at each step
count. Reported per task: SSIM of the student's image against the teacher's (whole image), the evaluation's
colour and silhouette metrics for both with the paired difference student - teacher and its 95 % confidence
interval (1.96 standard errors), sampling seconds per image, and the UNet work per image against the paper
default (counted by engine.cost on the SDXL layout, like with like). Writes benchmarks/results/turbo_SPLIT.json.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# metric key -> (label, lower is better)
METRICS = {"try-off": {"de": ("dominant-colour ΔE00", True), "ssim_fg": ("foreground SSIM vs truth", False)},
           "try-on": {"iou": ("silhouette IoU vs guide", False), "torso_de": ("torso ΔE00", True),
                      "head_de": ("head ΔE00", True), "ssim_fg": ("foreground SSIM vs truth", False)}}


def paired(student: list[float], teacher: list[float]) -> dict:
    d = np.array(student, float) - np.array(teacher, float)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return {"n": 0}
    half = 1.96 * d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else math.inf
    return {"n": int(len(d)), "mean_diff": float(d.mean()), "ci95": [float(d.mean() - half), float(d.mean() + half)]}


def unet_work(steps_list: list[int]) -> dict:
    """UNet TFLOP per image on the SDXL layout, as a fraction of the paper default (DDIM 50, CFG on every
    step) on the same canvas, and on the paper's own 2-panel canvas."""
    from engine.cost import omfa_plan
    from engine.presets import preset_settings

    three = {"person": 768, "garment": 768, "head": 768}
    two = {"person": 768, "garment": 768}
    paper3 = omfa_plan("paper", panels=three).flops()["unet"]
    paper2 = omfa_plan("paper", panels=two).flops()["unet"]
    f = preset_settings("fast")
    out = {"paper_tflop_3panel": paper3 / 1e12, "paper_tflop_2panel": paper2 / 1e12}
    fast = omfa_plan("fast", steps=f["steps"], guidance=f["guidance"], guidance_until=f["guidance_until"],
                     panels=three).flops()["unet"]
    out["fast"] = {"tflop": fast / 1e12, "vs_paper_same_canvas": fast / paper3}
    for n in steps_list:
        u = omfa_plan("turbo", steps=n, guidance=1.0, panels=three).flops()["unet"]
        out[f"turbo_{n}"] = {"tflop": u / 1e12, "vs_paper_same_canvas": u / paper3,
                             "vs_paper_2panel_canvas": u / paper2}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--steps", default="1,2,4", help="student step counts to measure")
    ap.add_argument("--refine", default="",
                    help="also measure each step count with these teacher refining schedules (StudentConfig.refine), "
                         "';'-separated lists of timesteps, '-' = none, e.g. '-;48;142+48'; default: the student's own")
    ap.add_argument("--model", default=str(ROOT / "resources" / "models" / "demo"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="default benchmarks/results/turbo_SPLIT.json")
    ap.add_argument("--cache", help="folder that keeps the teacher's outputs and times (they do not depend on the "
                                    "student): a second run only samples the student")
    ap.add_argument("--teacher-only", action="store_true", help="only fill --cache with the teacher's outputs")
    args = ap.parse_args(argv)
    if args.teacher_only and not args.cache:
        ap.error("--teacher-only needs --cache")

    import torch

    torch.set_num_threads(args.threads)
    from engine.evaluation import head_region, load_samples, score_try_off, score_try_on, try_on_foreground
    from engine.metrics import ssim
    from engine.pipeline import Pipeline
    from engine.presets import preset_settings
    from engine.request import TryOnRequest

    steps_list = [] if args.teacher_only else [int(s) for s in args.steps.split(",")]
    refines = [r.strip() for r in args.refine.split(";")] if args.refine else [None]
    pipe = Pipeline.load(args.model, "cpu")
    lay = pipe.layout
    samples = load_samples(args.n, args.split, None, lay.panel_size("person"), lay.panel_size("head")[0])
    # "turbo_N" (the student's own refine setting) or "turbo_N_rT1+T2" (refining steps at T1, T2; "r-" = none)
    systems = ["fast"] + [f"turbo_{n}" + ("" if r is None else f"_r{r}") for n in steps_list for r in refines]
    result: dict = {"split": args.split, "n": args.n, "model": pipe.describe(), "threads": args.threads,
                    "student": None, "tasks": {}}
    st = None
    if steps_list:
        st, _ = pipe.student()
        own_refine = list(st.config.refine)
        result["student"] = {"training": {k: v for k, v in st.config.training.items()
                                          if k not in ("losses", "held_out_x0_mse")},
                             "schedules": st.config.schedules, "timesteps": st.config.timesteps}
    cache = Path(args.cache) if args.cache else None
    for task in ("try-off", "try-on"):
        outs: dict[str, list[np.ndarray]] = {s: [] for s in systems}
        secs: dict[str, list[float]] = {s: [] for s in systems}
        for i, s in enumerate(samples):
            common = dict(head=s.head, seed=i, label=f"bench {task} #{i}")
            kw = dict(task="try-off", person=s.person, pose_guides=[s.guide]) if task == "try-off" else \
                dict(task="try-on", garment=s.garment, pose_guides=[s.guide_b])
            cached = cache / f"fast_{args.split}_{task}_{i:04d}.npz" if cache else None
            for system in systems:
                if system == "fast" and cached is not None and cached.is_file():
                    with np.load(cached) as z:
                        outs[system].append(z["image"])
                        secs[system].append(float(z["seconds"]))
                    continue
                sampler = preset_settings("fast") if system == "fast" else \
                    {**preset_settings("turbo"), "steps": int(system.split("_")[1])}
                if st is not None and system != "fast":
                    parts = system.split("_r")
                    st.config.refine = own_refine if len(parts) == 1 else \
                        [int(t) for t in parts[1].split("+") if t not in ("", "-")]
                res = pipe.run(TryOnRequest(**kw, **common, **sampler))
                outs[system].append(res.outputs[0])
                secs[system].append(res.timings["sample"])
                if system == "fast" and cached is not None:
                    cache.mkdir(parents=True, exist_ok=True)
                    np.savez(cached, image=res.outputs[0], seconds=res.timings["sample"])
            print(f"\r{task} {i + 1}/{len(samples)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        if args.teacher_only:
            continue
        if task == "try-off":
            scored = {sy: score_try_off(o, samples)[0] for sy, o in outs.items()}
        else:
            figs = [try_on_foreground(s) for s in samples]
            heads = [head_region(s, f) for s, f in zip(samples, figs)]
            scored = {sy: score_try_on(o, samples, figs, heads)[0] for sy, o in outs.items()}
        t: dict = {"sample_seconds_mean": {sy: float(np.mean(v)) for sy, v in secs.items()}, "systems": {}}
        for sy in systems:
            entry: dict = {"metrics": {k: float(np.nanmean(scored[sy][k])) for k in METRICS[task]}}
            if sy != "fast":
                sims = [ssim(a, b) for a, b in zip(outs[sy], outs["fast"])]
                entry["ssim_vs_fast"] = {"mean": float(np.mean(sims)), "min": float(np.min(sims)),
                                         "share_ge_0.90": float(np.mean(np.array(sims) >= 0.90))}
                entry["paired_vs_fast"] = {k: paired(scored[sy][k], scored["fast"][k]) for k in METRICS[task]}
            t["systems"][sy] = entry
        result["tasks"][task] = t
    if args.teacher_only:
        print(f"teacher outputs cached in {cache}")
        return 0
    # keyed "turbo_C" by UNet calls per image: the student's steps, plus one for a refining step
    calls = sorted({n + len(own_refine if r is None else [t for t in r.split("+") if t not in ("", "-")])
                    for n in steps_list for r in refines})
    result["unet_work"] = unet_work(calls)
    out = Path(args.json or ROOT / "benchmarks" / "results" / f"turbo_{args.split}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for task, t in result["tasks"].items():
        for sy, e in t["systems"].items():
            line = f"{task:8s} {sy:8s} {t['sample_seconds_mean'][sy]:6.2f} s  " + \
                "  ".join(f"{k} {v:.3f}" for k, v in e["metrics"].items())
            if "ssim_vs_fast" in e:
                line += f"  SSIM vs fast {e['ssim_vs_fast']['mean']:.3f} (min {e['ssim_vs_fast']['min']:.3f})"
            print(line)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
