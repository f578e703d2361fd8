"""Offline BlazePose (MediaPipe Pose, "full") with numpy and ai-edge-litert only: a person's 33 body landmarks
in image pixels and in metres, from one photo, in about 50 ms on one CPU thread.

The pipeline is MediaPipe's (detection → region of interest → landmarks), re-implemented on the two .tflite
files shipped in resources/models/blazepose (Apache-2.0, from the mediapipe 0.10.21 wheel):

1. ``pose_detection.tflite`` on the photo letterboxed to 224×224 in [-1, 1]: 2254 SSD anchors × (box + 4
   keypoints) and a score; sigmoid, threshold 0.2, weighted NMS (IoU 0.3), the best person kept.
2. Region: centre = keypoint 0 (mid-hip), side = 2·|kp1 − kp0|·1.25, rotated to keep the body upright.
3. ``pose_landmark_full.tflite`` on that region resampled to 256×256 in [0, 1]: 39 landmarks (33 real + 2
   region helpers), heat-map refinement, projection back to the photo; world landmarks in metres (origin
   between the hips, y down) rotated with the region; a second pass on the region the helpers give.

See docs/research/pose_estimation.md for the tensors and the decoding, and engine/body/fit.py for how the
landmarks become an SMPL-X pose.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from engine.errors import OmfaError
from engine.paths import RESOURCES

MODELS = RESOURCES / "models" / "blazepose"
DET_MODEL = MODELS / "pose_detection.tflite"
LMK_MODEL = MODELS / "pose_landmark_full.tflite"
DET_SIZE = 224
LMK_SIZE = 256
LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)


class BlazePoseUnavailable(OmfaError, RuntimeError):
    """The runtime or the model files are missing; the message says which and how to get them."""


@dataclass
class Landmarks:
    """BlazePose's answer for one person.

    image_xy : (33, 2) pixels in the photo
    visibility : (33,) probability that the landmark is visible (not occluded)
    world : (33, 3) metres, origin between the hips, x to the image's right, y down, z away from the camera
    box : (x0, y0, x1, y1) the landmarks' extent in pixels, grown by 10%
    detection_score, presence : the detector's score and the landmark model's pose-present probability
    """

    image_xy: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    box: tuple[float, float, float, float]
    detection_score: float
    presence: float


def available() -> list[str]:
    """What is missing for BlazePose ([] = ready)."""
    out = []
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        out.append("the ai-edge-litert package (pip install ai-edge-litert==2.3.0)")
    for p in (DET_MODEL, LMK_MODEL):
        if not p.is_file():
            out.append(f"{p} (reinstall the app: resources/models/blazepose)")
    return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def ssd_anchors(input_size=224, strides=(8, 16, 32, 32, 32), min_scale=0.1484375, max_scale=0.75):
    """SsdAnchorsCalculator with fixed_anchor_size=true, aspect_ratios=[1.0],
    interpolated_scale_aspect_ratio=1.0 (default) -> 2 anchors per layer per cell.
    Consecutive layers with equal stride share one grid.  Returns (2254, 2) centres."""
    num_layers = len(strides)
    out = []
    layer = 0
    while layer < num_layers:
        n_per_cell = 0
        last = layer
        while last < num_layers and strides[last] == strides[layer]:
            n_per_cell += 2  # aspect 1.0 + interpolated scale
            last += 1
        fm = int(math.ceil(input_size / strides[layer]))
        ys, xs = np.meshgrid(np.arange(fm), np.arange(fm), indexing="ij")
        c = np.stack([(xs + 0.5) / fm, (ys + 0.5) / fm], -1).reshape(-1, 1, 2)
        out.append(np.repeat(c, n_per_cell, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(out).astype(np.float32)


def _affine_crop(img, cx, cy, side, rot, out_size, border_zero):
    """Sample a square of `side` px centred at (cx, cy), rotated by `rot` (rad), into
    out_size x out_size with bilinear interpolation (like ImageToTensorCalculator).
    Returns float32 HxWx3 in [0,255]."""
    h, w = img.shape[:2]
    t = (np.arange(out_size, dtype=np.float32) + 0.5) / out_size - 0.5
    u, v = np.meshgrid(t * side, t * side)  # offsets in ROI frame
    c, s = math.cos(rot), math.sin(rot)
    sx = cx + c * u - s * v - 0.5
    sy = cy + s * u + c * v - 0.5
    outside = (sx < -0.5) | (sx > w - 0.5) | (sy < -0.5) | (sy > h - 0.5)
    sx = np.clip(sx, 0, w - 1)
    sy = np.clip(sy, 0, h - 1)
    x0 = np.floor(sx).astype(np.int32)
    y0 = np.floor(sy).astype(np.int32)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (sx - x0)[..., None]
    fy = (sy - y0)[..., None]
    im = img.astype(np.float32)
    top = im[y0, x0] * (1 - fx) + im[y0, x1] * fx
    bot = im[y1, x0] * (1 - fx) + im[y1, x1] * fx
    out = top * (1 - fy) + bot * fy
    if border_zero:
        out[outside] = 0.0
    return out


def _prefilter(img, side, out_size):
    """Downscale big photos first (antialias) so bilinear sampling doesn't alias.
    Returns (image, factor) with coordinates in the returned image = original / factor."""
    f = int(side / out_size / 2)
    if f < 2:
        return img, 1
    from PIL import Image  # optional dependency, only for large inputs
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((max(1, w // f), max(1, h // f)), Image.BOX)
    return np.asarray(small), f


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence file descriptor 2 for the block: native libraries write there behind Python's back, and a
    command's error output should be its own one-line messages. Python-level stderr is flushed first."""
    import os
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (a windowed app): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class BlazePose:
    """The two interpreters, loaded once (about 10 MB of weights); ``estimate`` is thread-compatible."""

    def __init__(self, det_model: Path = DET_MODEL, lmk_model: Path = LMK_MODEL, num_threads: int = 1) -> None:
        missing = available()
        if missing:
            raise BlazePoseUnavailable("BlazePose cannot run: missing " + "; ".join(missing))
        from ai_edge_litert.interpreter import Interpreter

        with _quiet_native_stderr():  # TF Lite prints "INFO: Created ... XNNPACK delegate" on the C stderr
            self.det = Interpreter(model_path=str(det_model), num_threads=num_threads)
            self.det.allocate_tensors()
            self.lmk = Interpreter(model_path=str(lmk_model), num_threads=num_threads)
            self.lmk.allocate_tensors()
        self.det_in = self.det.get_input_details()[0]["index"]
        od = self.det.get_output_details()
        # outputs: Identity (1,2254,12) regressors, Identity_1 (1,2254,1) score logits
        self.det_boxes = next(d["index"] for d in od if d["shape"][-1] == 12)
        self.det_scores = next(d["index"] for d in od if d["shape"][-1] == 1)
        self.lmk_in = self.lmk.get_input_details()[0]["index"]
        lo = {d["name"]: d["index"] for d in self.lmk.get_output_details()}
        # Identity (1,195) landmarks, Identity_1 (1,1) pose flag, Identity_2 (1,256,256,1) seg,
        # Identity_3 (1,64,64,39) heatmap, Identity_4 (1,117) world landmarks
        self.o_lm, self.o_flag, self.o_seg = lo["Identity"], lo["Identity_1"], lo["Identity_2"]
        self.o_hm, self.o_world = lo["Identity_3"], lo["Identity_4"]
        self.anchors = ssd_anchors()
        if self.anchors.shape[0] != self.det.get_output_details()[0]["shape"][1]:
            raise BlazePoseUnavailable(f"{det_model} is not the BlazePose detector this code decodes")

    # ---------------------------------------------------------------- detection
    def detect(self, img, min_score=0.5):
        h, w = img.shape[:2]
        side = float(max(h, w))  # letterbox == square crop centred on the image, zero border
        src, f = _prefilter(img, side, DET_SIZE)
        x = _affine_crop(src, w / 2 / f, h / 2 / f, side / f, 0.0, DET_SIZE, border_zero=True)
        x = x / 127.5 - 1.0
        self.det.set_tensor(self.det_in, x[None].astype(np.float32))
        self.det.invoke()
        raw = self.det.get_tensor(self.det_boxes)[0]
        score = _sigmoid(np.clip(self.det.get_tensor(self.det_scores)[0, :, 0], -100, 100))
        keep = score >= 0.2  # graph's min_score_thresh
        if not keep.any() or score.max() < min_score:
            return None
        a = self.anchors
        d = raw / DET_SIZE  # anchor w = h = 1
        cxcy = d[:, 0:2] + a
        wh = d[:, 2:4]
        kps = d[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
        boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], 1)
        # weighted NMS, only the top cluster (one person)
        idx = np.where(keep)[0]
        best = idx[np.argmax(score[idx])]
        bx = boxes[idx]
        b0 = boxes[best]
        ix0, iy0 = np.maximum(bx[:, 0], b0[0]), np.maximum(bx[:, 1], b0[1])
        ix1, iy1 = np.minimum(bx[:, 2], b0[2]), np.minimum(bx[:, 3], b0[3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)

        def area(b):
            return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])

        iou = inter / (area(bx) + area(b0) - inter + 1e-9)
        grp = idx[iou > 0.3]
        wts = score[grp][:, None]
        box_n = (boxes[grp] * wts).sum(0) / wts.sum()
        kps_n = (kps[grp].reshape(len(grp), -1) * wts).sum(0).reshape(4, 2) / wts.sum()
        # tensor-normalised -> image pixels (undo letterbox)
        def to_px(p):
            return (np.asarray(p) - 0.5) * side + np.array([w / 2, h / 2])

        box_px = np.concatenate([to_px(box_n[:2]), to_px(box_n[2:])])
        return dict(score=float(score[best]), face_box=box_px, keypoints=to_px(kps_n))

    @staticmethod
    def roi_from_detection(kp):
        """AlignmentPointsRectsCalculator(0 -> 1, target 90deg) + RectTransformation(1.25, square_long)."""
        (x0, y0), (x1, y1) = kp[0], kp[1]
        size = 2.0 * math.hypot(x1 - x0, y1 - y0) * 1.25
        rot = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
        rot = rot - 2 * math.pi * math.floor((rot + math.pi) / (2 * math.pi))
        return float(x0), float(y0), float(size), float(rot)

    # ---------------------------------------------------------------- landmarks
    def landmarks(self, img, roi):
        cx, cy, side, rot = roi
        src, f = _prefilter(img, side, LMK_SIZE)
        x = _affine_crop(src, cx / f, cy / f, side / f, rot, LMK_SIZE, border_zero=False) / 255.0
        self.lmk.set_tensor(self.lmk_in, x[None].astype(np.float32))
        self.lmk.invoke()
        flag = float(self.lmk.get_tensor(self.o_flag)[0, 0])  # already a probability
        raw = self.lmk.get_tensor(self.o_lm)[0].reshape(39, 5)
        hm = self.lmk.get_tensor(self.o_hm)[0]  # 64x64x39 logits
        world = self.lmk.get_tensor(self.o_world)[0].reshape(39, 3)
        xn = raw[:, 0] / LMK_SIZE
        yn = raw[:, 1] / LMK_SIZE
        zn = raw[:, 2] / LMK_SIZE
        vis = _sigmoid(raw[:, 3])
        pres = _sigmoid(raw[:, 4])
        # RefineLandmarksFromHeatmap(kernel 7, min_confidence_to_refine 0.5)
        H, W, _ = hm.shape
        for i in range(39):
            c0, r0 = int(xn[i] * W), int(yn[i] * H)
            if not (0 <= c0 < W and 0 <= r0 < H):
                continue
            rs, re = max(0, r0 - 3), min(H, r0 + 4)
            cs, ce = max(0, c0 - 3), min(W, c0 + 4)
            conf = _sigmoid(hm[rs:re, cs:ce, i])
            tot = conf.sum()
            if conf.max() >= 0.5 and tot > 0:
                rr, cc = np.mgrid[rs:re, cs:ce]
                xn[i] = (cc * conf).sum() / W / tot
                yn[i] = (rr * conf).sum() / H / tot
        # LandmarkProjection: crop-normalised -> image pixels
        c, s = math.cos(rot), math.sin(rot)
        u, v = (xn - 0.5) * side, (yn - 0.5) * side
        px = cx + c * u - s * v
        py = cy + s * u + c * v
        lm = np.stack([px, py, zn * side, vis, pres], 1)
        # WorldLandmarkProjection: rotate x,y by ROI rotation
        wx = c * world[:, 0] - s * world[:, 1]
        wy = s * world[:, 0] + c * world[:, 1]
        wl = np.stack([wx, wy, world[:, 2]], 1)
        return flag, lm, wl

    def estimate(self, image: np.ndarray, min_det_score: float = 0.5) -> Optional[Landmarks]:
        """Landmarks of the most salient person in ``image`` (H, W, 3) uint8, or None when there is none."""
        image = np.ascontiguousarray(np.asarray(image, np.uint8)[..., :3])
        det = self.detect(image, min_det_score)
        if det is None:
            return None
        roi = self.roi_from_detection(det["keypoints"])
        flag, lm, wl = self.landmarks(image, roi)
        # a second pass on the region the helper landmarks 33/34 give, as MediaPipe's tracking does
        flag2, lm2, wl2 = self.landmarks(image, self.roi_from_detection(lm[33:35, :2]))
        if flag2 >= flag:
            flag, lm, wl = flag2, lm2, wl2
        if flag < 0.5:
            return None
        xs, ys = lm[:33, 0], lm[:33, 1]
        gx, gy = 0.1 * (xs.max() - xs.min()), 0.1 * (ys.max() - ys.min())
        h, w = image.shape[:2]
        box = (max(0.0, xs.min() - gx), max(0.0, ys.min() - gy), min(w, xs.max() + gx), min(h, ys.max() + gy))
        return Landmarks(lm[:33, :2].astype(np.float64), lm[:33, 3].astype(np.float64), wl[:33].astype(np.float64),
                         tuple(float(v) for v in box), float(det["score"]), float(flag))


_DETECTOR: list = []


def shared_detector() -> "BlazePose":
    """One BlazePose per process (its interpreters load ~10 MB once), shared by the pose estimator and the
    person gate."""
    if not _DETECTOR:
        _DETECTOR.append(BlazePose())
    return _DETECTOR[0]
