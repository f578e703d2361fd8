"""``omfa eval``: score a model on the synthetic world's held-out split, next to trivial baselines.

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
for try-on silhouette IoU against the guide and the head colour error. Library
metrics (LPIPS, FID, KID, DISTS, CLIP-I, DINO) come from :func:`engine.metrics.optional_metrics` and are
reported as ``unavailable: <reason>`` when their packages or local weights are missing — never faked.

Baselines (computed on the same samples)
----------------------------------------
- **mean image**: the per-pixel mean of the task's ground-truth targets over training samples (the flat
  garments for try-off, the pose-B persons for try-on) — what a model that ignores its inputs would learn.
- **outline fill** (try-off): the garment silhouette filled with the mean sRGB colour of the garment pixels
  visible on the person (the MSE-optimal flat colour: the strongest constant for PSNR).
- **silhouette fill** (try-on): the figure of guide B filled with the flat garment's mean colour, with the
  head region filled with the head image's mean foreground colour.

Validation
----------
The ground truth is scored against itself ("GT vs GT" column): SSIM must be 1, PSNR ∞ and ΔE 0, and the
pattern analyser must recover the garments' own pattern (family, orientation, period) in ≥ 95 % of the
solid/periodic garments and call ≥ 95 % of the others non-periodic (the *analyser self-check*). The silhouette IoU of the ground truth against its guide is the task's
ceiling (≈ 0.99, the anti-aliased rim), not 1. These checks are lines of the quality-bar table.
"""
from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from engine.errors import OmfaError
from engine.metrics import (GARMENT_FAMILY_TO_PATTERN, Unavailable, analyse_pattern, dominant_color_delta_e,
                            foreground_mask, optional_metrics, pattern_matches, pooled_psnr, silhouette_iou, ssim)

if TYPE_CHECKING:  # pragma: no cover
    from engine.data.synthetic import SyntheticSample
    from engine.pipeline import Pipeline

TASKS: tuple[str, ...] = ("try-off", "try-on")
TASK_TITLES: dict[str, str] = {
    "try-off": "Try-off (person → flat garment)",
    "try-on": "Try-on in a new pose (garment + head + guide B → person B)",
}
#: Column order and labels of the systems compared in each task table.
SYSTEM_LABELS: dict[str, str] = {
    "model": "model", "mean_image": "mean image", "outline_fill": "outline fill",
    "silhouette_fill": "silhouette fill", "ground_truth": "GT vs GT",
}
TASK_SYSTEMS: dict[str, tuple[str, ...]] = {
    "try-off": ("model", "mean_image", "outline_fill", "ground_truth"),
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


class EvalError(OmfaError, ValueError):
    """Evaluation cannot run as asked (bad data folder, sizes, settings); the message says why."""


# ============================================================================================ metrics table
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
        MetricDef("head_de", "head dominant-colour ΔE00, mean", "mean", False, 2),
        MetricDef("head_ok", f"head ΔE00 ≤ {HEAD_DE_MAX:g}", "share", True),
    ),
}
#: Library metrics: display name and direction.
LIBRARY_METRICS: dict[str, tuple[str, bool]] = {
    "lpips": ("LPIPS", False), "fid": ("FID", False), "kid": ("KID", False), "dists": ("DISTS", False),
    "clip_i": ("CLIP-I", True), "dino": ("DINO", True),
}


