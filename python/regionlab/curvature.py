"""Curvature of the data-driven loss: the exact Hessian within the current activation
region, Hessian-vector products, the extreme eigenvalues, and sharpness along a run.

Inside one activation region a ReLU-family network is a polynomial in its parameters, so
the loss has an ordinary Hessian there; torch's autograd, whose ReLU has derivative 0 at
0 and second derivative 0, gives exactly that Hessian (the masks held fixed). The model
goes through regionlab's IR like every engine (``rl.flow``'s parameter map), so the
Hessian is over the model's own trainable parameters, in ``state_dict`` order. Losses as
in ``rl.flow.integrate`` (mean over samples). Small problems get the dense Hessian and
``numpy.linalg.eigvalsh``; larger ones Lanczos (``scipy.sparse.linalg.eigsh``) on
Hessian-vector products.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .flow._model import parse_model, prepare_data
from .flow._trainable import resolve_trainable

__all__ = ["hessian", "hvp", "hessian_extremes", "sharpness"]


class _LossAt:
    """The mean loss as a function of the trainable parameters, flattened."""

    def __init__(self, model: Any, X: Any, y: Any, loss: str, trainable: Any, theta: Any = None):
        import torch

        fm = parse_model(model, X)
        self.names = resolve_trainable(fm, trainable)
        Xa, Y = prepare_data(fm, X, y, loss)
        self.module = fm.to_torch(fm.theta0() if theta is None else theta).double()
        named = dict(self.module.named_parameters())
        self.shapes = [tuple(named[n].shape) for n in self.names]
        self.theta = torch.cat([named[n].detach().reshape(-1) for n in self.names])
        self.X, self.Y, self.loss = torch.from_numpy(Xa), torch.from_numpy(Y), loss
        # A convolution takes its inputs in their own shape (n, C, H, W); an MLP given
        # shaped data takes them flat, as the flow does.
        sample_shape = tuple(np.shape(X))[1:]
        if len(sample_shape) > 1 and int(np.prod(sample_shape)) == Xa.shape[1]:
            shaped = self.X.reshape((len(Xa),) + sample_shape)
            try:
                with torch.no_grad():
                    self.module(shaped[:1])
                self.X = shaped
            except Exception:  # (the flat matrix is the right input)
                pass

    def __call__(self, flat):
        import torch
        import torch.nn.functional as F

        params, off = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = int(np.prod(shape))
            params[name] = flat[off : off + size].reshape(shape)
            off += size
        out = torch.func.functional_call(self.module, params, (self.X,)).reshape(len(self.X), -1)
        if self.loss == "mse":
            return 0.5 * ((out - self.Y) ** 2).sum(1).mean()
        if self.loss in ("logistic", "bce"):
            return F.softplus(-self.Y * out).mean()
        if self.loss == "exp":
            return torch.exp(-self.Y * out).mean()
        return -(self.Y * torch.log_softmax(out, dim=1)).sum(1).mean()


def _dense_hessian(f: _LossAt) -> np.ndarray:
    """Reverse over reverse (torch's forward-mode path warns about torch.jit here)."""
    import torch

    return torch.func.jacrev(torch.func.jacrev(f))(f.theta).detach().numpy()


def _hvp(f: _LossAt, v) -> np.ndarray:
    """H v by double backward."""
    import torch

    theta = f.theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(theta), theta, create_graph=True)
    (Hv,) = torch.autograd.grad(g @ v, theta)
    return Hv.detach().numpy()


def hessian(model: Any, X: Any, y: Any, *, loss: str, trainable: Any = None) -> np.ndarray:
    """The loss's Hessian ``(P, P)`` over the trainable parameters (``state_dict`` order,
    each flattened), within the activation region of the current parameters."""
    import torch

    f = _LossAt(model, X, y, loss, trainable)
    return _dense_hessian(f)


def hvp(model: Any, X: Any, y: Any, v: Any, *, loss: str, trainable: Any = None) -> np.ndarray:
    """The Hessian times ``v`` (``(P,)``, the trainable parameters flattened in order)."""
    import torch

    f = _LossAt(model, X, y, loss, trainable)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.shape != tuple(f.theta.shape):
        raise ValueError(f"hvp: v must have {f.theta.numel()} entries (the trainable parameters)")
    return _hvp(f, torch.from_numpy(v))


def hessian_extremes(model: Any, X: Any, y: Any, *, loss: str, trainable: Any = None,
                     dense_limit: int = 2000, tol: float = 1e-10, theta: Any = None) -> tuple:
    """``(lambda_min, lambda_max)`` of the Hessian: ``eigvalsh`` of the dense Hessian up to
    ``dense_limit`` parameters, Lanczos on Hessian-vector products beyond (to ``tol``)."""
    import torch

    f = _LossAt(model, X, y, loss, trainable, theta)
    P = f.theta.numel()
    if P <= dense_limit:
        ev = np.linalg.eigvalsh(_dense_hessian(f))
        return float(ev[0]), float(ev[-1])
    from scipy.sparse.linalg import LinearOperator, eigsh

    def matvec(v):
        return _hvp(f, torch.from_numpy(np.asarray(v, dtype=np.float64).ravel()))

    op = LinearOperator((P, P), matvec=matvec, dtype=np.float64)
    lo = eigsh(op, k=1, which="SA", tol=tol, return_eigenvectors=False)[0]
    hi = eigsh(op, k=1, which="LA", tol=tol, return_eigenvectors=False)[0]
    return float(lo), float(hi)


def sharpness(traj: Any, X: Any, y: Any, *, records: Any = None, **kwargs) -> np.ndarray:
    """``lambda_max`` of the Hessian at the records of a ``rl.flow`` trajectory (all, or the
    indices in ``records``), over the parameters the run trained, with the run's loss:
    the sharpness that Elkabetz & Cohen relate to the gap between GD and the flow."""
    from .flow._trajectory import Trajectory

    if not isinstance(traj, Trajectory) or "loss" not in traj.stats:
        raise TypeError(f"sharpness takes a trajectory of rl.flow.integrate or rl.flow.gd, got "
                        f"{type(traj).__name__} (a population run's curvature: "
                        "rl.metrics.population_hessian)")
    idx = range(len(traj.t)) if records is None else list(records)
    out = []
    for i in idx:
        module = traj.model(i)  # its trained parameters require grad (names may differ after rl.load)
        trained = [n for n, p in module.named_parameters() if p.requires_grad]
        out.append(hessian_extremes(module, X, y, loss=traj.stats["loss"], trainable=trained,
                                    **kwargs)[1])
    return np.array(out)
