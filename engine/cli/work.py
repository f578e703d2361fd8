"""``omfa`` commands for chained and bulk work (engine.chain, engine.batch, engine.media):

    omfa turntable (--garment G | --photo P) [--head H] [--pose NAME | --state F] --views 24 --out DIR
    omfa person-to-person --from A.jpg --to B.jpg [--pose own|NAME] --out DIR
    omfa outfit --garment TOP --garment JACKET [--head H] [--pose NAME] [--strength 0.75] --out DIR
    omfa batch (--csv F | --people DIR --garments DIR [--garment-photos]) --poses walking,own --out DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.common import (
    CliError,
    check_out,
    check_person,
    image_bytes,
    load_pipeline,
    person_check_arg,
    sampler_args,
    sampling,
    warn_outside_world,
)

# what to do when no pose can be had from a photo, said the command line's way
POSE_ADVICE = "give --head and --pose PRESET instead, or --no-person-check to try anyway"


def _sampling_request(args):
    from engine.request import TryOnRequest

    return TryOnRequest(**sampling(args), seed=args.seed, precision=args.precision, device=args.device)


def _estimate(photo, path: str):
    """The pose in a photo (hmr2 when configured, else the offline BlazePose fit), or a one-line error.
    The photo went through the person gate when it was read (or the user skipped it)."""
    from engine.body.estimate import EstimatorUnavailable
    from engine.body.estimators import estimate_pose

    try:
        return estimate_pose(photo, person_check=False, name=Path(path).name)
    except EstimatorUnavailable as e:
        raise CliError(f"{path}: cannot estimate the pose: {e}; {POSE_ADVICE}") from None


def _read(path: str, what: str, person_check: bool = False):
    """A photo given as ``--what``; ``person_check``: refused with one line when nobody is in it."""
    from engine.images import ImageError, read_image

    try:
        read = read_image(path)
    except ImageError as e:
        raise CliError(f"--{what}: {e}") from None
    for note in read.notes:
        print(f"note: --{what}: {read.path.name}: {note}", file=sys.stderr)
    if person_check:
        check_person(read.pixels, read.path)
    return read.pixels


def _warn_chain(res) -> None:
    """The demo model's outside-its-world warning for each stage whose own inputs are outside it (a stage
    that only inherits it from an earlier stage's output says so in its PNG, not in another line)."""
    from types import SimpleNamespace

    n = len(res.results)
    for i, r in enumerate(res.results):
        own = {k: v for k, v in (r.settings.get("outside_world") or {}).items() if "from_stage" not in v}
        if own:
            warn_outside_world(SimpleNamespace(settings={"outside_world": own}),
                               f"stage {i + 1} of {n} ({res.chain.stages[i].name})" if n > 1 else "")


def _target_guides(pipe, args, photo=None, photo_path: str = "", views: int = 1):
    """Guides (and cameras, body) for --pose NAME | --state F | own (the photo's pose)."""
    from engine.body.estimate import photo_guide
    from engine.body.guide import pose_guides
    from engine.body.presets import PresetError, load_preset
    from engine.body.render import RenderError
    from engine.body.state import BodyState, BodyStateError

    w, h = pipe.layout.panel_size("person")
    style = pipe.model.config.render_style
    try:
        if getattr(args, "state", None):
            state = BodyState.from_json(args.state)
        elif args.pose == "own":
            if photo is None:
                raise CliError("--pose own needs a photo to take the pose from", 2)
            est = _estimate(photo, photo_path)
            if views == 1:
                return [photo_guide(est, w, h, style)], None, est.state.to_dict()
            state = est.state
        else:
            state = load_preset(args.pose)
        guides, cams = pose_guides(state, w, h, views=views, elevation_deg=getattr(args, "elevation", 0.0),
                                   style=style)
    except (BodyStateError, PresetError, RenderError) as e:
        raise CliError(str(e)) from None
    return guides, [c.to_dict() for c in cams], state.to_dict()


def _head(pipe, args, photo=None, photo_path: str = ""):
    from engine.body.estimate import head_crop

    if "head" not in pipe.layout.panels:
        return None
    if args.head:
        return _read(args.head, "head")
    if photo is None:
        return None
    return head_crop(photo, _estimate(photo, photo_path), *pipe.layout.panel_size("head"))


