"""The CUDA side of :func:`regionlab.count_patterns` (``device="cuda"``).

Everything here is thin: it checks that this build and machine have CUDA, turns device
tensors into validated ``(n, d)`` CUDA buffers, and sizes defaults; the work is in C++
(``cpp/cuda``). regionlab is built without CUDA by default; build it with
``REGIONLAB_CUDA=ON pip install --no-build-isolation .`` (needs nvcc and cuBLAS, from the
CUDA toolkit or the ``nvidia-cublas`` wheel that torch's CUDA builds install).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["cuda_available", "cuda_device_count"]

BUILD_HINT = (
    "build regionlab with CUDA: REGIONLAB_CUDA=ON pip install --no-build-isolation . "
    "(needs nvcc and cuBLAS), or count on the CPU with device='cpu'"
)


def _core_has_cuda() -> bool:
    from . import _core

    return hasattr(_core, "cuda_device_count")


def cuda_device_count() -> int:
    """CUDA devices this build can use (0 when built without CUDA or no device is visible)."""
    if not _core_has_cuda():
        return 0
    from . import _core

    try:
        return int(_core.cuda_device_count())
    except Exception:  # a broken driver is "no device", never an exception here
        return 0


def cuda_available() -> bool:
    """True when this regionlab was built with CUDA and a CUDA device is visible."""
    return cuda_device_count() > 0


def parse_device(device: Any, what: str = "count_patterns") -> int | None:
    """None for the CPU, else the CUDA device index (``"cuda"`` is device 0)."""
    if device is None:
        return None
    text = str(device)  # also a torch.device
    if text == "cpu":
        return None
    m = re.fullmatch(r"cuda(?::(\d+))?", text)
    if m is None:
        raise ValueError(f"{what}: device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return int(m.group(1) or 0)


def require_cuda(index: int, what: str = "count_patterns") -> None:
    """Raise RuntimeError/ValueError saying why device ``cuda:index`` cannot be used."""
    if not _core_has_cuda():
        raise RuntimeError(f"{what}(device='cuda'): this regionlab build has no CUDA support; {BUILD_HINT}")
    from . import _core

    n = cuda_device_count()
    if n == 0:
        raise RuntimeError(
            f"{what}(device='cuda'): regionlab was built with CUDA but no CUDA device is visible "
            f"({_core.cuda_status()}); check the driver and CUDA_VISIBLE_DEVICES, or use device='cpu'"
        )
    if index >= n:
        raise ValueError(f"{what}: device cuda:{index} requested but only {n} CUDA device(s) are visible")


def is_cuda_tensor(X: Any) -> bool:
    return type(X).__module__.startswith("torch") and bool(getattr(X, "is_cuda", False))


def device_matrix(t: Any, input_dim: int, dtype: np.dtype, device: int, what: str) -> Any:
    """A CUDA tensor as a contiguous ``(n, input_dim)`` tensor of ``dtype`` on its device
    (converted there, never copied to the host), or a clear error."""
    import torch

    t = t.detach()
    if t.dtype == torch.bool:
        raise TypeError(f"{what}: inputs are booleans; convert them with X.float()")
    if t.is_complex():
        raise TypeError(f"{what}: inputs must be real, got complex dtype {t.dtype}")
    if t.device.index != device:
        raise ValueError(
            f"{what}: X is on {t.device} but counting runs on cuda:{device}; pass device='{t.device}'"
        )
    if t.ndim == 1 and input_dim == 1:
        t = t.reshape(-1, 1)  # a net with one input takes (n,) as n samples, as on the CPU
    if t.ndim < 2:
        raise ValueError(f"{what}: X has shape {tuple(t.shape)}; expected (n, {input_dim})")
    per_sample = int(np.prod(t.shape[1:]))
    if per_sample != input_dim:
        raise ValueError(
            f"{what}: X has shape {tuple(t.shape)} but the network takes {input_dim} inputs; "
            f"expected (n, {input_dim})"
        )
    if t.shape[0] == 0:
        raise ValueError(f"{what}: X is empty (0 samples)")
    t = t.reshape(t.shape[0], input_dim)
    want = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    if t.dtype != want:
        t = t.to(want)
    return t.contiguous()


def add_tensor(counter: Any, t: Any, return_ids: bool) -> Any:
    """Counts a validated CUDA tensor in place. Waits for torch's current stream first, so
    that work queued on it (e.g. the tensor's creation) is complete."""
    import torch

    torch.cuda.current_stream(t.device).synchronize()
    return counter.add_device(t.data_ptr(), int(t.shape[0]), return_ids)


def default_max_patterns(bytes_per_pattern: int, device: int) -> int:
    """Patterns that fit in half of the device's free memory."""
    from . import _core

    free, _total = _core.cuda_memory(device)
    return max(1, int(free // 2 // bytes_per_pattern))


def make_counter(net: Any, with_table: bool, store_patterns: bool, limit: int, device: int, batch_rows: int) -> Any:
    from . import _core

    cls = _core.CudaPatternCounter32 if net.dtype == np.float32 else _core.CudaPatternCounter64
    return cls(net._core(), with_table, store_patterns, limit, device, batch_rows)
