"""``omfa bench``: cost figures computed without weights (every figure in the docs is one of these commands)."""
from __future__ import annotations

from engine.body.commands import _size
from engine.cli.common import CliError


def _panels(text: str | None, preset: str, width: int | None) -> dict[str, int]:
    """``person,garment`` (all ``width`` wide), ``person=768,garment=768,head=384``, or the preset's layout."""
    from engine.cost import shipped_panels
    from engine.layout import PANEL_ORDER

    if not text:
        return shipped_panels(preset)
    out: dict[str, int] = {}
    items = [p.strip().partition("=") for p in text.split(",") if p.strip()]
    names = [n for n, _, _ in items]
    if any(n not in PANEL_ORDER for n in names) or len(set(names)) != len(names):
        raise CliError(f"--panels takes a comma list of {', '.join(PANEL_ORDER)} (each once, optionally "
                       f"NAME=WIDTH); got {text!r}", 2)
    for name, _, w in items:
        item = f"{name}={w}"
        try:
            out[name] = int(w) if w else int(width or 0)
        except ValueError:
            raise CliError(f"--panels: {item!r} needs a whole number of pixels after '='", 2) from None
        if out[name] <= 0:
            raise CliError(f"--panels: {name} needs a width (NAME=WIDTH, or --size)", 2)
    if "person" not in out or len(out) < 2:
        raise CliError(f"--panels needs the person panel and at least one more; got {text!r}", 2)
    return {p: out[p] for p in PANEL_ORDER if p in out}  # canvas order


def _tflop(x: float) -> str:
    return f"{x / 1e12:.1f}"


def cmd_bench_flops(args) -> int:
    from engine.cost import (guided_steps, omfa_plan, paper_reference, peer_plans, reference_multiview_plan,
                             unet_forward_flops)
    from engine.model import PRESET_DEFAULTS, ModelError, UNET_PRESETS
    from engine.presets import SAMPLING_PRESETS

    if args.preset not in UNET_PRESETS:
        raise CliError(f"unknown preset {args.preset!r}; presets are {', '.join(UNET_PRESETS)}", 2)
    layout = PRESET_DEFAULTS[args.preset]["layout"]
    w, h = args.size if args.size else (None, layout.height)
    panels = _panels(args.panels, args.preset, w)
    if any(v % layout.factor for v in panels.values()) or h % layout.factor:
        raise CliError(f"panel widths and the height must be multiples of {layout.factor} for {args.preset}", 2)
    if args.views < 1 or not 1 <= args.views_per_canvas:
        raise CliError("--views and --views-per-canvas must be at least 1", 2)
    sampling = dict(SAMPLING_PRESETS[args.preset_sampling]) if args.preset_sampling else \
        dict(steps=50, guidance=2.0, guidance_until=1.0)
    for key in ("steps", "guidance", "guidance_until"):
        if getattr(args, key) is not None:
            sampling[key] = getattr(args, key)
    steps, guidance, until = sampling["steps"], sampling["guidance"], sampling["guidance_until"]
    if steps < 1 or not 0 < until <= 1:
        raise CliError("--steps must be at least 1 and --guidance-until in (0, 1]", 2)
    canvas = sum(panels.values())
    label = "|".join(f"{p} {v}" for p, v in panels.items())
    try:
        per_fwd = unet_forward_flops(args.preset, canvas, h, layout.factor)
    except ModelError as e:
        raise CliError(str(e), 2) from None
    g = guided_steps(steps, guidance, until)
    print(f"preset {args.preset}, canvas {label} x {h} ({canvas}x{h}), {args.task}")
    print(f"  {per_fwd / 1e12:.2f} TFLOP per UNet forward (batch 1)")
    paper = SAMPLING_PRESETS["paper"]
    name = args.preset_sampling or ("paper" if all(sampling[k] == paper[k] for k in sampling) else "custom")
    print(f"  sampling {name}: {steps} steps, guidance {guidance:g} on {g} of them = {steps + g} UNet forwards "
          "per canvas")
    kw = dict(panels=panels, height=h, task=args.task, preset=args.preset)
    if args.reference_clean_panels:
        plan = reference_multiview_plan("", args.views, args.views_per_canvas, steps, guidance, until, panels, h,
                                        args.preset)
        one = reference_multiview_plan("", 1, 1, steps, guidance, until, panels, h, args.preset)
        print("  design: garment|head computed once per step for every view (needs a model trained for it)")
    else:
        plan = omfa_plan("", steps, guidance, until, views=args.views, views_per_canvas=args.views_per_canvas, **kw)
        one = omfa_plan("", steps, guidance, until, **kw)
    f = plan.flops()
    print(f"  UNet {_tflop(f['unet'])} + VAE {_tflop(f['vae'])} = {_tflop(f['total'])} TFLOP per request "
          f"({args.views} image{'s' if args.views > 1 else ''})")
    if args.views > 1:
        print(f"  {f['total'] / one.flops()['total']:.2f}x one view with the same sampler and canvas "
              f"({_tflop(one.flops()['total'])} TFLOP)")
    elif not args.reference_clean_panels:
        ref = paper_reference(**kw).flops()["total"]
        print(f"  {f['total'] / ref:.2f}x the paper sampler (DDIM 50, guidance on every step) on this canvas "
              f"({_tflop(ref)} TFLOP)")
    if args.peers:
        for p in peer_plans():
            pf = p.flops()
            print(f"  {p.name}: UNet {_tflop(pf['unet'])} + VAE {_tflop(pf['vae'])} = {_tflop(pf['total'])} TFLOP "
                  f"({p.note})")
    return 0


