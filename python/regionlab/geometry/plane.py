"""`rl.plane` / `rl.plane_through`: the exact linear regions of a network on a 2-D slice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numbers

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
from ._edges import add_boundary_edges
from ._rebase import Rebased

__all__ = ["PlanePartition", "plane", "plane_through"]

_KIND, _VERSION = "PlanePartition", 1


@dataclass(eq=False)
class PlanePartition:
    """The linear regions of a network on the slice ``x(s, t) = origin + s u + t v``.

    Attributes
    ----------
    origin, u, v: the slice (input space, flattened); ``extent = (s0, s1, t0, t1)``.
    vertices: ``(n_vertices, 2)`` slice coordinates of every region's corners, region by
        region, counter-clockwise; region ``r`` is ``vertices[offsets[r]:offsets[r + 1]]``.
    offsets: ``(n_regions + 1,)``.
    areas: ``(n_regions,)`` in slice coordinates; they sum to the extent's area.
    patterns: ``(n_regions, ceil(n_neurons / 8))`` uint8, each region's activation pattern in
        the layout of ``net.patterns(X, packed=True)``.
    maps: ``(n_regions, out_dim, 3)``: on region r the output is ``maps[r] @ (s, t, 1)``.
    n_regions_per_layer: distinct regions of the first l layers (with kinks), l = 1, 2, ...
    boundary: ``(n_segments, 2, 2)`` decision-boundary segments (slice coordinates): where
        the logit is 0 (one output) or the argmax changes (several outputs).
    boundary_region: the region each segment lies in; ``boundary_classes``: the two classes
        it separates (one output: 0 is ``logit <= 0``, 1 is ``logit > 0``).
    anchors: for ``plane_through``, the slice coordinates of the three inputs, else None.
    neurons_per_layer: kinked neurons of each layer that has any (to split patterns by layer).
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    extent: tuple
    vertices: np.ndarray = field(repr=False)
    offsets: np.ndarray = field(repr=False)
    areas: np.ndarray = field(repr=False)
    patterns: np.ndarray = field(repr=False)
    maps: np.ndarray = field(repr=False)
    n_regions_per_layer: tuple
    n_neurons: int
    boundary: np.ndarray = field(repr=False)
    boundary_region: np.ndarray = field(repr=False)
    boundary_classes: np.ndarray = field(repr=False)
    anchors: np.ndarray | None = field(default=None, repr=False)
    neurons_per_layer: tuple = ()

    @property
    def n_regions(self) -> int:
        return int(len(self.offsets) - 1)

    def polygon(self, r: int) -> np.ndarray:
        """Corners of region ``r``, ``(k, 2)``, counter-clockwise."""
        if not -self.n_regions <= r < self.n_regions:
            raise IndexError(f"region {r} out of range for {self.n_regions} regions")
        r %= self.n_regions
        return self.vertices[self.offsets[r] : self.offsets[r + 1]]

    def polygons(self) -> list:
        """Every region's corners, as a list of ``(k, 2)`` arrays."""
        return np.split(self.vertices, self.offsets[1:-1])

    def centroids(self) -> np.ndarray:
        """The centroid (an interior point) of each region, ``(n_regions, 2)``.

        Computed relative to each polygon's first corner (no cancellation for small regions
        far from the origin) and in units of the extent's half-size (no overflow for huge
        extents: finite wherever the areas are)."""
        counts = np.diff(self.offsets)
        ids = np.repeat(np.arange(self.n_regions), counts)
        s0, s1, t0, t1 = self.extent
        scale = np.array([0.5 * s1 - 0.5 * s0, 0.5 * t1 - 0.5 * t0])
        base = self.vertices[self.offsets[:-1]]
        v = (self.vertices - base[ids]) / scale
        w = np.arange(1, len(v) + 1)
        w[self.offsets[1:] - 1] = self.offsets[:-1]  # each polygon's last corner wraps to its first
        cross = v[:, 0] * v[w, 1] - v[w, 0] * v[:, 1]
        six_area = 3.0 * np.bincount(ids, cross, self.n_regions)
        mean = np.stack([np.bincount(ids, v[:, k], self.n_regions) / counts for k in (0, 1)], axis=1)
        c = mean.copy()
        ok = six_area > 0
        for k in (0, 1):
            c[ok, k] = np.bincount(ids, cross * (v[:, k] + v[w, k]), self.n_regions)[ok] / six_area[ok]
        return base + c * scale

    def pattern_bits(self) -> np.ndarray:
        """Activation patterns as bool ``(n_regions, n_neurons)``."""
        return unpack_patterns(self.patterns, self.n_neurons)

    def to_input(self, coords: Any) -> np.ndarray:
        """Input-space points for slice coordinates ``(m, 2)``: ``origin + s u + t v``."""
        st = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        return self.origin + st[:, :1] * self.u + st[:, 1:] * self.v

    def output(self, coords: Any, regions: Any) -> np.ndarray:
        """Outputs at slice coordinates ``(m, 2)`` lying in the given regions, via the maps."""
        st = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        m = self.maps[np.asarray(regions)]
        return m[:, :, 0] * st[:, :1] + m[:, :, 1] * st[:, 1:] + m[:, :, 2]

    def plot(self, ax=None, *, color: str = "pattern", boundary: bool = True, layer: int = 1,
             edgecolor="k", linewidth="auto", output: int = 0, cmap=None, anchors=True,
             vmin=None, vmax=None, norm=None, title=True, colorbar: bool = False):
        """Draw the regions as filled polygons with thin edges and the decision boundary bold.

        ``color``: ``"pattern"`` (a colour per region), ``"output"`` (the output ``output``
        at the region's centroid, or the predicted class when there are several outputs),
        or ``"layer"`` (a colour per region of the first ``layer`` layers, so the finer
        cuts of deeper layers show as edges inside it). With one output, ``vmin``/``vmax``
        or a matplotlib ``norm`` fix the colour scale (default: symmetric about 0 over this
        slice), so pictures of several epochs compare; ``ax.collections[0]`` is then the
        mappable for ``fig.colorbar`` (``colorbar=True`` draws one). ``linewidth="auto"``
        thins the edges as regions grow many (0.15 pt up to 1,000 regions, then as
        1/sqrt(n); none beyond 100,000). ``title``: True (the region count), a string, or
        None/False for none. An axis-aligned slice is drawn in its input coordinates,
        labelled ``x[i]``; otherwise in ``(s, t)``. When ``ax`` is None a figure is made,
        shaped like the extent (aspect ratios beyond 4 are stretched), with constrained
        layout. Returns the matplotlib Axes.
        """
        from ._plot import plot_plane

        return plot_plane(self, ax=ax, color=color, boundary=boundary, layer=layer,
                          edgecolor=edgecolor, linewidth=linewidth, output=output, cmap=cmap,
                          anchors=anchors, vmin=vmin, vmax=vmax, norm=norm, title=title,
                          colorbar=colorbar)

    # ------------------------------------------------------------------ files
    def save(self, path) -> str:
        """Write a ``.npz`` (see the README's file formats); ``rl.load`` reads it back."""
        return io.save_arrays(path, _KIND, _VERSION, fields.to_arrays(self, _FIELDS))

    @classmethod
    def _from_arrays(cls, arrays: dict, version: int) -> "PlanePartition":
        if version != _VERSION:
            raise ValueError(f"unsupported PlanePartition file version {version}")
        return cls(**fields.from_arrays(arrays, _FIELDS, _KIND, _check_file))


