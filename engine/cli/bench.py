"""``omfa bench``: cost figures computed without weights."""
from __future__ import annotations

from engine.body.commands import _size
from engine.cli.common import CliError


def cmd_bench_flops(args) -> int:
    from engine.layout import PANEL_ORDER
    from engine.model import ModelError, unet_flops

    panels = [p.strip() for p in args.panels.split(",") if p.strip()]
    bad = [p for p in panels if p not in PANEL_ORDER]
    if bad or not panels:
        raise CliError(f"--panels takes a comma list of {', '.join(PANEL_ORDER)}; got {args.panels!r}", 2)
    w, h = args.size
    try:
        per_fwd = unet_flops(args.preset, w, h, len(panels))
    except ModelError as e:
        raise CliError(str(e), 2) from None
    cfg_mult = 2 if args.guidance != 1.0 else 1
    per_image = per_fwd * cfg_mult * args.steps
    print(f"preset {args.preset}, {len(panels)} panel(s) ({', '.join(panels)}) of {w}x{h}: "
          f"canvas {w * len(panels)}x{h}")
    print(f"  {per_fwd / 1e12:.2f} TFLOP per UNet forward (batch 1)")
    print(f"  {per_image / 1e12:.1f} TFLOP per image ({args.steps} steps x {cfg_mult} for "
          f"{'CFG' if cfg_mult == 2 else 'no CFG'})")
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT")
    b = bsub.add_parser("flops", help="TFLOP per UNet forward and per image (meta device: no weights)")
    b.add_argument("--preset", default="sdxl")
    b.add_argument("--size", type=_size, default=(768, 1024), help="panel WIDTHxHEIGHT")
    b.add_argument("--panels", default="person,garment")
    b.add_argument("--steps", type=int, default=50)
    b.add_argument("--guidance", type=float, default=2.0)
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
            print(f"{geometry.name} {r['memory']}: GPU fp16 need {r['gpu_fp16_peak_bytes'] / GiB:.2f} GB (counted on "
                  f"the meta device; activations at peak: UNet {act['unet'] / GiB:.2f} GB, VAE "
                  f"{act['codec'] / GiB:.2f} GB)")
        if args.out:
            merge_meta(args.out, rows)
        return 0
    for precision in precisions:
        for memory in modes:
            need = int(weight_bytes(geometry, precision) * 1.35)  # weights + the activations of one step
            free = available_bytes()
            if free is not None and free < need:
                row = not_run_row(geometry.name, precision, memory,
                                  f"{free / GiB:.1f} GB of memory free here, the run needs about {need / GiB:.1f} GB")
                print(f"{precision} {memory}: not run: {row['reason']}")
            elif args.in_process or (len(precisions) == 1 and len(modes) == 1):
                print(f"{geometry.name} {precision} {memory}: building and running one step...", flush=True)
                try:
                    row = run_config(geometry, precision, memory, seed=args.seed)
                except FullsizeError as e:
                    raise CliError(str(e)) from None
                except MemoryError:
                    row = not_run_row(geometry.name, precision, memory, "out of memory on this machine")
                print(f"  {row.get('wall_s', '—')} s, peak RSS {row.get('peak_rss_bytes', 0) / GiB:.1f} GB, "
                      f"GPU fp16 need {row.get('gpu_fp16_peak_bytes', 0) / GiB:.2f} GB (counted)", flush=True)
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
    b.add_argument("--geometry", default="sdxl", help="sdxl (the real geometry), sd15 (SD 1.5 at 384x512) or tiny (the test's twin)")
    b.add_argument("--precision", default="fp32,bf16", help="comma list of fp32, bf16")
    b.add_argument("--memory", default="standard,low,offload", help="comma list of standard, low, offload")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", help="results JSON to add the rows to (e.g. benchmarks/results/fullsize.json)")
    b.add_argument("--meta-only", action="store_true",
                   help="only count the GPU fp16 need on the meta device (seconds, no memory; no CPU run)")
    b.add_argument("--in-process", action="store_true",
                   help="run every configuration in this process (default: one process each)")
    b.set_defaults(func=cmd_bench_fullsize)
