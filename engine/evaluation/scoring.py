"""What is measured: the metric definitions, the regions they use, and the scorers of each task."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from engine.metrics import (GARMENT_FAMILY_TO_PATTERN, analyse_pattern, color_histogram_distance,
                            dominant_color_delta_e, edge_structure_score, foreground_mask, pattern_matches, pooled_psnr,
                            silhouette_iou, ssim)

if TYPE_CHECKING:  # pragma: no cover
    from engine.data.synthetic import SyntheticSample

TASKS: tuple[str, ...] = ("try-off", "try-on")
#: Column order and labels of the systems compared in each task table.
SYSTEM_LABELS: dict[str, str] = {
    "model": "model", "mean_image": "mean image", "outline_fill": "outline fill",
    "silhouette_fill": "silhouette fill", "grey_garment": "grey garment", "ground_truth": "GT vs GT",
}
TASK_SYSTEMS: dict[str, tuple[str, ...]] = {
    "try-off": ("model", "mean_image", "outline_fill", "grey_garment", "ground_truth"),
    "try-on": ("model", "mean_image", "silhouette_fill", "ground_truth"),
}
BASELINES: dict[str, tuple[str, ...]] = {t: tuple(s for s in v if s not in ("model", "ground_truth"))
                                         for t, v in TASK_SYSTEMS.items()}

# Quality bar (issue 4) and validation thresholds.
TRY_OFF_DE_MAX, TRY_OFF_DE_SHARE = 10.0, 0.80
STRIPE_SHARE = 0.70
IOU_MIN = 0.85
TORSO_DE_MAX, TORSO_DE_SHARE = 12.0, 0.75
HEAD_DE_MAX = 12.0
SELF_CHECK_SHARE = 0.95
STRIPE_ANGLE_TOL = 15.0  # degrees; pattern_matches' default
HEAD_FRACTION = 0.13  # fallback head band: the top 13 % of the figure's height
MIN_REGION_PIXELS = 30  # erode the torso region only when this many pixels remain
MAX_EXAMPLES = 16  # results kept per task for the grid
PERIODIC: frozenset[str] = frozenset({"stripes", "checks", "dots"})
GRID_INPUTS: dict[str, tuple[str, ...]] = {"try-off": ("person", "guide"), "try-on": ("garment", "head", "guide B")}


@dataclass(frozen=True)
class MetricDef:
    """One row of a task table.

    kind: ``"mean"`` (mean of finite per-sample values), ``"share"`` (per-sample 1/0, NaN = not applicable;
    shown with its support) or ``"pooled"`` (one value over all samples).
    """

    key: str
    label: str
    kind: str
    higher_is_better: Optional[bool]
    digits: int = 3


METRICS: dict[str, tuple[MetricDef, ...]] = {
    "try-off": (
        MetricDef("ssim_fg", "SSIM, foreground (garment mask)", "mean", True),
        MetricDef("ssim", "SSIM, whole image", "mean", True),
        MetricDef("psnr_fg", "pooled PSNR, foreground (dB)", "pooled", True, 2),
        MetricDef("psnr", "pooled PSNR, whole image (dB)", "pooled", True, 2),
        MetricDef("de", "dominant-colour ΔE00, mean", "mean", False, 2),
        MetricDef("de_ok", f"dominant-colour ΔE00 ≤ {TRY_OFF_DE_MAX:g}", "share", True),
        MetricDef("colour_emd", "colour-histogram distance in the garment (EMD, CIELAB), mean", "mean", False, 2),
        MetricDef("colour_emd_patterned", "… of patterned garments (all but solid)", "mean", False, 2),
        MetricDef("edge", "edge structure in the garment (outline excluded), mean", "mean", True),
        MetricDef("edge_patterned", "… of patterned garments (all but solid)", "mean", True),
        MetricDef("pattern", "pattern right: family + orientation + period (solid/stripes/checks/dots)",
                  "share", True),
        MetricDef("family", "pattern family right (solid/stripes/checks/dots)", "share", True),
        MetricDef("no_false_pattern", "no invented repeat on prints/letters/two-tone", "share", True),
        MetricDef("stripe_orient", f"stripe orientation within {STRIPE_ANGLE_TOL:g}° (striped garments)",
                  "share", True),
    ),
    "try-on": (
        MetricDef("ssim_fg", "SSIM, foreground (figure of guide B)", "mean", True),
        MetricDef("ssim", "SSIM, whole image", "mean", True),
        MetricDef("psnr_fg", "pooled PSNR, foreground (dB)", "pooled", True, 2),
        MetricDef("psnr", "pooled PSNR, whole image (dB)", "pooled", True, 2),
        MetricDef("iou", "silhouette IoU vs guide B, mean", "mean", True),
        MetricDef("iou_ok", f"silhouette IoU ≥ {IOU_MIN:g}", "share", True),
        MetricDef("torso_de", "torso (garment) dominant-colour ΔE00, mean", "mean", False, 2),
        MetricDef("torso_ok", f"torso ΔE00 ≤ {TORSO_DE_MAX:g}", "share", True),
        MetricDef("torso_emd", "torso colour-histogram distance (EMD, CIELAB), mean", "mean", False, 2),
        MetricDef("torso_edge", "torso edge structure (outline excluded), mean", "mean", True),
        MetricDef("head_de", "head dominant-colour ΔE00, mean", "mean", False, 2),
        MetricDef("head_ok", f"head ΔE00 ≤ {HEAD_DE_MAX:g}", "share", True),
    ),
}
#: Library metrics: display name and direction.
LIBRARY_METRICS: dict[str, tuple[str, bool]] = {
    "lpips": ("LPIPS", False), "fid": ("FID", False), "kid": ("KID", False), "dists": ("DISTS", False),
    "clip_i": ("CLIP-I", True), "dino": ("DINO", True),
}



def try_on_foreground(sample: "SyntheticSample") -> np.ndarray:
    """The try-on foreground: the figure of guide B, shape (H, W) bool."""
    return foreground_mask(sample.guide_b)


def torso_region(sample: "SyntheticSample") -> np.ndarray:
    """Visible garment of pose B, eroded by 1 px when enough remains; shape (H, W) bool."""
    from scipy.ndimage import binary_erosion

    m = np.asarray(sample.person_b_mask, bool)
    e = binary_erosion(m, np.ones((3, 3), bool), border_value=0)
    return e if e.sum() >= MIN_REGION_PIXELS else m


@functools.lru_cache(maxsize=1)
def _head_mesh() -> tuple[Any, np.ndarray]:
    """The mannequin body model and its head + hair faces (loaded once per process)."""
    from engine.body.mannequin import load_parts
    from engine.body.model import BodyModel

    model = BodyModel.load_mannequin()
    head = load_parts().part_mask("head", "hair_region")
    faces = np.asarray(model.faces, np.int64)
    return model, faces[head[faces].all(1)]


def _projected_head(state: dict, camera: dict, width: int, height: int) -> np.ndarray:
    """Rasterise the posed mannequin's head faces with the sample's camera; (height, width) bool."""
    from PIL import Image, ImageDraw

    from engine.body.camera import Camera
    from engine.body.state import BodyState
    from engine.data.synthetic import _torch_threads  # LBS is slower with threads when a core is busy

    model, faces = _head_mesh()
    with _torch_threads(1):
        v, _ = model.forward(BodyState.from_dict(state))
    cam = Camera.from_dict(camera)
    if (cam.width, cam.height) != (width, height):
        cam = cam.resized(width, height)
    uv, z = cam.project(v)
    uv = uv - 0.5  # continuous pixel coordinates (centres at i + 0.5) -> PIL's (centres at i)
    img = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(img)
    for tri in faces:
        if (z[tri] > 0).all():
            draw.polygon([tuple(p) for p in uv[tri]], fill=255)
    return np.asarray(img) > 0


def head_region(sample: "SyntheticSample", figure: Optional[np.ndarray] = None) -> np.ndarray:
    """The head (face and hair) of pose B, shape (H, W) bool — see the module docstring.

    Parameters
    ----------
    sample : SyntheticSample
        Uses ``meta["pose_b"]["state"]`` and ``["camera"]`` when present.
    figure : np.ndarray, shape (H, W) bool, optional
        The figure of guide B (default :func:`try_on_foreground`).
    """
    fig = try_on_foreground(sample) if figure is None else np.asarray(figure, bool)
    h, w = fig.shape
    pose = (sample.meta or {}).get("pose_b") or {}
    if "state" in pose and "camera" in pose:
        m = _projected_head(pose["state"], pose["camera"], w, h) & fig & ~np.asarray(sample.person_b_mask, bool)
        if m.any():
            return m
    return top_band(fig, HEAD_FRACTION)


def top_band(figure: np.ndarray, fraction: float) -> np.ndarray:
    """The part of ``figure`` (H, W) bool in its top ``fraction`` of rows (between its first and last row)."""
    rows = np.nonzero(figure.any(1))[0]
    out = np.zeros_like(figure, dtype=bool)
    if len(rows) == 0:
        return out
    top, bottom = int(rows[0]), int(rows[-1])
    end = top + max(1, int(math.ceil(fraction * (bottom - top + 1))))
    out[top:end] = figure[top:end]
    return out



def _garment_box_scale(width: int, height: int) -> float:
    """Garment-box width / panel width: GarmentSpec periods are fractions of the box, the analyser's of
    the image (the box is the largest 3:4 box in the panel, as in SyntheticWorld)."""
    from engine.data.synthetic import GARMENT_ASPECT

    bw = min(width, int(round(height * GARMENT_ASPECT)))
    return bw / width


def score_try_off(preds: Sequence[np.ndarray], samples: Sequence["SyntheticSample"]
                  ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Per-sample and pooled try-off metrics of predicted flat garments.

    Parameters
    ----------
    preds : N of (H, W, 3) uint8
    samples : N SyntheticSample (ground truth ``garment``, ``garment_mask``, ``meta["garment"]``)

    Returns
    -------
    per_sample : dict key -> N floats (NaN where not applicable), keys of ``METRICS["try-off"]``
    pooled : dict ``psnr``, ``psnr_fg``
    """
    keys = [m.key for m in METRICS["try-off"] if m.kind != "pooled"]
    per: dict[str, list[float]] = {k: [] for k in keys}
    for p, s in zip(preds, samples, strict=True):
        gt, gm = s.garment, np.asarray(s.garment_mask, bool)
        per["ssim_fg"].append(ssim(p, gt, gm))
        per["ssim"].append(ssim(p, gt))
        de = dominant_color_delta_e(p, gt, gm, gm)
        per["de"].append(de)
        per["de_ok"].append(float(de <= TRY_OFF_DE_MAX))
        spec = (s.meta or {}).get("garment")
        patterned = spec is not None and spec["family"] != "solid"
        emd, edge = color_histogram_distance(p, gt, gm, gm), edge_structure_score(p, gt, gm)
        per["colour_emd"].append(emd)
        per["edge"].append(edge)
        per["colour_emd_patterned"].append(emd if patterned else math.nan)
        per["edge_patterned"].append(edge if patterned else math.nan)
        if spec is None:  # no spec: no pattern ground truth
            for k in ("pattern", "family", "no_false_pattern", "stripe_orient"):
                per[k].append(math.nan)
            continue
        est = analyse_pattern(p, gm)
        fam = GARMENT_FAMILY_TO_PATTERN[spec["family"]]
        period = float(spec["period"]) * _garment_box_scale(gt.shape[1], gt.shape[0])
        # Prints, letters and two-tone are "other": nothing periodic to recover, and noise reads as
        # "other" too, so they are scored only on not being given a repeat they do not have.
        periodic_gt = fam != "other"
        per["pattern"].append(float(pattern_matches(est, fam, float(spec["angle"]), period))
                              if periodic_gt else math.nan)
        per["family"].append(float(est.family == fam) if periodic_gt else math.nan)
        per["no_false_pattern"].append(math.nan if periodic_gt else float(est.family not in PERIODIC))
        per["stripe_orient"].append(
            float(pattern_matches(est, "stripes", float(spec["angle"]), angle_tol=STRIPE_ANGLE_TOL))
            if spec["family"] == "stripes" else math.nan)
    gts = [s.garment for s in samples]
    pooled = {"psnr": pooled_psnr(preds, gts),
              "psnr_fg": pooled_psnr(preds, gts, [s.garment_mask for s in samples])}
    return per, pooled


