"""`regionlab.police`: make a ReLU network provably affine on a convex region (POLICE).

Balestriero & LeCun, "POLICE: Provably Optimal Linear Constraint Enforcement for Deep
Neural Networks", ICASSP 2023 (arXiv:2211.01340).

A network of ``Linear`` layers and kinked activations (``ReLU``, ``LeakyReLU``: the kink
at pre-activation 0) is affine on a convex set R as soon as no unit changes sign on R.
POLICE enforces that with a bias correction computed from the vertices ``V`` (p, d) of R
(R = conv V). Layer by layer, with ``V_l`` the vertices propagated through the (already
corrected) layers before:

    H = V_l W^T + b                                  (p, n): pre-activations at the vertices
    s_k = +1 if more than half of H[:, k] are > 0, else -1      (the majority side; a tie -> -1)
    c_k = s_k * max(0, margin - min_i s_k H[i, k])               (the smallest such shift)
    h(x) = x W^T + b + c,   V_{l+1} = act(H + c)

After the shift every vertex lies at least ``margin`` (in pre-activation units) on the
side ``s_k`` of unit k's kink. By induction the layer's input is affine on R, so its
pre-activations are affine there and take their extreme values at the vertices: the whole
of R stays on one side of every kink, all of R has one activation pattern, and the
network is a single affine map on R. Units whose vertices already agree with a margin
are not moved (c_k = 0); outside R the network is free.

During training (the paper's use) the correction is recomputed at every forward pass
from the current weights, so ordinary training learns the task while the constraint holds
exactly at every step. As in the authors' code, autograd differentiates through the
shift (through the pre-activation of the vertex that sets it; the majority side and the
choice of shifted units are piecewise constant): the gradient is that of the corrected
network, the function actually trained. The correction depends on the weights only,
never on the batch, so a trained model is exported by writing ``b + c`` into the biases
(:meth:`Police.export`), a plain ``nn.Sequential`` that :func:`regionlab.from_torch`,
:func:`regionlab.regions` and the rest take as is.

``margin=0`` is the authors' reference (``enforce_constraint_forward`` in
github.com/RandallBalestriero/POLICE, utils.py; tested to agree in value and gradient):
there the nearest vertex of a shifted unit lands on the kink, so R lies in the closure of
one region (one affine map, but that vertex has another activation pattern). One
exception: the reference counts the majority in float16, where its tie-break ``C / 2 +
1e-6`` rounds to ``C / 2``, so a unit with exactly half of the vertices on each side
(common for the 4 corners of a 2-D box) gets sign 0 and is not shifted, and the network
is then not affine on R; here a tie goes to the negative side, as that code intends.

The default ``margin=1e-4`` (pre-activation units) keeps every vertex that far from every
kink, so R lies strictly inside one region with float32 rounding to spare, and every
point of R, vertices included, has one pattern. Where the pre-activations at the vertices
are so large that the dtype's rounding there exceeds the margin (float32 beyond ~1e3), a
unit's margin is raised to four times that rounding (``eps * (n_in + 2) * depth *
max_vertex |W| |v| + |b|``), so the guarantee holds at every scale (``margin=0`` is left
as it is).

    from regionlab import police
    model = police.constrained(nn.Sequential(...), police.box_vertices(lo, hi))
    ... train model like any nn.Module ...
    plain = model.export()            # nn.Sequential, affine on R
    rl.regions(plain, lo, hi).n_regions == 1
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np
import torch
from torch import nn

from ._torch_import import _leaves

__all__ = ["Police", "constrained", "correct", "box_vertices"]

_KINKED = (nn.ReLU, nn.LeakyReLU)
_SUPPORTED = "Linear, ReLU, LeakyReLU, Identity (nested nn.Sequential allowed)"


def box_vertices(lower: Any, upper: Any) -> np.ndarray:
    """The ``2**d`` corners of the box ``lower <= x <= upper`` as a ``(2**d, d)`` array
    (first coordinate slowest), the vertices POLICE needs for a box region."""
    lo = np.asarray(lower, dtype=np.float64).reshape(-1)
    hi = np.asarray(upper, dtype=np.float64).reshape(-1)
    if lo.shape != hi.shape or lo.size == 0:
        raise ValueError(f"lower and upper must be non-empty and of one length, got {lo.size} and {hi.size}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("lower and upper must be finite")
    if np.any(lo > hi):
        raise ValueError("every lower bound must be <= its upper bound")
    if lo.size > 20:
        raise ValueError(f"a box in {lo.size} dimensions has 2**{lo.size} corners; pass fewer dimensions")
    return np.array([[hi[j] if c[j] else lo[j] for j in range(lo.size)]
                     for c in itertools.product((0, 1), repeat=lo.size)])


def _unit_margins(layer: nn.Linear, v: torch.Tensor, margin: float, depth: int) -> torch.Tensor:
    """Each unit's margin: ``margin``, or a few times the rounding of its pre-activations
    at the vertices where that is larger (an absolute 1e-4 is below float32's spacing once
    the pre-activations reach ~1e3: the shifted vertex would round back onto the kink).
    ``margin=0`` stays 0: the authors' reference, the nearest vertex on the kink."""
    if margin == 0.0:
        return margin
    with torch.no_grad():
        scale = (v.abs() @ layer.weight.abs().T).amax(0)
        if layer.bias is not None:
            scale = scale + layer.bias.abs()
        # a dot product of n terms rounds by <= n eps of its absolute sum; the vertices
        # carry the rounding of the layers before (depth), and b + c rounds once more
        rounding = torch.finfo(v.dtype).eps * (layer.in_features + 2) * depth * scale
        return torch.clamp(4.0 * rounding, min=margin)


