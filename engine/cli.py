"""``omfa``: the engine from the command line (no display needed).

    omfa doctor                       environment, device policy, GL, models
    omfa try-off --person P.png       take the garment off a photo
    omfa try-on --garment G.png --head H.png --pose walking [--views 8]
    omfa bench flops --preset sdxl --size 768x1024 --panels person,garment
    omfa pose render --preset walking --views 8 --out DIR
    omfa data render | train-codec | train      the demo world and training
    omfa eval --model DIR --split test [--n 64] [--data runs/data] [--out report.md] [--grid grid.png]
    omfa manifest DIR | verify DIR    write / check a model folder's sha256 manifest
    omfa turntable | person-to-person | outfit | batch   chained and bulk work (engine/cli_work.py)
    omfa wardrobe list [--search T] | add IMAGE --name N --tag T | export DIR | import DIR   [--root DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from engine.body.commands import _size
from engine.body.commands import register as register_pose


class CliError(Exception):
    """An error to print as one line, with exit code 2 (usage) or 1 (failure)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ============================================================================================ helpers
def _load_pipeline(args):
    from engine.device import DeviceError
    from engine.model import ModelError
    from engine.pipeline import Pipeline

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


def _image(path: str | None, size: tuple[int, int], what: str):
    from engine.images import ImageError, fit, read_image

    if path is None:
        return None
    try:
        read = read_image(path)
    except ImageError as e:
        raise CliError(f"--{what}: {e}") from None
    for note in read.notes:  # what was changed to use the file (rotation, bit depth, frames...): said, not fatal
        print(f"note: --{what}: {read.path.name}: {note}", file=sys.stderr)
    return fit(read.pixels, *size)


def _run(pipe, request, out: Path, quiet: bool) -> int:
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
    t = result.timings
    print(f"{request.task}: wrote {', '.join(map(str, paths))} ({t['total']:.1f} s, "
          f"{t['per_step'] * 1000:.0f} ms/step on {result.settings['device']} {result.settings['precision']})")
    if not result.settings.get("model_trained"):
        print("reminder: this model is untrained; the image is noise.", file=sys.stderr)
    return 0


def _sampler_args(p: argparse.ArgumentParser) -> None:
    from engine.diffusion import SCHEDULERS

    p.add_argument("--model", help="model folder (default: the shipped demo model)")
    p.add_argument("--vae", help="a diffusers AutoencoderKL folder replacing the model's codec")
    from engine.presets import DEFAULT_PRESET, SAMPLING_PRESETS

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
                   help="low: less memory, slower (for GPUs that run out of memory); offload: also keeps the "
                        "model in CPU memory between uses (8-12 GB GPUs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels-last", action="store_true", help="channels_last UNet (faster on most GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the UNet (slow first image)")
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N, cpu, mps")
    p.add_argument("--precision", default="auto", choices=["auto", "fp16", "bf16", "fp32"])
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _sampling(args) -> dict:
    """The request's sampler fields: the preset, then any option given explicitly."""
    from engine.presets import preset_settings

    s = preset_settings(args.preset)
    for key in ("steps", "guidance", "guidance_until", "scheduler"):
        if getattr(args, key, None) is not None:
            s[key] = getattr(args, key)
    return {**s, "memory": args.memory, "noise_prior": args.noise_prior}


# ============================================================================================ commands
def cmd_try_off(args) -> int:
    from engine.request import TryOnRequest

    pipe = _load_pipeline(args)
    lay = pipe.layout
    person = _image(args.person, lay.panel_size("person"), "person")
    head = _image(args.head, lay.panel_size("head"), "head") if "head" in lay.panels else None
    guides = [_image(args.guide, lay.panel_size("person"), "guide")] if args.guide else []
    req = TryOnRequest(task="try-off", person=person, head=head, pose_guides=guides, **_sampling(args),
                       seed=args.seed, precision=args.precision, device=args.device, label=Path(args.person).name)
    return _run(pipe, req, Path(args.out), args.quiet)


