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
    probed: set = None  # the parameters the map can train (None: all)

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
                  stages: list | None = None, only: set | None = None) -> tuple[list, ParameterMap]:
    """``(stages, map)`` of ``model``; ``lower(module)`` gives a module's float64 stages
    (``stages``: the model's own, when already lowered). ``only``: the parameter names to
    probe (the others stay at their values, so entries they feed count as constants)."""
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

    probed = np.concatenate([np.full(size, only is None or name in only)
                             for name, size in zip(names, sizes)]) if params else np.zeros(0, bool)

    def probe_with(values: np.ndarray):
        return lowered(np.where(probed, values, theta))

    if stages is None:
        stages = lowered(theta)
    zero, one = probe_with(np.zeros(N)), probe_with(np.ones(N))
    index = probe_with(np.arange(1.0, N + 1.0))
    rnd = np.where(probed, np.random.default_rng(0).standard_normal(N), theta)
    check = probe_with(rnd)
    for other in (zero, one, index, check):
        if len(other) != len(stages) or any(a.weight.shape != b.weight.shape for a, b in zip(stages, other)):
            raise TypeError("the converted network's stages change with the parameters' values; "
                            "gradient flow cannot map them to the model's parameters")
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
    source = np.where(probed[np.maximum(source, 0)] & (source >= 0), source, -1)
    predicted = k0 + np.where(source >= 0, coef * rnd[np.maximum(source, 0)], 0.0)
    actual = flat_entries(check)
    scale = np.abs(k0) + np.abs(coef) * np.abs(rnd[np.maximum(source, 0)]) + np.abs(actual) + 1.0
    bad = np.abs(actual - predicted) > 1e-9 * scale
    if bad.any():
        raise TypeError(
            "an entry of the converted network combines several trainable parameter entries, "
            "or depends on one nonlinearly (two affine layers composed without an activation "
            "between them, a trainable BatchNorm or scale folded into a layer), so gradient "
            "flow cannot train the model's own parameters through it; insert the activation, "
            "or freeze (requires_grad=False) the parameters that only scale a layer"
        )
    pm = ParameterMap(names, shapes, theta, source, np.where(source >= 0, coef, 0.0), k0)
    pm.probed = set(names) if only is None else set(only)
    return stages, pm
