"""A distilled few-step student at inference: what ``MODEL/student/`` holds, how it is loaded onto the
teacher's UNet (int8 LoRA adapters, merged), and its 1-4 step sampler. How a student is trained is
:mod:`engine.distill`; the pipeline only needs this module, so inference never imports training code.

A student lives in ``MODEL/student/``::

    student_config.json     StudentConfig: timesteps, schedules per step count, LoRA rank, teacher, provenance
    lora.safetensors        per adapted layer: "<name>.down.q" (int8), "<name>.down.s" (fp16 row scales), ".up" too
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from engine.errors import ModelError
STUDENT_DIR = "student"
STUDENT_CONFIG = "student_config.json"
LORA_FILE = "lora.safetensors"
STUDENT_FORMAT = "omfa-student/1"
STUDENT_SCHEDULER = "student"   # the request's scheduler name for sampling with the student (preset "turbo")


class StudentError(ModelError):
    """A student that is missing, broken, or does not belong to its teacher."""


# ============================================================================================ LoRA
class LoraLinear(nn.Module):
    """``base(x) + scale * up(down(x))``; ``up`` starts at zero, so a fresh adapter changes nothing."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.down = nn.Linear(base.in_features, rank, bias=False, device=base.weight.device)
        self.up = nn.Linear(rank, base.out_features, bias=False, device=base.weight.device)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.up.weight)
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.up(self.down(x.to(self.down.weight.dtype))).to(x.dtype)


class LoraConv(nn.Module):
    """A k x k convolution's adapter: a k x k convolution to ``rank`` channels, then a 1 x 1 back up."""

    def __init__(self, base: nn.Conv2d, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        dev = base.weight.device
        self.down = nn.Conv2d(base.in_channels, rank, base.kernel_size, base.stride, base.padding,
                              dilation=base.dilation, groups=1, bias=False, device=dev)
        self.up = nn.Conv2d(rank, base.out_channels, 1, bias=False, device=dev)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.up.weight)
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.up(self.down(x.to(self.down.weight.dtype))).to(x.dtype)


def _adaptable(module: nn.Module) -> bool:
    if isinstance(module, nn.Linear):
        return True
    return isinstance(module, nn.Conv2d) and module.groups == 1


def lora_targets(unet: nn.Module) -> list[str]:
    """Every linear layer and (ungrouped) convolution of ``unet``, by qualified name."""
    return [name for name, m in unet.named_modules() if name and _adaptable(m)]


def inject_lora(unet: nn.Module, rank: int, alpha: Optional[float] = None) -> list[nn.Parameter]:
    """Wrap every target layer of ``unet`` in an adapter (in place); the base weights are frozen. Returns the
    adapters' parameters. ``alpha`` defaults to ``rank`` (scale 1)."""
    if rank < 1:
        raise ValueError(f"LoRA rank must be at least 1, not {rank}")
    alpha = float(alpha if alpha is not None else rank)
    unet.requires_grad_(False)
    params: list[nn.Parameter] = []
    for name in lora_targets(unet):
        parent_name, _, child = name.rpartition(".")
        parent = unet.get_submodule(parent_name) if parent_name else unet
        base = getattr(parent, child)
        r = min(rank, base.in_features if isinstance(base, nn.Linear) else base.in_channels,
                base.out_features if isinstance(base, nn.Linear) else base.out_channels)
        kind = LoraLinear if isinstance(base, nn.Linear) else LoraConv
        wrapped = kind(base, r, alpha * r / rank)
        setattr(parent, child, wrapped)
        params += [wrapped.down.weight, wrapped.up.weight]
    return params


def lora_state(unet: nn.Module) -> dict[str, torch.Tensor]:
    """name -> tensor of every adapter: "<layer>.down", "<layer>.up" (fp32, CPU), scale folded into ``up``."""
    out = {}
    for name, m in unet.named_modules():
        if isinstance(m, (LoraLinear, LoraConv)):
            out[f"{name}.down"] = m.down.weight.detach().float().cpu().contiguous()
            out[f"{name}.up"] = (m.up.weight.detach().float() * m.scale).cpu().contiguous()
    return out