def cmd_try_on(args) -> int:
    from engine.body.guide import pose_guides
    from engine.body.presets import PresetError, load_preset
    from engine.body.render import RenderError
    from engine.body.state import BodyState, BodyStateError
    from engine.request import TryOnRequest

    pipe = _load_pipeline(args)
    lay = pipe.layout
    size = lay.panel_size("person")
    garment = _image(args.garment, lay.panel_size("garment"), "garment")
    head = _image(args.head, lay.panel_size("head"), "head") if args.head else None
    body, cameras = None, None
    if args.guide:
        if args.views != 1:
            raise CliError("--guide gives one view; use --pose/--state with --views for several", 2)
        guides = [_image(args.guide, size, "guide")]
    else:
        try:
            state = BodyState.from_json(args.state) if args.state else load_preset(args.pose)
            guides, cams = pose_guides(state, *size, views=args.views, elevation_deg=args.elevation,
                                       start_azimuth_deg=args.azimuth, style=pipe.model.config.render_style)
        except (BodyStateError, PresetError, RenderError) as e:
            raise CliError(str(e)) from None
        body, cameras = state.to_dict(), [c.to_dict() for c in cams]
    task = "multi-view" if args.views > 1 else "try-on"
    req = TryOnRequest(task=task, garment=garment, head=head, pose_guides=guides, num_views=args.views,
                       views_per_canvas=args.views_per_canvas, **_sampling(args), seed=args.seed,
                       precision=args.precision, device=args.device, body=body, cameras=cameras,
                       label=Path(args.garment).name)
    return _run(pipe, req, Path(args.out), args.quiet)


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


def cmd_convert(args) -> int:
    from engine.layout import LayoutError, PanelLayout
    from engine.model import ModelError, init_from_diffusers

    w, h = args.size
    panels = [p.strip() for p in args.panels.split(",") if p.strip()]
    try:
        vae_cfg = Path(args.base) / "vae" / "config.json"
        factor = 2 ** (len(json.loads(vae_cfg.read_text())["block_out_channels"]) - 1) if vae_cfg.is_file() else 8
        layout = PanelLayout({p: w for p in panels}, h, factor)
        model = init_from_diffusers(args.base, text=args.text, layout=layout, name=args.name)
        model.save(args.out, fp16=args.fp16)
    except (ModelError, LayoutError, ValueError, KeyError) as e:
        raise CliError(str(e)) from None
    print(f"converted {args.base} -> {args.out} ({model.num_parameters() / 1e6:.0f} M parameters, "
          f"9-channel conv_in, panels {', '.join(layout.panels)} of {w}x{h}). Not fine-tuned yet: "
          "train it with 'omfa train --init' before use.")
    return 0


def cmd_manifest(args) -> int:
    from engine.integrity import ModelError, write_manifest

    try:
        path = write_manifest(args.folder)
    except (ModelError, OSError) as e:
        raise CliError(str(e)) from None
    n = len(json.loads(path.read_text())["files"])
    print(f"wrote {path}: sha256 of {n} files (load_model now refuses any of them missing, truncated or changed)")
    return 0


def cmd_prior(args) -> int:
    from engine.integrity import ModelError
    from engine.train import write_latent_prior

    try:
        write_latent_prior(args.model, args.data, args.count, args.seed)
    except (ModelError, OSError) as e:
        raise CliError(str(e)) from None
    return 0


def cmd_verify(args) -> int:
    from engine.integrity import ModelError, verify_manifest

    try:
        result = verify_manifest(args.folder)
    except (ModelError, OSError) as e:
        print(f"FAILED: {e}")
        return 1
    print(f"OK: {result.summary()}")
    return 0


def cmd_demo(args) -> int:
    from engine.demo import run_demo

    return run_demo(args.out, args.steps)


def cmd_bench_flops(args) -> int:
    from engine.layout import PANEL_ORDER
    from engine.model import ModelError, unet_flops

    panels = [p.strip() for p in args.panels.split(",") if p.strip()]
    bad = [p for p in panels if p not in PANEL_ORDER]
    if bad or not panels:
        raise CliError(f"--panels takes a comma list of {', '.join(PANEL_ORDER)}; got {args.panels!r}", 2)
    w, h = args.size
    try:
        per_fwd = unet_flops(args.preset, w, h, len(panels))
    except ModelError as e:
        raise CliError(str(e), 2) from None
    cfg_mult = 2 if args.guidance != 1.0 else 1
    per_image = per_fwd * cfg_mult * args.steps
    print(f"preset {args.preset}, {len(panels)} panel(s) ({', '.join(panels)}) of {w}x{h}: "
          f"canvas {w * len(panels)}x{h}")
    print(f"  {per_fwd / 1e12:.2f} TFLOP per UNet forward (batch 1)")
    print(f"  {per_image / 1e12:.1f} TFLOP per image ({args.steps} steps x {cfg_mult} for "
          f"{'CFG' if cfg_mult == 2 else 'no CFG'})")
    return 0