def _shift(h: torch.Tensor, margin: float | torch.Tensor) -> torch.Tensor:
    """The POLICE bias shift c (n,) for pre-activations ``h`` (p, n) at the vertices;
    differentiable in ``h`` (the majority side is a constant)."""
    p = h.shape[0]
    with torch.no_grad():
        side = torch.where((h > 0).sum(0) * 2 > p, 1.0, -1.0).to(h.dtype)
    need = (margin - (side * h).amin(0)).clamp(min=0.0)
    return side * need


class Police(nn.Module):
    """A chain of ``Linear`` and ``ReLU``/``LeakyReLU`` layers whose forward applies the
    POLICE bias correction for the region ``conv(vertices)`` (see the module docstring).

    Attributes: ``model`` (the wrapped ``nn.Sequential``, whose parameters train),
    ``vertices`` (a buffer, ``(p, d)``), ``margin``. :meth:`shifts` gives the current
    corrections, :meth:`export` a plain ``nn.Sequential`` with them in its biases.
    """

    def __init__(self, model: nn.Module, vertices: Any, *, margin: float = 1e-4):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        # The modules the (nested) Sequential runs, as from_torch reads them (a Sequential
        # subclass with its own forward is a leaf, refused below).
        layers = [m for _, m in _leaves(model, "model")]
        prev: nn.Module | None = None
        d = None
        for m in layers:
            if not isinstance(m, (nn.Linear, nn.Identity) + _KINKED):
                raise TypeError(f"police: unsupported module {type(m).__name__}; supported: {_SUPPORTED}")
            if isinstance(m, _KINKED) and not isinstance(prev, nn.Linear):
                raise TypeError(f"police: every {type(m).__name__} must directly follow a Linear "
                                "(its kink is moved through that Linear's bias)")
            if isinstance(m, nn.Linear) and d is None:
                d = m.in_features
            if not isinstance(m, nn.Identity):
                prev = m
        if d is None:
            raise TypeError("police: the model has no Linear layer")
        if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)):
            raise TypeError(f"margin must be a number, got {type(margin).__name__}")
        margin = float(margin)
        if not (np.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be finite and >= 0, got {margin}")
        param = next(model.parameters())
        try:
            V = torch.as_tensor(np.asarray(vertices.detach().cpu() if isinstance(vertices, torch.Tensor) else vertices,
                                           dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"vertices must be a (p, {d}) array of numbers, got {type(vertices).__name__}") from None
        if V.ndim != 2 or V.shape[0] == 0 or V.shape[1] != d:
            raise ValueError(f"vertices must be a (p, {d}) array of the region's vertices, got shape {tuple(V.shape)}")
        if not torch.isfinite(V).all():
            raise ValueError("vertices must be finite")
        self.model = model
        self._layers = layers
        self.register_buffer("vertices", V.to(dtype=param.dtype, device=param.device))
        self.margin = margin

    def _run(self, x: torch.Tensor | None):
        """Forward ``x`` (or None) and the vertices side by side; returns (output, shifts)."""
        v = self.vertices
        shifts: list[tuple[int, torch.Tensor]] = []
        layers = self._layers
        depth = 0
        for i, m in enumerate(layers):
            if isinstance(m, nn.Linear):
                hv = m(v)
                depth += 1
                nxt = next((n for n in layers[i + 1:] if not isinstance(n, nn.Identity)), None)
                if isinstance(nxt, _KINKED):
                    c = _shift(hv, _unit_margins(m, v, self.margin, depth))
                    shifts.append((i, c))
                    hv = hv + c
                    if x is not None:
                        x = m(x) + c
                elif x is not None:
                    x = m(x)
                v = hv
            else:
                v = m(v)
                if x is not None:
                    x = m(x)
        return x, shifts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[0]

    def shifts(self) -> list[torch.Tensor]:
        """The current bias corrections, one ``(out_features,)`` tensor per Linear that
        feeds a kinked activation, in order."""
        with torch.no_grad():
            return [c for _, c in self._run(None)[1]]

    def export(self) -> nn.Sequential:
        """A plain ``nn.Sequential`` (deep copies of the layers, flattened) computing the same
        function: each corrected Linear's bias is ``b + c`` (a bias is added where the
        Linear had none). It is affine on the region and has no hooks into this module."""
        with torch.no_grad():
            _, shifts = self._run(None)
            where = dict(shifts)
            out = []
            for i, m in enumerate(self._layers):
                m2 = copy.deepcopy(m)
                if i in where:
                    if m2.bias is None:
                        lin = nn.Linear(m2.in_features, m2.out_features, bias=True,
                                        dtype=m2.weight.dtype, device=m2.weight.device)
                        lin.weight.copy_(m2.weight)
                        lin.bias.zero_()
                        m2 = lin
                    m2.bias.add_(where[i])
                out.append(m2)
        return nn.Sequential(*out)


def constrained(model: nn.Module, vertices: Any, *, margin: float = 1e-4) -> Police:
    """Wrap ``model`` (an ``nn.Sequential`` of Linear / ReLU / LeakyReLU / Identity) so that
    its forward is affine on ``conv(vertices)``: the POLICE bias correction, recomputed at
    every call from the current weights (train the wrapper like the model; its parameters
    are the model's). ``vertices``: ``(p, d)``, e.g. :func:`box_vertices`; ``margin``: the
    least distance, in pre-activation units, of every vertex from every kink."""
    return Police(model, vertices, margin=margin)


def correct(model: nn.Module, vertices: Any, *, margin: float = 1e-4) -> nn.Sequential:
    """A plain copy of ``model`` with the POLICE correction written into its biases
    (``constrained(model, vertices, margin=margin).export()``): affine on ``conv(vertices)``."""
    return constrained(model, vertices, margin=margin).export()
