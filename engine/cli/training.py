"""``omfa data render | train-codec | train``: the synthetic world and training."""
from __future__ import annotations

import time

from engine.cli.common import CliError


def cmd_data_render(args) -> int:
    from engine.train import ShardWorldError, render_shards

    t0 = time.perf_counter()
    if not 0 <= args.views <= 8:
        raise CliError(f"--views must be from 0 to 8, not {args.views}", 2)
    if args.seed < 0:
        raise CliError(f"--world-seed must be 0 or more, not {args.seed}", 2)
    try:
        paths = render_shards(args.out, args.split, args.count, args.shard_size, args.seed, views=args.views)
    except ShardWorldError as e:
        raise CliError(e.for_people()) from None
    print(f"{len(paths)} shard(s) of {args.split} (world seed {args.seed}) in {args.out} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


def cmd_train_codec(args) -> int:
    from engine.train import CodecTrainConfig, train_codec

    train_codec(CodecTrainConfig(data=args.data or "", out=args.out, steps=args.steps, batch=args.batch))
    print(f"codec saved to {args.out}")
    return 0


def cmd_train(args) -> int:
    from engine.model import ModelError
    from engine.train import TrainConfig, train

    if not 0.0 <= args.two_views <= 1.0:
        raise CliError(f"--two-views is a fraction of steps from 0 to 1, not {args.two_views}", 2)
    if args.max_hours < 0:
        raise CliError(f"--max-hours must be >= 0, not {args.max_hours}", 2)
    if (args.patch != 1 or args.full_attention) and (args.resume_model or args.init):
        raise CliError("--patch and --full-attention shape a new model; a --resume-model or --init model keeps "
                       "the UNet it has", 2)
    if not 2 <= args.max_views_per_canvas <= 8:
        raise CliError(f"--max-views-per-canvas must be from 2 to 8, not {args.max_views_per_canvas}", 2)
    cfg = TrainConfig(preset=args.preset, out=args.out, data=args.data or "", codec=args.codec or "",
                      init=args.init or "", resume_model=args.resume_model or "", steps=args.steps, batch=args.batch,
                      lr=args.lr, warmup=args.warmup, grad_checkpointing=args.grad_checkpointing,
                      mixed_precision=args.mixed_precision,
                      save_every=args.save_every, seed=args.seed, pool=args.pool,
                      zero_terminal_snr=args.noise_schedule == "zero-snr",
                      min_snr_v_floor=args.noise_schedule == "zero-snr", p_two_views=args.two_views,
                      max_views_per_canvas=args.max_views_per_canvas, max_hours=args.max_hours,
                      patch=args.patch, full_attention=args.full_attention)
    try:
        folder = train(cfg, stop_after=args.stop_after)
    except (ModelError, OSError) as e:  # a missing or broken --resume-model/--codec/--init/--data folder
        raise CliError(str(e)) from None
    if (folder / "omfa_config.json").is_file():
        print(f"model saved to {folder}")
    else:
        print("no model written (nothing was trained in this run)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("data", help="the synthetic world")
    dsub = p.add_subparsers(dest="data", metavar="WHAT")
    d = dsub.add_parser("render", help="render synthetic samples into .npz shards")
    d.add_argument("--split", default="train", choices=["train", "val", "test"],
                   help="train (default), val (where choices are made) or test (report only); separate random "
                        "streams of one world, so no sample is in two splits")
    d.add_argument("--count", type=int, default=1000)
    d.add_argument("--shard-size", type=int, default=250)
    d.add_argument("--world-seed", "--seed", dest="seed", type=int, default=0,
                   help="synthetic world (default 0, the benchmark world); --seed is the older name")
    d.add_argument("--out", default="runs/data")
    d.add_argument("--views", type=int, default=0,
                   help="also render this many consecutive turntable views of pose A per sample (multi-view "
                        "training; 0-8)")
    d.set_defaults(func=cmd_data_render)

    p = sub.add_parser("train-codec", help="train the demo model's small codec")
    p.add_argument("--data", help="shard folder (default: render a few samples on the fly)")
    p.add_argument("--out", default="runs/codec")
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch", type=int, default=16)
    p.set_defaults(func=cmd_train_codec)

    p = sub.add_parser("train", help="train the unified model (resumes from OUT/checkpoint)")
    p.add_argument("--preset", default="demo")
    p.add_argument("--data", help="shard folder (default: render on the fly, slow)")
    p.add_argument("--codec", help="trained codec folder (demo)")
    p.add_argument("--init", help="diffusers SD/SDXL(-inpainting) folder to start from")
    p.add_argument("--resume-model", help="continue training an exported OMFA model folder (e.g. the demo)")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=200,
                   help="lr warmup steps; with --resume-model the warmup and cosine restart at the model's step")
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--stop-after", type=int, help="leave after this many steps (checkpoint saved)")
    p.add_argument("--max-hours", type=float, default=0.0,
                   help="training-time budget over the model's life (a --resume-model counts its hours): "
                        "save and stop once spent (0: none)")
    p.add_argument("--noise-schedule", choices=["zero-snr", "sd"], default="sd",
                   help="sd (default, the shipped demo's recipe): SD's schedule with plain min-SNR; zero-snr: SD's "
                        "betas rescaled to zero terminal SNR, trailing sampler steps and the v-loss floor")
    p.add_argument("--two-views", type=float, default=0.0,
                   help="fraction of steps trained on multi-view canvases [p1 .. pk | garment | head] (0-1)")
    p.add_argument("--max-views-per-canvas", type=int, default=2,
                   help="multi-view steps put 2..K views on a canvas (default 2); the model then takes up to K")
    p.add_argument("--patch", type=int, default=1, choices=[1, 2, 4],
                   help="new models: the UNet sees PxP latent patches as channels (P^2 times cheaper per step)")
    p.add_argument("--full-attention", action="store_true",
                   help="new models: attention blocks at every UNet level, the first included")
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pool", type=int, default=0,
                   help="without --data: render this many samples once and reuse them (smoke tests)")
    p.set_defaults(func=cmd_train)