def cmd_data_render(args) -> int:
    from engine.train import render_shards

    t0 = time.perf_counter()
    if not 0 <= args.views <= 8:
        raise CliError(f"--views must be from 0 to 8, not {args.views}", 2)
    paths = render_shards(args.out, args.split, args.count, args.shard_size, args.seed, views=args.views)
    print(f"{len(paths)} shard(s) of {args.split} in {args.out} ({time.perf_counter() - t0:.0f} s)")
    return 0


def cmd_train_codec(args) -> int:
    from engine.train import CodecTrainConfig, train_codec

    train_codec(CodecTrainConfig(data=args.data or "", out=args.out, steps=args.steps, batch=args.batch))
    print(f"codec saved to {args.out}")
    return 0


def cmd_train(args) -> int:
    from engine.integrity import ModelError
    from engine.train import TrainConfig, train

    if not 0.0 <= args.two_views <= 1.0:
        raise CliError(f"--two-views is a fraction of steps from 0 to 1, not {args.two_views}", 2)
    if args.max_hours < 0:
        raise CliError(f"--max-hours must be >= 0, not {args.max_hours}", 2)
    if (args.patch != 1 or args.full_attention) and (args.resume_model or args.init):
        raise CliError("--patch and --full-attention shape a new model; a --resume-model or --init model keeps "
                       "the UNet it has", 2)
    if not 2 <= args.max_views_per_canvas <= 8:
        raise CliError(f"--max-views-per-canvas must be from 2 to 8, not {args.max_views_per_canvas}", 2)
    cfg = TrainConfig(preset=args.preset, out=args.out, data=args.data or "", codec=args.codec or "",
                      init=args.init or "", resume_model=args.resume_model or "", steps=args.steps, batch=args.batch, lr=args.lr,
                      warmup=args.warmup, grad_checkpointing=args.grad_checkpointing, mixed_precision=args.mixed_precision,
                      save_every=args.save_every, seed=args.seed, pool=args.pool,
                      zero_terminal_snr=args.noise_schedule == "zero-snr",
                      min_snr_v_floor=args.noise_schedule == "zero-snr", p_two_views=args.two_views,
                      max_views_per_canvas=args.max_views_per_canvas, max_hours=args.max_hours,
                      patch=args.patch, full_attention=args.full_attention)
    try:
        folder = train(cfg, stop_after=args.stop_after)
    except (ModelError, OSError) as e:  # a missing or broken --resume-model/--codec/--init/--data folder
        raise CliError(str(e)) from None
    if (folder / "omfa_config.json").is_file():
        print(f"model saved to {folder}")
    else:
        print("no model written (nothing was trained in this run)")
    return 0


