"""``evaluate``: generate with the model on a split's samples and score it next to the baselines."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from engine.evaluation.baselines import grey_garment, outline_fill, silhouette_fill, train_mean_images
from engine.evaluation.report import (MAX_EXAMPLES, EvalReport, TaskReport, _library_rows, _rows, quality_bar,
                                      validation_lines)
from engine.evaluation.scoring import TASK_SYSTEMS, TASKS, head_region, score_try_off, score_try_on, try_on_foreground
from engine.evaluation.splits import SPLIT_ROLES, EvalError, load_samples
from engine.metrics import optional_metrics

if TYPE_CHECKING:  # pragma: no cover
    from engine.data.synthetic import SyntheticSample
    from engine.pipeline import Pipeline

ProgressFn = Callable[[str, int, int], None]


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


def evaluate(model: "str | Path | Pipeline", split: str = "val", n: int = 64, steps: int = 50,
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
    split : "val" (default: where choices are made) | "test" (report only) | "train" (diagnostic)
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
        Seed of the synthetic world when rendering (0 is the benchmark world; see :mod:`engine.evaluation.splits`).
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
        if data is not None:
            seeds = sorted({(x.meta or {}).get("seed") for x in samples}, key=str)
            source = f"shards in {data} (world seed {', '.join(map(str, seeds))})"
        else:
            source = f"rendered from SyntheticWorld(seed={world_seed})"
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
                       "grey_garment": [grey_garment(s.garment_mask) for s in samples],
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
    settings = {"split": split, "split_role": SPLIT_ROLES.get(split, split), "world_seed": world_seed,
                "n": len(samples), "steps": steps, "guidance": guidance, "scheduler": scheduler,
                "guidance_until": guidance_until,
                "noise_prior": bool(noise_prior and pipe.model.latent_prior is not None),
                "seed": seed, "data": source, "mean_image": mean_src,
                "weights_dir": None if weights_dir is None else str(weights_dir)}
    return EvalReport(pipe.describe(), pipe.trained, settings, reports, bar)