def register(sub) -> None:
    from engine.presets import SAMPLING_PRESETS

    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT")
    b = bsub.add_parser("flops", help="TFLOP per UNet forward and per request, UNet + VAE (meta device: no weights)")
    b.add_argument("--preset", default="sdxl", help="UNet geometry: sdxl (default), sd15, demo")
    b.add_argument("--size", type=_size, help="panel WIDTHxHEIGHT for --panels given as names (default: the "
                                              "preset's height; widths from --panels)")
    b.add_argument("--panels", help="person,garment (each --size wide) or person=768,garment=768,head=384 "
                                    "(default: the preset's shipped layout)")
    b.add_argument("--task", default="try-on", choices=["try-on", "try-off"], help="which panels the VAE encodes "
                                                                                  "and decodes")
    b.add_argument("--preset-sampling", choices=list(SAMPLING_PRESETS),
                   help="a sampling preset's steps and guidance (default: the paper's DDIM 50, CFG on every step)")
    b.add_argument("--steps", type=int)
    b.add_argument("--guidance", type=float)
    b.add_argument("--guidance-until", type=float)
    b.add_argument("--views", type=int, default=1, help="multi-view: views made by one request")
    b.add_argument("--views-per-canvas", type=int, default=1, help="person panels sharing one garment and head")
    b.add_argument("--reference-clean-panels", action="store_true",
                   help="count the design that computes garment|head once per step for all views")
    b.add_argument("--peers", action="store_true", help="also the IDM-VTON-like and CatVTON-like plans")
    b.set_defaults(func=cmd_bench_flops)
    register_fullsize(bsub)


