"""Synthetic world throughput (CPU, offscreen GL).

Run: python benchmarks/bench_synthetic.py [--n 30] [--sizes 96x128:64,192x256:128]

Prints one row per panel size: wall milliseconds per sample (median and 90th percentile over ``--n``
samples after a warm-up), this process's CPU milliseconds per sample, and samples per second. A sample
is 6 images and 4 masks: 9 GL passes (appearance, guide and 2 depth passes for each pose, plus the head
portrait) and one 3-body LBS batch. The load average is printed too: on a shared 2-core machine other
busy processes slow every pass.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30, help="samples timed per size")
    ap.add_argument("--sizes", default="96x128:64,192x256:128", help="WxH:head_width, comma separated")
    args = ap.parse_args(argv)

    from engine.data.synthetic import SyntheticWorld

    rows = []
    platform = "?"
    for item in args.sizes.split(","):
        size, head_w = item.split(":")
        w, h = (int(x) for x in size.split("x"))
        world = SyntheticWorld((w, h), head_width=int(head_w))
        t0 = time.perf_counter()
        world.sample(0, "train")  # warm-up: assets, GL context, shader compile
        first = time.perf_counter() - t0
        times = []
        cpu0 = time.process_time()
        for i in range(1, args.n + 1):
            t = time.perf_counter()
            world.sample(i, "train")
            times.append(time.perf_counter() - t)
        cpu = (time.process_time() - cpu0) / args.n  # this process's CPU time: less sensitive to other load
        platform = world._renderer(w, h).platform
        world.close()
        times.sort()
        med = statistics.median(times)
        rows.append((f"{w}x{h}", f"{head_w}x{h}", first, 1000 * med, 1000 * times[int(0.9 * (len(times) - 1))],
                     1000 * cpu, len(times) / sum(times)))
    print(f"GL platform: {platform}; {args.n} samples per size; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    print(f"{'panel':>9} {'head':>8} {'first (s)':>10} {'median ms':>10} {'p90 ms':>8} {'cpu ms':>7} "
          f"{'samples/s':>10}")
    for panel, head, first, med, p90, cpu, rate in rows:
        print(f"{panel:>9} {head:>8} {first:10.2f} {med:10.1f} {p90:8.1f} {cpu:7.1f} {rate:10.2f}")


if __name__ == "__main__":
    main()
