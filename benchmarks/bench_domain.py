"""The demo model's domain check (engine/domain.py): its bounds from the world's train+val samples, its
false-positive rate on the test split and its detection rate on real photos and drawn images.

    .venv/bin/python benchmarks/bench_domain.py [--n-fit 128] [--n-test 256] [--cache DIR]

Bounds: for every panel (person = poses A and B, garment, head) and feature, the world's extreme over the
train and val samples, moved half-way to the feature's limit (engine/domain.py says why). The printed
BOUNDS are what engine/domain.py holds; the script fails when they differ (re-paste them).
Real photos are scikit-image's bundled photographs (engine.data.negatives.SKIMAGE_PHOTOS), each fitted into
each panel as the app does; drawn images are engine.data.negatives.negatives(seed=2).
``--cache DIR`` keeps rendered samples as DIR/<split>.npz (rendering 512 samples takes ~6 min on 2 cores).
Writes benchmarks/results/domain.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYS = ("person", "person_b", "garment", "head", "guide")


def world_panels(split: str, n: int, cache: str | None = None, keys: tuple = KEYS) -> dict[str, np.ndarray]:
    """{key: (n, H, W, 3)} of the first ``n`` samples of ``split`` (keys: person, person_b, garment, head,
    guide), rendered once and kept in ``cache``/<split>.npz when given."""
    path = Path(cache) / f"{split}.npz" if cache else None
    if path is not None and path.is_file():
        d = np.load(path)
        if all(k in d and len(d[k]) >= n for k in keys):
            return {k: d[k][:n] for k in keys}
    from engine.data.synthetic import SyntheticWorld

    world = SyntheticWorld()
    out = {k: [] for k in KEYS}
    for i in range(n):
        s = world.sample(i, split)
        for k in KEYS:
            out[k].append(getattr(s, k))
    arrays = {k: np.stack(v) for k, v in out.items()}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
    return arrays


def panel_sets(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"person": np.concatenate([d["person"], d["person_b"]]), "garment": d["garment"], "head": d["head"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-fit", type=int, default=128, help="samples of train and of val for the bounds")
    ap.add_argument("--n-test", type=int, default=256)
    ap.add_argument("--cache", help="folder for rendered samples (<split>.npz)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "domain.json"))
    args = ap.parse_args(argv)
    from engine import domain
    from engine.data.negatives import SKIMAGE_PHOTOS, negatives, skimage_photo
    from engine.images import fit

    fit_sets = {}
    for split in ("train", "val"):
        for panel, imgs in panel_sets(world_panels(split, args.n_fit, args.cache)).items():
            fit_sets.setdefault(panel, []).extend(domain.features(im) for im in imgs)
    bounds = {}
    for panel, feats in fit_sets.items():
        bounds[panel] = {}
        for name in domain.FEATURES:
            values = [f[name] for f in feats]
            if domain.DIRECTION[name] == "min":
                bounds[panel][name] = round(min(values) / 2, 4)
            else:
                e = max(values)
                bounds[panel][name] = round(e + (1 - e) / 2, 4)
    print("BOUNDS =", json.dumps(bounds))
    same = bounds == domain.BOUNDS
    if not same:
        print("engine/domain.py BOUNDS differ from these: paste them there and run again", file=sys.stderr)
        domain.BOUNDS.clear()
        domain.BOUNDS.update(bounds)

    test = panel_sets(world_panels("test", args.n_test, args.cache))
    report: dict = {"bounds": bounds, "fit": {"splits": ["train", "val"], "samples_per_split": args.n_fit},
                    "test_samples": args.n_test, "synthetic_test": {}, "real_photos": {}, "drawn": {}}
    for panel, imgs in test.items():
        flagged = [i for i, im in enumerate(imgs) if not domain.check_panel(im, panel).inside]
        report["synthetic_test"][panel] = {"n": len(imgs), "flagged": len(flagged),
                                           "false_positive_rate": len(flagged) / len(imgs), "flagged_index": flagged}
    sizes = {"person": (96, 128), "garment": (96, 128), "head": (64, 128)}
    rows = []
    for name in SKIMAGE_PHOTOS:
        img = skimage_photo(name)
        row = {"name": name}
        for panel, size in sizes.items():
            c = domain.check_panel(fit(img, *size), panel)
            row[panel] = {"flagged": not c.inside, "reasons": c.reasons}
        rows.append(row)
    for panel in sizes:
        n = sum(r[panel]["flagged"] for r in rows)
        report["real_photos"][panel] = {"n": len(rows), "flagged": n, "detection_rate": n / len(rows),
                                        "missed": [r["name"] for r in rows if not r[panel]["flagged"]]}
    report["real_photo_rows"] = rows
    drawn = negatives(2, 8)
    for panel, size in sizes.items():
        missed = [n for n, im in drawn if domain.check_panel(fit(im, *size), panel).inside]
        report["drawn"][panel] = {"n": len(drawn), "detection_rate": 1 - len(missed) / len(drawn), "missed": missed}
    print(f"{'panel':8s} {'test FP':>12s} {'photos flagged':>16s} {'drawn flagged':>14s}")
    for panel in sizes:
        t, r, d = report["synthetic_test"][panel], report["real_photos"][panel], report["drawn"][panel]
        print(f"{panel:8s} {t['flagged']:>4d}/{t['n']:<4d} {t['false_positive_rate']:5.1%} "
              f"{r['flagged']:>5d}/{r['n']:<3d} {r['detection_rate']:6.1%} {d['detection_rate']:>10.1%}"
              f"   missed photos: {', '.join(r['missed']) or '-'}")
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