def score_try_on(preds: Sequence[np.ndarray], samples: Sequence["SyntheticSample"],
                 figures: Optional[Sequence[np.ndarray]] = None, heads: Optional[Sequence[np.ndarray]] = None
                 ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Per-sample and pooled try-on metrics of predicted persons in pose B.

    Parameters
    ----------
    preds : N of (H, W, 3) uint8
    samples : N SyntheticSample (ground truth ``person_b``, ``guide_b``, ``person_b_mask``)
    figures, heads : N of (H, W) bool, optional — precomputed :func:`try_on_foreground` / :func:`head_region`

    Returns
    -------
    per_sample : dict key -> N floats, keys of ``METRICS["try-on"]``
    pooled : dict ``psnr``, ``psnr_fg``
    """
    figures = [try_on_foreground(s) for s in samples] if figures is None else list(figures)
    heads = [head_region(s, f) for s, f in zip(samples, figures)] if heads is None else list(heads)
    keys = [m.key for m in METRICS["try-on"] if m.kind != "pooled"]
    per: dict[str, list[float]] = {k: [] for k in keys}
    for p, s, fig, hm in zip(preds, samples, figures, heads, strict=True):
        gt = s.person_b
        per["ssim_fg"].append(ssim(p, gt, fig))
        per["ssim"].append(ssim(p, gt))
        iou = silhouette_iou(foreground_mask(p), fig)
        per["iou"].append(iou)
        per["iou_ok"].append(float(iou >= IOU_MIN))
        tm = torso_region(s)
        de = dominant_color_delta_e(p, gt, tm, tm) if tm.any() else math.nan
        per["torso_de"].append(de)
        per["torso_ok"].append(math.nan if math.isnan(de) else float(de <= TORSO_DE_MAX))
        # The torso region is already eroded by a pixel; one more keeps the garment's worn outline out.
        per["torso_emd"].append(color_histogram_distance(p, gt, tm, tm) if tm.any() else math.nan)
        per["torso_edge"].append(edge_structure_score(p, gt, tm, erode=1) if tm.any() else math.nan)
        de = dominant_color_delta_e(p, gt, hm, hm) if hm.any() else math.nan
        per["head_de"].append(de)
        per["head_ok"].append(math.nan if math.isnan(de) else float(de <= HEAD_DE_MAX))
    gts = [s.person_b for s in samples]
    pooled = {"psnr": pooled_psnr(preds, gts), "psnr_fg": pooled_psnr(preds, gts, figures)}
    return per, pooled

