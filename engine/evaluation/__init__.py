"""``omfa eval``: score a model on a held-out split of the synthetic world, next to trivial baselines.

The package has one module per concept: :mod:`~engine.evaluation.splits` (which samples),
:mod:`~engine.evaluation.scoring` (metrics, regions, scorers), :mod:`~engine.evaluation.baselines` (trivial
systems), :mod:`~engine.evaluation.report` (tables, quality bar, rendering) and
:mod:`~engine.evaluation.runner` (:func:`evaluate`, which ties them together).

Two tasks are evaluated on the same samples (:class:`engine.data.synthetic.SyntheticSample`):

================  ===============================================  ==================  ===================
task              model input                                      ground truth        foreground mask
================  ===============================================  ==================  ===================
``try-off``       person (pose A) + head + guide A                 the flat garment    ``garment_mask``
``try-on``        flat garment + head + guide B (a new pose)       ``person_b``        figure of guide B
================  ===============================================  ==================  ===================

The try-on foreground is ``metrics.foreground_mask(guide_b)``: the world stores a figure mask for pose A
only, and the guide's figure matches the person render's to IoU ≈ 0.99 (the anti-aliased rim).

Regions used by the colour metrics
----------------------------------
- **garment** (try-off): ``garment_mask`` in both images; the flat garment's silhouette is canonical, so the
  generated garment is expected in the same place.
- **torso** (try-on): the visible garment of pose B (``person_b_mask``), eroded by one pixel when at least
  :data:`MIN_REGION_PIXELS` remain, so a one-pixel misregistration or the anti-aliased hem does not count as
  a colour error.
- **head** (try-on): the mannequin's ``head`` and ``hair_region`` faces, posed with the sample's pose-B
  body state and projected with its camera (both in ``meta["pose_b"]``), rasterised, then clipped to the
  figure and minus the visible garment. The guide's part colours cannot be used instead: lighting
  desaturates the skin tone until it reads like the left forearm's orange. Without that metadata the
  fallback is the top :data:`HEAD_FRACTION` of the figure's height (a 7.5-heads-tall figure's head). A
  hand held in front of the face, and the bun hairstyle's bun, are not distinguished from the head.

Metrics (per task, for the model, each baseline and the ground truth itself)
----------------------------------------------------------------------------
SSIM (whole image and foreground; mean over samples), pooled PSNR (whole image and foreground: the MSE is
pooled over every pixel of every sample, see :func:`engine.metrics.pooled_psnr`), dominant-colour CIEDE2000
(:func:`engine.metrics.dominant_color_delta_e`, k = 2), for try-off pattern fidelity
(:func:`engine.metrics.analyse_pattern` vs the garment's own spec: family, stripe orientation within 15°,
period within 20 %, scored on solid/striped/checked/dotted garments; prints, letters and two-tone have no
repeat to recover — noise reads as "other" as they do — so on those only an invented repeat counts), and
for try-on silhouette IoU against the guide and the head colour error. Two content-sensitive metrics that
need no downloaded weights, inside the garment (try-off) and the torso (try-on): the **colour-histogram
distance** (:func:`engine.metrics.color_histogram_distance`: earth mover's distance between the CIELAB colour
histograms, sliced; CIELAB units) and the **edge structure** (:func:`engine.metrics.edge_structure_score`:
match of the colour-edge orientation histograms with the outline eroded away, 1 = same edges). Foreground
SSIM and PSNR reward any plain fill of the right outline (a grey garment scores 0.64 foreground SSIM); these
two do not: a plain fill has no pattern edges and only one colour. Library
metrics (LPIPS, FID, KID, DISTS, CLIP-I, DINO) come from :func:`engine.metrics.optional_metrics` and are
reported as ``unavailable: <reason>`` when their packages or local weights are missing — never faked.

Baselines (computed on the same samples)
----------------------------------------
- **mean image**: the per-pixel mean of the task's ground-truth targets over training samples (the flat
  garments for try-off, the pose-B persons for try-on) — what a model that ignores its inputs would learn.
- **outline fill** (try-off): the garment silhouette filled with the mean sRGB colour of the garment pixels
  visible on the person (the MSE-optimal flat colour: the strongest constant for PSNR).
- **grey garment** (try-off): the garment silhouette filled with mid grey — right outline, no content; the
  probe that shows whether a metric measures content at all.
- **silhouette fill** (try-on): the figure of guide B filled with the flat garment's mean colour, with the
  head region filled with the head image's mean foreground colour.

Validation
----------
The ground truth is scored against itself ("GT vs GT" column): SSIM must be 1, PSNR ∞, ΔE and colour EMD 0,
edge structure 1, and the
pattern analyser must recover the garments' own pattern (family, orientation, period) in ≥ 95 % of the
solid/periodic garments and call ≥ 95 % of the others non-periodic (the *analyser self-check*). The
silhouette IoU of the ground truth against its guide is the task's ceiling (≈ 0.99, the anti-aliased rim),
not 1. These checks are lines of the quality-bar table.
"""
from engine.evaluation.baselines import grey_garment, mean_image, outline_fill, silhouette_fill, train_mean_images
from engine.evaluation.report import (GRID_INPUTS, MAX_EXAMPLES, TASK_TITLES, BarLine, EvalReport, MetricRow,
                                      TaskReport, quality_bar, validate_metrics, validation_lines)
from engine.evaluation.runner import ProgressFn, evaluate
from engine.evaluation.scoring import (BASELINES, LIBRARY_METRICS, METRICS, SYSTEM_LABELS, TASK_SYSTEMS, TASKS,
                                       MetricDef, head_region, score_try_off, score_try_on, top_band, torso_region,
                                       try_on_foreground)
from engine.evaluation.splits import EvalError, load_samples

__all__ = [
    "BASELINES", "GRID_INPUTS", "LIBRARY_METRICS", "MAX_EXAMPLES", "METRICS", "SYSTEM_LABELS", "TASKS", "TASK_SYSTEMS",
    "TASK_TITLES", "BarLine", "EvalError", "EvalReport", "MetricDef", "MetricRow", "ProgressFn", "TaskReport",
    "evaluate", "grey_garment", "head_region", "load_samples", "mean_image", "outline_fill", "quality_bar",
    "score_try_off",
    "score_try_on", "silhouette_fill", "top_band", "torso_region", "train_mean_images", "try_on_foreground",
    "validate_metrics", "validation_lines",
]
