"""``omfa distill``: a few-step "turbo" student of a model (engine.distill)."""
from __future__ import annotations

import json
import math

from engine.cli.common import CliError


def cmd_distill(args) -> int:
    from engine.distill import DistillConfig, distill, install_student
    from engine.model import ModelError
    from engine.presets import SAMPLING_PRESETS

    if args.install:
        try:
            install_student(args.install, args.teacher)
        except (ModelError, OSError) as e:
            raise CliError(str(e)) from None
        return 0
    if args.max_hours < 0:
        raise CliError(f"--max-hours must be >= 0, not {args.max_hours}", 2)
    for flag in ("pixel", "white", "silhouette"):
        value = getattr(args, f"{flag}_weight")
        if not (math.isfinite(value) and value >= 0):
            raise CliError(f"--{flag}-weight must be a finite number >= 0, not {value}", 2)
        if flag != "pixel" and value > 0 and args.pixel_weight == 0:
            raise CliError(f"--{flag}-weight weighs part of the pixel loss: give --pixel-weight too", 2)
    if args.rank < 1:
        raise CliError(f"--rank must be at least 1, not {args.rank}", 2)
    if args.targets < 2 or args.steps < 1 or args.batch < 1:
        raise CliError("--targets must be at least 2, --steps and --batch at least 1", 2)
    if args.preset not in SAMPLING_PRESETS or args.preset == "turbo":
        teachers = ", ".join(p for p in SAMPLING_PRESETS if p != "turbo")
        raise CliError(f"--preset must be a teacher sampler ({teachers})", 2)
    try:
        weights = {str(int(k)): float(v) for k, v in (kv.split(":") for kv in args.student_steps.split(","))}
    except ValueError:
        raise CliError(f"--student-steps takes N:WEIGHT pairs like 1:0.5,2:0.3,4:0.2, not {args.student_steps!r}",
                       2) from None
    cfg = DistillConfig(teacher=args.teacher, out=args.out, data=args.data or "", preset=args.preset,
                        targets=args.targets, chunk=args.chunk, steps=args.steps, batch=args.batch, lr=args.lr,
                        warmup=args.warmup, rank=args.rank, step_weights=weights, default_steps=args.default_steps,
                        max_hours=args.max_hours, threads=args.threads, seed=args.seed, pool=args.pool,
                        save_every=args.save_every, mixed_precision=args.mixed_precision,
                        pixel_weight=args.pixel_weight, white_weight=args.white_weight,
                        silhouette_weight=args.silhouette_weight)
    try:
        folder = distill(cfg, stop_after=args.stop_after)
    except (ModelError, OSError) as e:
        raise CliError(str(e)) from None
    if (folder / "student_config.json").is_file():
        info = json.loads((folder / "student_config.json").read_text())
        print(f"student saved to {folder} (step {info['training']['steps']}); put it beside its teacher with: "
              f"omfa distill --teacher {args.teacher} --install {folder}")
    else:
        print("no student written (no training step ran in this call)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("distill", help="distil a model into a few-step 'turbo' student (LoRA, 1-4 steps)")
    p.add_argument("--teacher", default="resources/models/demo", help="the model folder to distil")
    p.add_argument("--out", default="runs/distill", help="run folder: targets, checkpoint, student")
    p.add_argument("--data", help="train shards (omfa data render --split train); default: rendered on the fly")
    p.add_argument("--preset", default="fast", help="the teacher's sampler the student imitates")
    p.add_argument("--targets", type=int, default=640, help="teacher trajectories to record")
    p.add_argument("--chunk", type=int, default=16, help="trajectories per targets file")
    p.add_argument("--steps", type=int, default=1500, help="training steps")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=50, help="learning-rate warm-up steps")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank")
    p.add_argument("--student-steps", default="1:0.5,2:0.3,4:0.2",
                   help="step counts the student learns, with their share of training (N:WEIGHT,...)")
    p.add_argument("--default-steps", type=int, default=1, help="steps of the turbo preset (recorded)")
    p.add_argument("--max-hours", type=float, default=0.0, help="budget for targets + training (0: none)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pool", type=int, default=0, help="on-the-fly data: distinct samples to render and reuse")
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--stop-after", type=int, default=None, help="leave after this many steps (resumable)")
    p.add_argument("--pixel-weight", type=float, default=0.0,
                   help="add an L1 loss on the decoded generated panels with this weight (0: latent MSE only); "
                        "costs a codec decode with gradients per step")
    p.add_argument("--white-weight", type=float, default=0.0,
                   help="pixel loss: extra weight on pixels that are white in the teacher's image (white-background "
                        "worlds such as the demo's: penalises speckle and halos)")
    p.add_argument("--silhouette-weight", type=float, default=0.0,
                   help="pixel loss: add the disagreement between the student's soft figure mask and the teacher's "
                        "(white-background worlds: pixels on the wrong side of the evaluation's white threshold)")
    p.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    p.add_argument("--install", metavar="STUDENT",
                   help="instead of training: copy a student folder into --teacher's folder and rewrite its manifest")
    p.set_defaults(func=cmd_distill)
