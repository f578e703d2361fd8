"""``omfa doctor`` and ``omfa demo``: is the installation sound, and does a generation run."""
from __future__ import annotations

import sys
from pathlib import Path


def cmd_doctor(args) -> int:
    import platform

    from engine.doctor import FAIL, WARN, run_checks

    print(f"OMFA Desktop doctor — Python {platform.python_version()} on {platform.system()} {platform.machine()}")
    checks = run_checks(args.device, args.precision)
    for c in checks:
        print(c.line())
    problems = [c for c in checks if c.status == FAIL]
    warnings = [c for c in checks if c.status == WARN]
    ok = not problems
    print(f"doctor: {len(problems)} problem(s), {len(warnings)} warning(s)" if (problems or warnings)
          else "doctor: all good")
    return 0 if ok else 1


def cmd_demo(args) -> int:
    return run_demo(args.out, args.steps, args.preset, args.threads)


def run_demo(out_dir: Path | None = None, steps: int | None = None, preset: str | None = None,
             threads: int = 0) -> int:
    """doctor, then a try-off on a shipped sample with the sampling preset a user gets by default
    (``steps`` overrides the preset's step count)."""
    from engine import cli
    from engine.paths import DEMO_MODEL, sample_paths, user_data_dir
    from engine.presets import DEFAULT_PRESET

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
    argv = ["try-off", "--person", str(samples["person"]), "--out", str(out), "--preset", preset or DEFAULT_PRESET,
            "--threads", str(threads)]
    if steps:
        argv += ["--steps", str(steps)]
    if "head" in samples:
        argv += ["--head", str(samples["head"])]
    if "guide" in samples:
        argv += ["--guide", str(samples["guide"])]
    code = cli.main(argv) or code
    print("\nThe demo model is a small model trained only on OMFA's synthetic mannequin world: it shows the "
          "whole try-on/try-off loop working offline; it is not meant for real photos. Load a real OMFA "
          "checkpoint with --model for photos.")
    return code


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check the installation, device policy and models")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("demo", help="doctor + a try-off on a shipped sample with the shipped model")
    p.add_argument("--out", help="output folder (default: the user data folder)")
    from engine.presets import DEFAULT_PRESET, SAMPLING_PRESETS

    p.add_argument("--preset", default=DEFAULT_PRESET, choices=list(SAMPLING_PRESETS),
                   help=f"sampling preset of the try-off (default {DEFAULT_PRESET}, as in the app)")
    p.add_argument("--steps", type=int, help="denoising steps (default: the preset's)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default 0: chosen from the cores free now)")
    p.set_defaults(func=cmd_demo)
