"""The result of an evaluation: tables, quality bar, markdown / JSON / grid rendering."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from engine.evaluation.scoring import (BASELINES, HEAD_DE_MAX, IOU_MIN, LIBRARY_METRICS, METRICS, SELF_CHECK_SHARE,
                                       STRIPE_SHARE, SYSTEM_LABELS, TORSO_DE_MAX, TORSO_DE_SHARE,
                                       TRY_OFF_DE_MAX, TRY_OFF_DE_SHARE, score_try_off, score_try_on)
from engine.evaluation.splits import EvalError
from engine.metrics import Unavailable

if TYPE_CHECKING:  # pragma: no cover
    from engine.data.synthetic import SyntheticSample

TASK_TITLES: dict[str, str] = {
    "try-off": "Try-off (person → flat garment)",
    "try-on": "Try-on in a new pose (garment + head + guide B → person B)",
}
GRID_INPUTS: dict[str, tuple[str, ...]] = {"try-off": ("person", "guide"), "try-on": ("garment", "head", "guide B")}
MAX_EXAMPLES = 16  # results kept per task for the grid


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
        role = s.get("split_role")
        lines.append(f"Split **{s['split']}**" + (f" ({role})" if role else "") + f", n = {s['n']} ({s['data']}); "
                     f"sampler {s['scheduler']}, "
                     f"{s['steps']} steps, guidance {s['guidance']:g}"
                     + (f" on the first {s.get('guidance_until', 1.0):.0%} of the steps"
                        if s.get('guidance_until', 1.0) < 1 else "")
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
        de_keys = ["de", "colour_emd"] if t.task == "try-off" else ["torso_de", "head_de", "torso_emd"]
        edge_key = "edge" if t.task == "try-off" else "torso_edge"
        ok = (_is_one(g["ssim"]) and _is_one(g["ssim_fg"]) and g["psnr"] == math.inf and g["psnr_fg"] == math.inf
              and all(g[k] < 1e-6 for k in de_keys if not math.isnan(g[k]))
              and (math.isnan(g[edge_key]) or _is_one(g[edge_key])))
        value = (f"SSIM {g['ssim']:.3f} / fg {g['ssim_fg']:.3f}, PSNR {_fmt(g['psnr'])} / fg "
                 f"{_fmt(g['psnr_fg'])}, " + ", ".join(f"{k} {g[k]:.2f}" for k in de_keys + [edge_key]))
        lines.append(BarLine("validation", f"{t.task}: GT vs GT gives SSIM 1, PSNR ∞, ΔE and EMD 0, edges 1",
                             value, ok))
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
            lines.append(BarLine("try-off", f"beats every baseline on {what}", value,
                                 bool(all(m > v for v in base.values()))))
        # The audit's test of a content metric: no plain fill of the right outline may match the model
        # where the model draws content (patterned garments).
        for key, what in (("edge_patterned", "edge structure of patterned garments"),
                          ("colour_emd_patterned", "colour-histogram distance of patterned garments")):
            r = t.row(key)
            m = r.values["model"]
            rivals = {b: r.values[b] for b in ("outline_fill", "grey_garment")}
            better = (lambda x, y: x > y) if r.higher_is_better else (lambda x, y: x < y)
            value = f"{r.cell('model')} vs " + ", ".join(f"{SYSTEM_LABELS[b]} {r.cell(b)}" for b in rivals)
            lines.append(BarLine("try-off", f"content: beats the outline fill and the grey garment on {what}",
                                 value, None if math.isnan(m) else bool(all(better(m, v) for v in rivals.values()))))
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