@dataclass
class MetricRow:
    """One metric for every system of a task.

    Attributes
    ----------
    key, label : str
    kind : "mean" | "share" | "pooled" | "library"
    higher_is_better : bool or None
    values : dict system -> float (NaN: no applicable sample, or not computed)
    support : dict system -> (hits, cases), for shares
    note : str
        For library metrics that did not run: ``"unavailable: <reason>"`` or ``"failed: <error>"``.
    digits : int
    """

    key: str
    label: str
    kind: str
    higher_is_better: Optional[bool]
    values: dict[str, float] = field(default_factory=dict)
    support: dict[str, tuple[int, int]] = field(default_factory=dict)
    note: str = ""
    digits: int = 3

    def cell(self, system: str) -> str:
        """The formatted value of one system."""
        if self.note:
            return self.note if system == "model" else "—"
        v = self.values.get(system, math.nan)
        if self.kind == "share":
            hits, cases = self.support.get(system, (0, 0))
            return "—" if cases == 0 else f"{100 * v:.0f}% ({hits}/{cases})"
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        return f"{v:.{self.digits}f}"

    def best(self, systems: Sequence[str]) -> set[str]:
        """The best of ``systems`` on this row, ties included; empty when there is no direction, no value,
        or when all are tied (nothing stands out)."""
        if self.higher_is_better is None or self.note:
            return set()
        vals = {s: self.values.get(s, math.nan) for s in systems}
        vals = {s: v for s, v in vals.items() if not math.isnan(v)}
        if not vals:
            return set()
        top = (max if self.higher_is_better else min)(vals.values())
        best = {s for s, v in vals.items() if v == top}
        return set() if len(best) == len(vals) > 1 else best


@dataclass
class BarLine:
    """One line of the quality bar: a requirement, the measured value, and whether it is met.

    ``met`` is None when the line does not apply (e.g. no striped garment among the samples).
    """

    scope: str
    requirement: str
    value: str
    met: Optional[bool]

    @property
    def status(self) -> str:
        return "n/a" if self.met is None else ("met" if self.met else "NOT met")


