"""`rl.segment`: the exact linear regions of a network along a line segment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _fields as fields
from .. import io
from ._common import (
    DEFAULT_MAX_REGIONS,
    as_geometry_net,
    as_point,
    check_max_regions,
    check_partition_sizes,
    packed_patterns,
    unpack_patterns,
)
from ._rebase import Rebased

__all__ = ["SegmentPartition", "segment"]

_KIND, _VERSION = "SegmentPartition", 1


@dataclass(eq=False)
class SegmentPartition:
    """The linear regions of a network on the segment ``x(t) = a + t (b - a)``, t in [0, 1].

    Attributes
    ----------
    a, b: the segment's end points (input space, flattened).
    breakpoints: ``(n_regions + 1,)`` increasing values of t, from 0 to 1; region ``r`` is
        ``[breakpoints[r], breakpoints[r + 1]]``.
    patterns: ``(n_regions, ceil(n_neurons / 8))`` uint8, each region's activation pattern
        in the layout of ``net.patterns(X, packed=True)``.
    maps: ``(n_regions, out_dim, 2)``: on region r the output is ``maps[r] @ (t, 1)``.
    n_regions_per_layer: distinct regions of the first l layers (with kinks), l = 1, 2, ...
    change_t, change_before, change_after: every t where the predicted class changes, with
        the class before and after (one output: class 1 is ``logit > 0``; several: argmax).
    """

    a: np.ndarray
    b: np.ndarray
    breakpoints: np.ndarray
    patterns: np.ndarray = field(repr=False)
    maps: np.ndarray = field(repr=False)
    n_regions_per_layer: tuple
    n_neurons: int
    change_t: np.ndarray = field(repr=False)
    change_before: np.ndarray = field(repr=False)
    change_after: np.ndarray = field(repr=False)

    @property
    def n_regions(self) -> int:
        return int(len(self.breakpoints) - 1)

    @property
    def lengths(self) -> np.ndarray:
        """Length of each region in t (they sum to 1)."""
        return np.diff(self.breakpoints)

    @property
    def midpoints(self) -> np.ndarray:
        """A t inside each region."""
        return 0.5 * (self.breakpoints[:-1] + self.breakpoints[1:])

    def pattern_bits(self) -> np.ndarray:
        """Activation patterns as bool ``(n_regions, n_neurons)``."""
        return unpack_patterns(self.patterns, self.n_neurons)

    def points(self, t: Any) -> np.ndarray:
        """Input-space points ``a + t (b - a)`` for an array of t: ``(len(t), input_dim)``."""
        t = np.asarray(t, dtype=np.float64).reshape(-1, 1)
        return self.a + t * (self.b - self.a)

    def region_of(self, t: Any) -> np.ndarray:
        """Index of the region holding each t (the right one at a breakpoint)."""
        t = np.asarray(t, dtype=np.float64)
        return np.clip(np.searchsorted(self.breakpoints, t, side="right") - 1, 0, self.n_regions - 1)

    def output(self, t: Any) -> np.ndarray:
        """The network's output at each t, through the regions' affine maps: ``(len(t), out)``."""
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        m = self.maps[self.region_of(t)]
        return m[:, :, 0] * t[:, None] + m[:, :, 1]

    def plot(self, ax=None, *, output: int | None = 0, boundary: bool = True, color="pattern",
             title=True):
        """Draw the regions as coloured bands along t, the output over them, and the class
        changes as vertical lines. ``title``: True (the region count), a string, or
        None/False. A new figure uses constrained layout, so its labels survive ``savefig``.
        Returns the matplotlib Axes."""
        from ._plot import plot_segment

        return plot_segment(self, ax=ax, output=output, boundary=boundary, color=color, title=title)

    # ------------------------------------------------------------------ files
    def save(self, path) -> str:
        """Write a ``.npz`` (see the README's file formats); ``rl.load`` reads it back."""
        return io.save_arrays(path, _KIND, _VERSION, fields.to_arrays(self, _FIELDS))

    @classmethod
    def _from_arrays(cls, arrays: dict, version: int) -> "SegmentPartition":
        if version != _VERSION:
            raise ValueError(f"unsupported SegmentPartition file version {version}")
        return cls(**fields.from_arrays(arrays, _FIELDS, _KIND, _check_file))


_FIELDS = (
    fields.Field("a", np.float64, ("d",)),
    fields.Field("b", np.float64, ("d",)),
    fields.Field("breakpoints", np.float64, ("n_regions + 1",), low=0.0, order="sorted"),
    fields.Field("patterns", np.uint8, ("n_regions", "pattern_bytes")),
    fields.Field("maps", np.float64, ("n_regions", "out_dim", 2)),
    fields.Field("n_regions_per_layer", np.int64, ("n_layers",), low=1, high="n_regions + 1",
                 order="sorted", attr=fields.as_tuple_of_ints),
    fields.Field("n_neurons", np.int64, (), low=0, attr=fields.as_int),
    fields.Field("change_t", np.float64, ("n_changes",), low=0.0, order="sorted"),
    fields.Field("change_before", np.int32, ("n_changes",), low=0),
    fields.Field("change_after", np.int32, ("n_changes",), low=0),
)


def _check_file(f: dict, bad) -> None:
    """What ties a SegmentPartition file's fields together, beyond their sizes."""
    if np.array_equal(f["a"], f["b"]):
        raise bad("b", "equals a: a segment needs two distinct end points")
    check_partition_sizes(f, bad)
    t = f["breakpoints"]
    if t[0] != 0.0 or t[-1] != 1.0:
        raise bad("breakpoints", f"must run from 0 to 1, got {t[0]} .. {t[-1]}")
    if f["change_t"].size and f["change_t"].max() > 1.0:
        raise bad("change_t", "holds a position beyond the segment's end (t > 1)")
    n_classes = max(2, f["sizes"]["out_dim"])
    for name in ("change_before", "change_after"):
        if f[name].size and f[name].max() >= n_classes:
            raise bad(name, f"holds a class beyond the {n_classes} classes of the maps")


io.register(_KIND, SegmentPartition._from_arrays)


def segment(net: Any, a: Any, b: Any, *, max_regions: int = DEFAULT_MAX_REGIONS) -> SegmentPartition:
    """Every linear region of ``net`` on the segment from ``a`` to ``b``, exactly.

    ``net`` is a :class:`regionlab.PLNet` or a torch module; ``a`` and ``b`` are inputs
    (flat, or shaped like one input). Regions are found by splitting the segment stage by
    stage at each neuron's zero, in float64, in coordinates centred on the segment's middle
    (see the README for the resolution guaranteed); the result lists them in order along
    the line.
    Raises ``ValueError`` if more than ``max_regions`` regions would be needed.
    """
    from .. import _core

    net = as_geometry_net(net, a)
    a = as_point(a, net.input_dim, "a")
    b = as_point(b, net.input_dim, "b")
    if np.array_equal(a, b):
        raise ValueError("a and b are the same point; a segment needs two distinct end points")
    max_regions = check_max_regions(max_regions)
    # Worked in t' = t - 1/2 on the network composed with the line (see Rebased): tolerances
    # relative to the segment's length, the same whichever end it starts from.
    box = Rebased(a, (b - a)[None], [0.0], [1.0])
    local = box.slice_net(net)
    raw = _core.partition_slice(local._core(), box.basis, [-0.5], [0.5], max_regions)
    cells, maps = raw["cells"], raw["maps"]
    breakpoints = np.concatenate([cells[:1, 0], cells[:, 1]]) + 0.5
    change_t, before, after = _core.class_changes(cells, maps)
    change_t = change_t + 0.5
    maps = box.shift_maps(maps)
    return SegmentPartition(
        a=a,
        b=b,
        breakpoints=breakpoints,
        patterns=packed_patterns(raw["patterns"], net.n_neurons),
        maps=maps,
        n_regions_per_layer=tuple(int(x) for x in raw["regions_per_stage"]),
        n_neurons=net.n_neurons,
        change_t=change_t,
        change_before=before,
        change_after=after,
    )
