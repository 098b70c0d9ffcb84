"""The closed-form population loss of two-layer students against a Gaussian ReLU teacher:
argument checks shared by ``rl.metrics.population_*`` (the kernels are C++)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import check_finite
from .teachers import GaussianReLUTeacher


def student_arrays(W: Any, teacher: Any, a: Any, negative_slope: float, what: str):
    """``(W, a, alpha)`` as validated float64 arrays for the core."""
    if not isinstance(teacher, GaussianReLUTeacher):
        raise TypeError(f"{what}: teacher must come from rl.teachers.gaussian_relu(...), "
                        f"got {type(teacher).__name__}")
    W = np.ascontiguousarray(np.asarray(W, dtype=np.float64))
    if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] != teacher.d:
        raise ValueError(f"{what}: W must be (k, {teacher.d}) (rows w_i, the teacher's input "
                         f"dimension), got shape {W.shape}")
    a = np.ones(W.shape[0]) if a is None else np.ascontiguousarray(np.asarray(a, dtype=np.float64).reshape(-1))
    if a.shape != (W.shape[0],):
        raise ValueError(f"{what}: a needs one entry per row of W ({W.shape[0]}), got {a.shape}")
    check_finite(W, "W")
    check_finite(a, "a")
    alpha = float(negative_slope)
    if not np.isfinite(alpha):
        raise ValueError(f"{what}: negative_slope must be finite")
    return W, a, alpha


def finite_result(value: Any, what: str) -> Any:
    """``value``, or a ValueError when the closed form overflowed float64 (huge weights)."""
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what}: the population loss overflows float64 at these weights "
                         "(|W| or |V| near 1e150); rescale them")
    return value
