"""Guide images for requests: a BodyState rendered from orbit cameras in a model's render style."""
from __future__ import annotations

import numpy as np

from engine.body.camera import Camera, orbit_cameras
from engine.body.state import BodyState


def pose_guides(state: BodyState, width: int, height: int, views: int = 1, elevation_deg: float = 0.0,
                start_azimuth_deg: float = 0.0, style: str = "parts_shaded", body_model=None
                ) -> tuple[list[np.ndarray], list[Camera]]:
    """Render ``views`` guide images of ``state`` orbiting the body.

    ``body_model`` : engine.body.model.BodyModel, optional — default the shipped mannequin; a user's SMPL-X
    (``BodyModel.load_smplx``) is rendered with its own part labels.

    Returns
    -------
    images : list of (height, width, 3) uint8
    cameras : list of Camera (one per image)
    """
    from engine.body.model import BodyModel
    from engine.body.render import GuideRenderer

    model = body_model or BodyModel.load_mannequin()
    vertices, _ = model.forward(state)
    cams = orbit_cameras(vertices, views, elevation_deg, width, height, start_azimuth_deg=start_azimuth_deg)
    # a real SMPL-X (10475 vertices) needs its own part labels; the mannequin's are the renderer's default
    labels = model.labels() if model.name != "mannequin" and style != "depth" else None
    with GuideRenderer(width, height, style, labels) as r:
        images = r.render(vertices, model.faces, cams)
    return images, cams