def cmd_eval(args) -> int:
    from engine.body.render import RenderError
    from engine.device import DeviceError
    from engine.evaluate import TASKS, EvalError, evaluate
    from engine.export import save_png
    from engine.model import ModelError
    from engine.paths import DEMO_MODEL
    from engine.pipeline import Pipeline

    sampling = _sampling(args)
    for name, value in (("n", args.n), ("steps", sampling["steps"]), ("n_train", args.n_train)):
        if value < 1:
            raise CliError(f"--{name.replace('_', '-')} must be at least 1, not {value}", 2)
    folder = Path(args.model) if args.model else DEMO_MODEL
    try:
        pipe = Pipeline.load(folder, args.device, args.precision)
    except (ModelError, DeviceError) as e:
        raise CliError(str(e)) from None
    if not pipe.trained:
        print(f"warning: {pipe.model.config.name} is untrained: expect noise-level scores.", file=sys.stderr)

    def progress(task: str, done: int, total: int) -> None:
        if not args.quiet:
            end = "\n" if done == total else ""
            print(f"\r  {task}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    try:
        report = evaluate(pipe, args.split, args.n, sampling["steps"], sampling["guidance"], sampling["scheduler"],
                          args.seed, data=args.data, weights_dir=args.weights, progress=progress,
                          n_train=args.n_train, guidance_until=sampling["guidance_until"],
                          noise_prior=sampling["noise_prior"])
    except (EvalError, RenderError) as e:
        raise CliError(str(e)) from None
    md = report.to_markdown()
    print(md, end="")
    try:
        for path, text in ((args.out, md), (args.json, report.to_json())):
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(text)
                print(f"wrote {path}", file=sys.stderr)
        if args.grid:
            grid = Path(args.grid)
            for task in TASKS:
                path = grid.with_name(f"{grid.stem}_{task}{grid.suffix or '.png'}")
                save_png(report.grid(task), path, {"eval": report.settings, "model": report.model, "task": task})
                print(f"wrote {path}", file=sys.stderr)
    except OSError as e:
        raise CliError(f"cannot write the report: {e}") from None
    return 0


# ============================================================================================ wardrobe
def _wardrobe_parser(sub) -> None:
    """``omfa wardrobe list | add | export | import`` (engine/wardrobe.py), all taking ``--root DIR``."""
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--root", default=argparse.SUPPRESS,
                      help="wardrobe folder (default: the user data folder's wardrobe/)")
    p = sub.add_parser("wardrobe", help="the garments kept across sessions: list, add, export, import")
    p.add_argument("--root", default=None, help=argparse.SUPPRESS)
    wsub = p.add_subparsers(dest="wardrobe", metavar="WHAT")
    w = wsub.add_parser("list", parents=[root], help="list the items, newest first")
    w.add_argument("--search", default="", help='words that must all appear in name, tags or source; "tag:X"')
    w.add_argument("--json", action="store_true", help="print the items as JSON")
    w = wsub.add_parser("add", parents=[root], help="keep an image file as a garment")
    w.add_argument("image", metavar="IMAGE")
    w.add_argument("--name", help="default: the source and the date")
    w.add_argument("--tag", action="append", default=[], help="a tag (repeat for more; commas split too)")
    w.add_argument("--source", help="where it came from (default: the file's name)")
    w = wsub.add_parser("export", parents=[root], help="write items to a folder (one subfolder each + an index)")
    w.add_argument("folder", metavar="DIR")
    w.add_argument("--search", default="", help="only the items this search finds (default: all)")
    w = wsub.add_parser("import", parents=[root], help="add the items of an exported folder (duplicates skipped)")
    w.add_argument("folder", metavar="DIR")
    p.set_defaults(func=cmd_wardrobe)


def cmd_wardrobe(args) -> int:
    from engine.images import ImageError, read_image
    from engine.persist import StorageError
    from engine.wardrobe import Wardrobe

    if not getattr(args, "wardrobe", None):
        raise CliError("omfa wardrobe needs one of: list, add, export, import", 2)
    wardrobe = Wardrobe(args.root)
    for note in wardrobe.load_notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        if args.wardrobe == "list":
            items = wardrobe.search(args.search)
            if args.json:
                print(json.dumps([{**i.info(), "garment": str(i.garment)} for i in items], indent=1))
            for i in [] if args.json else items:
                tags = f"  [{', '.join(i.tags)}]" if i.tags else ""
                print(f"{i.id}  {i.date_text()}  {i.name}{tags}  ({i.source or 'no source'})")
            if not args.json:
                print(f"{len(items)} of {len(wardrobe)} item(s) in {wardrobe.root}", file=sys.stderr)
        elif args.wardrobe == "add":
            from engine.export import read_png_metadata

            try:
                read = read_image(args.image)
            except ImageError as e:
                raise CliError(str(e)) from None
            for note in read.notes:
                print(f"note: {read.path.name}: {note}", file=sys.stderr)
            try:
                meta = read_png_metadata(args.image)   # an OMFA PNG brings the request that made it
            except ValueError:
                meta = None
            source = args.source if args.source is not None else f"file {read.path.name}"
            item = wardrobe.add(read.pixels, args.name, args.tag, source, meta)
            print(f"added {item.id}: {item.name} -> {item.folder}")
        elif args.wardrobe == "export":
            items = wardrobe.search(args.search)
            if not items:
                raise CliError(f"no wardrobe items match {args.search!r}" if args.search else
                               f"the wardrobe in {wardrobe.root} is empty: nothing to export")
            folder = wardrobe.export([i.id for i in items], args.folder)
            print(f"exported {len(items)} item(s) to {folder}")
        elif args.wardrobe == "import":
            added, notes = wardrobe.import_folder(args.folder)
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
            print(f"imported {len(added)} item(s) into {wardrobe.root}")
    except (StorageError, ValueError) as e:  # ValueError: a folder that is not one, a non-empty target...
        raise CliError(str(e)) from None
    return 0


