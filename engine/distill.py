"""Few-step distillation: a "turbo" student that does in 1-4 UNet calls what the teacher's sampler does in 20+.

Method (why, in short; the model card has the numbers): **trajectory regression with student rollouts,
trained as a LoRA on the teacher**.

1. *Targets.* The teacher runs its own sampler (a preset, "fast" by default: DPM-Solver++ 20 steps, CFG 2.0
   on the first half, from the latent prior) on training canvases of every task, with the partial-diffusion
   canvas exactly as at inference. Each trajectory is recorded: its start state, its states at the student's
   timesteps, and its final latent. Guidance is in those outputs, so the student needs no CFG batch.
2. *Student.* f(x_t, t) = the x0 estimate of the teacher UNet plus low-rank adapters (LoRA) on every linear
   and convolution layer, trained so that f(state_k, t_k) = the trajectory's final latent (masked MSE over
   the generated panels; clean panels are re-imposed as always). Starting from the teacher, f is the
   teacher's one-step Tweedie estimate at step 0 and only has to learn the correction.
3. *Sampling (1-4 steps).* x0_hat = f(x, t_k); the next state is the deterministic DDIM jump to t_{k+1} with
   the noise implied by x0_hat, clean panels re-imposed; the last x0_hat is the result. So the student starts
   from the same seed's noise as the teacher and lands near the teacher's image for that seed (what the
   SSIM-against-the-teacher bar measures). For steps after the first, training inputs are partly the
   student's own DDIM jumps from the recorded start ("rollouts", no gradient), which is what it sees when
   sampling.

Why not LCM-style consistency distillation or progressive distillation: both bootstrap their targets from the
student itself (many short hops that must all converge), which takes tens of thousands of steps; on a
2-core CPU with a 2 h budget, regressing the teacher's actual endpoint from a few hundred recorded
trajectories is the cheapest route to an image that matches the teacher's for the same seed. Why LoRA: the
demo model folder has a 25 MB budget and the teacher takes 22 MB of it, so the student ships as an int8
low-rank patch (~0.7 MB at rank 8) that shares the teacher's UNet, codec and latent prior; for SDXL it is
the LCM-LoRA recipe's form (a few tens of MB instead of a second 5 GB UNet).

A student lives in ``MODEL/student/``::

    student_config.json     StudentConfig: timesteps, schedules per step count, LoRA rank, teacher, provenance
    lora.safetensors        per adapted layer: "<name>.down.q" (int8), "<name>.down.s" (fp16 row scales), ".up" too

The same ``distill`` runs on an SDXL-sized teacher through ``accelerate launch`` (mixed precision, several
GPUs: each process records its own share of the trajectories, the LoRA is trained data-parallel).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from engine.model import ModelError
# the inference half (the student's files, loading, sampling) is engine.student: the pipeline imports only that
from engine.student import (LORA_FILE, STUDENT_CONFIG, STUDENT_DIR, StudentConfig, StudentError, ddim_jump, inject_lora,
                            load_student, lora_state, sample_student, save_student, student_alphas, student_schedules,
                            unet_sha256, x0_from_output)


@dataclass
class DistillConfig:
    """Everything a distillation run depends on (saved with every checkpoint)."""

    teacher: str = "resources/models/demo"
    out: str = "runs/distill"
    data: str = ""                   # train shards (omfa data render); "" renders on the fly
    preset: str = "fast"             # the teacher's sampler to imitate
    targets: int = 640               # teacher trajectories to record
    chunk: int = 16                  # trajectories per targets file (what an interruption can lose)
    steps: int = 1500
    batch: int = 8
    lr: float = 1e-3
    warmup: int = 50
    weight_decay: float = 0.0
    rank: int = 8
    ema_decay: float = 0.995
    step_weights: dict = field(default_factory=lambda: {"1": 0.5, "2": 0.3, "4": 0.2})  # student step counts
    p_rollout: float = 0.75          # later steps: input from the student's own jump (else the teacher's state)
    default_steps: int = 1           # the turbo preset's step count (engine.presets)
    task_weights: dict = field(default_factory=lambda: {"try-off": 0.4, "try-on": 0.3, "try-on-b": 0.3})
    p_no_head: float = 0.10
    p_no_guide_tryoff: float = 0.25
    holdout_chunks: int = 1          # the last recorded chunk(s) are held out for the logged validation loss
    seed: int = 0
    pool: int = 0                    # on-the-fly data only: distinct samples rendered and reused
    save_every: int = 100
    log_every: int = 25
    max_hours: float = 0.0           # targets + training, over the run's life; 0: no budget
    threads: int = 0                 # torch CPU threads; 0 leaves torch's choice
    mixed_precision: str = "no"      # accelerate: "no" | "fp16" | "bf16"
    pixel_weight: float = 0.0        # weight of the L1 loss on decoded generated panels (0: latent MSE only)
    white_weight: float = 0.0        # pixel loss: extra weight where the teacher's pixel is white (background)
    silhouette_weight: float = 0.0   # pixel loss: a soft figure/background term at the metric's threshold


def _batches(model, cfg: DistillConfig, data, fly, rng: np.random.Generator, n: int):
    """n training canvases (x0, pose, mask) of the teacher's tasks, no conditions dropped (the teacher's CFG
    sampler does its own)."""
    from engine.train import TrainConfig, _Batcher

    tcfg = TrainConfig(p_drop=0.0, p_no_head=cfg.p_no_head, p_no_guide_tryoff=cfg.p_no_guide_tryoff,
                       task_weights=dict(cfg.task_weights))
    idx = rng.integers(0, len(data["person"]) if data is not None else 10**9, n)
    batch = {k: v[idx] for k, v in data.items()} if data is not None else fly.batch(idx)
    x0, pose, mask, _, _, tasks = _Batcher(model, tcfg, rng)(batch)
    return x0, pose, mask, tasks


@torch.no_grad()
def record_targets(model, cfg: DistillConfig, out: Path, log=print, process: int = 0, processes: int = 1,
                   budget_left: Callable[[], bool] = lambda: True) -> list[Path]:
    """Record ``cfg.targets`` teacher trajectories into ``out/targets/chunk_*.safetensors`` (existing chunks
    are kept, so an interrupted run resumes). Process ``process`` of ``processes`` records every
    ``processes``-th chunk. Returns the chunk files that exist."""
    from safetensors.torch import save_file

    from engine.diffusion import make_scheduler, sample
    from engine.presets import preset_settings
    from engine.train import OnTheFly, encode_dataset, load_shards

    folder = out / "targets"
    folder.mkdir(parents=True, exist_ok=True)
    n_chunks = math.ceil(cfg.targets / cfg.chunk)
    todo = [i for i in range(n_chunks)
            if i % processes == process and not (folder / f"chunk_{i:05d}.safetensors").is_file()]
    s = preset_settings(cfg.preset)
    n_teacher = s["steps"]
    data = fly = None
    if todo:
        if cfg.data:
            data = encode_dataset(model.codec, load_shards(cfg.data))
        else:
            lay = model.layout
            fly = OnTheFly(lay.panel_size("person"), lay.widths.get("head", 64), cfg.seed, pool=cfg.pool)
    device = model.device
    keep = sorted({i for idx in student_schedules(n_teacher).values() for i in idx})
    for i in todo:
        if not budget_left():
            log("time budget spent while recording targets")
            break
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, i])
        n = min(cfg.chunk, cfg.targets - i * cfg.chunk)
        x0, pose, mask, tasks = _batches(model, cfg, data, fly, rng, n)
        x0, pose, mask = (t.to(device, model.dtype) for t in (x0, pose, mask))
        noise = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32)).to(device, model.dtype)
        scheduler = make_scheduler(s["scheduler"], model.config.noise_schedule)
        prior = model.latent_prior
        init = prior.canvas(model.layout).to(device, model.dtype) if prior is not None else None
        # one call per step (one batch, CFG rows and all); the conditional rows are the last n
        states: list[torch.Tensor] = []

        def call(x_in, t, _n=n, states=states):
            rows = x_in[-_n:, :4]  # the conditional rows come last in the CFG batch, and are all rows without
            states.append(rows.detach().float().cpu().clone())
            return model(x_in, t)

        call.width_multiple = model.width_multiple
        res = sample(call, x0, pose, mask, scheduler, steps=n_teacher, guidance=float(s["guidance"]),
                     noise=noise, guidance_until=float(s["guidance_until"]), init=init)
        timesteps = [int(t) for t in scheduler.timesteps]
        tensors = {"x0_clean": x0.float().cpu().contiguous(), "pose": pose.float().cpu().contiguous(),
                   "mask": mask.float().cpu().contiguous(), "final": res.latents.float().cpu().contiguous(),
                   "states": torch.stack([states[k] for k in keep]).contiguous(),
                   "noise": noise.float().cpu().contiguous()}
        meta = {"tasks": json.dumps(tasks), "keep": json.dumps(keep), "timesteps": json.dumps(timesteps),
                "seconds": f"{time.perf_counter() - t0:.2f}"}
        tmp = folder / f"chunk_{i:05d}.tmp.safetensors"
        save_file(tensors, str(tmp), metadata=meta)
        tmp.replace(folder / f"chunk_{i:05d}.safetensors")
        dt = time.perf_counter() - t0
        seconds = folder / f"seconds_{process}.json"
        prev = json.loads(seconds.read_text()).get("seconds", 0.0) if seconds.is_file() else 0.0
        seconds.write_text(json.dumps({"seconds": prev + dt}))
        log(f"targets chunk {i + 1}/{n_chunks}: {n} trajectories in {dt:.1f} s")
    return sorted(folder.glob("chunk_[0-9]*[0-9].safetensors"))


def targets_seconds(out: Path) -> float:
    """Seconds spent recording targets so far (the slowest process's, when several recorded)."""
    secs = [json.loads(p.read_text()).get("seconds", 0.0) for p in (Path(out) / "targets").glob("seconds_*.json")]
    return float(max(secs, default=0.0))


def _load_targets(paths: list[Path]) -> dict:
    from safetensors import safe_open

    parts: dict[str, list] = {"x0_clean": [], "pose": [], "mask": [], "final": [], "states": []}
    keep = timesteps = None
    for p in paths:
        with safe_open(str(p), "pt") as f:
            meta = f.metadata()
            for k in parts:
                parts[k].append(f.get_tensor(k))
        keep, timesteps = json.loads(meta["keep"]), json.loads(meta["timesteps"])
    out = {k: torch.cat(v, dim=1 if k == "states" else 0) for k, v in parts.items()}
    out["keep"], out["timesteps"] = keep, timesteps
    return out


#: A teacher pixel is "white" (background, in a white-studio world like the demo's) when every channel is
#: within 12 of 255 levels: the tolerance the evaluation's foreground mask uses (engine.metrics).
WHITE_LEVEL = 1.0 - 2 * 12 / 255


#: Softness of the silhouette term's threshold, in [-1, 1] pixel units (about 4 of 255 levels): narrow enough
#: to act at the metric's threshold only, wide enough to give a gradient to pixels a few levels across it.
SILHOUETTE_SOFTNESS = 0.03


def soft_figure(img: torch.Tensor) -> torch.Tensor:
    """How much each pixel counts as figure (not white background), a smooth version of the evaluation's
    foreground mask (any channel more than 12 levels from 255).

    img : (B, 3, H, W) in [-1, 1]  ->  (B, 1, H, W) in (0, 1)
    """
    away = 1.0 - img.amin(dim=1, keepdim=True)  # the largest distance from white over channels
    return torch.sigmoid((away - (1.0 - WHITE_LEVEL)) / SILHOUETTE_SOFTNESS)


def pixel_loss(model, x0_hat: torch.Tensor, target: torch.Tensor, x0_clean: torch.Tensor,
               mask: torch.Tensor, white_weight: float = 0.0, silhouette_weight: float = 0.0) -> torch.Tensor:
    """Mean absolute error between the decoded generated panels of ``x0_hat`` and of ``target``.

    Why pixels as well as latents: the evaluation and the user see decoded images, and a latent MSE spreads
    its error where the codec is insensitive and misses what it amplifies: in the stop-22 student's images,
    isolated off-white background pixels (counted as figure by the silhouette metric) and a colour offset on
    the garment. Each panel is decoded on its own, as the pipeline decodes it; clean panels are re-imposed and
    skipped when no row generates them. Gradients reach ``x0_hat`` through the (frozen) codec; the decoded
    values are clamped to [-1, 1] as shown, so overshooting white costs nothing. ``white_weight`` > 0 weighs
    pixels where the teacher's image is white (1 + white_weight): off-white speckle and soft halos around the
    figure cost more than their share of the mean. ``silhouette_weight`` > 0 adds the mean disagreement
    between the student's soft figure mask (``soft_figure``) and the teacher's hard one: an L1 on colours
    barely notices a pixel a few levels on the wrong side of "white", which is what moves a silhouette.

    x0_hat, target, x0_clean : (B, C, h, W) latent canvases;  mask : (B, 1, h, W), 1 over generated panels
    """
    import torch.nn.functional as F

    lay, codec = model.layout, model.codec
    x = torch.where(mask.bool(), x0_hat, x0_clean.to(x0_hat.dtype))
    total = x0_hat.new_zeros(())
    count = x0_hat.new_zeros(())
    sil = x0_hat.new_zeros(())
    sil_count = x0_hat.new_zeros(())
    masks, targets = lay.split(mask), lay.split(target)
    for name, xs in lay.split(x).items():
        ms = masks[name]
        if not bool(ms.any()):
            continue
        rows = ms.flatten(1).amax(dim=1) > 0  # the rows that generate this panel
        pred = codec.decode_with_grad(xs[rows].contiguous()).float()
        want = codec.decode(targets[name][rows].contiguous()).float()
        region = F.interpolate(ms[rows].float(), scale_factor=codec.factor, mode="nearest")
        white = (want.amin(dim=1, keepdim=True) >= WHITE_LEVEL).float()
        pm = region * (1.0 + white_weight * white) if white_weight > 0 else region
        total = total + ((pred - want).abs() * pm).sum()
        count = count + pm.sum() * pred.shape[1]
        if silhouette_weight > 0:
            sil = sil + ((soft_figure(pred) - (1.0 - white)).abs() * region).sum()
            sil_count = sil_count + region.sum()
    loss = total / count.clamp(min=1.0)
    if silhouette_weight > 0:
        loss = loss + silhouette_weight * sil / sil_count.clamp(min=1.0)
    return loss


def _save_checkpoint(path: Path, ema: list[torch.Tensor], params: list[nn.Parameter], opt, step: int,
                     cfg: DistillConfig, stats: dict) -> None:
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    tensors = {f"param.{i}": p.detach().float().cpu().clone() for i, p in enumerate(params)}
    tensors.update({f"ema.{i}": e.detach().float().cpu().clone() for i, e in enumerate(ema)})
    for i, p in enumerate(params):
        st = opt.state.get(p)
        if st:
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"].float().cpu().contiguous()
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"].float().cpu().contiguous()
            tensors[f"opt.{i}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    tmp = path / "state.tmp.safetensors"
    save_file(tensors, str(tmp))
    tmp.replace(path / "state.safetensors")
    tmp_j = path / "progress.tmp.json"
    tmp_j.write_text(json.dumps({"step": step, "config": asdict(cfg), **stats}, indent=2))
    tmp_j.replace(path / "progress.json")


def _load_checkpoint(path: Path, ema: list[torch.Tensor], params: list[nn.Parameter], opt) -> dict:
    from safetensors.torch import load_file

    t = load_file(str(path / "state.safetensors"))
    progress = json.loads((path / "progress.json").read_text())
    if not isinstance(progress, dict) or not isinstance(progress.get("step"), int):
        raise ModelError(f"{path / 'progress.json'} is invalid: expected a JSON object with an integer 'step'")
    with torch.no_grad():
        for i, p in enumerate(params):
            if f"param.{i}" not in t or t[f"param.{i}"].shape != p.shape:
                raise ModelError(f"the checkpoint in {path} was made with other settings (LoRA rank or model); "
                                 f"use another --out or the settings it was made with")
            p.copy_(t[f"param.{i}"])
            ema[i].copy_(t[f"ema.{i}"])
            if f"opt.{i}.exp_avg" in t:
                opt.state[p] = {"exp_avg": t[f"opt.{i}.exp_avg"].to(p.device).clone(),
                                "exp_avg_sq": t[f"opt.{i}.exp_avg_sq"].to(p.device).clone(),
                                "step": t[f"opt.{i}.step"].reshape(()).clone()}
    return progress


def learning_rate(cfg: DistillConfig, step: int) -> float:
    """The training schedule (engine.train.learning_rate: warmup, cosine to 10 %) over this run's steps."""
    from engine.train import learning_rate as schedule

    return schedule(cfg, step)


def distill(cfg: DistillConfig, log=print, stop_after: Optional[int] = None) -> Path:
    """Record the teacher's trajectories, then train the student; resumable (``cfg.out/checkpoint``, targets
    kept per chunk), stopped by ``cfg.max_hours`` (targets and training together) or a file ``cfg.out/STOP``.
    Writes ``cfg.out/student`` (a student folder) at every save. Returns that folder.

    ``stop_after``: leave after this many training steps in this call (checkpoint saved), for tests."""
    from accelerate import Accelerator

    from engine.diffusion import masked_loss, unet_input
    from engine.model import load_model
    from engine.presets import preset_settings

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    counts = {str(k): float(v) for k, v in cfg.step_weights.items() if float(v) > 0}
    s = preset_settings(cfg.preset)
    if not counts or any(not k.isdigit() or not 1 <= int(k) <= s["steps"] for k in counts):
        raise ModelError(f"student step counts must be from 1 to {s['steps']}, not {', '.join(cfg.step_weights)}")
    from engine.presets import SAMPLING_PRESETS

    turbo_steps = str(SAMPLING_PRESETS["turbo"]["steps"])
    if turbo_steps not in counts:
        log(f"note: the turbo preset samples {turbo_steps} step(s), which this student is not trained for; its users "
            f"will set the steps by hand ({', '.join(sorted(counts, key=int))}: --steps, or Steps in the window)")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint"
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available())
    teacher_folder = Path(cfg.teacher)
    model = load_model(teacher_folder, dtype=torch.float32, device=accelerator.device)
    model.requires_grad_(False).eval()
    if not model.config.trained:
        log(f"warning: the teacher {teacher_folder} is not trained; its student will imitate noise")
    # Time budget: target recording (its own file, kept per chunk) plus training (the checkpoint's).
    stats = {"train_seconds": 0.0, "losses": [], "val": []}
    if (ckpt / "progress.json").is_file():
        try:
            prev = json.loads((ckpt / "progress.json").read_text())
            stats.update({k: prev[k] for k in stats if k in prev})
        except (OSError, ValueError):
            pass

    def spent() -> float:
        return targets_seconds(out) + stats["train_seconds"]

    def budget_left() -> bool:
        return cfg.max_hours <= 0 or spent() < cfg.max_hours * 3600

    # 1. teacher trajectories
    t0 = time.perf_counter()
    record_targets(model, cfg, out, log, accelerator.process_index, accelerator.num_processes, budget_left)
    accelerator.wait_for_everyone()
    paths = sorted((out / "targets").glob("chunk_[0-9]*[0-9].safetensors"))
    n_chunks = math.ceil(cfg.targets / cfg.chunk)
    if len(paths) < n_chunks:
        log(f"{len(paths)} of {n_chunks} target chunks recorded"
            + ("; the time budget is spent" if not budget_left() else ""))
        if not budget_left() or not paths:
            return out / STUDENT_DIR
    hold = min(cfg.holdout_chunks, max(0, len(paths) - 1))
    train_t = _load_targets(paths[:len(paths) - hold] if hold else paths)
    val_t = _load_targets(paths[len(paths) - hold:]) if hold else None
    timesteps, keep = train_t["timesteps"], train_t["keep"]
    schedules = student_schedules(len(timesteps))
    log(f"{len(train_t['final'])} trajectories for training, {0 if val_t is None else len(val_t['final'])} held out "
        f"({time.perf_counter() - t0:.0f} s)")

    # 2. the student: LoRA on the teacher UNet
    torch.manual_seed(cfg.seed)
    params = inject_lora(model.unet, cfg.rank)
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = 0
    if (ckpt / "state.safetensors").is_file():
        progress = _load_checkpoint(ckpt, ema, params, opt)
        start = int(progress["step"])
        log(f"resumed from {ckpt} at step {start}")
    if start == 0 and val_t is not None and accelerator.is_main_process:
        v = validation_loss(model, val_t, student_schedules(len(timesteps)), timesteps, _alphas(model),
                            model.config.prediction_type, pixels=cfg.pixel_weight > 0)
        stats["val"].append([0, {k: round(x, 5) for k, x in v.items()}])
        log("step 0 (the teacher itself) held-out " + _held_out_text(v))
    if cfg.steps <= start or not budget_left():
        log(f"nothing to do: the run is at step {start} of {cfg.steps}, {spent() / 3600:.2f} h spent")
        return out / STUDENT_DIR
    model, opt = accelerator.prepare(model, opt)
    raw = accelerator.unwrap_model(model)
    raw.unet.train()
    alphas = _alphas(raw)
    ptype = raw.config.prediction_type
    rng = np.random.default_rng([cfg.seed, start, 7])
    names, weights = list(counts), np.array(list(counts.values()))
    weights = weights / weights.sum()
    pos = {i: j for j, i in enumerate(keep)}
    device = accelerator.device
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    running = None
    t_last = time.perf_counter()
    n_train = len(train_t["final"])
    for step in range(start, end):
        idx = torch.from_numpy(rng.integers(0, n_train, cfg.batch))
        x_t, t, x0c, pose, mask, target = _training_inputs(raw, train_t, idx, names, weights, schedules, pos,
                                                           timesteps, alphas, ptype, cfg.p_rollout, rng, device)
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, step)
        with accelerator.autocast():
            pred = model(unet_input(x_t, pose, mask), t)
        x0_hat = x0_from_output(pred.float(), x_t, t, alphas, ptype)
        loss = masked_loss(x0_hat, target, mask)
        if cfg.pixel_weight > 0:
            loss = loss + cfg.pixel_weight * pixel_loss(raw, x0_hat, target, x0c, mask, cfg.white_weight,
                                                         cfg.silhouette_weight)
        opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(params, 1.0)
        opt.step()
        # EMA with a warm-up (as diffusers' EMAModel): a short CPU run would otherwise export mostly the
        # initial (teacher) adapters — after 100 steps at 0.995, 61 % of the average is step 0
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p.detach(), 1.0 - decay)
        lv = float(loss.detach())
        running = lv if running is None else 0.95 * running + 0.05 * lv
        now = time.perf_counter()
        stats["train_seconds"] += now - t_last
        t_last = now
        done = step + 1
        if done % cfg.log_every == 0 or done == end:
            stats["losses"].append([done, round(running, 5)])
            log(f"step {done}/{cfg.steps} loss {running:.5f} lr {learning_rate(cfg, step):.2e} "
                f"{spent() / 60:.1f} min")
        over = not budget_left()
        stop = over or (out / "STOP").exists()
        if done % cfg.save_every == 0 or done == end or stop:
            if accelerator.is_main_process:
                _save_checkpoint(ckpt, ema, params, opt, done, cfg, stats)
                with _swapped(params, ema):
                    if val_t is not None:
                        v = validation_loss(raw, val_t, schedules, timesteps, alphas, ptype,
                                            pixels=cfg.pixel_weight > 0)
                        stats["val"].append([done, {k: round(x, 5) for k, x in v.items()}])
                        log(f"step {done} held-out (EMA) " + _held_out_text(v))
                    export_student(raw, teacher_folder, cfg, done, {**stats, "elapsed": spent()}, timesteps,
                                   schedules, out / STUDENT_DIR)
                _save_checkpoint(ckpt, ema, params, opt, done, cfg, stats)  # with the val entry
            t_last = time.perf_counter()  # validation and export are not training time
        if stop:
            (out / "STOP").unlink(missing_ok=True)
            why = f"the {cfg.max_hours:g} h budget is spent" if over else "STOP file"
            log(f"stopped at step {done} ({why}); resume with the same command")
            break
    return out / STUDENT_DIR