def _run_chain(pipe, chain, quiet: bool):
    from engine.chain import run_chain
    from engine.request import RequestError

    def progress(i, n, p):
        if not quiet:
            print(f"\r  stage {i + 1}/{n} ({chain.stages[i].name}): step {p.step}/{p.total}  eta {p.eta:5.1f} s ",
                  end="", file=sys.stderr)

    try:
        res = run_chain(pipe, chain, progress)
    except RequestError as e:
        raise CliError(f"invalid request: {e}") from None
    if not quiet:
        print(file=sys.stderr)
    _warn_chain(res)
    return res


def _meta(chain, stage: int, result, **extra) -> dict:
    return {"request": chain.stages[stage].request.settings() | {"chain": chain.stage_info(stage)},
            "result": result.metadata(), "chain": chain.settings(), **extra}


# ============================================================================================ commands


def cmd_turntable(args) -> int:
    from engine.chain import turntable
    from engine.export import save_png
    from engine.media import MediaError, export_views
    from engine.persist import StorageError

    if args.views < 1 or args.views > 360:
        raise CliError("--views must be between 1 and 360", 2)
    photo = _read(args.photo, "photo", args.person_check) if args.photo else None  # before --out or the model
    check_out(args.out, folder=True)
    pipe = load_pipeline(args)
    out = check_out(args.out, folder=True, need_bytes=image_bytes(pipe, 2 * args.views + 4))
    garment = _read(args.garment, "garment") if args.garment else None
    if args.pose is None and not args.state:
        args.pose = "own" if photo is not None else "a_pose"
    guides, cams, body = _target_guides(pipe, args, photo, args.photo or "", views=args.views)
    head = _head(pipe, args, photo, args.photo or "")
    chain = turntable(guides, head, garment=garment, photo=photo, batch=args.batch, sampling=_sampling_request(args),
                      label=Path(args.photo or args.garment).name, cameras=cams, body=body,
                      views_per_canvas=args.views_per_canvas)
    res = _run_chain(pipe, chain, args.quiet)
    if not res.ok:
        raise CliError("cancelled")
    views = res.outputs()
    try:
        written = []
        if photo is not None:
            written.append(save_png(res.results[0].outputs[0], out / "garment.png", _meta(chain, 0, res.results[0])))
        first = 1 if photo is not None else 0
        v = 0
        for k, r in enumerate(res.results[first:], start=first):
            for img in r.outputs:
                written.append(save_png(img, out / f"view_{v:02d}.png", _meta(chain, k, r, view=v)))
                v += 1
        written += export_views(views, out, {"chain": chain.settings()}, fps=args.fps, mp4=not args.no_mp4)
    except (MediaError, StorageError) as e:
        raise CliError(str(e)) from None
    sec = sum(r.timings.get("total", 0) for r in res.results)
    print(f"turntable: {len(views)} views in {len(res.results) - first} batch(es), {sec:.1f} s; wrote "
          f"{len(written)} files to {out} (turntable.gif{', turntable.mp4' if not args.no_mp4 else ''}, "
          "contact_sheet.png, view_NN.png)")
    return 0


def cmd_person_to_person(args) -> int:
    from engine.chain import person_to_person
    from engine.export import save_png
    from engine.media import save_contact_sheet, sheet_cell
    from engine.persist import StorageError

    a = _read(args.source, "from", args.person_check)  # both photos refused before --out or the model
    b = _read(args.target, "to", args.person_check)
    check_out(args.out, folder=True)
    pipe = load_pipeline(args)
    out = check_out(args.out, folder=True, need_bytes=image_bytes(pipe, 2 * args.views + 8))
    lay = pipe.layout
    size = lay.panel_size("person")
    guides, cams, body = _target_guides(pipe, args, b, args.target, views=args.views)
    head = _head(pipe, args, b, args.target)
    chain = person_to_person(a, guides, head, sampling=_sampling_request(args), cameras_b=cams,
                             body_b=body, label=f"{Path(args.source).name} → {Path(args.target).name}")
    res = _run_chain(pipe, chain, args.quiet)
    if not res.ok:
        raise CliError("cancelled")
    off, on = res.results
    try:
        paths = [save_png(off.outputs[0], out / "1_garment.png", _meta(chain, 0, off))]
        for v, img in enumerate(on.outputs):
            name = "2_result.png" if len(on.outputs) == 1 else f"2_result_view{v:02d}.png"
            paths.append(save_png(img, out / name, _meta(chain, 1, on, view=v)))
        sheet = [off.images["person"][0], off.outputs[0], b] + ([head] if head is not None else []) \
            + [guides[0], on.outputs[0]]
        labels = ["A (photo)", "garment off A", "B (photo)"] + (["B's head"] if head is not None else []) \
            + ["target pose", "result on B"]
        paths.append(save_contact_sheet(sheet, out / "person_to_person.png", {"chain": chain.settings()},
                                        labels=labels, cell=sheet_cell(size), columns=len(sheet)))
    except StorageError as e:
        raise CliError(str(e)) from None
    print(f"person to person: wrote {', '.join(p.name for p in paths)} to {out} "
          f"({off.timings['total'] + on.timings['total']:.1f} s)")
    return 0