# ============================================================================================ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omfa", description="OMFA: try-on and try-off in any pose, one model.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("doctor", help="check the installation, device policy and models")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("convert", help="make an OMFA model folder from a diffusers SD/SDXL(-inpainting) folder")
    p.add_argument("--base", required=True, help="local diffusers folder (unet/, vae/, optional text encoders)")
    p.add_argument("--out", required=True)
    p.add_argument("--text", default="auto", choices=["auto", "zeros"],
                   help="empty-prompt embeddings: encode with the folder's text encoders, or zeros")
    p.add_argument("--size", type=_size, default=(768, 1024), help="panel WIDTHxHEIGHT (default 768x1024)")
    p.add_argument("--panels", default="person,garment,head")
    p.add_argument("--name", help="model name shown in the app")
    p.add_argument("--fp16", action="store_true", help="store weights in fp16 (half the size)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("manifest", help="write FOLDER/manifest.json (sha256 of every file) for a model you trust")
    p.add_argument("folder", metavar="FOLDER")
    p.set_defaults(func=cmd_manifest)

    p = sub.add_parser("prior", help="store a model's latent prior (its training data's mean latent per panel, "
                                      "where sampling starts) in its folder")
    p.add_argument("--model", required=True, help="the model folder")
    p.add_argument("--data", help="training shards (omfa data render); default: render --count samples")
    p.add_argument("--count", type=int, default=256, help="synthetic samples to render without --data (256)")
    p.add_argument("--seed", type=int, default=0, help="world seed without --data (0)")
    p.set_defaults(func=cmd_prior)

    p = sub.add_parser("verify", help="check a model folder against its manifest.json (exit 0 OK, 1 failed)")
    p.add_argument("folder", metavar="FOLDER")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("demo", help="doctor + a try-off on a shipped sample with the shipped model")
    p.add_argument("--out", help="output folder (default: the user data folder)")
    p.add_argument("--steps", type=int, default=50)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("try-off", help="generate the flat garment worn in a photo")
    p.add_argument("--person", required=True, help="photo of a person wearing the garment")
    p.add_argument("--head", help="head crop (optional)")
    p.add_argument("--guide", help="guide render of the photo's pose (optional)")
    p.add_argument("--out", default="garment.png", help="output PNG (default garment.png)")
    _sampler_args(p)
    p.set_defaults(func=cmd_try_off)

    p = sub.add_parser("try-on", help="dress a person in a garment, in any pose and view")
    p.add_argument("--garment", required=True, help="flat garment image (e.g. a try-off result)")
    p.add_argument("--head", help="head crop carrying the identity")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--pose", default="a_pose", help="pose preset (omfa pose render --list)")
    src.add_argument("--state", help="a BodyState JSON file")
    src.add_argument("--guide", help="a ready guide image")
    p.add_argument("--views", type=int, default=1, help="orbit views in one batch (>1: multi-view)")
    p.add_argument("--views-per-canvas", type=int, default=0,
                   help="multi-view: person panels per canvas, sharing the garment and head (0: the model's own)")
    p.add_argument("--elevation", type=float, default=0.0, help="camera elevation, degrees")
    p.add_argument("--azimuth", type=float, default=0.0, help="first view's azimuth, degrees (0 = front)")
    p.add_argument("--out", default="person.png", help="output PNG (views get _viewNN suffixes)")
    _sampler_args(p)
    p.set_defaults(func=cmd_try_on)

    from engine.cli_work import register as register_work

    register_work(sub, _sampler_args)

    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT")
    b = bsub.add_parser("flops", help="TFLOP per UNet forward and per image (meta device: no weights)")
    b.add_argument("--preset", default="sdxl")
    b.add_argument("--size", type=_size, default=(768, 1024), help="panel WIDTHxHEIGHT")
    b.add_argument("--panels", default="person,garment")
    b.add_argument("--steps", type=int, default=50)
    b.add_argument("--guidance", type=float, default=2.0)
    b.set_defaults(func=cmd_bench_flops)

    register_pose(sub)

    p = sub.add_parser("data", help="the synthetic world")
    dsub = p.add_subparsers(dest="data", metavar="WHAT")
    d = dsub.add_parser("render", help="render synthetic samples into .npz shards")
    d.add_argument("--split", default="train", choices=["train", "test"])
    d.add_argument("--count", type=int, default=1000)
    d.add_argument("--shard-size", type=int, default=250)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="runs/data")
    d.add_argument("--views", type=int, default=0,
                   help="also render this many consecutive turntable views of pose A per sample (multi-view "
                        "training; 0-8)")
    d.set_defaults(func=cmd_data_render)

    p = sub.add_parser("train-codec", help="train the demo model's small codec")
    p.add_argument("--data", help="shard folder (default: render a few samples on the fly)")
    p.add_argument("--out", default="runs/codec")
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch", type=int, default=16)
    p.set_defaults(func=cmd_train_codec)

    p = sub.add_parser("train", help="train the unified model (resumes from OUT/checkpoint)")
    p.add_argument("--preset", default="demo")
    p.add_argument("--data", help="shard folder (default: render on the fly, slow)")
    p.add_argument("--codec", help="trained codec folder (demo)")
    p.add_argument("--init", help="diffusers SD/SDXL(-inpainting) folder to start from")
    p.add_argument("--resume-model", help="continue training an exported OMFA model folder (e.g. the demo)")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=200,
                   help="lr warmup steps; with --resume-model the warmup and cosine restart at the model's step")
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--stop-after", type=int, help="leave after this many steps (checkpoint saved)")
    p.add_argument("--max-hours", type=float, default=0.0,
                   help="training-time budget over the model's life (a --resume-model counts its hours): "
                        "save and stop once spent (0: none)")
    p.add_argument("--noise-schedule", choices=["zero-snr", "sd"], default="sd",
                   help="sd (default, the shipped demo's recipe): SD's schedule with plain min-SNR; zero-snr: SD's "
                        "betas rescaled to zero terminal SNR, trailing sampler steps and the v-loss floor")
    p.add_argument("--two-views", type=float, default=0.0,
                   help="fraction of steps trained on multi-view canvases [p1 .. pk | garment | head] (0-1)")
    p.add_argument("--max-views-per-canvas", type=int, default=2,
                   help="multi-view steps put 2..K views on a canvas (default 2); the model then takes up to K")
    p.add_argument("--patch", type=int, default=1, choices=[1, 2, 4],
                   help="new models: the UNet sees PxP latent patches as channels (P^2 times cheaper per step)")
    p.add_argument("--full-attention", action="store_true",
                   help="new models: attention blocks at every UNet level, the first included")
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pool", type=int, default=0,
                   help="without --data: render this many samples once and reuse them (smoke tests)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="score a model on the synthetic held-out split, with trivial baselines")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--n", type=int, default=64, help="samples per task (default 64)")
    p.add_argument("--data", help="shard folder (default: render the split from the synthetic world)")
    p.add_argument("--n-train", type=int, default=64, help="train samples for the mean-image baseline")
    p.add_argument("--weights", help="folder of local weights for LPIPS/FID/KID/DISTS/CLIP-I/DINO (never downloaded)")
    p.add_argument("--out", help="write the markdown table here")
    p.add_argument("--json", help="write the full report (per-sample values) as JSON here")
    p.add_argument("--grid", help="write a 16-result grid per task: NAME_try-off.png, NAME_try-on.png")
    _sampler_args(p)  # --model --steps --guidance --scheduler --seed (of sample 0; sample i: seed + i) ...
    p.set_defaults(func=cmd_eval)

    _wardrobe_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
