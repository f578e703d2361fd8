"""A pose estimate and what the app makes of it: :class:`PoseEstimate` (the SMPL-X body and the camera an
estimator found in a photo), the photo's pose guide (:func:`photo_guide`) and head crop (:func:`head_crop`).

The estimators that make one live beside it: :mod:`engine.body.estimators` chooses a backend and runs it
(hmr2 in a child process, :mod:`engine.body.hmr2`; BlazePose landmarks and an SMPL-X fit,
:mod:`engine.body.fit`); each backend returns a :class:`PoseEstimate`.

The guide of the photo is the estimated body seen by the estimated camera, through the same letterbox the
photo goes through to fit the model's person panel (:func:`fit_camera`), so guide and photo line up.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine.body.camera import Camera
from engine.body.state import BodyState
from engine.errors import OmfaError


class EstimatorUnavailable(OmfaError, RuntimeError):
    """No pose estimator can run here; the message lists what each one needs."""


@dataclass
class PoseEstimate:
    """What a pose estimator found in a photo.

    state : BodyState      SMPL-X pose (y-up world), betas, translation
    camera : Camera        the full-image camera that sees ``state`` as the photo shows the person
    box : (x0, y0, x1, y1) the person box used, in image pixels
    backend : str          "hmr2", "blazepose", ...
    notes : list of str    what was approximated (e.g. neutral betas)
    """

    state: BodyState
    camera: Camera
    box: tuple[float, float, float, float]
    backend: str
    notes: list[str] = field(default_factory=list)


def fit_camera(camera: Camera, width: int, height: int) -> Camera:
    """The camera of a photo after ``engine.images.fit`` scaled it into width x height (centred letterbox)."""
    s = min(width / camera.width, height / camera.height)
    ox = (width - round(camera.width * s)) / 2
    oy = (height - round(camera.height * s)) / 2
    return replace(camera, width=width, height=height, fx=camera.fx * s, fy=camera.fy * s,
                   cx=camera.cx * s + ox, cy=camera.cy * s + oy)


def photo_guide(estimate: PoseEstimate, width: int, height: int, style: str = "parts_shaded",
                body_model=None) -> np.ndarray:
    """The guide render of the estimated pose, aligned with the photo fitted into width x height."""
    from engine.body.model import BodyModel
    from engine.body.render import GuideRenderer

    model = body_model or BodyModel.load_mannequin()
    vertices, _ = model.forward(estimate.state)
    cam = fit_camera(estimate.camera, width, height)
    labels = model.labels() if model.name != "mannequin" and style != "depth" else None
    with GuideRenderer(width, height, style, labels) as r:
        return r.render(vertices, model.faces, [cam])[0]


def head_crop(image: np.ndarray, estimate: PoseEstimate, width: int, height: int, body_model=None) -> np.ndarray:
    """A head-and-shoulders crop of ``image`` around the estimated head, sized ``width`` x ``height`` for a
    model's head panel (the identity condition of a try-on).

    Framed like the synthetic world's portraits: the head fills about 60 % of the height, centred at 38 %.
    Areas outside the photo are filled with the nearest edge pixels rather than a colour the model would
    take for hair or skin.
    """
    from PIL import Image

    from engine.body.model import BodyModel
    from engine.body.skeleton import JOINT_NAMES

    model = body_model or BodyModel.load_mannequin()
    _, joints = model.forward(estimate.state)
    cam = estimate.camera.resized(image.shape[1], image.shape[0])
    uv, _ = cam.project(joints[[JOINT_NAMES.index("head"), JOINT_NAMES.index("neck")]])
    head, neck = uv
    head_h = max(2.4 * float(np.linalg.norm(head - neck)), 4.0)  # crown to chin, from the head-neck bone
    box_h = head_h / 0.6
    box_w = box_h * width / height
    cx, cy = head[0], head[1] - 0.05 * head_h + (0.5 - 0.38) * box_h
    x0, y0 = cx - box_w / 2, cy - box_h / 2
    pad = int(np.ceil(max(box_w, box_h)))
    padded = np.pad(np.asarray(image, np.uint8), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    crop = Image.fromarray(padded).crop((round(x0) + pad, round(y0) + pad,
                                         round(x0 + box_w) + pad, round(y0 + box_h) + pad))
    return np.asarray(crop.resize((width, height), Image.Resampling.LANCZOS))
