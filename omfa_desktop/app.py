"""Entry point of the desktop app (``omfa-desktop`` / ``python main.py``).

The Qt window is built in issue 5; until it lands, this entry point says so and runs the headless demo
(doctor + a try-off on a shipped sample), so a fresh clone's one command still shows the engine working.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omfa-desktop", description="OMFA Desktop")
    ap.add_argument("--steps", type=int, default=50, help="denoising steps for the demo run")
    ap.add_argument("--out", help="folder for the demo output (default: the user data folder)")
    args = ap.parse_args(argv)
    print("OMFA Desktop: the desktop window is not built yet; running the headless engine demo instead.\n")
    from engine.demo import run_demo

    return run_demo(args.out, args.steps)


if __name__ == "__main__":
    sys.exit(main())
