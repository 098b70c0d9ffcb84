"""Input checking and the documented conversions shared by every public function.

Conversions (documented in the README): torch tensors become numpy arrays (detached, on
the CPU); integer, bool-free real and float16 data are upcast to the network's dtype;
non-contiguous arrays are copied to C order; inputs shaped ``(n, *input_shape)`` are
flattened to ``(n, d)``. Everything else gets a ``TypeError``/``ValueError`` saying what
to do.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(X: Any, what: str) -> np.ndarray:
    """A numpy view of an array-like or a torch tensor, without importing torch."""
    if isinstance(X, (set, frozenset, dict)):
        raise TypeError(
            f"{what}: got a {type(X).__name__}, which has no order; pass an array or a list"
        )
    if isinstance(X, np.ma.MaskedArray):
        if np.ma.getmaskarray(X).any():
            raise ValueError(
                f"{what}: a masked array with masked entries; regionlab would ignore the mask, "
                "so fill them (X.filled(value)) or drop those samples first"
            )
        X = np.ma.getdata(X)
    if type(X).__module__.startswith("torch") and hasattr(X, "detach"):
        if getattr(X, "is_meta", False):
            raise ValueError(
                f"{what}: the tensor is on the meta device and holds no values; "
                "materialise it (e.g. torch.randn(..., device='cpu')) first"
            )
        X = X.detach()
        if X.dtype.is_complex or str(X.dtype) == "torch.bfloat16":
            X = X.float() if not X.dtype.is_complex else X
        X = X.cpu().numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:  # e.g. ragged lists
        raise TypeError(f"{what}: could not turn {type(X).__name__} into an array ({exc})") from exc
    return arr


def as_float_matrix(
    X: Any, input_dim: int, dtype: np.dtype, what: str, *, allow_empty: bool = False,
    sample_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """``X`` as a C-contiguous ``(n, input_dim)`` array of ``dtype``, or a clear error.

    A 1-D ``X`` is ``n`` samples when the network has one input. ``allow_empty`` lets
    ``(0, input_dim)`` through (evaluation of nothing gives nothing).
    """
    arr = to_numpy(X, what)
    if arr.dtype == object or arr.dtype.kind in "OSUV":
        raise TypeError(f"{what}: inputs must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind in "Mm":  # numpy would count days or seconds since an epoch
        raise TypeError(f"{what}: inputs are dates or durations ({arr.dtype}); convert them to "
                        "the numbers the network expects first")
    if arr.dtype.kind == "c":
        raise TypeError(f"{what}: inputs must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind == "b":
        raise TypeError(f"{what}: inputs are booleans; convert them with X.astype(np.float32)")
    if arr.ndim == 1 and input_dim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim == 1:
        if arr.shape[0] == input_dim:
            raise ValueError(
                f"{what}: X has shape {arr.shape}; pass a batch of shape (n, {input_dim}) "
                f"(for one input use X[None, :])"
            )
        raise ValueError(f"{what}: X has shape {arr.shape}; expected (n, {input_dim})")
    if arr.ndim == 0:
        raise ValueError(f"{what}: X is a scalar; expected shape (n, {input_dim})")
    if arr.ndim > 2:
        if sample_shape is not None and tuple(arr.shape[1:]) != tuple(sample_shape):
            raise ValueError(
                f"{what}: samples of shape {tuple(arr.shape[1:])}, but the net takes inputs of "
                f"shape {tuple(sample_shape)} (as the torch model does: channels first); pass "
                f"(n, {', '.join(map(str, sample_shape))}) or flat (n, {input_dim}) arrays"
            )
        per_sample = int(np.prod(arr.shape[1:]))
        if per_sample != input_dim:
            raise ValueError(
                f"{what}: X has shape {arr.shape}, i.e. {per_sample} values per sample, "
                f"but the network takes {input_dim}"
            )
        arr = arr.reshape(arr.shape[0], input_dim)
    if arr.shape[1] != input_dim:
        raise ValueError(
            f"{what}: X has shape {arr.shape} but the network takes {input_dim} inputs; "
            f"expected (n, {input_dim})"
        )
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{what}: X is empty (0 samples)")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_finite(arr: np.ndarray, what: str) -> None:
    """Raise ``ValueError`` naming the first NaN/Inf entry of ``arr``."""
    if arr.size and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{what} contains NaN or Inf (first at index {tuple(int(i) for i in bad)}); "
            "regionlab needs finite values"
        )


def positive_int(value: Any, name: str, what: str) -> int:
    """``value`` as a positive int, refusing bools and floats (``True`` is not a size)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what}: {name} must be a positive int, got {value!r}")
    return int(value)


def is_torch_module(obj: Any) -> bool:
    """A ``torch.nn.Module``, recognised without importing torch."""
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)
