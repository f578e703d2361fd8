"""Paired comparison of two `omfa eval --json` reports made on the same split, samples and seeds.

    .venv/bin/python benchmarks/compare_evals.py BASE.json OTHER.json [--json OUT.json]

For every per-sample metric of the model (both reports' "model" system), prints OTHER - BASE: the mean
difference and its 95 % confidence interval (1.96 standard errors of the paired differences), and whether the
interval excludes 0 in OTHER's favour ("better"), against it ("worse") or neither ("within CI"). The reports
must come from the same split and world seed with the same n (checked), so sample i is the same person,
garment and seed in both. Use it on val to make a choice; on test only to report one already made.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: not a readable omfa eval --json report ({e})") from None


def compare(base: dict, other: dict) -> dict:
    """{task: {metric: {"n", "base", "other", "diff", "ci95", "verdict"}}}."""
    for key in ("split", "world_seed", "n", "seed"):
        if base["settings"].get(key) != other["settings"].get(key):
            raise SystemExit(f"the reports differ in {key} ({base['settings'].get(key)} vs "
                             f"{other['settings'].get(key)}): a paired comparison needs the same samples")
    out: dict = {}
    for tb, to in zip(base["tasks"], other["tasks"]):
        if tb["task"] != to["task"]:
            raise SystemExit(f"task order differs: {tb['task']} vs {to['task']}")
        higher = {m["key"]: m["higher_is_better"] for m in tb["metrics"]}
        res = {}
        for key, a in tb["per_sample"]["model"].items():
            b = to["per_sample"]["model"].get(key)
            if b is None or key not in higher:
                continue
            a, b = np.array(a, float), np.array(b, float)
            ok = ~(np.isnan(a) | np.isnan(b))
            d = b[ok] - a[ok]
            if len(d) < 2:
                continue
            half = 1.96 * d.std(ddof=1) / math.sqrt(len(d))
            lo, hi = d.mean() - half, d.mean() + half
            good = (lo > 0) if higher[key] else (hi < 0)
            bad = (hi < 0) if higher[key] else (lo > 0)
            res[key] = {"n": int(len(d)), "base": float(a[ok].mean()), "other": float(b[ok].mean()),
                        "diff": float(d.mean()), "ci95": [float(lo), float(hi)],
                        "verdict": "better" if good else "worse" if bad else "within CI"}
        out[tb["task"]] = res
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", type=Path)
    ap.add_argument("other", type=Path)
    ap.add_argument("--json", type=Path, help="also write the comparison here")
    args = ap.parse_args(argv)
    base, other = _load(args.base), _load(args.other)
    res = compare(base, other)
    print(f"{args.other.name} - {args.base.name}, split {base['settings']['split']}, paired, 95 % CI")
    for task, metrics in res.items():
        for key, r in metrics.items():
            print(f"{task:8s} {key:22s} {r['base']:8.3f} -> {r['other']:8.3f}  {r['diff']:+.3f} "
                  f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]  {r['verdict']}")
    if args.json:
        args.json.write_text(json.dumps({"base": str(args.base), "other": str(args.other),
                                         "settings": base["settings"], "paired": res}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
