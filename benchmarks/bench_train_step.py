"""Training step time on this machine: batch preparation (codec encoding per step vs a data set encoded once)
and the UNet's forward + backward + AdamW step, for the demo UNet and its patched variants.

    .venv/bin/python benchmarks/bench_train_step.py [--data runs/p2data] [--batch 8] [--steps 6]

Without --data, 32 samples are rendered on the fly (a minute). Prints a table; run on an idle machine.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="", help="shard folder (omfa data render); default: render 32 samples")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6, help="timed repeats of each measurement")
    args = ap.parse_args()

    from engine.diffusion import masked_loss, partial_noise, training_scheduler, training_target, unet_input
    from engine.model import build_model
    from engine.train import IMAGE_KEYS, OnTheFly, TrainConfig, _Batcher, encode_dataset, load_shards

    torch.set_num_threads(torch.get_num_threads())
    if args.data:
        data = load_shards(args.data, optional=())
        data = {k: v[:256] for k, v in data.items()}
    else:
        data = OnTheFly(pool=32).batch(np.arange(32))
    rng = np.random.default_rng(0)
    rows = []
    for name, kw in (("demo (shipped geometry)", {}), ("patch 2", dict(patch=2)),
                     ("patch 2 + full attention", dict(patch=2, full_attention=True))):
        model = build_model("demo", **kw)
        model.codec.eval()
        latents = encode_dataset(model.codec, {k: data[k] for k in IMAGE_KEYS})
        batcher = _Batcher(model, TrainConfig(), rng)
        idx = rng.integers(0, len(data["person"]), args.batch)
        images = {k: data[k][idx] for k in IMAGE_KEYS}
        cached = {k: latents[k][idx] for k in IMAGE_KEYS}
        t_encode = _timed(lambda: batcher(images), args.steps)
        t_cached = _timed(lambda: batcher(cached), args.steps)
        sched = training_scheduler(model.config.noise_schedule | {"prediction_type": "v_prediction"})
        opt = torch.optim.AdamW([p for n, p in model.named_parameters() if not n.startswith("codec.")], 1e-4)
        x0, pose, mask, *_ = batcher(cached)
        model.train()

        def step():
            noise = torch.randn_like(x0)
            t = torch.randint(0, 1000, (x0.shape[0],))
            x_t = partial_noise(x0, noise, mask, t, sched)
            loss = masked_loss(model(unet_input(x_t, pose, mask), t), training_target(x0, noise, t, sched), mask)
            opt.zero_grad()
            loss.backward()
            opt.step()

        t_unet = _timed(step, args.steps)
        params = sum(p.numel() for p in model.unet.parameters()) / 1e6
        rows.append((name, params, t_encode, t_cached, t_unet))
        print(f"{name}: done", flush=True)
    print(f"\nbatch {args.batch}, {torch.get_num_threads()} threads, median of {args.steps}")
    print("| UNet | params (M) | batch prep, encoding per step (s) | batch prep, encoded once (s) "
          "| UNet fwd+bwd+AdamW (s) | step, encoding per step (s) | step, encoded once (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, params, te, tc, tu in rows:
        print(f"| {name} | {params:.2f} | {te:.3f} | {tc:.3f} | {tu:.3f} | {te + tu:.2f} | {tc + tu:.2f} |")


if __name__ == "__main__":
    main()