def cmd_outfit(args) -> int:
    from engine.chain import outfit
    from engine.export import save_png
    from engine.media import save_contact_sheet, sheet_cell
    from engine.persist import StorageError

    if len(args.garment) < 2:
        raise CliError("an outfit layers at least two garments: give --garment twice or more", 2)
    check_out(args.out, folder=True)
    pipe = load_pipeline(args)
    out = check_out(args.out, folder=True, need_bytes=image_bytes(pipe, 3 * len(args.garment) + 2))
    lay = pipe.layout
    garments = [_read(g, "garment") for g in args.garment]
    guides, _, body = _target_guides(pipe, args)
    head = _head(pipe, args)
    chain = outfit(garments, guides[0], head, strength=args.strength, sampling=_sampling_request(args),
                   label=" + ".join(Path(g).name for g in args.garment), names=[Path(g).stem for g in args.garment])
    res = _run_chain(pipe, chain, args.quiet)
    if not res.ok:
        raise CliError("cancelled")
    try:
        paths = [save_png(r.outputs[0], out / f"layer_{i + 1}.png", _meta(chain, i, r))
                 for i, r in enumerate(res.results)]
        cells = [c for r in res.results for c in (r.images["garment"][0], r.outputs[0])]  # garments as fitted
        labels = [c for i in range(len(garments)) for c in (f"garment {i + 1}", f"layer {i + 1}")]
        paths.append(save_contact_sheet(cells, out / "outfit.png", {"chain": chain.settings()}, labels=labels,
                                        cell=sheet_cell(lay.panel_size("person")), columns=len(cells)))
    except StorageError as e:
        raise CliError(str(e)) from None
    print(f"outfit: {len(garments)} layers; wrote {', '.join(p.name for p in paths)} to {out}")
    return 0


def cmd_batch(args) -> int:
    from engine.batch import (
        BatchError,
        BatchRunner,
        plan_csv,
        plan_folders,
        process_device,
    )
    from engine.body.gate import CLI_ADVICE

    skipped: list = []
    try:
        if args.csv:
            items = plan_csv(args.csv)
        else:
            if not (args.people and args.garments):
                raise CliError("give --csv FILE, or --people DIR and --garments DIR", 2)
            items = plan_folders(args.people, args.garments, [p.strip() for p in args.poses.split(",") if p.strip()],
                                 args.heads, args.garment_photos, skipped=skipped)
    except BatchError as e:
        raise CliError(str(e)) from None
    for path, why in skipped:  # said, not fatal: a FIFO, a folder or a dangling link is not an input
        print(f"note: skipped {path}: {why}", file=sys.stderr)
    check_out(args.out, folder=True)
    args.device = process_device(args.device)
    pipe = load_pipeline(args)
    settings = {**sampling(args), "seed": args.seed, "precision": args.precision}
    runner = BatchRunner(pipe, args.out, settings, person_check=args.person_check)
    todo = sum(not runner.is_done(i) for i in items)
    print(f"batch: {len(items)} items ({len(items) - todo} already done) -> {runner.out}", file=sys.stderr)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), disable=args.quiet, unit="item", desc="batch")

    def progress(done, total, outcome):
        bar.total = total
        bar.update(1)
        if outcome.status == "failed":
            advice = f"; {CLI_ADVICE}" if outcome.reason == "no-person" else ""
            bar.write(f"failed: {outcome.item.key}: {outcome.error}{advice}", file=sys.stderr)
        elif outcome.outside_world:
            bar.write(f"warning: {outcome.item.key}: {outcome.outside_world}", file=sys.stderr)

    try:
        report = runner.run(items, progress)
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: finished items are kept; run the same command again to do the rest", file=sys.stderr)
        return 130
    bar.close()
    if report.sheet_error:
        raise CliError(f"batch: {report.summary()}; the finished items are kept in {runner.out / 'items'}")
    where = f"contact sheet {report.sheet}, {report.html}" if report.sheet else \
        "the main process writes the contact sheet"
    print(f"batch: {report.summary()}; {where}")
    return 1 if report.count("failed") else 0


