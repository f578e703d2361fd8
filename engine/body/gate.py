"""The person gate: is there a person in this photo, before any model runs on it.

Every path that takes a *person photo* (try-off, person to person A and B, turntable from a photo, batch people,
the GUI's person slot, pose estimation) asks :func:`find_person` first and refuses the photo with one line
(:class:`NoPersonFound`) when the answer is no; the user can skip it (``--no-person-check``, "Use anyway").

The signal is the offline BlazePose that already ships for pose estimation (:mod:`engine.body.blazepose`):

- ``detection``: the SSD person detector's best score on the whole photo, letterboxed;
- ``presence``: the landmark model's "pose present" probability on the region the detector found (best of
  MediaPipe's two passes).

Either alone is not enough: the detector scores some objects (a logo, a retina scan) above 0.5 while a
mannequin seen from the side can score 0.54 with presence 0.29; the landmark model is sure about blobs the
detector barely saw. Their product is a single score, and the photo is also looked at mirrored (people are
left/right symmetric, texture false alarms are not), keeping the better view. The threshold is the middle
of the gap between the synthetic world's ``val`` people (384 samples, poses A and B: lowest 0.62) and the
calibration negatives (drawn images, scikit-image's objects, val garments: highest 0.43, a logo): see
benchmarks/bench_person_gate.py and benchmarks/results/person_gate.json for its speed and its accuracy on
the ``test`` split and on held-out negatives. Small side and back views the detector misses get a third,
padded look (PAD, PAD_THRESHOLD below).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from engine.errors import OmfaError

# Middle of the val gap: highest negative 0.43 (skimage's logo), lowest of 768 val people 0.62 -> 0.53.
THRESHOLD = 0.53
# A third look, only when both views fail: the photo with a 25 % border of its own edge colour on every side.
# The detector misses some small side and back views that fill the frame (10 of 3,072 val people score
# under 0.53, 5 near 0); with room around them all 10 score >= 0.77. Padding also lifts negatives (scikit-
# image's horse silhouette 0.66, the highest of the calibration negatives), so the padded view has its own
# threshold, the middle of that val gap (benchmarks/results/person_gate_val1536.json).
PAD = 0.25
PAD_THRESHOLD = 0.72


class NoPersonFound(OmfaError, ValueError):
    """The photo shows no person. ``str()`` names the file; the caller adds how to skip the check
    (``--no-person-check`` on the command line, "Use anyway" in the app)."""

    def __init__(self, name: str, score: float = 0.0, path: str | Path | None = None) -> None:
        super().__init__(f"no person found in {name}", path=path)
        self.name = name
        self.score = score

    def __reduce__(self):  # pickled across processes (batch under accelerate): keep the fields
        return type(self), (self.name, self.score, self.path)


@dataclass
class PersonCheck:
    """The gate's answer for one photo.

    found : score >= threshold
    score : detection x presence of the better view (0..1)
    detection, presence : of that view
    mirrored : the better view was the mirrored photo
    box : (x0, y0, x1, y1) the person's landmark extent in photo pixels, when found
    seconds : wall time of the check
    """

    found: bool
    score: float
    detection: float = 0.0
    presence: float = 0.0
    mirrored: bool = False
    box: Optional[tuple[float, float, float, float]] = None
    seconds: float = 0.0
    views: list = field(default_factory=list)  # (detection, presence) per view looked at
    threshold: float = THRESHOLD
    padded_score: float = 0.0  # the padded third look's score, when the two views failed (0: not looked at)

    def to_dict(self) -> dict:
        return {"found": self.found, "score": round(self.score, 4), "detection": round(self.detection, 4),
                "presence": round(self.presence, 4), "mirrored": self.mirrored, "threshold": self.threshold,
                "padded_score": round(self.padded_score, 4)}


_LOCK = threading.Lock()  # one BlazePose per process; its interpreters are not re-entrant


def _view(bp, image: np.ndarray) -> tuple[float, float, Optional[np.ndarray]]:
    """(detection score, presence, landmark pixels (33, 2) or None) of one view."""
    det = bp.detect(image, min_score=0.0)
    if det is None:
        return 0.0, 0.0, None
    flag, lm, _ = bp.landmarks(image, bp.roi_from_detection(det["keypoints"]))
    flag2, lm2, _ = bp.landmarks(image, bp.roi_from_detection(lm[33:35, :2]))  # MediaPipe's second pass
    if flag2 >= flag:
        flag, lm = flag2, lm2
    return float(det["score"]), float(flag), lm[:33, :2]


def find_person(image: np.ndarray, threshold: float = THRESHOLD) -> PersonCheck:
    """Is there a person in ``image`` (H, W, 3) uint8 (any size)?

    Looks at the photo, and only when that view fails, at its mirror image (so a person costs one
    detector + two landmark passes, ~50-80 ms on one core; benchmarks/results/person_gate.json); when
    both fail, at the photo with a border around it (PAD, judged against PAD_THRESHOLD), mirrored too.
    Raises :class:`engine.body.blazepose.BlazePoseUnavailable` when the runtime or its models are missing.
    """
    from engine.body.blazepose import shared_detector

    t0 = time.perf_counter()
    rgb = np.ascontiguousarray(np.asarray(image, np.uint8)[..., :3])
    views = []
    best = (0.0, 0.0, 0.0, False, None)  # score, detection, presence, mirrored, landmarks
    with _LOCK:
        bp = shared_detector()
        for mirrored in (False, True):
            view = np.ascontiguousarray(rgb[:, ::-1]) if mirrored else rgb
            det, pres, lm = _view(bp, view)
            views.append((det, pres))
            if det * pres > best[0]:
                if lm is not None and mirrored:
                    lm = lm.copy()
                    lm[:, 0] = rgb.shape[1] - 1 - lm[:, 0]
                best = (det * pres, det, pres, mirrored, lm)
            if best[0] >= threshold:
                break
        padded_score, pad_lm = 0.0, None
        if best[0] < threshold:
            framed, (oy, ox) = _padded(rgb)
            for mirrored in (False, True):
                view = np.ascontiguousarray(framed[:, ::-1]) if mirrored else framed
                det, pres, lm = _view(bp, view)
                views.append((det, pres))
                if det * pres > padded_score:
                    if lm is not None:
                        lm = lm.copy()
                        if mirrored:
                            lm[:, 0] = framed.shape[1] - 1 - lm[:, 0]
                        lm -= (ox, oy)
                    padded_score, pad_lm = det * pres, lm
                if padded_score >= PAD_THRESHOLD:
                    break
    score, det, pres, mirrored, lm = best
    found = score >= threshold or padded_score >= PAD_THRESHOLD
    if score < threshold and found:
        lm = pad_lm
    box = None
    if found and lm is not None:
        h, w = rgb.shape[:2]
        box = (max(0.0, float(lm[:, 0].min())), max(0.0, float(lm[:, 1].min())),
               min(float(w), float(lm[:, 0].max())), min(float(h), float(lm[:, 1].max())))
    return PersonCheck(found, score, det, pres, mirrored, box, time.perf_counter() - t0, views, threshold,
                       padded_score)


def _padded(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """(the photo with a PAD border of its edges' median colour on every side, (top, left) offset)."""
    h, w = rgb.shape[:2]
    edges = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    ph, pw = int(h * PAD), int(w * PAD)
    out = np.empty((h + 2 * ph, w + 2 * pw, 3), np.uint8)
    out[:] = np.median(edges, axis=0).astype(np.uint8)
    out[ph:ph + h, pw:pw + w] = rgb
    return out, (ph, pw)


def require_person(image: np.ndarray, name: str, path: str | Path | None = None) -> PersonCheck:
    """:func:`find_person`, raising :class:`NoPersonFound` (naming ``name``, e.g. the file name) when there
    is none. A gate that cannot run (BlazePose missing) lets the photo through: it is a safety net, not a
    requirement, and the estimator says what is missing where it is needed."""
    from engine.body.blazepose import BlazePoseUnavailable

    try:
        check = find_person(image)
    except BlazePoseUnavailable:
        return PersonCheck(True, float("nan"))
    if not check.found:
        raise NoPersonFound(name, check.score, path)
    return check


# What each caller tells the user to do about a refusal (the engine's message names only the file).
CLI_ADVICE = "pass --no-person-check to run anyway"
APP_ADVICE = "choose a photo of a person, or 'Use anyway'"


def cli_message(e: NoPersonFound) -> str:
    """The command line's one line: 'no person found in cat.png; pass --no-person-check to run anyway'."""
    return f"{e}; {CLI_ADVICE}"


__all__ = ["APP_ADVICE", "CLI_ADVICE", "NoPersonFound", "PersonCheck", "THRESHOLD", "cli_message", "find_person",
           "require_person"]
