"""``omfa pose ...``: command-line access to the body layer.

``register(subparsers)`` is called by engine/cli/__init__.py; ``python -m engine.body.commands pose render ...``
runs it standalone.
"""

from __future__ import annotations

import argparse
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
    pose.set_defaults(func=run, _pose_parser=pose)
    return pose


def run(args: argparse.Namespace) -> int:
    """Execute ``omfa pose ...``; returns a process exit code, printing errors plainly."""
    from engine.body.presets import PresetError, list_presets, load_preset
    from engine.body.state import BodyState, BodyStateError

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
