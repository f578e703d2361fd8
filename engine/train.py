"""Training: the codec (demo only) and the unified UNet with the partial-diffusion loss.

The same script trains the demo model on this CPU and a real SDXL-initialised model on GPUs through
``accelerate launch`` (mixed precision and multi-GPU come from accelerate's config).

Data comes as *shards*: ``.npz`` files of stacked synthetic samples (``omfa data render``), or, when no data
folder is given, samples rendered on the fly (slow; for smoke tests). Task sampling per sample: try-off
(person -> garment), try-on in pose A, try-on in pose B (multi-pose: the same identity and garment elsewhere).
Conditions are dropped independently with p = 0.05 each (paper) for classifier-free guidance.

Checkpoints are safetensors (weights, EMA, AdamW moments) + JSON (step, config): nothing is pickled.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from engine.errors import OmfaError

IMAGE_KEYS = ("person", "garment", "head", "guide", "person_b", "guide_b")
VIEW_KEYS = ("views_person", "views_guide")  # optional: (N, V, H, W, 3) orbit views of pose A
MIN_TRAINED_STEPS = 1000


class ShardsMissing(OmfaError, FileNotFoundError):
    """A training data folder has no shards of the split asked for; ``path`` is the folder."""


# ============================================================================================ data
class ShardWorldError(OmfaError, ValueError):
    """A shard folder holds samples of another synthetic world than the one asked for."""


def _check_shard_world(path: Path, seed: int) -> None:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode()) if "meta" in z.files else []
    found = {m.get("seed") for m in meta} - {None}
    if found and found != {seed}:
        raise ShardWorldError(f"{path} holds world seed {', '.join(map(str, sorted(found)))}, not {seed}",
                              path=str(path), hint="render into another folder, or pass the seed it was made with")


def render_shards(out: str | Path, split: str, count: int, shard_size: int = 250, seed: int = 0,
                  panel_size: tuple[int, int] = (96, 128), head_width: int = 64, log=print,
                  views: int = 0) -> list[Path]:
    """Render ``count`` synthetic samples into shards ``{split}_{k:05d}.npz``; existing shards are kept
    (so an interrupted render resumes). ``views`` > 0 adds that many turntable views of pose A per sample
    (``views_person``, ``views_guide``), which multi-view training cuts its canvases from."""
    from engine.data.synthetic import SyntheticWorld

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = SyntheticWorld(panel_size, head_width, seed)
    paths = []
    for start in range(0, count, shard_size):
        path = out / f"{split}_{start // shard_size:05d}.npz"
        paths.append(path)
        if path.is_file():
            _check_shard_world(path, seed)  # resuming into another world's shards would mix two worlds
            continue
        t0 = time.perf_counter()
        samples = [world.sample(i, split, views) for i in range(start, min(count, start + shard_size))]
        arrays = world.to_arrays(samples)
        meta = json.dumps([s.meta for s in samples])
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, meta=np.frombuffer(meta.encode(), np.uint8), **arrays)
        tmp.replace(path)
        log(f"{path.name}: {len(samples)} samples in {time.perf_counter() - t0:.1f} s")
    world.close()
    return paths


def load_shards(folder: str | Path, split: str = "train", keys=IMAGE_KEYS,
                optional=VIEW_KEYS) -> dict[str, np.ndarray]:
    """Concatenate every shard of a split: key -> (N, ...). ``optional`` keys are included only when every
    shard has them with the same shape (orbit views rendered with one ``views`` count)."""
    paths = sorted(Path(folder).glob(f"{split}_*.npz"))
    paths = [p for p in paths if not p.name.endswith(".tmp.npz")]
    if not paths:
        raise ShardsMissing(f"no {split}_*.npz shards in {folder} (make them with 'omfa data render')",
                            path=folder, hint="make them with 'omfa data render'")
    parts: dict[str, list] = {k: [] for k in (*keys, *optional)}
    for p in paths:
        with np.load(p, allow_pickle=False) as z:  # shards may come from elsewhere: arrays only
            for k in keys:
                parts[k].append(z[k])
            for k in optional:
                if k in z.files:
                    parts[k].append(z[k])
    out = {k: np.concatenate(parts[k]) for k in keys}
    # all or none: a shard with person views but no guides (or other shapes) would give canvases without poses
    if optional and all(len(parts[k]) == len(paths) for k in optional) \
            and len({a.shape[1:] for k in optional for a in parts[k]}) == 1:
        out.update({k: np.concatenate(parts[k]) for k in optional})
    return out


@torch.no_grad()
def encode_dataset(codec, data: dict[str, np.ndarray], chunk: int = 64) -> dict[str, torch.Tensor]:
    """Every image of a loaded shard set through the (deterministic) codec once, so training steps index
    latents instead of encoding 7 images per sample each step. (N, [V,] H, W, 3) uint8 -> (N, [V,] C, h, w)."""
    out = {}
    for k, v in data.items():
        flat = v.reshape(-1, *v.shape[-3:])
        z = torch.cat([codec.encode(_images(flat[i:i + chunk])) for i in range(0, len(flat), chunk)])
        out[k] = z.reshape(*v.shape[:-3], *z.shape[1:])
    return out


class OnTheFly:
    """Renders samples as they are asked for (no data folder). With ``pool`` > 0 only that many distinct
    samples are rendered, once, and reused (smoke tests)."""

    def __init__(self, panel_size=(96, 128), head_width=64, seed=0, pool: int = 0) -> None:
        from engine.data.synthetic import SyntheticWorld

        self.world = SyntheticWorld(panel_size, head_width, seed)
        self.pool = pool
        self._cache: dict[int, object] = {}

    def _sample(self, i: int):
        if self.pool:
            i %= self.pool
            if i not in self._cache:
                self._cache[i] = self.world.sample(i, "train")
            return self._cache[i]
        return self.world.sample(i, "train")

    def batch(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        samples = [self._sample(int(i)) for i in indices]
        return {k: np.stack([getattr(s, k) for s in samples]) for k in IMAGE_KEYS}


def _images(batch: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


# ============================================================================================ codec
@dataclass
class CodecTrainConfig:
    data: str = ""
    out: str = "runs/codec"
    steps: int = 3000
    batch: int = 32
    crop: int = 48                   # square training crops (multiple of the codec factor)
    fg_weight: float = 4.0           # extra loss weight on non-white pixels
    lr: float = 2e-3
    seed: int = 0
    log_every: int = 50


def train_codec(cfg: CodecTrainConfig, log=print):
    """Train the demo's TinyCodec as a plain autoencoder on every image kind, then set its latent scaling so
    latents have unit std. Returns the codec (also saved to ``cfg.out``).

    Why crops and weights: the images are mostly white background, and a plain whole-image loss lets the
    codec get away with washed-out colours on the figure. Training on crops centred on foreground pixels,
    with foreground pixels weighted up, keeps hues and patterns (the conv codec is translation-equivariant,
    so crops lose nothing).
    """
    from engine.codec import TinyCodec
    from engine.integrity import write_manifest

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    data = load_shards(cfg.data) if cfg.data else OnTheFly().batch(np.arange(64))
    pools = [data[k] for k in IMAGE_KEYS]
    codec = TinyCodec()
    opt = torch.optim.AdamW(codec.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps, pct_start=0.05)
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        x = _images(_foreground_crops(pools, cfg.batch, cfg.crop, rng))
        fg = (x < 0.9).any(1, keepdim=True).float()
        weight = 1.0 + cfg.fg_weight * fg
        z = codec.encode_raw(x)
        y = codec.decode_raw(z)
        loss = (weight * (y - x).abs()).mean() / weight.mean() + 0.5 * (_grad(y) - _grad(x)).abs().mean() \
            + 1e-4 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            log(f"codec step {step}/{cfg.steps} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)")
    codec.eval()
    with torch.no_grad():
        sample = _images(data["person"][:64])
        codec.config.scaling = float(1.0 / codec.encode_raw(sample).std())
    codec.save(cfg.out)
    write_manifest(cfg.out)  # a standalone codec folder is verified when 'omfa train --codec' loads it
    return codec


def _foreground_crops(pools: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """n crops (n, size, size, 3) uint8, each centred near a random non-white pixel of a random image."""
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        pool = pools[int(rng.integers(len(pools)))]
        img = pool[int(rng.integers(len(pool)))]
        h, w = img.shape[:2]
        ys, xs = np.nonzero((img < 230).any(-1))
        if len(ys):
            j = int(rng.integers(len(ys)))
            cy, cx = ys[j], xs[j]
        else:
            cy, cx = h // 2, w // 2
        top = int(np.clip(cy - size // 2, 0, h - size))
        left = int(np.clip(cx - size // 2, 0, w - size))
        out[i] = img[top:top + size, left:left + size]
    return out


def _grad(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([(x[..., 1:, :] - x[..., :-1, :]).flatten(1), (x[..., 1:] - x[..., :-1]).flatten(1)], 1)


# ============================================================================================ UNet
@dataclass
class TrainConfig:
    """Everything a training run depends on (saved with every checkpoint)."""

    preset: str = "demo"
    out: str = "runs/demo"
    data: str = ""                   # shard folder; "" renders on the fly
    codec: str = ""                  # a trained codec folder (demo); "" keeps the model's own
    init: str = ""                   # a diffusers SD/SDXL(-inpainting) folder for real runs
    resume_model: str = ""           # continue from an exported OMFA model folder (e.g. the shipped demo):
                                     # weights, codec and step count; optimizer moments and the lr schedule
                                     # (warmup, cosine to `steps`) start afresh from the model's step
    steps: int = 1000
    batch: int = 8
    lr: float = 3e-4
    warmup: int = 200
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    p_drop: float = 0.05             # each condition (clean panels, pose) independently (paper)
    p_no_head: float = 0.10          # head absent (zeros) on top, so head-less requests are in-distribution
    p_no_guide_tryoff: float = 0.25  # try-off without a guide of the photo, likewise
    task_weights: dict = field(default_factory=lambda: {"try-off": 0.4, "try-on": 0.3, "try-on-b": 0.3})
    # Fraction of steps whose whole batch is multi-view canvases [p1 .. pk | garment | head], every person
    # generated: what lets multi-view share the garment and head columns between views. k is drawn from
    # 2..max_views_per_canvas per step; the world has two poses per identity, so slots take A, B, A, B ...
    p_two_views: float = 0.0         # (name kept from when k was always 2) recipe v2 tried 0.2: see the card
    max_views_per_canvas: int = 2
    prediction_type: str = "v_prediction"
    min_snr_gamma: float = 5.0
    # Zero terminal SNR (Lin et al. 2024): the last training step is pure noise, as sampling starts, so the
    # model cannot lean on a trace of the true image there (with SD's schedule 7 % of it is left, and the
    # colours it samples drift towards the middle). Needs v-prediction; samplers then use trailing steps.
    zero_terminal_snr: bool = False
    min_snr_v_floor: bool = False    # see engine.diffusion.min_snr_weights
    grad_checkpointing: bool = False
    mixed_precision: str = "no"      # accelerate: "no" | "fp16" | "bf16"
    seed: int = 0
    pool: int = 0                    # on-the-fly data only: distinct samples to render and reuse
    save_every: int = 250
    log_every: int = 25
    # A training-time budget in hours over the model's whole life (a fine-tune of an exported model counts
    # the hours it came with): the run saves and stops once it is spent. 0: no budget.
    max_hours: float = 0.0
    # New models only (a --resume-model/--init model keeps its own geometry): the UNet sees patch x patch
    # latent patches (patch² times cheaper per step); full_attention attends at every level; see engine.model.
    patch: int = 1
    full_attention: bool = False
    name: str = "OMFA demo"


def learning_rate(cfg, step: int, schedule_start: int = 0) -> float:
    """Linear warmup, then cosine down to 10 % at ``cfg.steps``; from the global step, so resume is exact.
    ``cfg`` is any config with ``lr``, ``warmup`` and ``steps`` (TrainConfig, DistillConfig).
    ``schedule_start`` is where the schedule began (a fine-tune of an exported model starts a new one)."""
    s, total = step - schedule_start, cfg.steps - schedule_start
    if s < cfg.warmup:
        return cfg.lr * (s + 1) / cfg.warmup
    prog = (s - cfg.warmup) / max(1, total - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(prog, 1.0))))


def _save_checkpoint(path: Path, model, ema, opt, step: int, cfg: TrainConfig, stats: dict) -> None:
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    params = dict(model.named_parameters())
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in params.items()}
    tensors.update({f"ema.{i}": p.detach().contiguous() for i, p in enumerate(ema.shadow_params)})
    names = {id(p): k for k, p in params.items()}
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            if st:
                for k in ("exp_avg", "exp_avg_sq"):
                    tensors[f"opt.{names[id(p)]}.{k}"] = st[k].contiguous()
                tensors[f"opt.{names[id(p)]}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    tmp = path / "state.tmp.safetensors"
    save_file(tensors, str(tmp))
    tmp.replace(path / "state.safetensors")
    (path / "progress.json").write_text(json.dumps({"step": step, "config": asdict(cfg), **stats}, indent=2))


def _load_checkpoint(path: Path, model, ema, opt) -> dict:
    # Resume reads exactly these two files, safetensors + JSON: no optimizer pickles (accelerate's
    # save_state/load_state and torch's loader are deliberately not used).
    from safetensors.torch import load_file

    from engine.model import ModelError

    t = load_file(str(path / "state.safetensors"))
    progress = json.loads((path / "progress.json").read_text())
    if not isinstance(progress, dict) or not isinstance(progress.get("step"), int):
        raise ModelError(f"{path / 'progress.json'} is invalid: expected a JSON object with an integer 'step'")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(t[f"model.{k}"])
        for i, p in enumerate(ema.shadow_params):
            p.copy_(t[f"ema.{i}"])
    for k, p in params.items():
        if f"opt.{k}.exp_avg" in t:
            opt.state[p] = {"exp_avg": t[f"opt.{k}.exp_avg"].clone(), "exp_avg_sq": t[f"opt.{k}.exp_avg_sq"].clone(),
                            "step": t[f"opt.{k}.step"].reshape(()).clone()}
    return progress


def _build(cfg: TrainConfig):
    from engine.codec import TinyCodec
    from engine.model import ModelError, build_model, init_from_diffusers

    if cfg.resume_model:
        from engine.model import load_model

        model = load_model(cfg.resume_model, dtype=torch.float32, trainable=True)
    elif cfg.init:
        model = init_from_diffusers(cfg.init, text="auto")
    else:
        model = build_model(cfg.preset, seed=cfg.seed, patch=cfg.patch, full_attention=cfg.full_attention)
    if cfg.codec:
        from engine.codec import load_codec

        codec = load_codec(cfg.codec)  # pickle refusal, manifest and config/weights checks
        if not isinstance(codec, TinyCodec):
            raise ModelError(f"{cfg.codec} holds a {codec.kind} codec; --codec takes a tiny codec folder "
                             "('omfa train-codec')", path=cfg.codec)
        model.codec = codec
    model.config.noise_schedule["prediction_type"] = cfg.prediction_type
    if cfg.zero_terminal_snr:
        if cfg.prediction_type != "v_prediction":
            raise ModelError("zero terminal SNR needs v-prediction: at the last step the noise is all there is, "
                             "so an epsilon model has nothing to predict")
        model.config.noise_schedule.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
    model.config.name = cfg.name
    return model


class _Batcher:
    """Turns image batches into (x0, pose, mask) training tensors with task sampling and dropout."""

    def __init__(self, model, cfg: TrainConfig, rng: np.random.Generator) -> None:
        self.model, self.cfg, self.rng = model, cfg, rng
        self.layout = model.layout
        tasks = list(cfg.task_weights)
        self.tasks = tasks
        w = np.array([cfg.task_weights[t] for t in tasks], float)
        self.p = w / w.sum()

    @torch.no_grad()
    def encode(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        if torch.is_tensor(images):
            return images  # already latents (a data set encoded once by encode_dataset)
        return self.model.codec.encode(_images(images))

    def __call__(self, batch: dict[str, np.ndarray]):
        lay, cfg, rng = self.layout, self.cfg, self.rng
        n = len(batch["person"])
        z = {k: self.encode(batch[k]) for k in IMAGE_KEYS}
        tasks = rng.choice(len(self.tasks), size=n, p=self.p)
        x0s, poses, masks = [], [], []
        person_sl = lay.slices()["person"]
        for i in range(n):
            task = self.tasks[tasks[i]]
            person = z["person_b"][i:i + 1] if task == "try-on-b" else z["person"][i:i + 1]
            guide = z["guide_b"][i:i + 1] if task == "try-on-b" else z["guide"][i:i + 1]
            head = z["head"][i:i + 1]
            if rng.random() < cfg.p_no_head:
                head = torch.zeros_like(head)
            x0 = lay.concat({"person": person, "garment": z["garment"][i:i + 1], "head": head})
            pose = torch.zeros_like(x0)
            no_guide = task == "try-off" and rng.random() < cfg.p_no_guide_tryoff
            if not no_guide:
                pose[..., person_sl] = guide
            gen = "try-off" if task == "try-off" else "try-on"
            x0s.append(x0)
            poses.append(pose)
            masks.append(lay.mask(gen))
        x0 = torch.cat(x0s)
        pose = torch.cat(poses)
        mask = torch.cat(masks)
        drop_clean = torch.from_numpy(rng.random(n) < cfg.p_drop)
        drop_pose = torch.from_numpy(rng.random(n) < cfg.p_drop)
        return x0, pose, mask, drop_clean, drop_pose, [self.tasks[t] for t in tasks]

    def two_views(self, batch: dict[str, np.ndarray]):
        """A batch of two-view canvases: persons A and B generated from garment, head and both guides."""
        return self.multi_views(batch, 2)

    def multi_views(self, batch: dict[str, np.ndarray], views: int):
        """A batch of ``views``-view canvases ``p1 .. pk | garment | head``, every person generated, each
        with its own guide. With orbit views in the data (``views_person``), the slots are ``views``
        consecutive turntable views, as the app lays out a turntable; without them, slot i shows pose A for
        even i and pose B for odd i (an identity then has only two poses)."""
        lay, cfg, rng = self.layout, self.cfg, self.rng
        n = len(batch["person"])
        z = {k: self.encode(batch[k]) for k in ("garment", "head")}
        head = z["head"].clone()
        head[torch.from_numpy(rng.random(n) < cfg.p_no_head)] = 0.0
        rest = {"garment": z["garment"], "head": head}
        if "views_person" in batch and batch["views_person"].shape[1] >= views:
            start = int(rng.integers(0, batch["views_person"].shape[1] - views + 1))
            persons = [self.encode(batch["views_person"][:, start + j]) for j in range(views)]
            guides = [self.encode(batch["views_guide"][:, start + j]) for j in range(views)]
        else:
            slots = [("person", "guide") if i % 2 == 0 else ("person_b", "guide_b") for i in range(views)]
            zz = {k: self.encode(batch[k]) for k in ("person", "guide", "person_b", "guide_b")}
            persons, guides = [zz[p] for p, _ in slots], [zz[g] for _, g in slots]
        x0 = lay.views_canvas(persons, rest)
        pose = lay.views_canvas(guides, {})
        mask = lay.views_mask(views).expand(n, -1, -1, -1)
        drop_clean = torch.from_numpy(rng.random(n) < cfg.p_drop)
        drop_pose = torch.from_numpy(rng.random(n) < cfg.p_drop)
        name = "two-views" if views == 2 else f"{views}-views"
        return x0, pose, mask, drop_clean, drop_pose, [name] * n


def _checkpoint_geometry(ckpt: Path, cfg: TrainConfig, log) -> TrainConfig:
    """A run resumes with the UNet geometry its checkpoint was made with, whatever the command line says."""
    try:
        saved = json.loads((ckpt / "progress.json").read_text()).get("config", {})
    except (OSError, ValueError, AttributeError):
        return cfg  # no checkpoint yet (or _load_checkpoint will name what is wrong with it)
    geometry = {k: saved[k] for k in ("patch", "full_attention") if k in saved and saved[k] != getattr(cfg, k)}
    if geometry and not cfg.resume_model and not cfg.init:
        log(f"resuming {ckpt}: keeping its UNet geometry " + ", ".join(f"{k}={v}" for k, v in geometry.items()))
        cfg = replace(cfg, **geometry)
    return cfg


def train(cfg: TrainConfig, log=print, stop_after: Optional[int] = None) -> Path:
    """Train (or resume) the UNet. Writes ``cfg.out/checkpoint`` every ``save_every`` steps and the final
    EMA model to ``cfg.out/model``. Returns the model folder. Creating the file ``cfg.out/STOP`` ends the
    run gracefully after the current step (checkpoint and model saved).

    ``stop_after``: leave after this many steps in this call (the checkpoint is saved), for time-boxed runs.
    """
    from accelerate import Accelerator
    from diffusers.training_utils import EMAModel
    from tqdm import tqdm

    from engine.diffusion import (drop_conditions, masked_loss, min_snr_weights, partial_noise,
                                  training_scheduler, training_target, unet_input)

    out = Path(cfg.out)
    ckpt = out / "checkpoint"
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available())
    torch.manual_seed(cfg.seed)
    cfg = _checkpoint_geometry(ckpt, cfg, log)
    model = _build(cfg)
    model.codec.requires_grad_(False).eval()
    if cfg.grad_checkpointing:
        model.unet.enable_gradient_checkpointing()
    trainable = [p for n, p in model.named_parameters() if not n.startswith("codec.")]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = EMAModel(trainable, decay=cfg.ema_decay)
    start, stats = 0, {"elapsed": 0.0, "losses": [], "schedule_start": 0}
    if (ckpt / "state.safetensors").is_file():
        progress = _load_checkpoint(ckpt, model, ema, opt)
        start = int(progress["step"])
        stats = {"elapsed": progress.get("elapsed", 0.0), "losses": progress.get("losses", []),
                 "schedule_start": int(progress.get("schedule_start", 0))}
        log(f"resumed from {ckpt} at step {start}")
    elif cfg.resume_model:
        prev = model.config.training or {}
        start = int(prev.get("steps", 0))
        # A fine-tune is a new schedule: warmup again from the model's step, or fresh AdamW moments would
        # meet either the old run's full lr or its last 10 %.
        seconds = prev.get("seconds", float(prev.get("hours", 0.0)) * 3600)  # older models: hours only
        stats = {"elapsed": float(seconds), "losses": list(prev.get("losses", [])),
                 "schedule_start": start}
        log(f"continuing {cfg.resume_model} from step {start}")
    base = stats["schedule_start"]
    if cfg.steps <= start:
        log(f"nothing to do: the run is at step {start} and --steps is {cfg.steps}")
    if cfg.max_hours > 0 and stats["elapsed"] >= cfg.max_hours * 3600:
        log(f"nothing to do: {stats['elapsed'] / 3600:.2f} h of training already spent, budget {cfg.max_hours:g} h")
        return out / "model"

    def lr_at(step: int) -> float:
        return learning_rate(cfg, step, base)

    model, opt = accelerator.prepare(model, opt)
    raw = accelerator.unwrap_model(model)
    scheduler = training_scheduler(raw.config.noise_schedule)
    rng = np.random.default_rng(cfg.seed + 1000003 * start)
    gen = torch.Generator().manual_seed(cfg.seed + start)
    data = load_shards(cfg.data) if cfg.data else None
    if data is not None:
        t0 = time.perf_counter()
        data = encode_dataset(raw.codec, data)
        stats["elapsed"] += time.perf_counter() - t0  # part of the training time budget
        log(f"encoded {len(data['person'])} samples ({', '.join(data)}) once in {time.perf_counter() - t0:.0f} s")
    fly = None if data is not None else OnTheFly(seed=cfg.seed, pool=cfg.pool)
    raw.latent_prior = _latent_prior(raw, data, fly, cfg)
    n_data = len(data["person"]) if data is not None else 10**9
    batcher = _Batcher(raw, cfg, rng)
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    bar = tqdm(total=cfg.steps, initial=start, desc="train", dynamic_ncols=True,
               disable=not accelerator.is_main_process)
    t_last = time.perf_counter()
    model.train()
    raw.codec.eval()
    running = None
    for step in range(start, end):
        idx = rng.integers(0, n_data, cfg.batch)
        batch = {k: v[idx] for k, v in data.items()} if data is not None else fly.batch(idx)
        if cfg.p_two_views > 0 and rng.random() < cfg.p_two_views:
            k = 2 if cfg.max_views_per_canvas <= 2 else int(rng.integers(2, cfg.max_views_per_canvas + 1))
            x0, pose, mask, drop_clean, drop_pose, _ = batcher.multi_views(batch, k)
        else:
            x0, pose, mask, drop_clean, drop_pose, _ = batcher(batch)
        x0, pose, mask = (t.to(accelerator.device) for t in (x0, pose, mask))
        noise = torch.randn(x0.shape, generator=gen).to(x0.device)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (x0.shape[0],), generator=gen).to(x0.device)
        x_t = partial_noise(x0, noise, mask, t, scheduler)
        x_in, pose_in = drop_conditions(x_t, pose, mask, drop_clean.to(x0.device), drop_pose.to(x0.device))
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with accelerator.autocast():
            pred = model(unet_input(x_in, pose_in, mask), t)
        target = training_target(x0, noise, t, scheduler)
        w = min_snr_weights(t, scheduler, cfg.min_snr_gamma, cfg.min_snr_v_floor) if cfg.min_snr_gamma > 0 else None
        loss = masked_loss(pred, target, mask, w)
        opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(trainable, 1.0)
        opt.step()
        ema.step(trainable)
        lv = float(loss.detach())
        running = lv if running is None else 0.98 * running + 0.02 * lv
        now = time.perf_counter()
        stats["elapsed"] += now - t_last
        t_last = now
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}", lr=f"{lr_at(step):.1e}")
        done = step + 1
        if done % cfg.log_every == 0 or done == end:
            stats["losses"].append([done, round(running, 5)])
            log(f"step {done}/{cfg.steps} loss {running:.4f} lr {lr_at(step):.2e} "
                f"{stats['elapsed'] / max(1, done - 0):.2f} s/step total {stats['elapsed'] / 60:.1f} min")
        over = cfg.max_hours > 0 and stats["elapsed"] >= cfg.max_hours * 3600
        stop = over or (out / "STOP").exists()  # a graceful stop: touch OUT/STOP, the run saves and leaves
        if done % cfg.save_every == 0 or done == end or stop:
            if accelerator.is_main_process:
                _save_checkpoint(ckpt, raw, ema, opt, done, cfg, stats)
                export(raw, ema, trainable, out / "model", cfg, done, stats)
        if stop:
            (out / "STOP").unlink(missing_ok=True)
            why = f"the {cfg.max_hours:g} h budget is spent" if over else "STOP file"
            log(f"stopped at step {done} ({why}); resume with the same command")
            break
    bar.close()
    return out / "model"


def _latent_prior(model, data: Optional[dict], fly: Optional[OnTheFly], cfg: TrainConfig):
    """The training data's mean latent per panel, exported with the model (engine.prior): the whole encoded
    data set, or for on-the-fly training the first 32 samples of the world (as many as the pool holds)."""
    from engine.prior import compute_latent_prior

    if data is None:
        n = min(cfg.pool, 32) if cfg.pool else 32
        data = encode_dataset(model.codec, fly.batch(np.arange(n)))
        source = f"{n} samples of the synthetic world (seed {cfg.seed}), rendered on the fly"
    else:
        source = f"{len(data['person'])} training samples in {cfg.data}"
    return compute_latent_prior(data, model.layout, source)


PRIOR_KEYS = ("person", "person_b", "garment", "head")


def write_latent_prior(folder: str | Path, data: str | Path | None = None, count: int = 256, seed: int = 0,
                       log=print) -> Path:
    """Compute a model's latent prior (engine.prior) from training data and store it in its folder.

    For a model trained before models carried one. ``data``: a shard folder (its train split, every sample);
    without it ``count`` train samples of the synthetic world with ``seed`` are rendered. The folder's
    manifest is rewritten (the model was loaded, so it verified, first). Returns the prior's path.
    """
    import zipfile

    from engine.integrity import write_manifest
    from engine.model import ModelError, load_model
    from engine.prior import compute_latent_prior, save_latent_prior

    folder = Path(folder)
    model = load_model(folder)
    model.codec.float().eval()
    t0 = time.perf_counter()
    if data:
        try:
            images = load_shards(data, keys=PRIOR_KEYS, optional=())
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
            raise ModelError(f"cannot read training shards in {data}: {e}") from None
        source = f"{len(images['person'])} training samples in {data}"
    else:
        if count < 1:
            raise ModelError(f"need at least 1 sample to render, not {count}")
        fly = OnTheFly(model.layout.panel_size("person"), model.layout.widths.get("head", 64), seed)
        images = {k: v for k, v in fly.batch(np.arange(count)).items() if k in PRIOR_KEYS}
        source = f"{count} train samples of the synthetic world (seed {seed})"
    lay = model.layout
    h, w = images["person"].shape[1:3]
    if (w, h) != lay.panel_size("person"):
        raise ModelError(f"the training images are {w}x{h} but this model's panels are "
                         f"{lay.panel_size('person')[0]}x{lay.panel_size('person')[1]}")
    prior = compute_latent_prior(encode_dataset(model.codec, images), lay, source)
    path = save_latent_prior(folder, prior)
    write_manifest(folder)
    log(f"wrote {path} (mean latent of {source}, {time.perf_counter() - t0:.0f} s); manifest rewritten")
    return path


def export(model, ema, trainable, folder: Path, cfg: TrainConfig, step: int, stats: dict) -> None:
    """Write the EMA weights as a model folder (fp16 for the demo: the shipped size limit)."""
    backup = [p.detach().clone() for p in trainable]
    ema.copy_to(trainable)
    # 'trained' tells users whether to expect more than noise: a short (smoke) run does not count.
    model.config.trained = step >= MIN_TRAINED_STEPS
    model.config.views_per_canvas = cfg.max_views_per_canvas if cfg.p_two_views > 0 else 1
    model.config.training = {"steps": step, "target_steps": cfg.steps, "hours": round(stats["elapsed"] / 3600, 2),
                             "seconds": round(stats["elapsed"], 1),
                             "batch": cfg.batch, "lr": cfg.lr, "optimizer": "AdamW", "ema_decay": cfg.ema_decay,
                             "prediction_type": cfg.prediction_type, "p_drop": cfg.p_drop,
                             "p_two_views": cfg.p_two_views, "max_views_per_canvas": cfg.max_views_per_canvas,
                             "schedule_start": stats.get("schedule_start", 0), "warmup": cfg.warmup,
                             "data": cfg.data or "synthetic world rendered on the fly",
                             "losses": stats.get("losses", [])[-400:]}
    model.save(folder, fp16=cfg.preset == "demo")
    with torch.no_grad():
        for p, b in zip(trainable, backup):
            p.copy_(b)