_FIELDS = (
    fields.Field("origin", np.float64, ("d",)),
    fields.Field("u", np.float64, ("d",)),
    fields.Field("v", np.float64, ("d",)),
    fields.Field("extent", np.float64, (4,), attr=fields.as_tuple_of_floats),
    fields.Field("vertices", np.float64, ("n_vertices", 2)),
    fields.Field("areas", np.float64, ("n_regions",), low=0.0),
    fields.Field("offsets", np.int64, ("n_regions + 1",), low=0, order="increasing"),
    fields.Field("patterns", np.uint8, ("n_regions", "pattern_bytes")),
    fields.Field("maps", np.float64, ("n_regions", "out_dim", 3)),
    fields.Field("n_regions_per_layer", np.int64, ("n_layers",), low=1, high="n_regions + 1",
                 order="sorted", attr=fields.as_tuple_of_ints),
    fields.Field("neurons_per_layer", np.int64, ("n_layers",), low=1, attr=fields.as_tuple_of_ints),
    fields.Field("n_neurons", np.int64, (), low=0, attr=fields.as_int),
    fields.Field("boundary", np.float64, ("n_boundary", 2, 2)),
    fields.Field("boundary_region", np.int64, ("n_boundary",), low=0, high="n_regions"),
    fields.Field("boundary_classes", np.int32, ("n_boundary", 2), low=0),
    fields.Field("anchors", np.float64, (3, 2), optional=True),
)