@dataclass
class TaskReport:
    """Everything measured for one task.

    Attributes
    ----------
    task : "try-off" | "try-on"
    n : int
        Samples scored.
    systems : tuple of str
        Column order (keys of :data:`SYSTEM_LABELS`).
    rows : list of MetricRow
    per_sample : dict system -> dict metric key -> list of float (NaN where not applicable)
    samples : list of dict
        Per-sample identification: ``index``, ``family`` (garment family).
    seconds : float
        Generation time of the model's outputs.
    examples : list of (inputs, output, target)
        The first :data:`MAX_EXAMPLES` model results as (H, w, 3) uint8 images, for :meth:`EvalReport.grid`
        (not serialised).
    """

    task: str
    n: int
    systems: tuple[str, ...]
    rows: list[MetricRow]
    per_sample: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    examples: list[tuple[list[np.ndarray], np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)

    def row(self, key: str) -> MetricRow:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(f"{self.task} has no metric {key!r}; metrics are {[r.key for r in self.rows]}")

    def value(self, key: str, system: str = "model") -> float:
        return self.row(key).values.get(system, math.nan)


@dataclass
class EvalReport:
    """The result of :func:`evaluate`: one table per task and the quality-bar lines.

    Attributes
    ----------
    model : str
        The model's description (name, preset, parameters, trained or not).
    trained : bool
    settings : dict
        split, n, steps, guidance, scheduler, seed, data source, baseline provenance.
    tasks : list of TaskReport
    bar : list of BarLine
        Validation lines (GT vs GT, analyser self-check) first, then the quality bar of each task.
    """

    model: str
    trained: bool
    settings: dict[str, Any]
    tasks: list[TaskReport]
    bar: list[BarLine]

    def task(self, name: str) -> TaskReport:
        for t in self.tasks:
            if t.task == name:
                return t
        raise KeyError(f"no task {name!r} in this report; tasks are {[t.task for t in self.tasks]}")

    # ------------------------------------------------------------------ rendering
    def to_markdown(self) -> str:
        """The report as markdown: a header, one table per task, the quality-bar table."""
        s = self.settings
        lines = [f"## OMFA evaluation — {self.model}", ""]
        lines.append(f"Split **{s['split']}**, n = {s['n']} ({s['data']}); sampler {s['scheduler']}, "
                     f"{s['steps']} steps, guidance {s['guidance']:g}"
                     + (f" on the first {s.get('guidance_until', 1.0):.0%} of the steps" if s.get('guidance_until', 1.0) < 1 else "")
                     + (", starting from the model's latent prior" if s.get("noise_prior") else "")
                     + f", seed {s['seed']} + sample index. "
                     f"Mean-image baseline: {s['mean_image']}. Best of model and baselines in **bold**; "
                     "“GT vs GT” scores the ground truth against itself (validation).")
        for t in self.tasks:
            lines += ["", f"### {TASK_TITLES[t.task]}, n = {t.n}", ""]
            head = ["metric"] + [SYSTEM_LABELS[sy] for sy in t.systems]
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "|".join(["---"] + ["---:"] * len(t.systems)) + "|")
            for r in t.rows:
                arrow = "" if r.higher_is_better is None else (" ↑" if r.higher_is_better else " ↓")
                best = r.best([sy for sy in t.systems if sy != "ground_truth"])
                cells = [f"**{r.cell(sy)}**" if sy in best else r.cell(sy) for sy in t.systems]
                lines.append(f"| {r.label}{arrow} | " + " | ".join(cells) + " |")
            if t.task == "try-on":
                lines += ["", "The silhouette fill *is* the guide's figure, so its IoU is 1 by construction: the "
                          "IoU bar is absolute, not relative to the baselines."]
        lines += ["", "### Quality bar", "", "| scope | requirement | value | status |", "|---|---|---|---|"]
        for b in self.bar:
            status = b.status if b.met is not False else f"**{b.status}**"
            lines.append(f"| {b.scope} | {b.requirement} | {b.value} | {status} |")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict. Non-finite numbers: NaN → null, ±∞ → the strings "inf" / "-inf"."""
        tasks = []
        for t in self.tasks:
            tasks.append({
                "task": t.task, "n": t.n, "systems": list(t.systems), "seconds": t.seconds,
                "metrics": [{**{k: v for k, v in asdict(r).items() if k != "support"},
                             "support": {k: list(v) for k, v in r.support.items()}} for r in t.rows],
                "per_sample": t.per_sample, "samples": t.samples,
            })
        d = {"model": self.model, "trained": self.trained, "settings": self.settings, "tasks": tasks,
             "bar": [{**asdict(b), "status": b.status} for b in self.bar]}
        return _json_safe(d)

    def to_json(self, indent: int = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def grid(self, task: str, k: int = MAX_EXAMPLES, columns: int = 4, gap: int = 6) -> np.ndarray:
        """A grid of the first ``k`` results of ``task``: each cell is inputs | output | ground truth,
        under a header naming the columns.

        Returns
        -------
        np.ndarray, shape (H_grid, W_grid, 3) uint8
        """
        from PIL import Image, ImageDraw

        ex = self.task(task).examples[:k]
        if not ex:
            raise EvalError(f"no {task} results to show")
        grey, dark = np.array([170, 170, 170], np.uint8), np.array([40, 40, 40], np.uint8)
        cells, offsets = [], []
        for inputs, out, gt in ex:
            h = out.shape[0]
            parts: list[np.ndarray] = []
            for img in inputs:
                parts += [img, np.tile(grey, (h, 1, 1))]
            parts[-1] = np.tile(dark, (h, 2, 1))  # a dark bar between the inputs and the output
            parts += [out, np.tile(grey, (h, 1, 1)), gt]
            offsets = np.cumsum([0] + [p.shape[1] for p in parts])[::2]  # x of each image in the cell
            cells.append(np.concatenate(parts, 1))
        ch, cw = cells[0].shape[:2]
        ncol = min(columns, len(cells))
        nrow = math.ceil(len(cells) / columns)
        top = 14
        sheet = np.empty((top + nrow * (ch + gap) - gap, ncol * (cw + gap) - gap, 3), np.uint8)
        sheet[:] = grey
        sheet[:top] = 255
        for i, c in enumerate(cells):
            y, x = top + (i // columns) * (ch + gap), (i % columns) * (cw + gap)
            sheet[y:y + ch, x:x + cw] = c
        im = Image.fromarray(sheet)
        draw = ImageDraw.Draw(im)
        for col in range(ncol):  # column names over each cell of the first row
            for name, dx in zip(GRID_INPUTS[task] + ("output", "truth"), offsets):
                draw.text((col * (cw + gap) + int(dx) + 2, 1), name, fill=(20, 20, 20))
        return np.asarray(im).copy()


def _json_safe(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_safe(v) for v in o]
    if isinstance(o, (np.floating, float)):
        f = float(o)
        return None if math.isnan(f) else ("inf" if f == math.inf else ("-inf" if f == -math.inf else f))
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


# ============================================================================================ data
def load_samples(n: int, split: str = "test", data: str | Path | None = None,
                 panel_size: tuple[int, int] = (96, 128), head_width: int = 64, seed: int = 0,
                 ) -> list["SyntheticSample"]:
    """The first ``n`` samples of a split: from pre-rendered shards, else rendered by the synthetic world.

    Parameters
    ----------
    n : int
    split : "train" | "val" | "test"
    data : folder of ``{split}_*.npz`` shards (``omfa data render``), optional
    panel_size : (width, height) of the person/garment panels (used when rendering; checked for shards)
    head_width : int
    seed : int
        World seed when rendering (0 is the benchmark test set).

    Returns
    -------
    list of SyntheticSample
        Images (H, W, 3) uint8, masks (H, W) bool, ``meta`` with the garment spec and pose-B camera/state.
    """
    from engine.data.synthetic import SPLITS, SyntheticSample, SyntheticWorld

    if split not in SPLITS:
        raise EvalError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
    if n < 1:
        raise EvalError(f"need at least 1 sample, not {n}")
    if data is None:
        world = SyntheticWorld(panel_size, head_width, seed)
        try:
            return [world.sample(i, split) for i in range(n)]
        finally:
            world.close()

    # engine.train.load_shards concatenates whole splits and skips the per-sample metadata (the garment
    # spec and pose-B camera the metrics need); this reads shards in the same order and stops at n.
    folder = Path(data)
    if not folder.is_dir():
        raise EvalError(f"data folder {folder} does not exist")
    paths = [p for p in sorted(folder.glob(f"{split}_*.npz")) if not p.name.endswith(".tmp.npz")]
    if not paths:
        raise EvalError(f"no {split}_*.npz shards in {folder} (make them with 'omfa data render --split {split}')")
    keys = SyntheticSample.IMAGE_FIELDS + SyntheticSample.MASK_FIELDS
    out: list[SyntheticSample] = []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in keys + ("meta",) if k not in z.files]
            if missing:
                raise EvalError(f"{p} lacks {', '.join(missing)}: re-render it with 'omfa data render'")
            take = min(n - len(out), len(z["person"]))
            arrays = {k: z[k][:take] for k in keys}
            meta = json.loads(bytes(z["meta"]).decode())
        for i in range(take):
            out.append(SyntheticSample(**{k: arrays[k][i] for k in keys}, meta=meta[i]))
        if len(out) >= n:
            break
    if len(out) < n:
        raise EvalError(f"only {len(out)} {split} samples in {folder}, asked for {n}")
    h, w = out[0].person.shape[:2]
    if (w, h) != tuple(panel_size) or out[0].head.shape[1] != head_width:
        raise EvalError(f"the shards in {folder} are {w}x{h} (head width {out[0].head.shape[1]}) but the model "
                        f"needs {panel_size[0]}x{panel_size[1]} (head width {head_width})")
    return out


# ============================================================================================ regions
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


# ============================================================================================ baselines
def mean_image(images: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel mean of images (N of (H, W, 3) uint8) → (H, W, 3) uint8."""
    if len(images) == 0:
        raise EvalError("no images to average")
    return np.rint(np.mean(np.stack([np.asarray(i, np.float64) for i in images]), 0)).astype(np.uint8)


