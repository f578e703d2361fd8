"""Screenshots of every kiosk screen at 1080×1920 (portrait) for docs/screenshots/kiosk (run under Xvfb):

    xvfb-run -a -s "-screen 0 1200x2000x24" .venv/bin/python -m omfa_desktop.kiosk.screens \\
        --out docs/screenshots/kiosk

A real visit on the demo model: the sample garments in a temporary wardrobe, the sample photo arriving in
the drop folder, BlazePose on it, a try-on in a preset pose and an 8-view turntable, saved to a temporary
"USB stick"; then the staff screens. Everything lives in a temporary data folder (deleted at the end).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# the sample garments demo_000 ... demo_007, in order (the wardrobe lists them newest first)
NAMES = ["Striped tee", "GX letter tee", "Checked shirt", "Two-tone tee", "Grey tee", "Teal tee",
         "DB print tee", "Polka dots"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/screenshots/kiosk")
    ap.add_argument("--model", help="model folder (default: the demo model)")
    ap.add_argument("--size", default="1080x1920", help="window size WxH (portrait by default)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="omfa_kiosk_shots_"))
    os.environ["OMFA_DATA_DIR"] = str(tmp / "data")
    try:
        return _run(args, out, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args, out: Path, tmp: Path) -> int:
    from omfa_desktop.glenv import configure_gl_environment

    configure_gl_environment()
    from engine.images import load_image
    from engine.kiosk_store import hash_pin
    from engine.paths import SAMPLES
    from engine.wardrobe import Wardrobe
    from omfa_desktop.kiosk.window import KioskWindow
    from omfa_desktop.model.app_settings import AppSettings
    from omfa_desktop.startup import qt_application

    qt_application()
    wardrobe = Wardrobe(tmp / "wardrobe")
    for name, g in zip(NAMES, sorted(SAMPLES.glob("demo_00*_garment.png"))):
        wardrobe.add(load_image(g), name=name, tags=["shop"], source=f"file {g.name}")
    (tmp / "usb").mkdir()
    settings = AppSettings(kiosk_pin=hash_pin("24681357"), kiosk_drop_folder=str(tmp / "drop"),
                           kiosk_export_folder=str(tmp / "usb"), kiosk_wardrobe_folder=str(tmp / "wardrobe"),
                           kiosk_photo_hint="AirDrop it to “OMFA Boutique”, or scan the QR code on the "
                                            "fitting-room mirror and upload it.",
                           kiosk_camera=False, kiosk=True)
    offset = [0.0]
    k = KioskWindow(model_folder=args.model, settings=settings, root=tmp / "kiosk", fullscreen=False, camera=False,
                    clock=lambda: time.monotonic() + offset[0])
    w, h = (int(v) for v in args.size.split("x"))
    k.resize(w, h)
    k.show()

    from omfa_desktop.qtutil import pump_events as pump, wait_for as wait

    def shot(name: str) -> None:
        pump(0.5)
        path = out / name
        k.grab().save(str(path))
        print(f"wrote {path}")

    def need(cond, what: str, timeout: float = 600.0) -> None:
        if not wait(cond, timeout):
            raise SystemExit(f"screens: {what} did not happen (screen: {k.current()}; "
                             f"{k.start_page.message.text()})")

    need(lambda: k.model_info is not None, "the model loading")
    need(lambda: all(n in k.preset_guides for n, _ in (("walking", 0), ("waving", 0))), "the pose icons")
    pump(0.5)
    shot("01_start.png")

    k.start_session()
    shot("02_photo_waiting.png")
    shutil.copyfile(SAMPLES / "demo_000_person.png", tmp / "drop" / "IMG_4021.PNG")
    need(lambda: k.visit is not None and k.visit.photo is not None, "the photo arriving", 30)
    shot("03_photo_ready.png")

    k.photo_page.use_button.click()
    need(lambda: k.current() == "garment", "the pose estimate")
    shot("04_garment.png")

    ids = list(k.garment_page.cards)
    k.garment_page.cards[ids[1]].click()
    shot("05_pose.png")

    k.pose_page.cards["walking"].click()
    need(lambda: k.visit.job is not None and k.visit.job.total and k.visit.job.step >= k.visit.job.total // 2,
         "half the steps")
    shot("06_working.png")
    need(lambda: k.current() == "result", "the result")
    shot("07_result.png")
    k.save_result()
    shot("08_result_saved.png")

    k.result_page.again_button.click()
    k.garment_page.cards[ids[0]].click()
    k.pose_page.turntable_button.click()
    need(lambda: k.current() == "result", "the turntable", 1200)
    k.flipper.stop()
    for _ in range(2):
        k._next_frame()
    shot("09_turntable_result.png")

    offset[0] += k.idle.timeout - 12      # the customer walked away: the warning's countdown
    k.tick()
    shot("10_idle_warning.png")
    offset[0] += 20
    k.tick()
    shot("11_start_after_idle.png")

    blank = tmp / "empty_room.png"
    from PIL import Image

    Image.new("RGB", (600, 800), (236, 232, 226)).save(blank)
    shutil.copyfile(blank, tmp / "drop" / "IMG_4022.PNG")
    need(lambda: k.visit is not None and k.visit.photo is not None, "the second photo arriving", 30)
    k.photo_page.use_button.click()
    need(lambda: k.current() == "start", "the estimate refusing an empty photo")
    shot("12_start_no_person.png")

    k.ask_pin("admin")
    for d in "2468":
        k.pin_page.press(d)
    shot("13_pin.png")
    for d in "1357":
        k.pin_page.press(d)
    k.pin_page.press("OK")
    need(lambda: k.current() == "admin", "the admin screen", 30)
    shot("14_admin.png")
    k._ask_new_pin("start", "Welcome! Set the staff PIN",
                   "Staff need it to change settings or close the app. 4 to 12 digits.")
    shot("15_first_start_set_pin.png")
    k._may_close = True
    k.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