def _check_file(f: dict, bad) -> None:
    """What ties a PlanePartition file's fields together, beyond their sizes."""
    sizes = f["sizes"]
    s0, s1, t0, t1 = f["extent"]
    if not (s0 < s1 and t0 < t1):
        raise bad("extent", f"must have s0 < s1 and t0 < t1, got {tuple(f['extent'])}")
    check_partition_sizes(f, bad)
    offsets = f["offsets"]
    if offsets[0] != 0 or offsets[-1] != sizes["n_vertices"]:
        raise bad("offsets", f"must run from 0 to the number of vertices "
                             f"({sizes['n_vertices']}, in 'vertices'), "
                             f"got {offsets[0]} .. {offsets[-1]}")
    if (np.diff(offsets) < 3).any():
        raise bad("offsets", "gives a region fewer than 3 vertices")
    if sum(int(n) for n in f["neurons_per_layer"]) != int(f["n_neurons"]):
        raise bad("neurons_per_layer", f"sums to {int(f['neurons_per_layer'].sum())}, "
                                       f"but n_neurons is {int(f['n_neurons'])}")
    n_classes = max(2, sizes["out_dim"])
    if f["boundary_classes"].size and f["boundary_classes"].max() >= n_classes:
        raise bad("boundary_classes", f"holds a class beyond the {n_classes} classes of the maps")


io.register(_KIND, PlanePartition._from_arrays)


def _check_extent(extent: Any) -> tuple:
    try:
        ext = tuple(float(x) for x in extent)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"extent must be four numbers (s0, s1, t0, t1), got {extent!r}") from exc
    if len(ext) != 4:
        raise ValueError(f"extent must be four numbers (s0, s1, t0, t1), got {len(ext)}")
    if not np.isfinite(ext).all() or not (ext[0] < ext[1] and ext[2] < ext[3]):
        raise ValueError(f"extent {ext} must be finite with s0 < s1 and t0 < t1")
    return ext


def _check_directions(u: np.ndarray, v: np.ndarray) -> None:
    """u and v must span a plane. Their lengths do not matter (a slice may stretch one axis
    by 1e10), so the test is on the unit vectors: the sine of their angle."""
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        raise ValueError(f"{'u' if nu == 0 else 'v'} is the zero vector; u and v must span the slice")
    if not (np.isfinite(nu) and np.isfinite(nv)):
        raise ValueError("u and v are too long for float64 (their norms overflow); scale them down")
    if np.linalg.matrix_rank(np.stack([u / nu, v / nv])) < 2:
        raise ValueError("u and v must be linearly independent directions (they span the slice); "
                         "they are parallel, up to rounding")


