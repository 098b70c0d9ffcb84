"""Per-sample quantities of a network: the empirical NTK and per-sample gradient norms.

Both take a torch MLP or a PLNet (as :func:`regionlab.flow.integrate` does). On a kink
the slope is the package's convention, ``z == 0`` inactive: torch's autograd for a
(leaky) ReLU. An activation lowered to several ReLUs has its kinks moved onto those
units, so at exactly its bounds it can differ from torch: ``clamp(v, lo, hi) = lo +
relu(v - lo) - relu(v - hi)`` has slope 0 at ``lo`` and 1 at ``hi``, where torch's
``clamp`` gives 1 at both and its ``hardtanh``/``relu6`` 0 at both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .flow._model import FlowModel, parse_model, prepare_data
from .flow._trainable import TRAINABLE_DOC, resolve_trainable, trainable_mask
from ._validate import as_float_matrix, check_finite

from .curvature import hessian, hessian_extremes, hvp, sharpness  # noqa: E402

__all__ = [
    "hessian",
    "hvp",
    "hessian_extremes",
    "sharpness",
    "ntk",
    "sample_grad_norms",
    "population_loss",
    "population_gradient",
    "population_hessian",
]

_POPULATION_DOC = """The student is ``f(x) = sum_i a_i s(w_i . x)`` with rows ``w_i`` of ``W``
    ``(k, d)``, output weights ``a`` (default all ones, fixed) and ``s`` the leaky ReLU of
    ``negative_slope`` (0: ReLU); the teacher comes from ``rl.teachers.gaussian_relu``; the
    loss is ``F = 1/2 E[(f(x) - g(x))^2]``, ``x ~ N(0, I_d)``, in closed form (arc-cosine
    kernels, float64, C++). Where the kernel is not smooth: at a zero row ``w_i`` the
    derivative ``s'(0)`` is torch's (``relu'(0) = 0``; the negative slope for a leaky
    ReLU), so a zero ReLU row has zero gradient and a zero leaky row ``a_i * slope *
    E[(f - g)(x) x]``, and a zero row adds nothing to the other rows' derivatives; at
    parallel or antiparallel rows the derivatives are their limits, which exist."""


def ntk(model: Any, X: Any, *, parameterization: str = "standard",
        trainable: Any = None) -> np.ndarray:
    """The empirical NTK Gram matrix ``J P J^T`` from per-sample output gradients.

    ``J`` holds ``d f_c(x_i) / d theta`` over the trainable parameters (float64) and ``P``
    the parameterization's preconditioner (``"standard"``: identity). Shape ``(n, n)`` for
    a one-output model, ``(n, k, n, k)`` for ``k`` outputs.

    {trainable}
    """
    fm = parse_model(model, X)
    mask = trainable_mask(fm, resolve_trainable(fm, trainable))
    Xa = as_float_matrix(X, fm.widths[0], np.dtype(np.float64), "X")
    check_finite(Xa, "X")
    n, k = Xa.shape[0], fm.widths[-1]
    problem = fm.build_problem(Xa, np.zeros((n, k)), "mse", parameterization)
    from . import _core

    J, weight = fm.reduce_columns(_core.flow_output_jacobian(problem, fm.theta0()), mask,
                                  parameterization)
    K = (J * weight) @ J.T
    return K if k == 1 else K.reshape(n, k, n, k)


def sample_grad_norms(model: Any, X: Any, y: Any, *, loss: str,
                      trainable: Any = None) -> np.ndarray:
    """``|grad_theta loss(f(x_i), y_i)|`` over the trainable parameters, for each sample
    (shape ``(n,)``); ``trainable`` as in :func:`ntk`."""
    fm = parse_model(model, X)
    return _sample_grad_norms(fm, fm.theta0(), X, y, loss, resolve_trainable(fm, trainable))


def _sample_grad_norms(fm: FlowModel, theta: np.ndarray, X: Any, y: Any, loss: str,
                       trainable: list) -> np.ndarray:
    Xa, Y = prepare_data(fm, X, y, loss)
    problem = fm.build_problem(Xa, Y, loss, "standard")
    from . import _core

    G = _core.flow_sample_gradients(problem, np.ascontiguousarray(theta, dtype=np.float64))
    # per trained parameter (a traced model's: the sum over its entries, times coef)
    G, weight = fm.reduce_columns(G, trainable_mask(fm, trainable), "standard")
    return np.sqrt((G * G) @ weight)


ntk.__doc__ = ntk.__doc__.replace("{trainable}", TRAINABLE_DOC)


def population_loss(W: Any, teacher: Any, a: Any = None, *, negative_slope: float = 0.0,
                    bias: float = 0.0) -> float:
    """The population loss ``F(W)`` of a two-layer student against ``teacher``.

    {population}
    """
    from . import _core
    from ._population import finite_result, student_arrays

    W, a, alpha = student_arrays(W, teacher, a, negative_slope, "population_loss")
    F = _core.population_gradient(W, a, teacher.V, teacher.b, alpha, float(bias))[0]
    return float(finite_result(F, "population_loss"))


def population_gradient(W: Any, teacher: Any, a: Any = None, *, negative_slope: float = 0.0,
                        return_a: bool = False, bias: float = 0.0, return_bias: bool = False):
    """``dF/dW`` ``(k, d)``; with ``return_a=True``, ``(dF/dW, dF/da)``; with
    ``return_bias=True`` also ``dF/dc`` last (``c`` = ``bias``, the output bias).

    {population}
    """
    from . import _core
    from ._population import finite_result, student_arrays

    W, a, alpha = student_arrays(W, teacher, a, negative_slope, "population_gradient")
    F, gW, ga, gc = _core.population_gradient(W, a, teacher.V, teacher.b, alpha, float(bias))
    finite_result([F, gc, *gW.ravel(), *ga], "population_gradient")
    out = (gW,) + ((ga,) if return_a else ()) + ((float(gc),) if return_bias else ())
    return out if len(out) > 1 else gW


def population_hessian(W: Any, teacher: Any, a: Any = None, *, negative_slope: float = 0.0,
                       bias: float = 0.0) -> np.ndarray:
    """``d^2F/dW^2`` ``(k d, k d)``, ``W`` flattened row-major (``a`` held fixed).

    {population}
    """
    from . import _core
    from ._population import finite_result, student_arrays

    W, a, alpha = student_arrays(W, teacher, a, negative_slope, "population_hessian")
    H = _core.population_hessian(W, a, teacher.V, teacher.b, alpha, float(bias))
    return finite_result(H, "population_hessian")


for _f in (population_loss, population_gradient, population_hessian):
    _f.__doc__ = _f.__doc__.replace("{population}", _POPULATION_DOC)
