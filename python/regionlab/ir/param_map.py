"""Which parameter of the source model each entry of a PLNet's stages comes from.

The stages of a converted model are functions of its parameters. Wherever every entry is
``const + coef * theta[id]`` for one parameter entry ``theta[id]`` (a ``Linear`` in a
residual MLP, a skip's identity block being a constant), training the model is training
those entries: ``d entry / dt = coef * d theta[id] / dt``. The map is found by lowering the
model with probe values for the parameters (all 0, all 1, each entry's own index, random)
and checked on the random probe: an entry that mixes parameters or depends on one
nonlinearly (two ``Linear`` layers without an activation between, a trainable ``BatchNorm``
folded into a layer, ``PReLU`` slopes) is refused with a ``TypeError``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["ParameterMap", "parameter_map", "flat_entries"]


@dataclass
class ParameterMap:
    """``entries = const + coef * theta[source]`` (``source == -1``: a constant entry), with
    ``theta`` the model's parameters flattened in ``named_parameters()`` order."""

    names: list
    shapes: list
    theta: np.ndarray  # the model's parameters, flat
    source: np.ndarray  # per entry: index into theta, or -1
    coef: np.ndarray
    const: np.ndarray

    def parameters_of(self, entries: np.ndarray) -> np.ndarray:
        """The parameters ``(..., len(theta))`` that entries ``(..., n_entries)`` hold: each
        parameter entry read from one entry that uses it; unused ones keep their values."""
        entries = np.asarray(entries, dtype=np.float64)
        out = np.broadcast_to(self.theta, entries.shape[:-1] + self.theta.shape).copy()
        used = np.flatnonzero(self.source >= 0)
        ids, first = np.unique(self.source[used], return_index=True)
        e = used[first]
        out[..., ids] = (entries[..., e] - self.const[e]) / self.coef[e]
        return out

    def split(self, theta: np.ndarray) -> dict:
        """Flat parameters ``(..., P)`` -> ``{name: (..., *shape)}``."""
        from ..flow._model import split_flat

        return split_flat(theta, self.names, self.shapes)


def flat_entries(stages) -> np.ndarray:
    """The stages' entries in the flow's layout: each stage's weight (row-major), its bias."""
    return np.concatenate([np.concatenate([st.weight.ravel(), st.bias]) for st in stages])


def parameter_map(model: Any, lower: Callable[[Any], list],
                  stages: list | None = None) -> tuple[list, ParameterMap]:
    """``(stages, map)`` of ``model``; ``lower(module)`` gives a module's float64 stages
    (``stages``: the model's own, when already lowered)."""
    import torch

    # Probe values go into a float64 copy: writing them into the model itself, even
    # restored afterwards, would bump its parameters' autograd versions.
    probe = copy.deepcopy(model).double()
    params = list(probe.named_parameters())

    names = [n for n, _ in params]
    shapes = [tuple(p.shape) for _, p in params]
    sizes = [p.numel() for _, p in params]
    theta = np.concatenate([p.detach().cpu().double().numpy().ravel() for _, p in params]) \
        if params else np.zeros(0)
    N = theta.size

    def lowered(values: np.ndarray):
        with torch.no_grad():
            off = 0
            for (_, p), size in zip(params, sizes):
                p.copy_(torch.from_numpy(values[off : off + size].reshape(p.shape)))
                off += size
        return lower(probe)

    if stages is None:
        stages = lowered(theta)
    zero, one = lowered(np.zeros(N)), lowered(np.ones(N))
    index = lowered(np.arange(1.0, N + 1.0))
    rnd = np.random.default_rng(0).standard_normal(N)
    check = lowered(rnd)
    for other in (zero, one, index, check):
        for k, (a, b) in enumerate(zip(stages, other)):
            if not np.array_equal(a.negative_slope, b.negative_slope):
                raise TypeError(
                    f"stage {k}'s activation slopes depend on the model's parameters (a "
                    "trainable PReLU): gradient flow trains affine maps only; freeze them"
                )
    k0 = flat_entries(zero)
    coef = flat_entries(one) - k0
    with np.errstate(divide="ignore", invalid="ignore"):
        ids = np.where(coef != 0, np.rint((flat_entries(index) - k0) / coef) - 1, -1)
    source = np.where((ids >= 0) & (ids < N), ids, -1).astype(np.int64)
    predicted = k0 + np.where(source >= 0, coef * rnd[np.maximum(source, 0)], 0.0)
    actual = flat_entries(check)
    scale = np.abs(k0) + np.abs(coef) * np.abs(rnd[np.maximum(source, 0)]) + np.abs(actual) + 1.0
    bad = np.abs(actual - predicted) > 1e-9 * scale
    if bad.any():
        raise TypeError(
            "an entry of the converted network combines several parameters, or depends on "
            "one nonlinearly (two affine layers without an activation between them, or a "
            "BatchNorm folded into a layer), so gradient flow cannot train the model's own "
            "parameters through it; insert the activation, or freeze (requires_grad=False) "
            "all but one of the layers that compose"
        )
    pm = ParameterMap(names, shapes, theta, source, np.where(source >= 0, coef, 0.0), k0)
    return stages, pm