# ============================================================================================ parser


def register(sub) -> None:
    p = sub.add_parser("turntable", help="N views around the body, exported as GIF, MP4 and a contact sheet")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--garment", help="a flat garment image")
    src.add_argument("--photo", help="a photo: its garment is taken off, its pose and head are used")
    p.add_argument("--head", help="head image (default: cropped from --photo)")
    pose = p.add_mutually_exclusive_group()
    pose.add_argument("--pose", help="pose preset, or 'own' for the photo's pose (default: own with --photo, "
                                     "else a_pose)")
    pose.add_argument("--state", help="a BodyState JSON file")
    p.add_argument("--views", type=int, default=8, help="views around the body (default 8)")
    p.add_argument("--batch", type=int, default=8, help="views per batch (one UNet call per step each)")
    p.add_argument("--views-per-canvas", type=int, default=0,
                   help="views side by side on one canvas, sharing its garment and head: 0 = the model's "
                        "(faster), 1 = one canvas per view")
    p.add_argument("--elevation", type=float, default=0.0)
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--no-mp4", action="store_true", help="GIF and contact sheet only")
    p.add_argument("--out", default="turntable", help="output folder")
    person_check_arg(p)
    sampler_args(p)
    p.set_defaults(func=cmd_turntable)

    p = sub.add_parser("person-to-person", help="the garment person A wears, on person B (try-off then try-on)")
    p.add_argument("--from", dest="source", required=True, help="photo of person A wearing the garment")
    p.add_argument("--to", dest="target", required=True, help="photo of person B")
    p.add_argument("--head", help="B's head image (default: cropped from B's photo)")
    p.add_argument("--pose", default="own", help="'own' (B's pose in the photo, default) or a pose preset")
    p.add_argument("--state", help="a BodyState JSON file for the target pose")
    p.add_argument("--views", type=int, default=1, help="views around B (>1: multi-view)")
    p.add_argument("--out", default="person_to_person", help="output folder")
    person_check_arg(p)
    sampler_args(p)
    p.set_defaults(func=cmd_person_to_person)

    p = sub.add_parser("outfit", help="layer garments: try on one, then the next over it")
    p.add_argument("--garment", action="append", default=[], required=True,
                   help="a garment image, innermost first (give two or more)")
    p.add_argument("--head", help="head image")
    p.add_argument("--pose", default="a_pose", help="pose preset")
    p.add_argument("--state", help="a BodyState JSON file")
    p.add_argument("--strength", type=float, default=0.75,
                   help="how much each new layer may change the previous result (0-1]; lower keeps more")
    p.add_argument("--out", default="outfit", help="output folder")
    sampler_args(p)
    p.set_defaults(func=cmd_outfit)

    p = sub.add_parser("batch", help="people x garments x poses into a results folder (resumable)")
    p.add_argument("--csv", help="CSV with columns person, garment, pose[, head, garment_kind]")
    p.add_argument("--people", help="folder of client photos")
    p.add_argument("--garments", help="folder of garment images")
    p.add_argument("--garment-photos", action="store_true",
                   help="the garments folder holds photos of people wearing them (taken off first)")
    p.add_argument("--heads", help="folder of head images named like the people's photos (default: cropped)")
    p.add_argument("--poses", default="own", help="comma-separated: preset names, 'own', .json or guide images")
    p.add_argument("--out", default="batch", help="results folder (re-run to resume)")
    person_check_arg(p)
    sampler_args(p)
    p.set_defaults(func=cmd_batch)


