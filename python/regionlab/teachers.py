"""Teachers for teacher-student experiments.

:func:`gaussian_relu` is the teacher of the closed-form population loss
(``rl.metrics.population_loss``): ``g(x) = sum_j b_j relu(v_j . x)`` with ``x ~ N(0, I_d)``.
:func:`linear` is a data teacher for the data-driven flow: labels ``sign(w* . x)`` with a
margin (linearly separable data, as in Sarussi, Brutzkus & Globerson 2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import math

import numpy as np

from ._validate import check_finite

__all__ = ["GaussianReLUTeacher", "gaussian_relu", "LinearTeacher", "linear"]


@dataclass(frozen=True)
class GaussianReLUTeacher:
    """``g(x) = sum_j b_j relu(v_j . x)`` on Gaussian inputs ``x ~ N(0, I_d)``."""

    V: np.ndarray  # (k, d): the rows v_j
    b: np.ndarray  # (k,)

    @property
    def k(self) -> int:
        return int(self.V.shape[0])

    @property
    def d(self) -> int:
        return int(self.V.shape[1])

    def __call__(self, X: Any) -> np.ndarray:
        """The teacher's output on inputs ``X`` ``(n, d)``."""
        X = np.asarray(X, dtype=np.float64)
        return np.maximum(X @ self.V.T, 0.0) @ self.b

    def sample(self, n: int, seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` Gaussian inputs and the teacher's labels: a data set for the data-driven flow."""
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((int(n), self.d))
        return X, self(X)


def gaussian_relu(V: Any = None, b: Any = None, *, d: int | None = None) -> GaussianReLUTeacher:
    """A teacher ``sum_j b_j relu(v_j . x)`` under ``x ~ N(0, I_d)``.

    ``V``: the weight rows ``(k, d)``; an int ``k`` (or ``None`` with ``d=``) means the
    identity ``I_k``, the teacher of Safran & Shamir (2018). ``b``: output weights,
    default all ones.
    """
    if V is None:
        if d is None:
            raise ValueError("gaussian_relu: give V (the teacher's weight rows) or d= for V = I_d")
        V = int(d)
    if isinstance(V, (int, np.integer)) and not isinstance(V, bool):
        if V < 1:
            raise ValueError(f"gaussian_relu: the identity teacher needs k >= 1, got {V}")
        V = np.eye(int(V))
    V = np.array(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] < 1 or V.shape[1] < 1:
        raise ValueError(f"gaussian_relu: V must be a non-empty (k, d) matrix, got shape {V.shape}")
    b = np.ones(V.shape[0]) if b is None else np.array(b, dtype=np.float64).reshape(-1)
    if b.shape != (V.shape[0],):
        raise ValueError(f"gaussian_relu: b needs one entry per row of V ({V.shape[0]}), got {b.shape}")
    check_finite(V, "V")
    check_finite(b, "b")
    V.setflags(write=False)
    b.setflags(write=False)
    return GaussianReLUTeacher(V, b)


@dataclass(frozen=True)
class LinearTeacher:
    """Labels ``sign(w . x)`` (+-1) on Gaussian or uniform inputs, every sample at least
    ``margin`` from the hyperplane (``|w . x| / |w| >= margin``)."""

    w: np.ndarray
    margin: float
    inputs: str

    @property
    def d(self) -> int:
        return int(self.w.shape[0])

    def __call__(self, X: Any) -> np.ndarray:
        return np.where(np.asarray(X, dtype=np.float64) @ self.w > 0, 1.0, -1.0)

    def sample(self, n: int, seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` inputs (``N(0, I)``, or uniform on ``[-1, 1]^d``) outside the margin, and
        their labels; samples inside the margin are redrawn."""
        rng = np.random.default_rng(seed)
        n = int(n)
        unit = _unit(self.w)
        gaussian = self.inputs == "gaussian"
        if gaussian and math.erfc(self.margin / math.sqrt(2)) < 1e-3:
            X = self._gaussian_tail(rng, n, unit)
            return X, self(X)
        out = np.empty((0, self.d))
        drawn = 0
        while len(out) < n:
            if drawn > 1000 * n + 10**7:  # uniform inputs with a margin near the corners
                raise ValueError(
                    f"linear: {drawn:,} uniform draws gave only {len(out)} of {n} samples at margin "
                    f"{self.margin:g} (the cube reaches {np.abs(unit).sum():g}): use a smaller margin")
            m = 2 * (n - len(out)) + 16
            X = rng.standard_normal((m, self.d)) if gaussian else rng.uniform(-1, 1, (m, self.d))
            drawn += m
            out = np.vstack([out, X[np.abs(X @ unit) >= self.margin]])
        X = out[:n]
        return X, self(X)

    def _gaussian_tail(self, rng, n: int, unit: np.ndarray) -> np.ndarray:
        """Exact draws for a margin far in the tail, where redrawing would take for ever:
        the part along ``w`` from N(0, 1) beyond the margin (Marsaglia's tail method, a
        random sign), the orthogonal part Gaussian."""
        a, t = self.margin, np.empty(0)
        while len(t) < n:
            u1, u2 = rng.uniform(size=(2, 2 * (n - len(t)) + 16))
            x = np.sqrt(a * a - 2 * np.log1p(-u1))  # (1 - u1 in (0, 1]: log never of 0)
            t = np.concatenate([t, x[u2 * x <= a]])
        t = t[:n] * rng.choice([-1.0, 1.0], n)
        Z = rng.standard_normal((n, self.d))
        Z -= np.outer(Z @ unit, unit)
        return Z + np.outer(t, unit)


def _unit(w: np.ndarray) -> np.ndarray:
    """w / |w|, scaled first so that |w| neither overflows nor underflows."""
    v = w / np.abs(w).max()
    return v / np.linalg.norm(v)


def linear(w: Any = None, *, d: int | None = None, margin: float = 0.0, inputs: str = "gaussian",
           seed: Any = None) -> LinearTeacher:
    """A linear teacher ``sign(w* . x)``; ``w`` given, or drawn ``N(0, I_d)`` with ``d=`` and
    ``seed=``. ``margin``: the smallest distance of a sample to the hyperplane;
    ``inputs``: ``"gaussian"`` or ``"uniform"``."""
    if inputs not in ("gaussian", "uniform"):
        raise ValueError(f"linear: inputs must be 'gaussian' or 'uniform', got {inputs!r}")
    if w is None:
        if d is None:
            raise ValueError("linear: give w (the teacher's direction) or d=")
        w = np.random.default_rng(seed).standard_normal(int(d))
    w = np.array(w, dtype=np.float64).reshape(-1)
    check_finite(w, "w")
    if w.size == 0 or not np.abs(w).max() > 0:
        raise ValueError("linear: w must be nonzero")
    margin = float(margin)
    unit = _unit(w)
    reach = np.inf if inputs == "gaussian" else float(np.abs(unit).sum())
    if not np.isfinite(margin * margin):
        raise ValueError(f"linear: margin {margin:g} is beyond float64's reach (its square overflows)")
    if not 0 <= margin < reach:
        raise ValueError(f"linear: margin must be in [0, {reach:g}) for {inputs} inputs, got {margin}")
    w.setflags(write=False)
    return LinearTeacher(w, margin, inputs)