def plane(net: Any, origin: Any, u: Any, v: Any, *, extent=(-1.0, 1.0, -1.0, 1.0),
          max_regions: int = DEFAULT_MAX_REGIONS, _anchors=None) -> PlanePartition:
    """Every linear region of ``net`` on the slice ``origin + s u + t v``, exactly.

    ``(s, t)`` ranges over ``extent = (s0, s1, t0, t1)``. ``net`` is a
    :class:`regionlab.PLNet` or a torch module; the points and directions are inputs (flat,
    or shaped like one input). Each stage's neurons cut every region found so far along
    their zero lines (in float64, both cores); regions come back as convex polygons with
    their patterns, output maps and the decision boundary. The work is done in coordinates
    centred on the extent, so the answer does not depend on how the slice is written (see
    the README for the resolution guaranteed). Raises ``ValueError`` if some layer prefix
    would need more than ``max_regions`` regions.
    """
    from .. import _core

    net = as_geometry_net(net, origin)
    origin = as_point(origin, net.input_dim, "origin")
    u = as_point(u, net.input_dim, "u")
    v = as_point(v, net.input_dim, "v")
    _check_directions(u, v)
    ext = _check_extent(extent)
    max_regions = check_max_regions(max_regions)
    box = Rebased(origin, np.stack([u, v]), [ext[0], ext[2]], [ext[1], ext[3]])
    if not np.isfinite(box.origin).all():
        raise ValueError("the extent's centre is too far out for float64 (origin + s u + t v "
                         "overflows); use a smaller extent or shorter u and v")
    half = box.half
    local = box.slice_net(net)
    raw = _core.partition_slice(local._core(), box.basis, list(-half), list(half), max_regions)
    if not np.all(np.isfinite(raw["measure"])):
        raise ValueError("the regions' areas overflow float64 on this extent; "
                         "use a smaller extent (or longer u and v over a smaller one)")
    segments, seg_region, seg_classes, edges = _core.decision_boundary(
        raw["vertices"], raw["offsets"], raw["maps"])
    segments, seg_region, seg_classes = add_boundary_edges(
        local, half, edges, segments, seg_region, seg_classes)
    return PlanePartition(
        origin=origin,
        u=u,
        v=v,
        extent=ext,
        vertices=raw["vertices"] + box.centre,
        offsets=raw["offsets"],
        areas=raw["measure"],
        patterns=packed_patterns(raw["patterns"], net.n_neurons),
        maps=box.shift_maps(raw["maps"]),
        n_regions_per_layer=tuple(int(x) for x in raw["regions_per_stage"]),
        n_neurons=net.n_neurons,
        boundary=segments + box.centre,
        boundary_region=seg_region,
        boundary_classes=seg_classes,
        anchors=_anchors,
        neurons_per_layer=tuple(n for n in net.neurons_per_stage if n > 0),
    )


def plane_through(net: Any, x0: Any, x1: Any, x2: Any, *, margin: float = 0.1,
                  max_regions: int = DEFAULT_MAX_REGIONS) -> PlanePartition:
    """The regions on the plane through three inputs, drawn without distortion.

    ``x0`` is the origin and ``x1`` is at ``(1, 0)``; the second direction is the part of
    ``x2 - x0`` orthogonal to ``x1 - x0``, scaled to the same length, so lengths and angles
    in the slice are those of input space (up to one scale). The extent is the three points'
    bounding box grown by ``margin`` times its larger side; ``result.anchors`` holds the
    points' slice coordinates.
    """
    net = as_geometry_net(net, x0)
    x0 = as_point(x0, net.input_dim, "x0")
    x1 = as_point(x1, net.input_dim, "x1")
    x2 = as_point(x2, net.input_dim, "x2")
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(f"margin must be a number, got {type(margin).__name__}")
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a non-negative number, got {margin}")
    u = x1 - x0
    length = np.linalg.norm(u)
    if length == 0:
        raise ValueError("x0 and x1 are the same point; the three inputs must span a plane")
    w = x2 - x0
    along = float(w @ u) / length**2
    perp = w - along * u
    height = np.linalg.norm(perp)
    if height <= 1e-12 * max(length, np.linalg.norm(w)):
        raise ValueError("x0, x1 and x2 are (nearly) collinear; they do not span a plane")
    v = perp * (length / height)
    anchors = np.array([[0.0, 0.0], [1.0, 0.0], [along, height / length]])
    lo, hi = anchors.min(axis=0), anchors.max(axis=0)
    pad = margin * float((hi - lo).max())
    extent = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    return plane(net, x0, u, v, extent=extent, max_regions=max_regions, _anchors=anchors)
