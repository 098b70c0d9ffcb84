"""Input handling shared by the segment and plane partitions."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validate import to_numpy
from ..net import PLNet, Stage, from_torch

DEFAULT_MAX_REGIONS = 10_000_000


def as_geometry_net(net: Any, example: Any = None) -> PLNet:
    """A float64 PLNet (geometry is computed in float64) from a PLNet or a torch module.

    A torch module whose first layer needs the input's shape (a Conv2d) takes it from
    ``example``, one input shaped like the model expects (e.g. ``(1, 28, 28)``).
    """
    if isinstance(net, PLNet):
        return net.astype(np.float64)
    if type(net).__module__.startswith("torch") or hasattr(net, "named_modules"):
        shape = tuple(np.shape(example)) if example is not None else ()
        return from_torch(net, input_shape=shape if len(shape) > 1 else None, dtype=np.float64)
    raise TypeError(
        f"expected a regionlab.PLNet or a torch.nn.Module, got {type(net).__name__}; "
        "build one with rl.from_torch(model) or rl.PLNet.from_arrays(...)"
    )


def as_point(x: Any, input_dim: int, what: str) -> np.ndarray:
    """A point of input space as a float64 vector (input-shaped arrays are flattened)."""
    arr = to_numpy(x, what)
    if arr.dtype.kind == "b":  # refused like net.forward refuses boolean inputs
        raise TypeError(f"{what}: inputs are booleans; convert them with x.astype(np.float64)")
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise TypeError(f"{what}: expected a real vector, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64).reshape(-1)
    if arr.size != input_dim:
        raise ValueError(
            f"{what}: has {arr.size} entries but the network takes {input_dim} inputs"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{what}: contains NaN or Inf")
    return arr


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
        return PLNet([Stage(weight, bias, first.negative_slope), *net.stages[1:]], dtype=np.float64)


def check_max_regions(max_regions: Any) -> int:
    if isinstance(max_regions, bool) or not isinstance(max_regions, numbers.Integral):
        raise TypeError(f"max_regions must be an integer, got {type(max_regions).__name__}")
    if max_regions <= 0:
        raise ValueError(f"max_regions must be positive, got {max_regions}")
    return min(int(max_regions), 2**63 - 1)  # beyond that, no limit in practice


def packed_patterns(words: np.ndarray, n_neurons: int) -> np.ndarray:
    """Core pattern words (n, n_words) uint64 as bytes in ``net.patterns(packed=True)`` layout."""
    nbytes = (n_neurons + 7) // 8
    return np.ascontiguousarray(words.view(np.uint8)[:, :nbytes])


def check_partition_sizes(f: dict, bad) -> None:
    """File checks shared by the partitions: one region at least, patterns as wide as
    n_neurons needs, the last layer's count equal to the regions."""
    sizes = f["sizes"]
    if sizes["n_regions"] < 1:
        raise bad("areas" if "areas" in f else "breakpoints", "holds no region")
    n_neurons = int(f["n_neurons"])
    if sizes["pattern_bytes"] != (n_neurons + 7) // 8:
        raise bad("n_neurons", f"is {n_neurons}, but the patterns hold {sizes['pattern_bytes']} "
                               f"bytes per region (n_neurons / 8, rounded up)")
    per_layer = f["n_regions_per_layer"]
    if len(per_layer) and per_layer[-1] != sizes["n_regions"]:
        raise bad("n_regions_per_layer", f"ends at {per_layer[-1]}, but there are "
                                         f"{sizes['n_regions']} regions")


def unpack_patterns(packed: np.ndarray, n_neurons: int) -> np.ndarray:
    return np.unpackbits(packed, axis=1, count=n_neurons, bitorder="little").astype(bool)


def layer_prefix_ids(packed: np.ndarray, n_neurons: int, bits_upto: int) -> np.ndarray:
    """An id per region for its pattern restricted to the first ``bits_upto`` neurons."""
    bits = unpack_patterns(packed, n_neurons)[:, :bits_upto]
    prefix = np.packbits(bits, axis=1, bitorder="little")
    _, ids = np.unique(prefix, axis=0, return_inverse=True)
    return ids.reshape(-1)
