"""Guide render and mannequin forward timings (CPU, offscreen GL). Run: python benchmarks/bench_render.py"""

from __future__ import annotations

import argparse
import statistics
import time



def _median_ms(fn, runs: int) -> float:
    fn()  # warm-up (context creation, shader compile)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)

    from engine.body.camera import orbit_cameras
    from engine.body.model import BodyModel
    from engine.body.presets import load_preset
    from engine.body.render import GuideRenderer

    model = BodyModel.load_mannequin()
    state = load_preset("walking")
    rows = [("mannequin forward (smplx LBS, batch 1)", f"{model.num_vertices} verts",
             _median_ms(lambda: model.forward(state), args.runs))]
    v, _ = model.forward(state)
    for w, h in ((768, 1024), (128, 96)):
        for style in ("parts_shaded", "normals"):
            r = GuideRenderer(w, h, style)
            cams = orbit_cameras(v, 8, 0.0, w, h)
            one = _median_ms(lambda: r.render(v, model.faces, cams[:1]), args.runs)
            eight = _median_ms(lambda: r.render(v, model.faces, cams), max(3, args.runs // 3)) / 8
            rows.append((f"guide render {style}, 1 view", f"{w}x{h}", one))
            rows.append((f"guide render {style}, per view of 8", f"{w}x{h}", eight))
            platform = r.platform
        sil = _median_ms(lambda: r.render_silhouette(v, model.faces, cams[:1]), args.runs)
        rows.append(("silhouette (depth pass), 1 view", f"{w}x{h}", sil))
    print(f"GL platform: {platform}; median of {args.runs} runs")
    print(f"{'what':<42} {'size':>12} {'ms':>8}")
    for what, size, ms in rows:
        print(f"{what:<42} {size:>12} {ms:8.1f}")


if __name__ == "__main__":
    main()
