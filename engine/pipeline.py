"""Pipeline: ``run(request, progress, cancel) -> Result``. Reads top to bottom like a diffusers pipeline:
check inputs -> encode the clean panels and pose guides -> prepare latents and mask -> denoise (partial
diffusion with CFG) -> decode the generated panels -> Result.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from engine.codec import to_tensor, to_uint8
from engine.device import DevicePolicy, select_device
from engine.diffusion import SCHEDULERS, make_scheduler, sample
from engine.layout import GENERATED, Task
from engine.model import OmfaModel, load_model
from engine.request import RequestError, Result, TryOnRequest


@dataclass
class Progress:
    """One step's report. ``preview`` is a cheap RGB image of the current x0 estimate (first view's canvas,
    at latent resolution), uint8 (h, W, 3)."""

    step: int
    total: int
    elapsed: float
    preview: Optional[np.ndarray] = None

    @property
    def eta(self) -> float:
        return self.elapsed / max(self.step, 1) * (self.total - self.step)


ProgressCallback = Callable[[Progress], None]


class LinearPreview:
    """latent (C) -> RGB by a least-squares linear map fitted on the request's own clean panels.

    Costs a matrix product per step instead of a codec decode, and needs no per-codec constants.
    """

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight  # (C + 1, 3)

    @classmethod
    def fit(cls, latents: list[torch.Tensor], images: list[torch.Tensor], factor: int) -> "LinearPreview":
        """Pairs of latents (B, C, h, w) and their images (B, 3, h*factor, w*factor) in [-1, 1]."""
        a = torch.cat([z.float().cpu().permute(0, 2, 3, 1).reshape(-1, z.shape[1]) for z in latents])
        b = torch.cat([torch.nn.functional.avg_pool2d(x.float(), factor).permute(0, 2, 3, 1).reshape(-1, 3)
                       for x in images])
        a = torch.cat([a, torch.ones(len(a), 1)], 1)
        return cls(torch.linalg.lstsq(a, b).solution)

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        """(C, h, W) -> uint8 (h, W, 3)."""
        x = latents.detach().float().cpu().permute(1, 2, 0)
        x = torch.cat([x, torch.ones(*x.shape[:2], 1)], -1) @ self.weight
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


class Pipeline:
    """Owns one model on one device. Thread-compatible: call ``run`` from one thread at a time."""

    def __init__(self, model: OmfaModel, policy: DevicePolicy) -> None:
        self.model = model.eval().requires_grad_(False)
        self.policy = policy

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", precision: str = "auto") -> "Pipeline":
        policy = select_device(device, precision)
        model = load_model(folder, dtype=policy.dtype, device=policy.device)
        return cls(model, policy)

    @classmethod
    def load_default(cls, folder: str | Path | None = None, device: str = "auto", precision: str = "auto"
                     ) -> tuple["Pipeline", bool, Path]:
        """The model a user asked for, or the shipped demo model; when neither is given and the demo model is
        not there, an untrained demo-sized stand-in (so the app and CLI still run end to end).

        Returns
        -------
        (pipeline, fallback, folder): ``fallback`` is True for the untrained stand-in.
        """
        from engine.model import build_model
        from engine.paths import DEMO_MODEL

        path = Path(folder).expanduser() if folder else DEMO_MODEL
        if folder or (path / "omfa_config.json").is_file():
            return cls.load(path, device, precision), False, path
        policy = select_device(device, precision)
        return cls(build_model("demo").to(policy.device, policy.dtype), policy), True, path

    @property
    def layout(self):
        return self.model.layout

    @property
    def trained(self) -> bool:
        return bool(self.model.config.trained)

    def describe(self) -> str:
        cfg = self.model.config
        state = "" if cfg.trained else " — UNTRAINED: outputs are noise"
        return f"{cfg.name} ({cfg.preset}, {self.model.num_parameters() / 1e6:.1f} M parameters){state}"

    @torch.no_grad()
    def run(self, request: TryOnRequest, progress: Optional[ProgressCallback] = None,
            cancel: Optional[threading.Event] = None) -> Result:
        t0 = time.perf_counter()
        # 1. check inputs
        layout = self.layout
        request.validate(layout, list(SCHEDULERS))
        if request.precision not in ("auto", self.policy.precision):
            raise RequestError("precision", f"this pipeline runs in {self.policy.precision}; "
                                            f"load it again for {request.precision}")
        task = request.task_enum
        generated = GENERATED[task]
        b = request.num_views
        device, dtype = self.policy.torch_device, self.policy.dtype
        codec = self.model.codec

        # 2. encode the clean panels and the pose guides
        panels: dict[str, torch.Tensor] = {}
        fit_lat, fit_img = [], []
        for name in layout.panels:
            img = getattr(request, name)
            if name in generated or img is None:
                continue
            x = to_tensor(img)
            z = self._encode(x)
            panels[name] = z
            fit_lat.append(z.cpu())
            fit_img.append(x)
        x0_clean = layout.concat({**panels, **{p: None for p in layout.panels if p not in panels}})
        x0_clean = x0_clean.to(device, dtype).expand(b, -1, -1, -1).contiguous()
        pose = torch.zeros_like(x0_clean)
        if request.pose_guides:
            g = self._encode(to_tensor(list(request.pose_guides))).to(device, dtype)
            pose[..., layout.slices()["person"]] = g.expand(b, -1, -1, -1)
        t_encode = time.perf_counter() - t0

        # 3. noise, mask, scheduler; noise drawn on the CPU so a seed gives the same image on any device
        generator = torch.Generator("cpu").manual_seed(int(request.seed))
        noise = torch.randn(x0_clean.shape, generator=generator)
        mask = layout.mask(generated).to(device)
        scheduler = make_scheduler(request.scheduler, self.model.config.noise_schedule)
        preview = LinearPreview.fit(fit_lat, fit_img, codec.factor) if fit_lat else None

        # 4. denoise
        t1 = time.perf_counter()

        def on_step(step: int, total: int, x0_hat: torch.Tensor) -> None:
            if progress is not None:
                img = preview(x0_hat[0]) if preview is not None else None
                progress(Progress(step, total, time.perf_counter() - t1, img))

        out = sample(self.model, x0_clean, pose, mask, scheduler, steps=request.steps,
                     guidance=float(request.guidance), generator=generator, noise=noise,
                     progress=on_step, cancel=cancel)
        t_sample = time.perf_counter() - t1
        settings = {**request.settings(), "model": self.model.config.name, "model_trained": self.trained,
                    "device": self.policy.device, "precision": self.policy.precision}
        if out.cancelled:
            return Result("cancelled", generated=tuple(sorted(generated)), settings=settings,
                          timings={"encode": t_encode, "sample": t_sample, "total": time.perf_counter() - t0},
                          steps_done=out.steps_done)

        # 5. decode the generated panels; clean panels are returned as given
        t2 = time.perf_counter()
        split = layout.split(out.latents)
        images: dict[str, list[np.ndarray]] = {}
        for name in layout.panels:
            if name in generated:
                images[name] = list(to_uint8(codec.decode(split[name].contiguous())))
            elif getattr(request, name) is not None:
                images[name] = [getattr(request, name)]
        t_decode = time.perf_counter() - t2
        total = time.perf_counter() - t0
        timings = {"encode": t_encode, "sample": t_sample, "decode": t_decode, "total": total,
                   "per_step": t_sample / max(out.steps_done, 1)}
        return Result("finished", images, tuple(p for p in layout.panels if p in generated), settings, timings,
                      out.steps_done)

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        codec = self.model.codec
        p = next(codec.parameters())
        return codec.encode(images.to(p.device, p.dtype)).to(self.policy.dtype)

