"""What every ``omfa`` command group shares: the one-line error, model loading, input images,
running a request and the sampler options."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import OmfaError


class CliError(OmfaError):
    """An error to print as one line, with exit code 2 (usage) or 1 (failure)."""

    def __init__(self, message: str, code: int = 1, path: str | Path | None = None) -> None:
        super().__init__(message, path=path)
        self.code = code


def threads_arg(text: str) -> int:
    """argparse type of --threads: refused at parse time, before any image is read or model loaded."""
    from engine.threads import MAX_THREADS, ThreadsError, check_threads

    try:
        return check_threads(int(text), "--threads")
    except (ValueError, ThreadsError):
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 (automatic) to {MAX_THREADS}, "
                                         f"not {text!r}") from None


def use_threads(args) -> None:
    """Apply the CPU thread policy (engine.threads) before the model loads; says what it chose unless quiet."""
    from engine.threads import ThreadsError, check_threads, use_threads as apply

    try:
        plan = apply(check_threads(getattr(args, "threads", 0) or 0, "--threads"))
    except ThreadsError as e:
        raise CliError(str(e), 2) from None
    if not getattr(args, "quiet", False):
        print(f"threads: {plan.reason}", file=sys.stderr)


def check_out(path: str | Path, folder: bool = False, need_bytes: int = 0) -> Path:
    """``--out`` checked before any generation (engine.persist.check_writable): a folder where a file must be,
    a path under a file, a name over 255 bytes, a read-only or full disk -> one line, nothing generated."""
    from engine.persist import StorageError, check_writable

    try:
        return check_writable(path, folder=folder, need_bytes=need_bytes)
    except StorageError as e:
        raise CliError(f"--out: {e}", path=e.path) from None


def image_bytes(pipe, panels: int = 1) -> int:
    """About what ``panels`` output PNGs of the model's person panel take on disk (raw size: an upper bound)."""
    w, h = pipe.layout.panel_size("person")
    return w * h * 3 * max(1, panels)


def load_pipeline(args):
    from engine.device import DeviceError
    from engine.model import ModelError
    from engine.pipeline import Pipeline

    use_threads(args)

    try:
        pipe, fallback, folder = Pipeline.load_default(args.model, args.device, args.precision,
                                                       vae=getattr(args, "vae", None))
    except (ModelError, DeviceError) as e:
        raise CliError(str(e)) from None
    pipe.optimize(channels_last=getattr(args, "channels_last", False), compile=getattr(args, "compile", False))
    if fallback:
        print(f"note: no model at {folder}; using an UNTRAINED demo-sized model (its output is noise). "
              "Train one with 'omfa train --preset demo' or pass --model.", file=sys.stderr)
    elif not pipe.trained:
        print(f"warning: the model '{pipe.model.config.name}' in {folder} is not trained (yet): "
              "expect noise, not a garment.", file=sys.stderr)
    return pipe


def read_input(path: str | None, what: str, panel: tuple[int, int] | None = None, person_check: bool = False):
    """The image at ``path`` as RGB uint8, any size (the pipeline fits it to its panel); None for no path.
    ``panel`` (w, h), when given, only bounds the decode: no more than 4x its long side is kept (None: the
    default cap, for a photo read before the model is known). ``person_check``: refuse it with one line
    when the person gate finds nobody in it."""
    from engine.images import ImageError, read_image

    if path is None:
        return None
    try:
        # a slot needs a panel's size: decode no more than 4x its long side (a 79 MP photo stays cheap); a
        # photo read before the model is known (for the person gate) gets the default cap
        read = read_image(path, max_side=max(1024, 4 * max(panel))) if panel is not None else read_image(path)
    except ImageError as e:
        raise CliError(f"--{what}: {e}") from None
    for note in read.notes:  # what was changed to use the file (rotation, bit depth, frames...): said, not fatal
        print(f"note: --{what}: {read.path.name}: {note}", file=sys.stderr)
    if person_check:
        check_person(read.pixels, read.path)
    return read.pixels


def check_person(pixels, path) -> None:
    """The person gate (engine.body.gate) on a photo given on the command line: a CliError naming the file and
    saying how to skip the check when there is nobody in it."""
    from engine.body.gate import NoPersonFound, cli_message, require_person

    try:
        require_person(pixels, Path(path).name, path)
    except NoPersonFound as e:
        raise CliError(cli_message(e)) from None


