"""Entry point of OMFA Desktop (``omfa-desktop`` / ``python main.py``).

Opens the main window with the demo model (or ``--model``) and the sample inputs. On a machine with no
display at all it says so and runs the headless engine demo instead (doctor + a try-off on a sample), so
``scripts/run.sh`` still shows something useful over SSH.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--self-test" in argv:  # headless, before anything imports Qt: the same check as ``omfa --self-test``
        from engine.selftest import main as self_test

        return self_test(argv)
    ap = argparse.ArgumentParser(prog="omfa-desktop", description="OMFA Desktop: virtual try-on and try-off")
    ap.add_argument("--self-test", action="store_true",
                    help="check the installation without a display and print one line (see README)")
    ap.add_argument("--model", help="an OMFA model folder (default: the saved setting, else the demo model)")
    ap.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (this session only)")
    ap.add_argument("--precision", choices=["auto", "fp16", "bf16", "fp32"], help="this session only")
    ap.add_argument("--no-samples", action="store_true", help="start with empty inputs")
    ap.add_argument("--no-viewport", action="store_true", help="no 3D viewport (pose presets and guides only)")
    ap.add_argument("--headless", action="store_true", help="run the headless engine demo instead of the window")
    ap.add_argument("--steps", type=int, help="denoising steps of the headless demo (default: the default preset's)")
    ap.add_argument("--out", help="output folder of the headless demo (default: the user data folder)")
    ap.add_argument("--kiosk", action="store_true",
                    help="full-screen, touch-only kiosk for an unattended shop screen (README: Kiosk mode)")
    ap.add_argument("--no-kiosk", action="store_true", help="open the normal window even if kiosk mode is set")
    ap.add_argument("--set-kiosk-pin", action="store_true",
                    help="set the kiosk's staff PIN (asked twice; stored salted and hashed) and exit")
    args = ap.parse_args(argv)
    if not args.set_kiosk_pin:
        from engine.warmup import prefetch
        from omfa_desktop.pyside_import_hook import lighten

        lighten()  # before the engine's imports start: PySide6's per-import check costs ~0.6 s on them
        prefetch()  # torch and diffusers start importing now, while Qt and the window load (engine.warmup)

    if args.set_kiosk_pin:
        from omfa_desktop.kiosk import set_pin_interactive

        return set_pin_interactive()
    from engine.paths import user_data_dir
    from engine.persist import remove_leftover_parts

    remove_leftover_parts(user_data_dir(), recursive=True)  # *.part files of writes a crash interrupted
    kiosk = args.kiosk
    if not kiosk and not args.no_kiosk and not args.headless:
        from omfa_desktop.kiosk import kiosk_enabled

        kiosk = kiosk_enabled()

    from omfa_desktop.glenv import configure_gl_environment, has_display

    if kiosk and not has_display():
        print("OMFA Desktop: kiosk mode needs a display (DISPLAY / WAYLAND_DISPLAY are not set).", file=sys.stderr)
        return 2
    if args.headless or not has_display():
        if not args.headless:
            print("OMFA Desktop: no display (DISPLAY / WAYLAND_DISPLAY are not set), so the window cannot open. "
                  "Running the headless engine demo instead; use a desktop session or `xvfb-run` for the window.\n",
                  file=sys.stderr)
        from engine.cli.doctor import run_demo

        return run_demo(args.out, args.steps)  # the default sampling preset, as the window uses

    configure_gl_environment()
    if kiosk:
        from omfa_desktop.kiosk import run_kiosk

        return run_kiosk(args.model, args.device, args.precision)
    from engine.logs import setup_logging
    from omfa_desktop.startup import qt_application, run_window
    from omfa_desktop.window import MainWindow

    log_file = setup_logging()
    qt_application()
    win = MainWindow(model_folder=args.model, device=args.device, precision=args.precision,
                     load_samples=not args.no_samples, with_viewport=False if args.no_viewport else None)
    return run_window(win, win.show, log_file)


if __name__ == "__main__":
    sys.exit(main())
