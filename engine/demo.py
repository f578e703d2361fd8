"""The headless first-run demo: ``omfa doctor`` then a try-off on a shipped sample with the shipped model.

Used by ``python main.py`` until the desktop window exists, and by ``omfa demo``.
"""
from __future__ import annotations

import sys
from pathlib import Path


def run_demo(out_dir: Path | None = None, steps: int = 50) -> int:
    from engine import cli
    from engine.paths import DEMO_MODEL, sample_paths, user_data_dir

    code = cli.main(["doctor"])
    samples = sample_paths()
    if "person" not in samples:
        print("error: no sample inputs in resources/samples (python -m engine.data.samples writes them)",
              file=sys.stderr)
        return 1
    out_dir = Path(out_dir or user_data_dir() / "demo")
    out = out_dir / "try_off_demo.png"
    print(f"\nTry-off demo on {samples['person'].name} with "
          f"{'the shipped demo model' if (DEMO_MODEL / 'omfa_config.json').is_file() else 'an untrained model'}:")
    argv = ["try-off", "--person", str(samples["person"]), "--out", str(out), "--steps", str(steps)]
    if "head" in samples:
        argv += ["--head", str(samples["head"])]
    if "guide" in samples:
        argv += ["--guide", str(samples["guide"])]
    code = cli.main(argv) or code
    print("\nThe demo model is a small model trained only on OMFA's synthetic mannequin world: it shows the "
          "whole try-on/try-off loop working offline; it is not meant for real photos. Load a real OMFA "
          "checkpoint with --model for photos.")
    return code
