"""Pipeline: ``run(request, progress, cancel) -> Result``. Reads top to bottom like a diffusers pipeline:
check inputs -> fit the images to their panels -> encode the clean panels and pose guides -> prepare latents
and mask -> denoise (partial diffusion with CFG) -> decode the generated panels -> Result.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from engine.codec import Codec, VaeCodec, decode_in_chunks, encode_in_chunks, images_per_call, to_tensor, to_uint8
from engine.device import DevicePolicy, OutOfMemory, free_memory, is_out_of_memory, select_device, use_sdpa
from engine.diffusion import make_scheduler, sample, schedulers_for
from engine.domain import check_request, is_world_model
from engine.images import PanelProcessor
from engine.integrity import (NonFiniteError, check_diffusers_weights, check_folder, check_output_finite,
                              diffusers_weights, refuse_pickle_file, refuse_pickle_only)
from engine.layout import GENERATED, Task
from engine.memory_modes import modules_in
from engine.model import ModelError, OmfaModel, load_model
from engine.request import IMAGE_FIELDS, ModelInfo, RequestError, Result, TryOnRequest


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
    """Owns one model on one device. Thread-compatible: call ``run`` from one thread at a time.

    ``vae_folder`` is the diffusers AutoencoderKL folder that replaced the model's own codec (None: the
    model's codec), see :meth:`use_vae`.
    """

    def __init__(self, model: OmfaModel, policy: DevicePolicy) -> None:
        self.model = model.eval().requires_grad_(False)
        use_sdpa(self.model.unet)  # in every memory mode (see _memory_mode)
        if getattr(self.model.codec, "vae", None) is not None:
            use_sdpa(self.model.codec.vae)
        self.policy = policy
        self._offload = False  # set for the duration of an "offload" run
        self.vae_folder: Optional[Path] = None
        self.uncond_panel = False  # see optimize()
        self.folder: Optional[Path] = None  # the model folder, where a few-step student may live (engine.distill)
        self._student = None                # (Student, its merged UNet), loaded on the first turbo run

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", precision: str = "auto",
             vae: str | Path | None = None) -> "Pipeline":
        """Load a model folder; ``vae`` (optional) replaces its codec, see :meth:`use_vae`."""
        policy = select_device(device, precision)
        model = load_model(folder, dtype=policy.dtype, device=policy.device)
        pipe = cls(model, policy)
        pipe.folder = Path(folder).expanduser()
        if vae:
            pipe.use_vae(vae)
        return pipe

    @classmethod
    def load_default(cls, folder: str | Path | None = None, device: str = "auto", precision: str = "auto",
                     vae: str | Path | None = None) -> tuple["Pipeline", bool, Path]:
        """The model a user asked for, else the active model of the model registry (``omfa models use``,
        Edit -> Models...), else the shipped demo model; when none is given and the demo model is not there,
        an untrained demo-sized stand-in (so the app and CLI still run end to end).
        ``vae`` (optional) replaces the model's codec, see :meth:`use_vae`.

        Returns
        -------
        (pipeline, fallback, folder): ``fallback`` is True for the untrained stand-in.
        """
        from engine.model import build_model
        from engine.model_registry import active_model_folder
        from engine.paths import DEMO_MODEL

        folder = folder or active_model_folder()
        path = Path(folder).expanduser() if folder else DEMO_MODEL
        if folder or (path / "omfa_config.json").is_file():
            return cls.load(path, device, precision, vae=vae), False, path
        policy = select_device(device, precision)
        pipe = cls(build_model("demo").to(policy.device, policy.dtype), policy)
        if vae:
            pipe.use_vae(vae)
        return pipe, True, path

    def use_vae(self, folder: str | Path) -> None:
        """Replace the model's codec by the diffusers AutoencoderKL in ``folder`` (e.g. an fp16-fixed SDXL VAE).

        Raises ModelError (and leaves the pipeline unchanged) when the folder is not a VAE or when the VAE's
        down-sampling factor or latent channels differ from the model's codec: the UNet and the panel layout
        only understand latents of that geometry. The model's latent prior, a mean of its own codec's
        latents, is dropped: sampling then starts from pure noise.
        """
        codec = load_vae(folder, self.model.codec, self.policy.dtype, self.policy.device)
        use_sdpa(codec.vae)
        self.model.codec = codec
        self.model.latent_prior = None  # a mean of the old codec's latents means nothing to the new one
        self.vae_folder = Path(codec.source)

    def optimize(self, channels_last: bool = False, compile: bool = False, uncond_panel: bool = False) -> None:
        """Optional speed-ups, measured in benchmarks/bench_cost.py: channels_last memory format for the UNet's
        convolutions (helps on GPUs with tensor cores; neutral to slower on most CPUs) and torch.compile (a
        one-off compile of tens of seconds, then faster steps; needs a C++ compiler on the CPU).

        ``uncond_panel`` runs the unconditional branch on the generated panel only (see engine.diffusion.sample):
        a third of its cost on the demo layout, but on the demo model, trained with zeroed (not absent)
        panels, SSIM against the paper's output falls to 0.87 (try-off) / 0.93 (try-on), below the 0.95 bar
        (benchmarks/bench_uncond.py): off by default, for models trained with a cropped unconditional branch."""
        self.uncond_panel = bool(uncond_panel)
        if channels_last:
            self.model.unet.to(memory_format=torch.channels_last)
        if compile:
            self.model.unet = torch.compile(self.model.unet)

    @property
    def has_student(self) -> bool:
        """Whether the model folder carries a few-step student (the "turbo" preset); reads no weights."""
        from engine.student import STUDENT_CONFIG, STUDENT_DIR

        return self.folder is not None and (self.folder / STUDENT_DIR / STUDENT_CONFIG).is_file() \
            and self.vae_folder is None

    def schedulers(self) -> list[str]:
        """The sampler names a request may use with this model ("student" when it has a student)."""
        from engine.student import STUDENT_SCHEDULER

        names = schedulers_for(self.model.config.noise_schedule)
        return names + [STUDENT_SCHEDULER] if self.has_student else names

    def student(self):
        """(Student, its UNet: the teacher's with the adapters merged in), loaded once. Raises RequestError
        when the model has no student (one line naming what to do)."""
        from engine.student import load_student

        if self._student is None:
            if self.vae_folder is not None:
                raise RequestError("scheduler", "the turbo student was distilled with the model's own codec; it "
                                                "does not run with a replaced VAE: choose another preset")
            from engine.student import StudentError

            try:
                st = load_student(self.folder) if self.folder is not None else None
            except StudentError as e:
                raise RequestError("scheduler", str(e)) from None
            if st is None:
                raise RequestError("scheduler", "this model has no few-step student, so the turbo preset cannot "
                                                "run; choose another preset (a student is made with 'omfa distill')")
            base = getattr(self.model.unet, "_orig_mod", self.model.unet)  # not a torch.compile wrapper
            self._student = (st, st.unet(base))  # a copy of the loaded UNet: already on its device and dtype
        return self._student

    @contextmanager
    def _unet(self, unet):
        """``self.model`` runs ``unet`` within the block (the student's UNet for turbo runs)."""
        if unet is None:
            yield
            return
        saved = self.model.unet
        self.model.unet = unet
        try:
            yield
        finally:
            self.model.unet = saved

    @property
    def layout(self):
        return self.model.layout

    @property
    def trained(self) -> bool:
        return bool(self.model.config.trained)

    def info(self, fallback: bool = False, folder: str | Path = "", vae_error: str = "") -> ModelInfo:
        """This pipeline as plain data; ``fallback``, ``folder`` and ``vae_error`` say how it was loaded
        (see :meth:`load_default`)."""
        cfg, pol = self.model.config, self.policy
        return ModelInfo(
            name=cfg.name, describe=self.describe(), trained=self.trained, description=cfg.description,
            device=pol.device, precision=pol.precision, policy=pol.describe(), reason=pol.reason,
            layout=self.layout, render_style=cfg.render_style, default_scheduler=cfg.default_scheduler,
            schedulers=tuple(self.schedulers()), student=self.has_student, parameters=self.model.num_parameters(),
            student_steps=self._student_steps(),
            preset=cfg.preset, views_per_canvas=int(cfg.views_per_canvas), fallback=fallback, folder=str(folder),
            vae=str(self.vae_folder) if self.vae_folder is not None else "", vae_error=vae_error)

    def _student_steps(self) -> tuple[int, ...]:
        from engine.student import student_step_counts

        return student_step_counts(self.folder) if self.has_student else ()

    def describe(self) -> str:
        cfg = self.model.config
        state = "" if cfg.trained else " — UNTRAINED: outputs are noise"
        vae = f", VAE {self.vae_folder}" if self.vae_folder is not None else ""
        return f"{cfg.name} ({cfg.preset}, {self.model.num_parameters() / 1e6:.1f} M parameters{vae}){state}"

    def run(self, request: TryOnRequest, progress: Optional[ProgressCallback] = None,
            cancel: Optional[threading.Event] = None) -> Result:
        """Generate what ``request`` asks for. Raises RequestError for an invalid request and
        :class:`engine.device.OutOfMemory` (after freeing the cache) when the device runs out of memory."""
        try:
            with self._memory_mode(request.memory):
                return self._run(request, progress, cancel)
        except NonFiniteError as e:  # name the model: its weights, its config or the precision is at fault
            src = getattr(self.model, "source", None)
            name = f"the model '{self.model.config.name}'" + (f" ({src})" if src else "")
            fp = "" if self.policy.precision == "fp32" else \
                f", or {self.policy.precision} overflowed (try precision fp32)"
            raise NonFiniteError(f"{name} made no image: {e} (its weights or its omfa_config.json are "
                                 f"damaged{fp})", path=src) from None
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            free_memory(self.policy.device)
            low = request.memory != "standard"
            advice = {"standard": "retry with the low-memory mode (slower, much less memory), or use fewer views",
                      "low": "try the offload memory mode (the model waits in CPU memory between uses), fewer "
                             "views, a smaller model, or close other GPU programs",
                      "offload": "use fewer views, a smaller model, or close other GPU programs"}[request.memory]
            raise OutOfMemory(f"out of memory on {self.policy.device} ({self.policy.precision}): {advice}. "
                              f"[{str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__}]",
                              low_memory_tried=low) from e

    @contextmanager
    def _memory_mode(self, memory: str):
        """The modules set up for ``memory`` mode for this run only (engine.memory_modes.modules_in, the one
        definition engine.memcount counts with: SDPA attention in every mode; in "low" and "offload" a VAE
        sliced and in 512-px tiles). "low" and "offload" also run one image per UNet and codec call (see _run);
        "offload" parks the model in CPU memory, and :meth:`_placed` brings each part over."""
        offload = memory == "offload" and self.policy.device != "cpu"
        if offload:
            self.model.to("cpu")
            free_memory(self.policy.device)
        self._offload = offload
        try:
            with modules_in(self.model, memory):
                yield
        finally:
            self._offload = False
            if offload:
                self.model.to(self.policy.device)

    @contextmanager
    def _placed(self, module: torch.nn.Module):
        """``module`` on the run's device while the block runs; back to CPU memory after, when offloading."""
        if not self._offload:
            yield
            return
        module.to(self.policy.device)
        try:
            yield
        finally:
            module.to("cpu")
            free_memory(self.policy.device)

    @torch.no_grad()
    def _run(self, request: TryOnRequest, progress: Optional[ProgressCallback],
             cancel: Optional[threading.Event]) -> Result:
        t0 = time.perf_counter()
        # 1. check inputs, fit the images to their panels
        layout = self.layout
        from engine.student import STUDENT_SCHEDULER

        if request.scheduler == STUDENT_SCHEDULER:
            student, student_unet = self.student()  # RequestError when the model has none
        request.validate(layout, self.schedulers())
        turbo = request.scheduler == STUDENT_SCHEDULER
        if turbo:
            _check_student_request(request, student)
        k = self.views_per_canvas(request)
        if request.precision not in ("auto", self.policy.precision):
            raise RequestError("precision", f"this pipeline runs in {self.policy.precision}; "
                                            f"load it again for {request.precision}")
        request = self.preprocess(request)
        task = request.task
        generated = GENERATED[task]
        b = request.num_views
        device, dtype = self.policy.torch_device, self.policy.dtype
        codec = self.model.codec

        # 2. encode the clean panels and the pose guides
        with self._placed(codec):
            panels: dict[str, torch.Tensor] = {}
            starts: dict[str, torch.Tensor] = {}  # generated panels given as a starting image (strength < 1)
            fit_lat, fit_img = [], []
            for name in layout.panels:
                img = getattr(request, name)
                if img is None:
                    continue
                x = to_tensor(img)
                z = self._encode(x, request.memory)
                (starts if name in generated else panels)[name] = z
                fit_lat.append(z.cpu())
                fit_img.append(x)
            x0_clean = layout.concat({**panels, **{p: None for p in layout.panels if p not in panels}})
            x0_clean = x0_clean.to(device, dtype).expand(b, -1, -1, -1).contiguous()
            init = layout.concat({**starts, **{p: None for p in layout.panels if p not in starts}}) \
                .to(device, dtype) if starts and request.strength < 1.0 else None
            pose = torch.zeros_like(x0_clean)
            if request.pose_guides:
                g = self._encode(to_tensor(list(request.pose_guides)), request.memory).to(device, dtype)
                pose[..., layout.slices()["person"]] = g.expand(b, -1, -1, -1)
        t_encode = time.perf_counter() - t0

        # 3. noise, mask, scheduler; noise drawn on the CPU so a seed gives the same image on any device
        generator = torch.Generator("cpu").manual_seed(int(request.seed))
        noise = torch.randn(x0_clean.shape, generator=generator)
        mask = layout.mask(generated).to(device)
        if k > 1:  # k views side by side on each canvas: garment and head computed once per k views
            x0_clean, pose, noise, mask = self._share_canvas(k, x0_clean, pose, noise)
        prior = self.model.latent_prior if request.noise_prior and init is None else None
        if prior is not None:  # start around the training data's mean latent, not zero (engine.prior)
            init = prior.canvas(layout, k).to(device, dtype)
        scheduler = None if turbo else make_scheduler(request.scheduler, self.model.config.noise_schedule)
        preview = LinearPreview.fit(fit_lat, fit_img, codec.factor) if fit_lat else None

        # 4. denoise
        t1 = time.perf_counter()

        def on_step(step: int, total: int, x0_hat: torch.Tensor) -> None:
            if progress is not None:
                img = preview(x0_hat[0]) if preview is not None else None
                progress(Progress(step, total, time.perf_counter() - t1, img))

        if turbo:  # the few-step student: one conditional call per step, guidance built in (engine.distill)
            from engine.student import sample_student, student_alphas

            teacher_unet = self.model.unet

            def teacher(x_in, t):  # the refining steps (StudentConfig.refine) run the teacher's own UNet
                with self._placed(teacher_unet), self._unet(teacher_unet):
                    return self.model(x_in, t)

            refine = (teacher, list(student.config.refine)) if student.config.refine else None
            with self._placed(student_unet), self._unet(student_unet):
                out = sample_student(self.model, x0_clean, pose, mask, student.config.timesteps_for(request.steps),
                                     student_alphas(self.model), self.model.config.prediction_type, noise,
                                     init=init, progress=on_step, cancel=cancel, refine=refine)
        else:
            with self._placed(self.model.unet):
                out = sample(self.model, x0_clean, pose, mask, scheduler, steps=request.steps,
                             guidance=float(request.guidance), generator=generator, noise=noise, progress=on_step,
                             cancel=cancel, max_batch=None if request.memory == "standard" else 1,
                             guidance_until=float(request.guidance_until), init=init,
                             strength=float(request.strength), uncond_panel=self.uncond_panel)
        t_sample = time.perf_counter() - t1
        settings = {**request.settings(), "model": self.model.config.name, "model_trained": self.trained,
                    "device": self.policy.device, "precision": self.policy.precision}
        settings["noise_prior"] = prior is not None  # what ran, so a replay on another model runs the same
        if is_world_model(self.model.config):  # a model of the synthetic world says when an input is not of it
            # inputs made by an earlier stage of a chain are the model's own output: run_chain passes on
            # that stage's verdict instead
            linked = {ln.get("field") for ln in (request.chain or {}).get("links", [])}
            settings["outside_world"] = {p: v for p, v in check_request(request).items()
                                         if p not in generated and p not in linked}
        if self.vae_folder is not None:
            settings["vae"] = str(self.vae_folder)
        if self.uncond_panel and not turbo:
            settings["uncond_panel"] = True
        if turbo:
            settings["student"] = {"teacher_sampler": student.config.teacher_sampler,
                                   "timesteps": student.config.timesteps_for(request.steps),
                                   "refine": list(student.config.refine)}
        if out.cancelled:
            return Result("cancelled", generated=tuple(sorted(generated)), settings=settings,
                          timings={"encode": t_encode, "sample": t_sample, "total": time.perf_counter() - t0},
                          steps_done=out.steps_done)

        # 5. decode the generated panels; clean panels are returned as the model saw them (fitted)
        t2 = time.perf_counter()
        latents = self._unshare_canvas(k, out.latents, b) if k > 1 else out.latents
        if task == Task.MULTI_VIEW:
            settings["views_per_canvas"] = k  # what ran, so a replay runs the same
        split = layout.split(latents)
        images: dict[str, list[np.ndarray]] = {}
        with self._placed(codec):
            for name in layout.panels:
                if name in generated:
                    z = split[name].contiguous()
                    per_call = images_per_call(z.shape[-2] * codec.factor, z.shape[-1] * codec.factor,
                                               request.memory)  # views per call: bounded memory (engine.codec)
                    decoded = decode_in_chunks(codec, z, per_call)
                    check_output_finite(decoded, "the codec's decoded image")  # to_uint8 turns NaN into black
                    images[name] = list(to_uint8(decoded))
                elif getattr(request, name) is not None:
                    images[name] = [getattr(request, name)]
        if request.strength < 1.0:
            settings["steps_run"] = out.steps_done
        t_decode = time.perf_counter() - t2
        total = time.perf_counter() - t0
        timings = {"encode": t_encode, "sample": t_sample, "decode": t_decode, "total": total,
                   "per_step": t_sample / max(out.steps_done, 1)}
        return Result("finished", images, tuple(p for p in layout.panels if p in generated), settings, timings,
                      out.steps_done)

    def preprocess(self, request: TryOnRequest) -> TryOnRequest:
        """``request`` with every image fitted to its panel (letterboxed on white), so callers pass images of
        any size; an image already at its panel's size is passed through untouched. Pose guides fit the
        person panel. Expects a validated request (RGB uint8 arrays)."""
        fit = PanelProcessor(self.layout)
        images = {n: fit(getattr(request, n), n) for n in IMAGE_FIELDS if getattr(request, n) is not None}
        return replace(request, **images, pose_guides=[fit(g, "person") for g in request.pose_guides])

    def views_per_canvas(self, request: TryOnRequest) -> int:
        """Person panels per canvas this request runs with (1: one canvas per view; always for the student,
        which learned one-view canvases)."""
        if request.scheduler == "student":
            return 1
        if request.task != Task.MULTI_VIEW or request.num_views < 2 or "person" not in self.layout.panels:
            return 1
        trained = max(1, int(self.model.config.views_per_canvas))
        if not request.views_per_canvas:  # the model's choice: the least padding up to what it was trained on
            return self.layout.best_views_per_canvas(request.num_views, trained)
        if request.views_per_canvas > trained:
            raise RequestError("views_per_canvas", f"this model was trained with at most {trained} view(s) per "
                                                   f"canvas; more come out as noise (use 0 for the model's own)")
        return min(request.views_per_canvas, request.num_views)

    def _share_canvas(self, k: int, x0: torch.Tensor, pose: torch.Tensor, noise: torch.Tensor):
        """(b, C, h, W) per-view canvases -> ceil(b / k) canvases ``p1 .. pk | garment | head``.

        Each view keeps its own guide and its own noise; a last group short of k views is padded with
        copies of its last view (computed, then dropped).
        """
        lay, b = self.layout, x0.shape[0]
        ps = lay.slices()["person"]
        idx = list(range(b)) + [b - 1] * (-b % k)
        groups = [idx[i:i + k] for i in range(0, len(idx), k)]
        rest = {p: x0[:1, :, :, s] for p, s in lay.slices().items() if p != "person"}

        def canvas(t: torch.Tensor, others: dict) -> torch.Tensor:
            return torch.cat([lay.views_canvas([t[j:j + 1, :, :, ps] for j in g], others) for g in groups])

        x0_s = canvas(x0, rest)
        noise_s = canvas(noise, {p: noise[:1, :, :, s] for p, s in lay.slices().items() if p != "person"})
        pose_s = canvas(pose, {})
        return x0_s, pose_s, noise_s, lay.views_mask(k).to(x0.device)

    def _unshare_canvas(self, k: int, latents: torch.Tensor, b: int) -> torch.Tensor:
        """Inverse of :meth:`_share_canvas` for the result: b per-view canvases ``person | garment | head``."""
        lay = self.layout
        views = torch.cat([latents[:, :, :, s] for s in lay.views_person_slices(k)], dim=0)  # view-major
        g = latents.shape[0]
        order = [j * g + i for i in range(g) for j in range(k)][:b]  # canvas i, slot j -> view i * k + j
        persons = views[order]
        tail = latents[:1, :, :, k * lay.widths["person"] // lay.factor:]
        return torch.cat([persons, tail.expand(b, -1, -1, -1)], dim=-1)

    def _encode(self, images: torch.Tensor, memory: str = "standard") -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, C, h, w) latents, a bounded number of images per codec call."""
        codec = self.model.codec
        p = next(codec.parameters())
        per_call = images_per_call(images.shape[-2], images.shape[-1], memory)
        z = encode_in_chunks(codec, images.to(p.device, p.dtype), per_call).to(self.policy.dtype)
        check_output_finite(z, "the codec's encoding of an input")
        return z


def _check_student_request(request: TryOnRequest, student) -> None:
    """The settings a student cannot honour, refused by name (RequestError, one line)."""
    counts = sorted(student.config.schedules, key=int)
    if str(request.steps) not in student.config.schedules:
        raise RequestError("steps", f"the turbo student samples in {', '.join(counts)} steps, not {request.steps}")
    if float(request.guidance) != 1.0:
        g = student.config.teacher_sampler.get("guidance", "its teacher's")
        raise RequestError("guidance", f"the turbo student has guidance {g} built in; set guidance to 1.0 "
                                       f"(or choose another preset to guide)")
    if float(request.strength) < 1.0:
        raise RequestError("strength", "the turbo student starts from noise only; choose another preset to "
                                       "change an image (strength below 1)")


def load_vae(folder: str | Path, like: Codec, dtype: torch.dtype, device: str | torch.device = "cpu") -> VaeCodec:
    """A diffusers AutoencoderKL folder as a codec that can stand in for ``like`` (a model's codec).

    ``folder`` may also be a diffusers pipeline folder with a ``vae/`` subfolder. The geometry is checked
    from config.json before any weights are read. Dtype rules are :func:`engine.model.load_model`'s: the
    VAE runs in ``dtype``, except that a VAE whose config says ``force_upcast`` (diffusers' default; the
    original SDXL VAE overflows in fp16) stays fp32 when ``dtype`` is fp16.

    Raises
    ------
    ModelError
        Naming the folder and what is wrong (missing, not an AutoencoderKL, unreadable weights, or a factor
        / latent channel count that does not match ``like``).
    """
    folder = Path(folder).expanduser()
    refuse_pickle_file(folder, "vae")
    if folder.is_file():
        raise ModelError(f"{folder} is a file; a VAE is loaded from a diffusers AutoencoderKL folder (config.json + "
                         "diffusion_pytorch_model.safetensors), as AutoencoderKL.save_pretrained writes", path=folder)
    if not folder.is_dir():
        raise ModelError(f"VAE folder {folder} does not exist")
    if not (folder / "config.json").is_file() and (folder / "vae" / "config.json").is_file():
        folder = folder / "vae"
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{folder} is not a VAE folder: config.json is missing (expected a diffusers "
                         "AutoencoderKL folder, as AutoencoderKL.save_pretrained writes)", path=folder)
    try:
        cfg = json.loads(cfg_path.read_text())
        if not isinstance(cfg, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise ModelError(f"{cfg_path} could not be read: {e}", path=cfg_path) from None
    cls_name = cfg.get("_class_name", "AutoencoderKL")
    if cls_name != "AutoencoderKL":
        raise ModelError(f"{folder} holds a {cls_name}, not a diffusers AutoencoderKL", path=folder)
    if isinstance(cfg.get("block_out_channels"), list) and "latent_channels" in cfg:
        _check_vae_geometry(folder, 2 ** (len(cfg["block_out_channels"]) - 1), int(cfg["latent_channels"]), like)
    check_folder(folder, warn_missing=False)  # a VAE folder given an OMFA manifest is verified
    refuse_pickle_only(folder, "vae")
    if not diffusers_weights(folder):
        raise ModelError(f"{folder} has no diffusion_pytorch_model.safetensors; OMFA reads only safetensors weights",
                         path=folder)
    from diffusers import AutoencoderKL
    from safetensors import SafetensorError

    check_diffusers_weights(AutoencoderKL, folder)  # config vs weights, named, before reading the weights

    upcast = dtype == torch.float16 and bool(cfg.get("force_upcast", True))
    try:
        vae = AutoencoderKL.from_pretrained(str(folder), local_files_only=True, use_safetensors=True,
                                            torch_dtype=torch.float32 if upcast else dtype)
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelError(f"could not read the VAE in {folder}: {first}") from None
    codec = VaeCodec(vae.eval())
    _check_vae_geometry(folder, codec.factor, codec.latent_channels, like)
    if dtype == torch.float16 and getattr(vae.config, "force_upcast", False):
        codec.float()  # as engine.model.load_model: the SDXL VAE overflows to NaN in fp16
    codec.source = str(folder)
    return codec.to(device).eval().requires_grad_(False)


def _check_vae_geometry(folder: Path, factor: int, channels: int, like: Codec) -> None:
    if factor != like.factor:
        raise ModelError(f"the VAE in {folder} has factor {factor} (images are {factor}x larger than its latents) "
                         f"but this model works in factor-{like.factor} latents: its panel layout and UNet only "
                         f"fit a VAE of factor {like.factor}" + (" (an SD/SDXL VAE fits an SD/SDXL-based model, "
                                                                 "not the demo model)" if factor == 8 else ""))
    if channels != like.latent_channels:
        raise ModelError(f"the VAE in {folder} has {channels} latent channels but this model's UNet takes "
                         f"{like.latent_channels}")
