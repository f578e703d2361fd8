"""``omfa pose ...``: command-line access to the body layer.

``register(subparsers)`` is called by engine/cli/__init__.py; ``python -m engine.body.commands pose render ...``
runs it standalone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(a) for a in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 768x1024 (width x height), got {text!r}") from None
    if not (8 <= w <= 8192 and 8 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size {w}x{h} out of range 8..8192")
    return w, h


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``pose`` command to an argparse ``subparsers`` object; returns its parser."""
    from engine.body.render import STYLES

    pose = subparsers.add_parser("pose", help="pose presets and guide renders of the body",
                                 description="Pose presets and guide renders of the body.")
    actions = pose.add_subparsers(dest="pose_action", metavar="ACTION")
    render = actions.add_parser("render", help="render guide images of a pose from orbiting views")
    src = render.add_mutually_exclusive_group()
    src.add_argument("--preset", default="a_pose", help="preset name (see --list)")
    src.add_argument("--state", type=Path, help="a BodyState JSON file instead of a preset")
    src.add_argument("--list", action="store_true", help="list the presets and exit")
    render.add_argument("--views", type=int, default=1, help="number of orbit views (default 1)")
    render.add_argument("--size", type=_size, default=(768, 1024), help="WIDTHxHEIGHT (default 768x1024)")
    render.add_argument("--elevation", type=float, default=0.0, help="camera elevation in degrees")
    render.add_argument("--style", choices=sorted(STYLES), default="parts_shaded")
    render.add_argument("--mirror", action="store_true", help="mirror the pose left/right")
    render.add_argument("--out", type=Path, default=Path("pose_renders"), help="output folder")

    est = actions.add_parser("estimate", help="estimate the pose of the person in a photo, as a body state JSON",
                             description="Estimate the pose of the person in a photo (hmr2 when --hmr2 is given, "
                                         "else the built-in BlazePose) and write it as a body state JSON that "
                                         "--state takes (omfa try-on --state pose.json).")
    est.add_argument("--person", required=True, type=Path, help="the photo")
    est.add_argument("--box", type=_box, help="x0,y0,x1,y1: the person's box in photo pixels (default: the whole "
                                               "photo)")
    est.add_argument("--backend", choices=("auto", "hmr2", "blazepose"), default="auto")
    est.add_argument("--hmr2", type=Path, help="an hmr2 (4D-Humans) folder (see README, 'Pose from a photo')")
    est.add_argument("--out", type=Path, default=Path("pose.json"), help="output JSON (default pose.json)")
    est.add_argument("--no-person-check", dest="person_check", action="store_false",
                     help="estimate even when the person gate finds nobody in the photo")
    pose.set_defaults(func=run, _pose_parser=pose)
    return pose


def _box(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"the box must be four numbers x0,y0,x1,y1 in pixels, got {text!r}") from None
    return x0, y0, x1, y1


def run_estimate(args: argparse.Namespace) -> int:
    """``omfa pose estimate``: the photo's pose as a BodyState JSON (with where it came from in its
    description); errors are one line with the command line's advice."""
    from engine.body.estimate import EstimatorUnavailable
    from engine.body.estimators import estimate_pose
    from engine.body.hmr2 import Hmr2Adapter, Hmr2Error
    from engine.errors import OmfaError
    from engine.body.gate import NoPersonFound, cli_message
    from engine.images import ImageError, read_image
    from engine.persist import StorageError, write_text

    try:
        read = read_image(args.person)
    except ImageError as e:
        print(f"error: --person: {e}", file=sys.stderr)
        return 1
    name = read.path.name
    try:
        hmr2 = Hmr2Adapter(args.hmr2) if args.hmr2 else None
        est = estimate_pose(read.pixels, args.box, args.backend, hmr2, person_check=args.person_check, name=name)
    except NoPersonFound as e:
        print(f"error: {cli_message(e)}", file=sys.stderr)
        return 1
    except (EstimatorUnavailable, Hmr2Error) as e:
        advice = "give --box x0,y0,x1,y1 around the person" if "found no person" in str(e) else \
            "pass --backend blazepose, or set up hmr2 (README, 'Pose from a photo')"
        print(f"error: {e.for_people()}; {advice}", file=sys.stderr)
        return 1
    except OmfaError as e:
        print(f"error: {e.for_people()}", file=sys.stderr)
        return 1
    x0, y0, x1, y1 = (round(v) for v in est.box)
    data = est.state.to_dict()
    data["name"] = read.path.stem
    data["description"] = (f"estimated from {name} ({read.pixels.shape[1]}x{read.pixels.shape[0]}) with "
                           f"{est.backend}, person box {x0},{y0},{x1},{y1}"
                           + (f"; {'; '.join(est.notes)}" if est.notes else ""))
    try:
        write_text(args.out, json.dumps(data, indent=1) + "\n")
    except StorageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"pose of {name} ({est.backend}, person box {x0},{y0}-{x1},{y1}) written to {args.out}; "
          f"use it with --state {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Execute ``omfa pose ...``; returns a process exit code, printing errors plainly."""
    from engine.body.presets import PresetError, list_presets, load_preset
    from engine.body.state import BodyState, BodyStateError

    if getattr(args, "pose_action", None) == "estimate":
        return run_estimate(args)
    if getattr(args, "pose_action", None) != "render":
        args._pose_parser.print_help()
        return 2
    if args.list:
        print("\n".join(list_presets()))
        return 0
    if args.views < 1 or args.views > 360:
        print("error: --views must be between 1 and 360", file=sys.stderr)
        return 2
    try:
        state = BodyState.from_json(args.state) if args.state else load_preset(args.preset)
    except (BodyStateError, PresetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.mirror:
        state = state.mirrored()
    from PIL import Image

    from engine.body.camera import orbit_cameras
    from engine.body.model import BodyModel, BodyModelError
    from engine.body.render import GuideRenderer, RenderError

    try:
        model = BodyModel.load_mannequin()
        v, _ = model.forward(state)
        w, h = args.size
        cams = orbit_cameras(v, args.views, args.elevation, w, h)
        with GuideRenderer(w, h, args.style) as r:
            images = r.render(v, model.faces, cams)
    except (BodyModelError, RenderError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.state.stem if args.state else args.preset
    for i, img in enumerate(images):
        path = args.out / f"{name}_view{i:02d}.png"
        Image.fromarray(img).save(path)
    print(f"wrote {len(images)} {w}x{h} guide image(s) to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omfa")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