def load_lora_state(unet: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`lora_state` on an injected UNet (resume)."""
    with torch.no_grad():
        for name, m in unet.named_modules():
            if isinstance(m, (LoraLinear, LoraConv)):
                m.down.weight.copy_(tensors[f"{name}.down"])
                m.up.weight.copy_(tensors[f"{name}.up"] / m.scale)


@torch.no_grad()
def merge_lora(unet: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Add each adapter's low-rank product to its layer's weight (in place; ``unet`` is a plain UNet).

    Raises StudentError naming the first layer the adapters do not fit."""
    layers = {n for n in (k.rsplit(".", 1)[0] for k in tensors)}
    for name in sorted(layers):
        try:
            layer = unet.get_submodule(name)
        except AttributeError:
            raise StudentError(f"the student adapts layer {name!r}, which this UNet does not have") from None
        down, up = tensors[f"{name}.down"].float(), tensors[f"{name}.up"].float()
        w = layer.weight
        delta = up.reshape(up.shape[0], -1) @ down.reshape(down.shape[0], -1)
        if delta.numel() != w.numel() or delta.shape[0] != w.shape[0]:
            raise StudentError(f"the student's adapter for {name!r} has shape {tuple(delta.shape)}, the layer "
                               f"{tuple(w.shape)}: it was made for another model")
        w.add_(delta.reshape(w.shape).to(w.device, w.dtype))


def quantize(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """int8 with one fp16 scale per output row (symmetric): half the bytes of fp16, and the error of a
    low-rank factor's rows (< 0.4 % of each row's largest entry) is far below what the student learned."""
    out = {}
    for k, t in tensors.items():
        rows = t.reshape(t.shape[0], -1).float()
        scale = (rows.abs().amax(1, keepdim=True) / 127.0).clamp(min=1e-12)
        out[f"{k}.q"] = (rows / scale).round().clamp(-127, 127).to(torch.int8).reshape(t.shape).contiguous()
        out[f"{k}.s"] = scale.squeeze(1).to(torch.float16).contiguous()
    return out


def dequantize(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, q in stored.items():
        if not k.endswith(".q"):
            continue
        base = k[:-2]
        s = stored.get(f"{base}.s")
        if s is None:
            raise StudentError(f"{LORA_FILE} lacks the scales of {base!r}")
        out[base] = q.float() * s.float().reshape(-1, *([1] * (q.ndim - 1)))
    return out


# ============================================================================================ the student
@dataclass
class StudentConfig:
    """What a student is (student_config.json)."""

    method: str = "trajectory regression with student rollouts, LoRA on the teacher"
    teacher: str = ""                       # the teacher model's name
    teacher_unet_sha256: str = ""           # the teacher UNet weights it adapts (from the teacher's manifest)
    teacher_sampler: dict = field(default_factory=dict)   # the preset fields the targets were made with
    timesteps: list = field(default_factory=list)         # the teacher sampler's timesteps
    schedules: dict = field(default_factory=dict)         # "n" -> indices into timesteps, for n student steps
    default_steps: int = 2
    rank: int = 8
    noise_prior: bool = True                # targets started from the latent prior (as the teacher's default)
    # After the student's steps, DDIM steps of the teacher itself (conditional, as the teacher's fast sampler
    # runs its second half) at these timesteps, high to low: the student regresses the teacher's endpoints,
    # which leaves what it is unsure of blurred or speckled; low-noise teacher steps clean it. [] = none.
    # Chosen on val (the model card says how); each is one more UNet call.
    refine: list = field(default_factory=list)
    training: dict = field(default_factory=dict)
    format: str = STUDENT_FORMAT

    def timesteps_for(self, steps: int) -> list[int]:
        key = str(steps)
        if key not in self.schedules:
            raise StudentError(f"this student samples in {', '.join(sorted(self.schedules, key=int))} steps, "
                               f"not {steps}")
        return [int(self.timesteps[i]) for i in self.schedules[key]]


@dataclass
class Student:
    config: StudentConfig
    lora: dict[str, torch.Tensor]           # dequantised adapters (fp32), see lora_state
    folder: Path

    def unet(self, teacher_unet: nn.Module) -> nn.Module:
        """A copy of the teacher UNet with the adapters merged in: the student, at the teacher's cost."""
        unet = copy.deepcopy(teacher_unet)
        merge_lora(unet, self.lora)
        return unet.eval().requires_grad_(False)


def unet_sha256(model_folder: Path) -> str:
    """The teacher UNet's weights hash as its manifest records it (hashed here when there is no manifest)."""
    rel = "unet/diffusion_pytorch_model.safetensors"
    try:
        files = json.loads((model_folder / "manifest.json").read_text()).get("files", {})
        if rel in files:
            return str(files[rel]["sha256"])
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    h = hashlib.sha256()
    with open(model_folder / rel, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_student(folder: Path, config: StudentConfig, lora: dict[str, torch.Tensor]) -> Path:
    """Write ``folder`` (a student folder, e.g. RUN/student or MODEL/student); atomic per file."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "lora.tmp.safetensors"
    save_file(quantize(lora), str(tmp), metadata={"format": STUDENT_FORMAT})
    tmp.replace(folder / LORA_FILE)
    tmp_cfg = folder / "student_config.tmp.json"
    tmp_cfg.write_text(json.dumps(asdict(config), indent=2) + "\n")
    tmp_cfg.replace(folder / STUDENT_CONFIG)
    return folder


def student_step_counts(model_folder: str | Path) -> tuple[int, ...]:
    """The step counts the student in ``model_folder`` samples in, from its config alone (no weights): what a
    window checks before queueing a turbo job. () when there is no readable student (loading it says why)."""
    folder = Path(model_folder)
    folder = folder / STUDENT_DIR if (folder / STUDENT_DIR).is_dir() else folder
    try:
        schedules = json.loads((folder / STUDENT_CONFIG).read_text()).get("schedules")
        return tuple(sorted(int(k) for k in schedules))
    except (OSError, ValueError, TypeError, AttributeError):
        return ()


def load_student(model_folder: str | Path, check_teacher: bool = True) -> Optional[Student]:
    """The student in ``model_folder/student``, or None when the model has none.

    Raises StudentError (one line) when it is there but unreadable, or adapts other teacher weights."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model_folder = Path(model_folder)
    folder = model_folder / STUDENT_DIR if (model_folder / STUDENT_DIR).is_dir() else model_folder
    cfg_path = folder / STUDENT_CONFIG
    if not cfg_path.is_file():
        return None
    try:
        raw = json.loads(cfg_path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        known = {f for f in StudentConfig.__dataclass_fields__}
        config = StudentConfig(**{k: v for k, v in raw.items() if k in known})
    except (OSError, ValueError, TypeError) as e:
        raise StudentError(f"{cfg_path} could not be read: {e}") from None
    if config.format != STUDENT_FORMAT:
        raise StudentError(f"{cfg_path} has format {config.format!r}; this version reads {STUDENT_FORMAT!r}")
    if not config.timesteps or not config.schedules:
        raise StudentError(f"{cfg_path} names no timesteps or schedules")
    r = config.refine
    if not isinstance(r, list) or not all(isinstance(t, int) and not isinstance(t, bool) and 0 < t < 1000 for t in r) \
            or r != sorted(set(r), reverse=True):
        raise StudentError(f"{cfg_path}: 'refine' must be a list of decreasing timesteps from 1 to 999, not {r!r}")
    if check_teacher and config.teacher_unet_sha256 and folder != model_folder \
            and (model_folder / "unet").is_dir() and unet_sha256(model_folder) != config.teacher_unet_sha256:
        raise StudentError(f"the student in {folder} was distilled from other UNet weights than this model's; "
                           f"distil it again with 'omfa distill --teacher {model_folder}'")
    try:
        lora = dequantize(load_file(str(folder / LORA_FILE)))
    except (OSError, SafetensorError, RuntimeError) as e:
        raise StudentError(f"{folder / LORA_FILE} could not be read: {str(e).splitlines()[0][:200]}") from None
    if not lora:
        raise StudentError(f"{folder / LORA_FILE} holds no adapters")
    return Student(config, lora, folder)


# ============================================================================================ sampling
def _abar(alphas_cumprod: torch.Tensor, t, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, device=alphas_cumprod.device).long().reshape(-1)
    return alphas_cumprod[t].to(like.device, like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def x0_from_output(out: torch.Tensor, x_t: torch.Tensor, t, alphas_cumprod: torch.Tensor,
                   prediction_type: str) -> torch.Tensor:
    """The model's x0 estimate from its output at timestep(s) ``t`` (scalar or (B,))."""
    a = _abar(alphas_cumprod, t, x_t)
    if prediction_type == "v_prediction":
        return a.sqrt() * x_t - (1 - a).sqrt() * out
    if prediction_type == "epsilon":
        return (x_t - (1 - a).sqrt() * out) / a.sqrt()
    return out


def ddim_jump(x_t: torch.Tensor, x0_hat: torch.Tensor, t, t_next, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """The deterministic DDIM step from ``t`` to ``t_next`` with the noise that ``x0_hat`` implies."""
    a, b = _abar(alphas_cumprod, t, x_t), _abar(alphas_cumprod, t_next, x_t)
    eps = (x_t - a.sqrt() * x0_hat) / (1 - a).sqrt()
    return b.sqrt() * x0_hat + (1 - b).sqrt() * eps


def student_start(x0_clean: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor, t0: int,
                  alphas_cumprod: torch.Tensor, init: Optional[torch.Tensor]) -> torch.Tensor:
    """The first state, as the teacher's sampler makes it: the prior (or zero) noised to ``t0``; clean panels."""
    m = mask.expand(x0_clean.shape[0], 1, *x0_clean.shape[-2:]).bool()
    if init is None:
        return torch.where(m, noise, x0_clean)
    a = _abar(alphas_cumprod, t0, x0_clean)
    start = a.sqrt() * init.expand_as(x0_clean) + (1 - a).sqrt() * noise
    return torch.where(m, start, x0_clean)


def sample_student(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0_clean: torch.Tensor,
                   pose: torch.Tensor, mask: torch.Tensor, timesteps: list[int], alphas_cumprod: torch.Tensor,
                   prediction_type: str, noise: torch.Tensor, init: Optional[torch.Tensor] = None,
                   progress=None, cancel: Optional[threading.Event] = None,
                   refine: Optional[tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], list[int]]] = None):
    """Few-step sampling with a student (see the module docstring). Shapes as :func:`engine.diffusion.sample`;
    returns its :class:`~engine.diffusion.SampleOutput`. One conditional UNet call per step, no CFG batch.

    ``refine``: (teacher, [t1, t2, ...]) — after the student's steps, deterministic DDIM steps of ``teacher``
    (conditional) at t1 > t2 > ...: jump to t1 with the noise the current estimate implies, the teacher's x0
    estimate there, and so on; the last estimate is the result (StudentConfig.refine). One UNet call each;
    progress counts them as steps."""
    from engine.diffusion import SampleOutput, unet_input

    b = x0_clean.shape[0]
    device, dtype = x0_clean.device, x0_clean.dtype
    m = mask.to(device).expand(b, 1, *x0_clean.shape[-2:]).bool()
    mask_f = m.to(dtype)
    pose = pose.to(device, dtype).expand(b, -1, -1, -1)
    x = student_start(x0_clean, noise.to(device, dtype), m, timesteps[0], alphas_cumprod,
                      None if init is None else init.to(device, dtype))
    x0_hat = x
    refine_ts = [int(t) for t in refine[1]] if refine is not None else []
    calls = len(timesteps) + len(refine_ts)
    for i, t in enumerate(timesteps):
        if cancel is not None and cancel.is_set():
            return SampleOutput(x, True, i)
        out = model(unet_input(x, pose, mask_f), torch.full((b,), int(t), device=device)).to(dtype)
        x0_hat = torch.where(m, x0_from_output(out, x, t, alphas_cumprod, prediction_type), x0_clean)
        if progress is not None:
            progress(i + 1, calls, x0_hat)
        if i + 1 < len(timesteps):
            x = torch.where(m, ddim_jump(x, x0_hat, t, timesteps[i + 1], alphas_cumprod), x0_clean)
    t_prev = timesteps[-1]
    for j, t_r in enumerate(refine_ts):
        if cancel is not None and cancel.is_set():
            return SampleOutput(x0_hat, True, len(timesteps) + j)
        x = torch.where(m, ddim_jump(x, x0_hat, t_prev, t_r, alphas_cumprod), x0_clean)
        out = refine[0](unet_input(x, pose, mask_f), torch.full((b,), t_r, device=device)).to(dtype)
        x0_hat = torch.where(m, x0_from_output(out, x, t_r, alphas_cumprod, prediction_type), x0_clean)
        t_prev = t_r
        if progress is not None:
            progress(len(timesteps) + j + 1, calls, x0_hat)
    return SampleOutput(x0_hat, False, calls)


def student_schedules(n_teacher: int, counts=(1, 2, 3, 4)) -> dict[str, list[int]]:
    """For n student steps: n evenly spaced indices into the teacher's timesteps, starting at its first."""
    return {str(n): sorted({round(k * n_teacher / n) for k in range(n)}) for n in counts if n <= n_teacher}


# ============================================================================================ distillation


def student_alphas(model) -> torch.Tensor:
    """The model's noise schedule's alphas_cumprod (what the student's x0 estimates and jumps use)."""
    from engine.diffusion import training_scheduler

    return training_scheduler(model.config.noise_schedule).alphas_cumprod.float()
