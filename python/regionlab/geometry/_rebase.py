"""Slices rewritten around the centre of their extent, and the network composed with them:
what makes every tolerance relative to the slice's own size."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..net import PLNet


class Rebased:
    """A slice ``origin + sum_k c_k directions[k]``, ``c`` in the box ``[lo, hi]``, rewritten
    around the box's centre: ``origin + sum_k centre_k directions[k]`` plus ``c'`` in
    ``[-half, half]``.

    The engines work in these coordinates, so every tolerance is relative to the box's own
    size (not to where it lies), and a slice gives the same answer however it is written
    (``origin=0`` with an extent around ``c``, or ``origin=c`` with one around 0).
    """

    def __init__(self, origin: np.ndarray, directions: np.ndarray, lo, hi):
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self.centre = 0.5 * lo + 0.5 * hi  # halves first: no overflow near float64's limit
        self.half = 0.5 * hi - 0.5 * lo
        self.directions = np.asarray(directions, dtype=np.float64).reshape(len(lo), -1)
        with np.errstate(over="ignore", invalid="ignore"):  # callers check isfinite
            self.origin = origin + self.centre @ self.directions

    @property
    def basis(self) -> np.ndarray:
        """The core's slice basis for :meth:`slice_net`, whose inputs are the coordinates
        themselves: rows e_1, ..., e_dim, then the origin 0."""
        dim = len(self.centre)
        return np.ascontiguousarray(np.vstack([np.eye(dim), np.zeros((1, dim))]))

    def shift_maps(self, maps: np.ndarray) -> np.ndarray:
        """Maps ``(n, out, dim + 1)`` in re-centred coordinates -> in the caller's."""
        out = maps.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            out[..., -1] -= maps[..., :-1] @ self.centre
        if not np.isfinite(out).all():
            raise ValueError("the output maps overflow float64 in this slice's coordinates; "
                             "put the slice's origin nearer its extent (e.g. at its centre)")
        return out

    def slice_net(self, net: PLNet) -> PLNet:
        """``net`` composed with the re-centred slice: its inputs are the coordinates ``c'``.

        The partition is computed on this net and probes evaluate it, so both see the same
        first-stage numbers (the rounding of the network at the slice's centre is shared,
        not different in each), and a probe offset of the box's size is always resolved,
        however far from the input origin the slice lies (added to a far input point, it
        would round back onto the point)."""
        first = net.stages[0]
        w = first.weight.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            weight, bias = w @ self.directions.T, w @ self.origin + first.bias
        if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
            raise ValueError("the first layer's pre-activations overflow float64 on this slice; "
                             "rescale the weights or the slice")
        composed = dataclasses.replace(first, weight=weight, bias=bias)
        return PLNet([composed, *net.stages[1:]], dtype=np.float64)