_alphas = student_alphas


def _held_out_text(v: dict) -> str:
    text = "x0 MSE " + ", ".join(f"{k} step(s) {x:.5f}" for k, x in v.items() if k.isdigit())
    px = {k[2:]: x for k, x in v.items() if k.startswith("px")}
    if px:
        text += "; pixel L1 " + ", ".join(f"{k} step(s) {x:.4f}" for k, x in px.items())
    return text


class _swapped:
    """Within the block, ``params`` hold the EMA weights."""

    def __init__(self, params, ema) -> None:
        self.params, self.ema = params, ema

    def __enter__(self):
        self.backup = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, e in zip(self.params, self.ema):
                p.copy_(e)

    def __exit__(self, *exc):
        with torch.no_grad():
            for p, b in zip(self.params, self.backup):
                p.copy_(b)


def _training_inputs(model, tg: dict, idx: torch.Tensor, names, weights, schedules, pos, timesteps, alphas,
                     ptype, p_rollout, rng, device):
    """A batch of (state, t) inputs and their target (the trajectory's final latent)."""
    x0c, pose, mask, final = (tg[k][idx].to(device) for k in ("x0_clean", "pose", "mask", "final"))
    m = mask.bool()
    xs, ts = [], []
    for r in range(len(idx)):
        n = names[int(rng.choice(len(names), p=weights))]
        sched = schedules[n]
        j = int(rng.integers(0, len(sched)))
        k = sched[j]
        state = tg["states"][pos[k], int(idx[r])].to(device)
        if j > 0 and rng.random() < p_rollout:
            # what the student meets when sampling: its own jump from the exact start, step by step
            x = tg["states"][pos[sched[0]], int(idx[r])].to(device).unsqueeze(0)
            with torch.no_grad():
                for jj in range(j):
                    ta, tb = timesteps[sched[jj]], timesteps[sched[jj + 1]]
                    out = model(_one_input(x, pose[r:r + 1], mask[r:r + 1]), torch.full((1,), ta, device=device))
                    x0_hat = torch.where(m[r:r + 1], x0_from_output(out.float(), x, ta, alphas, ptype), x0c[r:r + 1])
                    x = torch.where(m[r:r + 1], ddim_jump(x, x0_hat, ta, tb, alphas), x0c[r:r + 1])
            state = x[0]
        xs.append(state)
        ts.append(timesteps[k])
    return torch.stack(xs), torch.tensor(ts, device=device), x0c, pose, mask, final


