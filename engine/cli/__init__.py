"""``omfa``: the engine from the command line (no display needed).

    omfa --self-test [--verbose]      check the installation (one line: OK or FAILED: stage: reason)
    omfa doctor                       environment, device policy, GL, models
    omfa try-off --person P.png       take the garment off a photo
    omfa try-on --garment G.png --head H.png --pose walking [--views 8]
    omfa bench flops --preset sdxl --size 768x1024 --panels person,garment
    omfa pose render --preset walking --views 8 --out DIR
    omfa data render | train-codec | train      the demo world and training
    omfa distill --teacher DIR --out RUN       a few-step 'turbo' student (LoRA), then --install RUN/student
    omfa eval --model DIR --split test [--n 64] [--data runs/data] [--out report.md] [--grid grid.png]
    omfa manifest DIR | verify DIR    write / check a model folder's sha256 manifest
    omfa models list | add FOLDER | verify N | remove N | use N   the model manager
    omfa turntable | person-to-person | outfit | batch   chained and bulk work
    omfa wardrobe list [--search T] | add IMAGE --name N --tag T | export DIR | import DIR   [--root DIR]

One module per command group, each with ``register(subparsers)``; this module only assembles them, so
``omfa --help`` imports no torch (every command imports what it needs when it runs).
"""
from __future__ import annotations

import argparse
import sys

from engine.cli.common import CliError, load_pipeline, read_input, sampling
from engine.errors import OmfaError

__all__ = ["CliError", "build_parser", "load_pipeline", "main", "read_input", "sampling"]


def build_parser() -> argparse.ArgumentParser:
    from engine.body import commands as pose
    from engine.cli import (
        bench,
        distill,
        doctor,
        evaluation,
        generate,
        model_files,
        models,
        training,
        wardrobe,
        work,
    )

    parser = argparse.ArgumentParser(prog="omfa", description="OMFA: try-on and try-off in any pose, one model.")
    parser.add_argument("--self-test", action="store_true",
                        help="check the installation without a display (demo model, a 4-step try-off, a guide "
                             "render, BlazePose) and print one line; --verbose says where everything came from")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Order is the order of `omfa --help`: set-up, model files, generation, chained work, tools.
    for group in (doctor, models, model_files, generate, work, bench, pose, training, distill, evaluation, wardrobe):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--self-test" in argv:  # the installation check, the same from a source install as from the bundle
        from engine.selftest import main as self_test

        return self_test(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code
    except OmfaError as e:  # any project error (a failed write, a damaged model...): one line, no traceback
        print(f"error: {e.for_people()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

