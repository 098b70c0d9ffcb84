"""Input handling shared by the segment and plane partitions."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validate import to_numpy
from ..net import PLNet, from_torch

DEFAULT_MAX_REGIONS = 10_000_000


def as_net(net: Any, example: Any = None, *, dtype: Any = None, what: str = "") -> PLNet:
    """A PLNet from a PLNet or a torch module, in ``dtype`` (None: the net's own, a torch
    module's as ``from_torch`` picks it).

    A torch module whose first layer needs the input's shape (a Conv2d) takes it from
    ``example``, one input shaped like the model expects (e.g. ``(1, 28, 28)``).
    """
    if isinstance(net, PLNet):
        return net if dtype is None else net.astype(dtype)
    if type(net).__module__.startswith("torch") or hasattr(net, "named_modules"):
        shape = tuple(np.shape(example)) if example is not None else ()
        return from_torch(net, input_shape=shape if len(shape) > 1 else None, dtype=dtype)
    raise TypeError(
        f"{what + ': ' if what else ''}expected a regionlab.PLNet or a torch.nn.Module, got "
        f"{type(net).__name__}; build one with rl.from_torch(model) or rl.PLNet.from_arrays(...)"
    )


def as_geometry_net(net: Any, example: Any = None) -> PLNet:
    """A float64 PLNet (geometry is computed in float64) from a PLNet or a torch module."""
    return as_net(net, example, dtype=np.float64)


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