def _mean_colour(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    px = np.asarray(img)[np.asarray(mask, bool)]
    if len(px) == 0:  # nothing selected: fall back to the image's foreground, then to mid grey
        px = np.asarray(img)[foreground_mask(img)]
    return np.rint(px.astype(np.float64).mean(0)).astype(np.uint8) if len(px) else np.full(3, 128, np.uint8)


def outline_fill(person: np.ndarray, person_mask: np.ndarray, garment_mask: np.ndarray) -> np.ndarray:
    """Try-off baseline: ``garment_mask`` (H, W) filled with the person's mean visible-garment colour.

    Parameters
    ----------
    person : (H, W, 3) uint8, person_mask : (H, W) bool — the garment as worn
    garment_mask : (H', W') bool — the flat garment's silhouette

    Returns
    -------
    (H', W', 3) uint8 on white
    """
    out = np.full(garment_mask.shape + (3,), 255, np.uint8)
    out[np.asarray(garment_mask, bool)] = _mean_colour(person, person_mask)
    return out


def silhouette_fill(garment: np.ndarray, garment_mask: np.ndarray, head: np.ndarray, figure: np.ndarray,
                    head_mask: np.ndarray) -> np.ndarray:
    """Try-on baseline: the target figure filled with the garment's mean colour, its head region with the
    head image's mean foreground colour.

    Parameters
    ----------
    garment : (H, W, 3) uint8, garment_mask : (H, W) bool
    head : (H, w_head, 3) uint8 — the head portrait on white
    figure, head_mask : (H, W) bool — the target figure (guide B) and its head region

    Returns
    -------
    (H, W, 3) uint8 on white
    """
    out = np.full(figure.shape + (3,), 255, np.uint8)
    out[np.asarray(figure, bool)] = _mean_colour(garment, garment_mask)
    out[np.asarray(head_mask, bool)] = _mean_colour(head, foreground_mask(head))
    return out


# ============================================================================================ scoring
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
        de = dominant_color_delta_e(p, gt, hm, hm) if hm.any() else math.nan
        per["head_de"].append(de)
        per["head_ok"].append(math.nan if math.isnan(de) else float(de <= HEAD_DE_MAX))
    gts = [s.person_b for s in samples]
    pooled = {"psnr": pooled_psnr(preds, gts), "psnr_fg": pooled_psnr(preds, gts, figures)}
    return per, pooled


def _rows(task: str, scored: dict[str, tuple[dict[str, list[float]], dict[str, float]]]) -> list[MetricRow]:
    """Aggregate per-system scores into table rows."""
    rows = []
    for m in METRICS[task]:
        r = MetricRow(m.key, m.label, m.kind, m.higher_is_better, digits=m.digits)
        for system, (per, pooled) in scored.items():
            if m.kind == "pooled":
                r.values[system] = float(pooled[m.key])
                continue
            v = np.asarray(per[m.key], np.float64)
            ok = np.isfinite(v) if m.kind == "mean" else ~np.isnan(v)
            r.values[system] = float(v[ok].mean()) if ok.any() else math.nan
            if m.kind == "share":
                r.support[system] = (int(v[ok].sum()), int(ok.sum()))
        rows.append(r)
    return rows


def _library_rows(outputs: dict[str, list[np.ndarray]], targets: list[np.ndarray],
                  registry: dict[str, Callable | Unavailable]) -> list[MetricRow]:
    rows = []
    for key, (label, higher) in LIBRARY_METRICS.items():
        r = MetricRow(key, label, "library", higher)
        f = registry.get(key, Unavailable("not in the metrics registry"))
        if isinstance(f, Unavailable):
            r.note = str(f)
        else:
            try:
                for system, imgs in outputs.items():
                    r.values[system] = float(f(imgs, targets))
            except Exception as e:  # noqa: BLE001 - a library failure is reported, never hidden or faked
                r.values.clear()
                r.note = f"failed: {type(e).__name__}: {e}"
        rows.append(r)
    return rows


# ============================================================================================ validation
def _is_one(v: float) -> bool:
    return abs(v - 1.0) < 1e-9


def validation_lines(tasks: Sequence[TaskReport]) -> list[BarLine]:
    """Ground-truth checks from the "ground_truth" system of each task: perfect scores and the analyser
    self-check (see the module docstring)."""
    lines = []
    for t in tasks:
        g = {r.key: r.values.get("ground_truth", math.nan) for r in t.rows if r.kind != "library"}
        de_keys = ["de"] if t.task == "try-off" else ["torso_de", "head_de"]
        ok = (_is_one(g["ssim"]) and _is_one(g["ssim_fg"]) and g["psnr"] == math.inf and g["psnr_fg"] == math.inf
              and all(g[k] < 1e-6 for k in de_keys if not math.isnan(g[k])))
        value = (f"SSIM {g['ssim']:.3f} / fg {g['ssim_fg']:.3f}, PSNR {_fmt(g['psnr'])} / fg "
                 f"{_fmt(g['psnr_fg'])}, " + ", ".join(f"{k} {g[k]:.2f}" for k in de_keys))
        lines.append(BarLine("validation", f"{t.task}: GT vs GT gives SSIM 1, PSNR ∞, ΔE 0", value, ok))
        if t.task == "try-off":
            r = t.row("pattern")
            hits, cases = r.support.get("ground_truth", (0, 0))
            lines.append(BarLine(
                "validation", f"analyser self-check: recovers the GT garment's own pattern (family, "
                f"orientation, period) in ≥ {SELF_CHECK_SHARE:.0%} of solid/striped/checked/dotted garments",
                _share(hits, cases), None if cases == 0 else hits / cases >= SELF_CHECK_SHARE))
            hits, cases = t.row("no_false_pattern").support.get("ground_truth", (0, 0))
            lines.append(BarLine(
                "validation", f"analyser self-check: calls ≥ {SELF_CHECK_SHARE:.0%} of print/letters/two-tone "
                "GT garments non-periodic", _share(hits, cases),
                None if cases == 0 else hits / cases >= SELF_CHECK_SHARE))
        else:
            lines.append(BarLine("validation", "try-on: silhouette IoU of GT person B vs its guide (the ceiling)",
                                 f"{t.value('iou', 'ground_truth'):.3f}", None))
    return lines


def validate_metrics(samples: Sequence["SyntheticSample"]) -> list[BarLine]:
    """Score the ground truth against itself on ``samples`` (both tasks) and return the validation lines."""
    tasks = []
    for task, scorer in (("try-off", score_try_off), ("try-on", score_try_on)):
        gts = [s.garment if task == "try-off" else s.person_b for s in samples]
        tasks.append(TaskReport(task, len(samples), ("ground_truth",),
                                _rows(task, {"ground_truth": scorer(gts, samples)})))
    return validation_lines(tasks)


def _fmt(v: float) -> str:
    return "∞" if v == math.inf else f"{v:.2f}"


def _share(hits: int, cases: int) -> str:
    return "no cases" if cases == 0 else f"{100 * hits / cases:.0f}% ({hits}/{cases})"


def quality_bar(t: TaskReport) -> list[BarLine]:
    """The issue's quality bar for one task, judged on the "model" column."""
    lines = []
    if t.task == "try-off":
        for key, what in (("ssim_fg", "foreground SSIM"), ("psnr", "pooled PSNR (whole image)"),
                          ("psnr_fg", "pooled PSNR (foreground)")):
            r = t.row(key)
            m = r.values["model"]
            base = {b: r.values[b] for b in BASELINES[t.task]}
            value = f"{r.cell('model')} vs " + ", ".join(f"{SYSTEM_LABELS[b]} {r.cell(b)}" for b in base)
            lines.append(BarLine("try-off", f"beats both baselines on {what}", value,
                                 bool(all(m > v for v in base.values()))))
        lines.append(_share_line(t, "de_ok", f"dominant-colour ΔE ≤ {TRY_OFF_DE_MAX:g} in "
                                 f"≥ {TRY_OFF_DE_SHARE:.0%}", TRY_OFF_DE_SHARE))
        lines.append(_share_line(t, "stripe_orient", f"stripe orientation right in ≥ {STRIPE_SHARE:.0%} of "
                                 "striped garments", STRIPE_SHARE))
    else:
        iou = t.value("iou")
        lines.append(BarLine("try-on", f"silhouette IoU ≥ {IOU_MIN:g} with the target guide (mean)",
                             f"{iou:.3f}", None if math.isnan(iou) else iou >= IOU_MIN))
        lines.append(_share_line(t, "torso_ok", f"torso colour ΔE ≤ {TORSO_DE_MAX:g} in ≥ {TORSO_DE_SHARE:.0%}",
                                 TORSO_DE_SHARE))
        de = t.value("head_de")
        r = t.row("head_ok")
        lines.append(BarLine("try-on", f"head colours kept: mean head ΔE ≤ {HEAD_DE_MAX:g}",
                             f"{de:.2f} (≤ {HEAD_DE_MAX:g} in {r.cell('model')})",
                             None if math.isnan(de) else de <= HEAD_DE_MAX))
    return lines


def _share_line(t: TaskReport, key: str, requirement: str, share: float) -> BarLine:
    hits, cases = t.row(key).support.get("model", (0, 0))
    return BarLine(t.task, requirement, _share(hits, cases), None if cases == 0 else hits / cases >= share)


# ============================================================================================ evaluate
ProgressFn = Callable[[str, int, int], None]


def train_mean_images(n_train: int = 64, data: str | Path | None = None, panel_size: tuple[int, int] = (96, 128),
                      head_width: int = 64, seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """The mean-image baseline of each task from the first ``n_train`` *train* samples.

    Uses ``data``'s train shards when there are any, else renders the samples.

    Returns
    -------
    means : dict task -> (H, W, 3) uint8 (try-off: mean flat garment; try-on: mean person in pose B)
    source : str — where the samples came from (for the report)
    """
    use_shards = data is not None and any(Path(data).glob("train_*.npz"))
    samples = load_samples(n_train, "train", data if use_shards else None, panel_size, head_width, seed)
    src = f"{n_train} train samples " + (f"from {data}" if use_shards else f"rendered (world seed {seed})")
    return {"try-off": mean_image([s.garment for s in samples]),
            "try-on": mean_image([s.person_b for s in samples])}, src


def _generate(pipe: "Pipeline", task: str, samples: Sequence["SyntheticSample"], steps: int, guidance: float,
              scheduler: str, seed: int, progress: Optional[ProgressFn], guidance_until: float = 1.0,
              noise_prior: bool = True) -> list[np.ndarray]:
    from engine.request import RequestError, TryOnRequest

    has_head = "head" in pipe.layout.panels
    outs = []
    for i, s in enumerate(samples):
        common = dict(head=s.head if has_head else None, steps=steps, guidance=guidance, scheduler=scheduler,
                      guidance_until=guidance_until, noise_prior=noise_prior, seed=seed + i,
                      label=f"eval {task} #{i}")
        if task == "try-off":
            req = TryOnRequest(task="try-off", person=s.person, pose_guides=[s.guide], **common)
        else:
            req = TryOnRequest(task="try-on", garment=s.garment, pose_guides=[s.guide_b], **common)
        try:
            res = pipe.run(req)
        except RequestError as e:
            raise EvalError(f"invalid {task} request: {e}") from None
        outs.append(res.outputs[0])
        if progress is not None:
            progress(task, i + 1, len(samples))
    return outs


def evaluate(model: "str | Path | Pipeline", split: str = "test", n: int = 64, steps: int = 50,
             guidance: float = 2.0, scheduler: str = "ddim", seed: int = 0, data: str | Path | None = None,
             weights_dir: str | Path | None = None, progress: Optional[ProgressFn] = None, *,
             tasks: Sequence[str] = TASKS, n_train: int = 64,
             mean_images: Optional[dict[str, np.ndarray]] = None, world_seed: int = 0,
             samples: Optional[Sequence["SyntheticSample"]] = None, guidance_until: float = 1.0,
             noise_prior: bool = True) -> EvalReport:
    """Evaluate a model on ``n`` samples of ``split`` for try-off and try-on in a new pose.

    Parameters
    ----------
    model : model folder or a loaded :class:`engine.pipeline.Pipeline`
    split : "train" | "val" | "test"
    n : int
        Samples (the first ``n`` of the split).
    steps, guidance, scheduler : sampler settings (the paper's DDIM 50, CFG 2.0 by default)
    seed : int
        Sampler seed of sample 0; sample ``i`` uses ``seed + i``.
    data : folder of ``{split}_*.npz`` shards, optional (default: render from the synthetic world)
    weights_dir : folder of local weights for the library metrics (never downloaded)
    progress : callable(task, done, total), optional — called after every generation
    tasks : subset of :data:`TASKS`
    n_train : int
        Train samples averaged for the mean-image baseline (ignored with ``mean_images``).
    mean_images : dict task -> (H, W, 3) uint8, optional
        Precomputed mean-image baselines (see :func:`train_mean_images`).
    world_seed : int
        Seed of the synthetic world when rendering (0 is the benchmark split).
    samples : sequence of SyntheticSample, optional
        Evaluate on these instead of loading ``n`` samples (``split``/``data`` are then only labels).
    guidance_until, noise_prior : as in :class:`engine.request.TryOnRequest`

    Returns
    -------
    EvalReport
    """
    from engine.model import ModelError
    from engine.pipeline import Pipeline

    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise EvalError(f"unknown task(s) {unknown}; tasks are {', '.join(TASKS)}")
    if isinstance(model, Pipeline):
        pipe = model
    else:
        try:
            pipe = Pipeline.load(model)
        except ModelError as e:
            raise EvalError(str(e)) from None
    lay = pipe.layout
    for panel in ("person", "garment"):
        if panel not in lay.panels:
            raise EvalError(f"the model has no {panel} panel (panels: {', '.join(lay.panels)})")
    size = lay.panel_size("person")
    if lay.panel_size("garment") != size:
        raise EvalError(f"person and garment panels differ ({size} vs {lay.panel_size('garment')}); the synthetic "
                        "world renders both at one size")
    head_w = lay.panel_size("head")[0] if "head" in lay.panels else 64

    if samples is None:
        samples = load_samples(n, split, data, size, head_w, world_seed)
        source = f"shards in {data}" if data is not None else f"rendered from SyntheticWorld(seed={world_seed})"
    else:
        samples = list(samples)
        source = "samples given by the caller"
    if mean_images is None:
        mean_images, mean_src = train_mean_images(n_train, data, size, head_w, world_seed)
    else:
        mean_src = "given by the caller"
    registry = optional_metrics(weights_dir)

    reports = []
    for task in tasks:
        t0 = time.perf_counter()
        preds = _generate(pipe, task, samples, steps, guidance, scheduler, seed, progress, guidance_until,
                          noise_prior)
        seconds = time.perf_counter() - t0
        if task == "try-off":
            gts = [s.garment for s in samples]
            outputs = {"model": preds, "mean_image": [mean_images[task]] * len(samples),
                       "outline_fill": [outline_fill(s.person, s.person_mask, s.garment_mask) for s in samples],
                       "ground_truth": gts}
            scored = {sy: score_try_off(o, samples) for sy, o in outputs.items()}
            inputs = [[s.person, s.guide] for s in samples]
        else:
            gts = [s.person_b for s in samples]
            figs = [try_on_foreground(s) for s in samples]
            heads = [head_region(s, f) for s, f in zip(samples, figs)]
            outputs = {"model": preds, "mean_image": [mean_images[task]] * len(samples),
                       "silhouette_fill": [silhouette_fill(s.garment, s.garment_mask, s.head, f, h)
                                           for s, f, h in zip(samples, figs, heads)],
                       "ground_truth": gts}
            scored = {sy: score_try_on(o, samples, figs, heads) for sy, o in outputs.items()}
            inputs = [[s.garment, s.head, s.guide_b] for s in samples]
        rows = _rows(task, scored) + _library_rows(outputs, gts, registry)
        reports.append(TaskReport(
            task, len(samples), TASK_SYSTEMS[task], rows,
            per_sample={sy: per for sy, (per, _) in scored.items() if sy != "ground_truth"},
            samples=[{"index": (s.meta or {}).get("index", i), "family": ((s.meta or {}).get("garment") or {})
                      .get("family")} for i, s in enumerate(samples)],
            seconds=seconds, examples=list(zip(inputs, preds, gts))[:MAX_EXAMPLES]))

    bar = validation_lines(reports) + [line for t in reports for line in quality_bar(t)]
    settings = {"split": split, "n": len(samples), "steps": steps, "guidance": guidance, "scheduler": scheduler,
                "guidance_until": guidance_until,
                "noise_prior": bool(noise_prior and pipe.model.latent_prior is not None),
                "seed": seed, "data": source, "mean_image": mean_src,
                "weights_dir": None if weights_dir is None else str(weights_dir)}
    return EvalReport(pipe.describe(), pipe.trained, settings, reports, bar)
