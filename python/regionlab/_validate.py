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
    if type(X).__module__.startswith("torch") and hasattr(X, "detach"):
        X = X.detach()
        if X.dtype.is_complex or str(X.dtype) == "torch.bfloat16":
            X = X.float() if not X.dtype.is_complex else X
        X = X.cpu().numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:  # e.g. ragged lists
        raise TypeError(f"{what}: could not turn {type(X).__name__} into an array ({exc})") from exc
    return arr


def as_float_matrix(X: Any, input_dim: int, dtype: np.dtype, what: str) -> np.ndarray:
    """``X`` as a C-contiguous ``(n, input_dim)`` array of ``dtype``, or a clear error."""
    arr = to_numpy(X, what)
    if arr.dtype == object or arr.dtype.kind in "OSUV":
        raise TypeError(f"{what}: inputs must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind == "c":
        raise TypeError(f"{what}: inputs must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind == "b":
        raise TypeError(f"{what}: inputs are booleans; convert them with X.astype(np.float32)")
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
    if arr.shape[0] == 0:
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
