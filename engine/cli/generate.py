"""``omfa try-off`` and ``omfa try-on``: one generation from the command line."""
from __future__ import annotations

from pathlib import Path

from engine.cli.common import (
    CliError,
    check_out,
    image_bytes,
    load_pipeline,
    person_check_arg,
    read_input,
    run_request,
    sampler_args,
    sampling,
)


def cmd_try_off(args) -> int:
    from engine.request import TryOnRequest

    # before the model loads and before --out is touched: a photo of nobody or a wrong --out costs nothing
    photo = read_input(args.person, "person", person_check=args.person_check)
    check_out(args.out)
    pipe = load_pipeline(args)
    out = check_out(args.out, need_bytes=image_bytes(pipe))
    lay = pipe.layout
    head = read_input(args.head, "head", lay.panel_size("head")) if "head" in lay.panels else None
    guides = [read_input(args.guide, "guide", lay.panel_size("person"))] if args.guide else []
    req = TryOnRequest(task="try-off", person=photo, head=head, pose_guides=guides, **sampling(args),
                       seed=args.seed, precision=args.precision, device=args.device, label=Path(args.person).name)
    return run_request(pipe, req, out, args.quiet)


def cmd_try_on(args) -> int:
    from engine.body.guide import pose_guides
    from engine.body.presets import PresetError, load_preset
    from engine.body.render import RenderError
    from engine.body.state import BodyState, BodyStateError
    from engine.request import TryOnRequest

    check_out(args.out)
    pipe = load_pipeline(args)
    out = check_out(args.out, need_bytes=image_bytes(pipe, args.views))
    size = pipe.layout.panel_size("person")
    garment = read_input(args.garment, "garment", size)
    head = read_input(args.head, "head", size)
    body, cameras = None, None
    if args.guide:
        if args.views != 1:
            raise CliError("--guide gives one view; use --pose/--state with --views for several", 2)
        guides = [read_input(args.guide, "guide", size)]
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
                       views_per_canvas=args.views_per_canvas, **sampling(args), seed=args.seed,
                       precision=args.precision, device=args.device, body=body, cameras=cameras,
                       label=Path(args.garment).name)
    return run_request(pipe, req, out, args.quiet)


def register(sub) -> None:
    p = sub.add_parser("try-off", help="generate the flat garment worn in a photo")
    p.add_argument("--person", required=True, help="photo of a person wearing the garment")
    p.add_argument("--head", help="head crop (optional)")
    p.add_argument("--guide", help="guide render of the photo's pose (optional)")
    p.add_argument("--out", default="garment.png", help="output PNG (default garment.png)")
    person_check_arg(p)
    sampler_args(p)
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
    sampler_args(p)
    p.set_defaults(func=cmd_try_on)
