"""Pose from a photo: choose an estimator backend and run it; each returns an
:class:`engine.body.estimate.PoseEstimate`.

Backends, in order of preference when ``backend="auto"``:
- "hmr2": 4D-Humans in a child process (:mod:`engine.body.hmr2`), when its folder, checkpoint, SMPL file and
  package are all there (Settings → hmr2 folder).
- "blazepose": offline BlazePose landmarks (ai-edge-litert, shipped models) and an SMPL-X fit to them
  (:mod:`engine.body.blazepose`, :mod:`engine.body.fit`): works out of the box, less exact than hmr2.
- "manual": none found — the caller gets :class:`~engine.body.estimate.EstimatorUnavailable`, whose message
  lists what each backend needs; the user poses the body by hand (viewport) and the guide comes from that.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from engine.body.estimate import EstimatorUnavailable, PoseEstimate
from engine.body.hmr2 import Hmr2Adapter

BACKENDS = ("auto", "hmr2", "blazepose")


def estimate_pose(image: np.ndarray, box: Optional[Sequence[float]] = None, backend: str = "auto",
                  hmr2: Optional[Hmr2Adapter] = None, body_model=None, person_check: bool = True,
                  name: str = "the photo") -> PoseEstimate:
    """SMPL-X pose and camera of the person in ``image`` (H, W, 3) uint8.

    box : (x0, y0, x1, y1) in image pixels, or None for the whole image
    backend : "auto" (hmr2 when it is set up, else blazepose), "hmr2" or "blazepose"
    hmr2 : the configured adapter (None: hmr2 is not configured)
    body_model : engine.body.model.BodyModel whose rest pelvis the translation is solved for (the mannequin)
    person_check : run the person gate (engine.body.gate) on the photo (or the box) first, whatever the backend,
        and raise engine.body.gate.NoPersonFound (naming ``name``) when it finds nobody
    name : how messages call the photo (its file name)

    Errors carry no advice on what to do next: that depends on the caller (a command line has --box, the
    app has the person-box dialog and the viewport), which sets ``hint``.
    """
    from engine.body.model import BodyModel

    if backend not in BACKENDS:
        raise EstimatorUnavailable(f"unknown pose estimator {backend!r}; choose one of {', '.join(BACKENDS)}")
    if box is not None:
        box = _check_box(box, image.shape[1], image.shape[0])
    if person_check:
        from engine.body.gate import require_person

        crop, _ = _crop(image, box)
        require_person(crop, name + (" inside the person box" if box is not None else ""))
    model = body_model or BodyModel.load_mannequin()
    reasons = []
    if backend in ("auto", "hmr2"):
        if hmr2 is not None:
            missing = [] if hmr2.child else hmr2.missing()
            if not missing:
                return hmr2.estimate(image, box, model.rest_joints[0])
            reasons.append("hmr2: " + "; ".join(missing))
        else:
            reasons.append("hmr2: no hmr2 folder is set (Settings → hmr2 folder; see README, 'Pose from a photo')")
    if backend in ("auto", "blazepose"):
        from engine.body import blazepose
        from engine.body.blazepose import shared_detector
        from engine.body.fit import fit_landmarks

        missing = blazepose.available()
        if not missing:
            crop, (ox, oy) = _crop(image, box)
            # the gate has already said there is a person: take BlazePose's landmarks even when its own
            # detector is less sure than its default 0.5
            lm = shared_detector().estimate(crop, min_det_score=0.0 if person_check else 0.5)
            if lm is None:
                raise EstimatorUnavailable(f"BlazePose found no person in {name}"
                                           + (" inside the person box" if box is not None else ""))
            lm.image_xy = lm.image_xy + (ox, oy)
            lm.box = (lm.box[0] + ox, lm.box[1] + oy, lm.box[2] + ox, lm.box[3] + oy)
            return fit_landmarks(lm, (image.shape[1], image.shape[0]), model)
        reasons.append("blazepose: missing " + "; ".join(missing))
    raise EstimatorUnavailable("no pose estimator is available — " + " | ".join(reasons))


def _crop(image: np.ndarray, box) -> tuple[np.ndarray, tuple[int, int]]:
    """The box's pixels (and their offset); BlazePose looks for the most salient person inside."""
    if box is None:
        return image, (0, 0)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return image[y0:y1, x0:x1], (x0, y0)


def _check_box(box: Sequence[float], width: int, height: int) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise EstimatorUnavailable(f"the person box must be four numbers x0, y0, x1, y1, not {box!r}") from None
    x0, x1 = sorted((max(0.0, min(x0, width)), max(0.0, min(x1, width))))
    y0, y1 = sorted((max(0.0, min(y0, height)), max(0.0, min(y1, height))))
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise EstimatorUnavailable(f"the person box {tuple(box)} is empty inside the {width}x{height} photo")
    return x0, y0, x1, y1
