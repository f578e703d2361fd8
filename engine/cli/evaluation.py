"""``omfa eval``: score a model on a held-out split of the synthetic world (val for choices, test to report)."""
from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.common import CliError, sampler_args, sampling


def cmd_eval(args) -> int:
    from engine.body.render import RenderError
    from engine.device import DeviceError
    from engine.evaluation import TASKS, EvalError, evaluate
    from engine.export import save_png
    from engine.model import ModelError
    from engine.paths import DEMO_MODEL
    from engine.pipeline import Pipeline

    s = sampling(args)
    for name, value in (("n", args.n), ("steps", s["steps"]), ("n_train", args.n_train)):
        if value < 1:
            raise CliError(f"--{name.replace('_', '-')} must be at least 1, not {value}", 2)
    if args.world_seed < 0:
        raise CliError(f"--world-seed must be 0 or more, not {args.world_seed}", 2)
    folder = Path(args.model) if args.model else DEMO_MODEL
    try:
        pipe = Pipeline.load(folder, args.device, args.precision)
    except (ModelError, DeviceError) as e:
        raise CliError(str(e)) from None
    if not pipe.trained:
        print(f"warning: {pipe.model.config.name} is untrained: expect noise-level scores.", file=sys.stderr)

    def progress(task: str, done: int, total: int) -> None:
        if not args.quiet:
            end = "\n" if done == total else ""
            print(f"\r  {task}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    try:
        report = evaluate(pipe, args.split, args.n, s["steps"], s["guidance"], s["scheduler"],
                          args.seed, data=args.data, weights_dir=args.weights, progress=progress,
                          n_train=args.n_train, guidance_until=s["guidance_until"],
                          noise_prior=s["noise_prior"], world_seed=args.world_seed)
    except (EvalError, RenderError) as e:
        raise CliError(str(e)) from None
    md = report.to_markdown()
    print(md, end="")
    try:
        for path, text in ((args.out, md), (args.json, report.to_json())):
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(text)
                print(f"wrote {path}", file=sys.stderr)
        if args.grid:
            grid = Path(args.grid)
            for task in TASKS:
                path = grid.with_name(f"{grid.stem}_{task}{grid.suffix or '.png'}")
                save_png(report.grid(task), path, {"eval": report.settings, "model": report.model, "task": task})
                print(f"wrote {path}", file=sys.stderr)
    except OSError as e:
        raise CliError(f"cannot write the report: {e}") from None
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="score a model on the synthetic held-out split, with trivial baselines")
    p.add_argument("--split", default="val", choices=["val", "test", "train"],
                   help="val (default): make choices here; test: report only, never tune on it; train: diagnostic")
    p.add_argument("--world-seed", type=int, default=0,
                   help="synthetic world to render the split from (default 0, the benchmark world; ignored with "
                        "--data, whose shards carry their own)")
    p.add_argument("--n", type=int, default=64, help="samples per task (default 64)")
    p.add_argument("--data", help="shard folder (default: render the split from the synthetic world)")
    p.add_argument("--n-train", type=int, default=64, help="train samples for the mean-image baseline")
    p.add_argument("--weights", help="folder of local weights for LPIPS/FID/KID/DISTS/CLIP-I/DINO (never downloaded)")
    p.add_argument("--out", help="write the markdown table here")
    p.add_argument("--json", help="write the full report (per-sample values) as JSON here")
    p.add_argument("--grid", help="write a 16-result grid per task: NAME_try-off.png, NAME_try-on.png")
    sampler_args(p)  # --model --steps --guidance --scheduler --seed (of sample 0; sample i: seed + i) ...
    p.set_defaults(func=cmd_eval)
