"""The try-off ceiling the demo model's codec allows: the true garments of the held-out split, encoded and
decoded by the codec alone, scored with the try-off metrics of `omfa eval` (engine.evaluation.score_try_off).

    .venv/bin/python benchmarks/bench_codec_ceiling.py [--n 64] [--data runs/data]

If the round trip keeps patterns and colours, the codec is not what stops the model from reproducing them.
Writes benchmarks/results/codec_ceiling.json.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--data", help="test shards (default: render the split)")
    ap.add_argument("--model", default=str(ROOT / "resources" / "models" / "demo"))
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "codec_ceiling.json"))
    args = ap.parse_args(argv)

    import torch

    from engine.codec import to_tensor, to_uint8
    from engine.evaluation import load_samples, score_try_off
    from engine.model import load_model

    model = load_model(args.model)
    lay = model.layout
    samples = load_samples(args.n, "test", data=args.data, panel_size=lay.panel_size("garment"),
                           head_width=lay.panel_size("head")[0])
    with torch.no_grad():
        rec = [to_uint8(model.codec.decode(model.codec.encode(to_tensor(s.garment))))[0] for s in samples]
    per, pooled = score_try_off(rec, samples)
    out = {"n": args.n, "model": model.config.name, "pooled_psnr": pooled["psnr"], "pooled_psnr_fg": pooled["psnr_fg"]}
    for k, v in per.items():
        vals = [x for x in v if not math.isnan(x)]
        out[k] = {"mean": float(np.mean(vals)) if vals else None, "n": len(vals)}
    print(f"codec round trip of the true garments (n = {args.n}): fg SSIM {out['ssim_fg']['mean']:.3f}, "
          f"PSNR {pooled['psnr']:.2f} dB, colour ΔE ≤ 10 {out['de_ok']['mean']:.0%}, pattern right "
          f"{out['pattern']['mean']:.0%} of {out['pattern']['n']}, stripe orientation "
          f"{out['stripe_orient']['mean']:.0%} of {out['stripe_orient']['n']}")
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
