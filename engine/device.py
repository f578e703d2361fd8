"""Device and dtype policy: the one place that decides where and in which precision the model runs.

CUDA runs in fp16 (bf16 when asked and the GPU supports it); the CPU runs in fp32, because fp16 matmuls on
CPU are slow and lossy. Attention goes through PyTorch's scaled_dot_product_attention (diffusers'
``AttnProcessor2_0``), which picks flash / memory-efficient kernels on CUDA by itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.errors import OmfaError

PRECISIONS = ("auto", "fp16", "bf16", "fp32")
DEVICES = ("auto", "cuda", "cpu", "mps")


class DeviceError(OmfaError, ValueError):
    """The asked device or precision cannot be used here."""


@dataclass(frozen=True)
class DevicePolicy:
    """Where and how the model runs.

    Attributes
    ----------
    device : str       "cuda", "cuda:1", "cpu" or "mps"
    precision : str    "fp16", "bf16" or "fp32" (never "auto": that is resolved here)
    attention : str    the attention implementation ("sdpa")
    reason : str       one line saying why, shown by ``omfa doctor`` and the status bar
    """

    device: str
    precision: str
    attention: str = "sdpa"
    reason: str = ""

    @property
    def torch_device(self):
        import torch

        return torch.device(self.device)

    @property
    def dtype(self):
        import torch

        return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[self.precision]

    def describe(self) -> str:
        return f"{self.device} · {self.precision} · attention {self.attention}"

    def to_dict(self) -> dict:
        return {"device": self.device, "precision": self.precision, "attention": self.attention,
                "reason": self.reason}


def select_device(device: str = "auto", precision: str = "auto") -> DevicePolicy:
    """Resolve a device/precision request into a :class:`DevicePolicy`.

    Parameters
    ----------
    device : "auto" | "cuda" | "cuda:N" | "cpu" | "mps"
    precision : "auto" | "fp16" | "bf16" | "fp32"

    Raises
    ------
    DeviceError  when the device is not available or the precision is unknown / unsupported on it.
    """
    import torch

    if precision not in PRECISIONS:
        raise DeviceError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}", field="precision")
    base = device.split(":")[0]
    if base not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), not {device!r}", field="device")
    cuda_ok = torch.cuda.is_available()
    mps_ok = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if base == "auto":
        device = "cuda" if cuda_ok else ("mps" if mps_ok else "cpu")
        base = device
    if base == "cuda" and not cuda_ok:
        raise DeviceError("CUDA was asked for but PyTorch sees no CUDA GPU (this torch build: "
                          f"{torch.__version__}); choose device 'cpu' or install a CUDA build of torch 2.13.0",
                          field="device")
    if base == "mps" and not mps_ok:
        raise DeviceError("MPS (Apple GPU) was asked for but is not available here; choose device 'cpu'",
                          field="device")

    if base == "cuda":
        if precision == "auto":
            return DevicePolicy(device, "fp16", reason="CUDA GPU: fp16 halves memory and uses tensor cores")
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise DeviceError("this GPU does not support bf16; use fp16 or fp32", field="precision")
        return DevicePolicy(device, precision, reason=f"CUDA GPU, {precision} as asked")
    if base == "mps":
        if precision in ("auto", "fp16"):
            return DevicePolicy(device, "fp16", reason="Apple GPU: fp16")
        return DevicePolicy(device, precision, reason=f"Apple GPU, {precision} as asked")
    # CPU
    if precision in ("auto", "fp32"):
        return DevicePolicy("cpu", "fp32", reason="no GPU: the CPU runs in fp32 (fp16 on CPU is slow and lossy)")
    if precision == "bf16":
        return DevicePolicy("cpu", "bf16", reason="CPU with bf16 as asked (slower than fp32 on most CPUs)")
    raise DeviceError("fp16 is only supported on a GPU; on the CPU use fp32 (or bf16)", field="precision")


def use_sdpa(unet) -> None:
    """Route every attention layer of a diffusers model (UNet or VAE) through torch SDPA."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    unet.set_attn_processor(AttnProcessor2_0())


class OutOfMemory(OmfaError, RuntimeError):
    """A run needed more memory than the device has. ``low_memory_tried`` says whether the request already
    used the low-memory mode (then the advice is a smaller request or model, not a retry)."""

    def __init__(self, message: str, low_memory_tried: bool) -> None:
        super().__init__(message)
        self.low_memory_tried = low_memory_tried


def is_out_of_memory(e: BaseException) -> bool:
    """CUDA/MPS/CPU allocators raise different types; their messages all say "out of memory"."""
    import torch

    return isinstance(e, torch.OutOfMemoryError) or (isinstance(e, (RuntimeError, MemoryError))
                                                     and ("out of memory" in str(e).lower()
                                                          or isinstance(e, MemoryError)))


def free_memory(device: str) -> None:
    """Give cached blocks back after a failure, so the next (smaller) run can start."""
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()