def cmd_bench_fullsize(args) -> int:
    """Each configuration in its own process (so its memory is returned before the next), unless --in-process."""
    import subprocess
    import sys

    from engine.fullsize import (GiB, MEMORY_MODES, PRECISIONS, FullsizeError, available_bytes, geometries,
                                 markdown_table, merge_result, not_run_row, run_config, weight_bytes)
    from engine.persist import StorageError, read_json

    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    modes = [m.strip() for m in args.memory.split(",") if m.strip()]
    bad = [p for p in precisions if p not in PRECISIONS] + [m for m in modes if m not in MEMORY_MODES]
    if bad or not precisions or not modes:
        raise CliError(f"--precision takes {', '.join(PRECISIONS)} and --memory {', '.join(MEMORY_MODES)} "
                       f"(comma lists); got {', '.join(bad) or 'nothing'}", 2)
    if args.geometry not in geometries():
        raise CliError(f"--geometry must be one of {', '.join(geometries())}", 2)
    geometry = geometries()[args.geometry]
    if args.meta_only:
        from engine.fullsize import merge_meta, meta_rows

        rows = meta_rows(geometry)
        for r in rows:
            act = r["gpu_fp16_activations_peak_bytes"]
            print(f"{geometry.name} {r['memory']}: GPU fp16 need {r['gpu_fp16_peak_bytes'] / GiB:.2f} GiB (counted on "
                  f"the meta device; activations at peak: UNet {act['unet'] / GiB:.2f} GiB, VAE "
                  f"{act['codec'] / GiB:.2f} GiB)")
        if args.out:
            merge_meta(args.out, rows)
        return 0
    for precision in precisions:
        for memory in modes:
            need = int(weight_bytes(geometry, precision) * 1.35)  # weights + the activations of one step
            free = available_bytes()
            if free is not None and free < need:
                row = not_run_row(geometry.name, precision, memory,
                                  f"{free / GiB:.1f} GiB of memory free here, the run needs about {need / GiB:.1f} GiB")
                print(f"{precision} {memory}: not run: {row['reason']}")
            elif args.in_process or (len(precisions) == 1 and len(modes) == 1):
                print(f"{geometry.name} {precision} {memory}: building and running one step...", flush=True)
                try:
                    row = run_config(geometry, precision, memory, seed=args.seed)
                except FullsizeError as e:
                    raise CliError(str(e)) from None
                except MemoryError:
                    row = not_run_row(geometry.name, precision, memory, "out of memory on this machine")
                print(f"  {row.get('wall_s', '—')} s, peak RSS {row.get('peak_rss_bytes', 0) / GiB:.1f} GiB, "
                      f"GPU fp16 need {row.get('gpu_fp16_peak_bytes', 0) / GiB:.2f} GiB (counted)", flush=True)
            else:
                cmd = [sys.executable, "-m", "engine.cli", "bench", "fullsize", "--geometry", geometry.name,
                       "--precision", precision, "--memory", memory, "--seed", str(args.seed)]
                if args.out:
                    cmd += ["--out", args.out]
                done = subprocess.run(cmd)
                if done.returncode != 0:
                    row = not_run_row(geometry.name, precision, memory,
                                      f"the run's process ended with code {done.returncode} (killed or out of memory)")
                else:
                    continue  # the child wrote its own row
            if args.out:
                try:
                    merge_result(args.out, row)
                except StorageError as e:
                    raise CliError(str(e)) from None
    if args.out and len(precisions) * len(modes) > 1:
        data, _ = read_json(args.out)
        print(markdown_table([r for r in (data or {}).get("rows", []) if r.get("geometry") == geometry.name]))
    return 0


def register_fullsize(bsub) -> None:
    b = bsub.add_parser("fullsize", help="one full-size (SDXL, 768x1024, person|garment|head) request with random "
                                         "weights per memory mode and precision, on the CPU (minutes, >= 14 GB)")
    b.add_argument("--geometry", default="sdxl",
                   help="sdxl (the real geometry), sd15 (SD 1.5 at 384x512) or tiny (the test's twin)")
    b.add_argument("--precision", default="fp32,bf16", help="comma list of fp32, bf16")
    b.add_argument("--memory", default="standard,low,offload", help="comma list of standard, low, offload")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", help="results JSON to add the rows to (e.g. benchmarks/results/fullsize.json)")
    b.add_argument("--meta-only", action="store_true",
                   help="only count the GPU fp16 need on the meta device (seconds, no memory; no CPU run)")
    b.add_argument("--in-process", action="store_true",
                   help="run every configuration in this process (default: one process each)")
    b.set_defaults(func=cmd_bench_fullsize)
