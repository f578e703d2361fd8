"""Kiosk endurance on the shipped demo model: N customers through the real flow, memory measured.

    xvfb-run -a -s "-screen 0 1200x2000x24" .venv/bin/python benchmarks/bench_kiosk_memory.py [--visits 100]

Each visit: a phone-sized photo (960x1280) dropped in the drop folder → pose and head estimated by the real
estimator (BlazePose + fit, on the guide thread) → the first wardrobe garment → the client's own pose or
"walking" (alternately) → a try-on with the demo model and the kiosk's "fast" sampling → Done (purge).
Reports resident memory after visit 10 and after the last, the time per visit, and that no customer file is
left. The suite's tests/desktop/test_desktop_kiosk_memory.py runs the same loop on a tiny model, in seconds.
Writes benchmarks/results/kiosk_memory.json.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def files_under(root: Path) -> list[str]:
    return [] if not root.exists() else sorted(str(Path(d, f)) for d, _, fs in os.walk(root) for f in fs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visits", type=int, default=100)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "kiosk_memory.json"))
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="omfa_kiosk_bench_"))
    os.environ["OMFA_DATA_DIR"] = str(tmp / "data")

    from omfa_desktop.glenv import configure_gl_environment

    configure_gl_environment()
    from PIL import Image

    from engine.images import load_image
    from engine.kiosk_store import hash_pin
    from engine.paths import SAMPLES
    from engine.wardrobe import Wardrobe
    from omfa_desktop.kiosk.window import KioskWindow
    from omfa_desktop.qtutil import wait_for
    from omfa_desktop.startup import qt_application
    from omfa_desktop.model.app_settings import AppSettings

    qt_application()
    drop, wardrobe = tmp / "drop", tmp / "wardrobe"
    drop.mkdir()
    Wardrobe(wardrobe).add(load_image(SAMPLES / "demo_000_garment.png"), name="Striped tee", source="bench")
    photo = tmp / "phone_photo.png"
    Image.open(SAMPLES / "demo_001_person.png").convert("RGB").resize((960, 1280), Image.BICUBIC).save(photo)
    settings = AppSettings(kiosk_pin=hash_pin("90817263"), kiosk_drop_folder=str(drop),
                           kiosk_wardrobe_folder=str(wardrobe), kiosk_camera=False)
    k = KioskWindow(settings=settings, root=tmp / "kiosk", fullscreen=False, camera=False, drop_settle=0.0)
    k.resize(540, 960)
    k.show()
    if not wait_for(lambda: k.model_info is not None, 300):
        print("the demo model did not load", file=sys.stderr)
        return 1
    first = min(10, args.visits)
    rss, seconds = {}, []
    for i in range(1, args.visits + 1):
        t0 = time.perf_counter()
        shutil.copyfile(photo, drop / f"IMG_{i:04d}.png")
        k._poll_drop()
        if not wait_for(lambda: k.current() == "photo" and k.visit is not None and k.visit.photo is not None, 60):
            print(f"visit {i}: the photo was not taken", file=sys.stderr)
            return 1
        k.photo_page.use_button.click()
        if not wait_for(lambda: k.current() == "garment", 300):
            print(f"visit {i}: no garment page ({k.start_page.message.text()})", file=sys.stderr)
            return 1
        next(iter(k.garment_page.cards.values())).click()
        k.pose_page.cards[("own", "walking")[i % 2]].click()
        if not wait_for(lambda: k.current() == "result", 600):
            print(f"visit {i}: no result ({k.start_page.message.text()})", file=sys.stderr)
            return 1
        k.result_page.done_button.click()
        seconds.append(time.perf_counter() - t0)
        left = files_under(tmp / "kiosk") + files_under(drop)
        if left:
            print(f"visit {i}: customer files left behind: {left}", file=sys.stderr)
            return 1
        if i in (first, args.visits):
            wait_for(lambda: False, 0.1)
            gc.collect()
            rss[i] = rss_mb()
        if i % 10 == 0:
            print(f"visit {i}: {seconds[-1]:.1f} s, RSS {rss_mb():.0f} MB", flush=True)
    growth = rss[args.visits] - rss[first]
    result = {"visits": args.visits, "model": "OMFA demo", f"rss_mb_after_{first}": rss[first],
              f"rss_mb_after_{args.visits}": rss[args.visits], "growth_mb": growth,
              "seconds_per_visit_median": sorted(seconds)[len(seconds) // 2], "customer_files_left": 0}
    print(f"kiosk on the demo model: RSS {rss[first]:.1f} MB after visit {first}, {rss[args.visits]:.1f} MB after "
          f"visit {args.visits} ({growth:+.1f} MB); {result['seconds_per_visit_median']:.1f} s per visit (median); "
          "no customer file left")
    Path(args.json).write_text(json.dumps(result, indent=1))
    k._may_close = True
    k.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