def _one_input(x, pose, mask):
    from engine.diffusion import unet_input

    return unet_input(x, pose, mask)


@torch.no_grad()
def validation_loss(model, tg: dict, schedules, timesteps, alphas, ptype, counts=("1", "2", "4"),
                    pixels: bool = False) -> dict:
    """Masked x0 MSE of the student's full n-step sampling against the teacher's final latents; with
    ``pixels``, also the decoded panels' mean absolute error (keys "px1", "px2", ...)."""
    from engine.diffusion import masked_loss

    was = model.training
    model.eval()
    res = {}
    for n in counts:
        if n not in schedules:
            continue
        ts = [timesteps[i] for i in schedules[n]]
        first = tg["states"][0]
        out = sample_student(model, tg["x0_clean"], tg["pose"], tg["mask"], ts, alphas, ptype,
                             noise=first, init=None)  # the recorded start state is the start (no re-noising)
        res[n] = float(masked_loss(out.latents, tg["final"], tg["mask"]))
        if pixels:
            res["px" + n] = float(pixel_loss(model, out.latents, tg["final"], tg["x0_clean"], tg["mask"]))
    model.train(was)
    return res


def export_student(model, teacher_folder: Path, cfg: DistillConfig, step: int, stats: dict, timesteps, schedules,
                   folder: Path) -> Path:
    """Write the current (EMA) adapters as a student folder."""
    from engine.presets import preset_settings

    config = StudentConfig(
        teacher=model.config.name, teacher_unet_sha256=unet_sha256(teacher_folder),
        teacher_sampler=preset_settings(cfg.preset), timesteps=[int(t) for t in timesteps],
        schedules={k: v for k, v in schedules.items() if k in cfg.step_weights or k == str(cfg.default_steps)},
        default_steps=cfg.default_steps, rank=cfg.rank, noise_prior=model.latent_prior is not None,
        training={"steps": step, "target_steps": cfg.steps, "hours": round(stats["elapsed"] / 3600, 3),
                  "seconds": round(stats["elapsed"], 1), "targets": cfg.targets, "batch": cfg.batch, "lr": cfg.lr,
                  "ema_decay": cfg.ema_decay, "step_weights": cfg.step_weights, "p_rollout": cfg.p_rollout,
                  "pixel_weight": cfg.pixel_weight, "white_weight": cfg.white_weight,
                  "silhouette_weight": cfg.silhouette_weight,
                  "data": cfg.data or "synthetic world rendered on the fly", "losses": stats["losses"][-200:],
                  "held_out_x0_mse": stats["val"][-50:]})
    return save_student(folder, config, lora_state(model.unet))


def install_student(student: str | Path, model_folder: str | Path, log=print) -> Path:
    """Copy a student folder into ``model_folder/student`` and rewrite the model's manifest. The student must
    have been distilled from this model's UNet."""
    from engine.integrity import write_manifest
    from engine.model import load_model

    student, model_folder = Path(student), Path(model_folder)
    load_model(model_folder)  # verifies the model folder (manifest) before it is touched
    st = load_student(student, check_teacher=False)
    if st is None:
        raise StudentError(f"{student} is not a student folder ({STUDENT_CONFIG} is missing)")
    if st.config.teacher_unet_sha256 != unet_sha256(model_folder):
        raise StudentError(f"the student in {student} was distilled from other UNet weights than {model_folder}'s")
    dest = model_folder / STUDENT_DIR
    tmp = model_folder / (STUDENT_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in (STUDENT_CONFIG, LORA_FILE):
        shutil.copy2(student / name, tmp / name)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    write_manifest(model_folder)
    log(f"installed the student in {dest}; manifest rewritten")
    return dest