def person_check_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-person-check", dest="person_check", action="store_false",
                   help="use the photo(s) even when the person gate finds nobody in them")


def warn_outside_world(result, what: str = "") -> bool:
    """Print the demo model's warning when an input did not look like its synthetic world (engine.domain);
    True when it did not."""
    from engine.domain import describe

    line = describe(result.settings.get("outside_world"))
    if line:
        print(f"warning: {what + ': ' if what else ''}{line}", file=sys.stderr)
    return bool(line)


def run_request(pipe, request, out: Path, quiet: bool) -> int:
    """Run one request and write its output(s) to ``out``; ``out`` was checked with :func:`check_out`."""
    from engine.export import save_png
    from engine.request import RequestError

    def progress(p):
        if not quiet:
            print(f"\r  step {p.step}/{p.total}  {p.elapsed:5.1f} s  eta {p.eta:5.1f} s", end="", file=sys.stderr)

    try:
        result = pipe.run(request, progress=progress)
    except RequestError as e:
        raise CliError(f"invalid request: {e}") from None
    if not quiet:
        print(file=sys.stderr)
    meta = {"request": request.settings(), "result": result.metadata()}
    outs = result.outputs
    paths = []
    for i, img in enumerate(outs):
        path = out if len(outs) == 1 else out.with_name(f"{out.stem}_view{i:02d}{out.suffix or '.png'}")
        paths.append(save_png(img, path, {**meta, "view": i}))
    warn_outside_world(result)
    t = result.timings
    print(f"{request.task}: wrote {', '.join(map(str, paths))} ({t['total']:.1f} s, "
          f"{t['per_step'] * 1000:.0f} ms/step on {result.settings['device']} {result.settings['precision']})")
    if not result.settings.get("model_trained"):
        print("reminder: this model is untrained; the image is noise.", file=sys.stderr)
    return 0


def sampler_args(p: argparse.ArgumentParser) -> None:
    # engine.presets, not engine.diffusion: building the parser (omfa --help) must not import torch.
    from engine.presets import DEFAULT_PRESET, SAMPLING_PRESETS, SCHEDULERS

    p.add_argument("--model", help="model folder (default: the shipped demo model)")
    p.add_argument("--vae", help="a diffusers AutoencoderKL folder replacing the model's codec")

    p.add_argument("--preset", default=DEFAULT_PRESET, choices=list(SAMPLING_PRESETS),
                   help="sampling preset: fast = DPM++ 20 steps, guidance on the first half; paper = DDIM 50, "
                        "guidance on every step; fastest = DPM++ 15 steps, guidance on the first 40%% "
                        f"(default {DEFAULT_PRESET}); the options below override it")
    p.add_argument("--steps", type=int, help="denoising steps (default: the preset's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance (default 2.0)")
    p.add_argument("--guidance-until", type=float, help="guide the first this fraction of steps (0-1]")
    p.add_argument("--scheduler", choices=list(SCHEDULERS), help="sampler (default: the preset's)")
    p.add_argument("--no-noise-prior", dest="noise_prior", action="store_false",
                   help="start from pure noise, not from the model's latent prior (its training data's mean "
                        "latent; only models that have one)")
    p.add_argument("--memory", default="standard", choices=["standard", "low", "offload"],
                   help="low: one image per call, VAE in 512-px tiles (an SDXL-based model fits an 8 GB GPU); "
                        "offload: also keeps the model in CPU memory between uses (about 6 GB; README: "
                        "'Which GPU do I need')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels-last", action="store_true", help="channels_last UNet (faster on most GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the UNet (slow first image)")
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N, cpu, mps")
    p.add_argument("--precision", default="auto", choices=["auto", "fp16", "bf16", "fp32"])
    p.add_argument("--threads", type=threads_arg, default=0,
                   help="CPU threads for torch (default 0: chosen from the cores free now; OMFA_THREADS also sets it)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def sampling(args) -> dict:
    """The request's sampler fields: the preset, then any option given explicitly."""
    from engine.presets import preset_settings

    s = preset_settings(args.preset)
    for key in ("steps", "guidance", "guidance_until", "scheduler"):
        if getattr(args, key, None) is not None:
            s[key] = getattr(args, key)
    return {**s, "memory": args.memory, "noise_prior": args.noise_prior}
