"""Guide images for requests: a BodyState rendered from orbit cameras in a model's render style."""
from __future__ import annotations

import numpy as np

from engine.body.camera import Camera, orbit_cameras
from engine.body.state import BodyState


def pose_guides(state: BodyState, width: int, height: int, views: int = 1, elevation_deg: float = 0.0,
                start_azimuth_deg: float = 0.0, style: str = "parts_shaded", body_model=None
                ) -> tuple[list[np.ndarray], list[Camera]]:
    """Render ``views`` guide images of ``state`` orbiting the body.

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
    with GuideRenderer(width, height, style) as r:
        images = r.render(vertices, model.faces, cams)
    return images, cams
