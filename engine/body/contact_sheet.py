"""Contact sheets of the pose presets (front, side, back) and close-ups, for looking at the mannequin.

``python -m engine.body.contact_sheet`` writes docs/body/presets_contact_sheet.png and
docs/body/closeups.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[2] / "docs" / "body"


def _label(img: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    ImageDraw.Draw(im).text((6, 4), text, fill=(20, 20, 20))
    return np.asarray(im)


def presets_sheet(size: tuple[int, int] = (192, 256), style: str = "parts_shaded",
                  names: list[str] | None = None) -> np.ndarray:
    """Rows of presets, columns front / left side / back / right side. Returns (H, W, 3) uint8."""
    from engine.body.camera import orbit_cameras
    from engine.body.model import BodyModel
    from engine.body.presets import list_presets, load_preset
    from engine.body.render import GuideRenderer

    model = BodyModel.load_mannequin()
    names = names or list_presets()
    w, h = size
    rows = []
    with GuideRenderer(w, h, style) as r:
        for name in names:
            v, _ = model.forward(load_preset(name))
            ims = r.render(v, model.faces, orbit_cameras(v, 4, 0.0, w, h))
            ims[0] = _label(ims[0], name)
            rows.append(np.concatenate(ims, 1))
    n_cols = 2
    rows += [np.full_like(rows[0], 255)] * (-len(rows) % n_cols)
    half = len(rows) // n_cols
    cols = [np.concatenate(rows[i * half:(i + 1) * half], 0) for i in range(n_cols)]
    sep = np.full((cols[0].shape[0], 8, 3), 160, np.uint8)
    return np.concatenate([cols[0], sep, cols[1]], 1)


def closeups(size: int = 320) -> np.ndarray:
    """Bent elbow, bent knee, a hand and the head, close up. Returns (H, W, 3) uint8."""
    from engine.body.camera import Camera, look_at
    from engine.body.model import BodyModel
    from engine.body.presets import load_preset
    from engine.body.render import GuideRenderer

    model = BodyModel.load_mannequin()
    J = {n: i for i, n in enumerate(model.joint_names)}
    ims = []
    with GuideRenderer(size, size) as r:
        for preset, joint, offset, dist in (("running", "left_elbow", (0.6, 0.1, 0.2), 0.5),
                                            ("sitting", "left_knee", (0.6, 0.2, 0.3), 0.75),
                                            ("running", "right_knee", (-0.6, 0.0, 0.2), 0.6),
                                            ("waving", "right_wrist", (0.0, 0.1, 0.6), 0.35),
                                            ("a_pose", "left_wrist", (0.5, 0.0, 0.3), 0.3),
                                            ("a_pose", "head", (0.25, 0.05, 0.6), 0.45)):
            v, j = model.forward(load_preset(preset))
            target = j[J[joint]] + (np.array([0, 0.07, 0]) if joint == "head" else 0)
            d = np.asarray(offset, float)
            eye = target + d / np.linalg.norm(d) * dist
            R, t = look_at(eye, target)
            cam = Camera(size, size, size * 1.6, size * 1.6, size / 2, size / 2, R, t)
            ims.append(_label(r.render(v, model.faces, [cam])[0], f"{preset}: {joint}"))
    return np.concatenate([np.concatenate(ims[:3], 1), np.concatenate(ims[3:], 1)], 0)


def main(argv: list[str] | None = None) -> None:
    from PIL import Image

    ap = argparse.ArgumentParser(description="Render the presets contact sheet and close-ups.")
    ap.add_argument("--out", type=Path, default=DOCS)
    ap.add_argument("--style", default="parts_shaded")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(presets_sheet(style=args.style)).save(args.out / "presets_contact_sheet.png")
    Image.fromarray(closeups()).save(args.out / "closeups.png")
    print(f"wrote {args.out / 'presets_contact_sheet.png'} and {args.out / 'closeups.png'}")


if __name__ == "__main__":
    main()
