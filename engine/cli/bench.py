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
