"""`rl.regions`: the exact linear regions of a network in a box of input space, in a
k-dimensional slice of it, or in all of it (k <= 8)."""

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
    layer_prefix_ids,
    packed_patterns,
    unpack_patterns,
)
from ._facets import decode_facet, facet_bits, neighbours
from ._rebase import Rebased

__all__ = ["BoxPartition", "regions", "MAX_DIM"]

_KIND, _VERSION = "BoxPartition", 1
MAX_DIM = 8  # the engine's polytopes have at most 8 dimensions


@dataclass(eq=False)
class BoxPartition:
    """The linear regions of a network in a box ``lower <= y <= upper`` of the coordinates
    ``y`` of the slice ``x(y) = origin + y @ basis`` (the input itself when no slice was
    given), or in the whole slice (``lower``/``upper`` None).

    Attributes
    ----------
    patterns: ``(n_regions, ceil(n_neurons / 8))`` uint8, each region's activation pattern
        in the layout of ``net.patterns(X, packed=True)``; one row per region, no repeats.
    interior_points: ``(n_regions, k)`` coordinates strictly inside each region (the
        centroid of its vertices, or of one of its pieces for unbounded regions);
        :meth:`to_input` maps them to inputs.
    radii: ``(n_regions,)`` the radius of a ball (in ``y``) around the interior point that
        lies in the region: the exact distance to the region's nearest facet (for the whole
        space, to the nearest facet or seam of the piece holding the point).
    volumes: ``(n_regions,)`` k-dimensional volumes in ``y``, exact up to rounding
        (Lawrence's formula over the vertices of a simple cell when two directions agree to
        1e-10, else Lasserre's recursion over its faces); they sum to the box's.
        ``inf`` for unbounded regions of the whole space; None with ``volumes=False``.
    unbounded: ``(n_regions,)`` bool; only the whole space has unbounded regions.
    maps: ``(n_regions, out_dim, k + 1)``: on region r the output is ``maps[r] @ (y, 1)``.
    facet_ids, facet_offsets: the hyperplanes bounding region r (its (k-1)-faces) are
        ``facet_ids[facet_offsets[r]:facet_offsets[r + 1]]``: a pattern bit (>= 0: that
        neuron's zero set), a box face (< 0) or a max-group comparison; :meth:`facet`
        reads one, :attr:`facets` lists them per region.
    boundary: ``(n_regions,)`` the (k-1)-volume of the decision boundary inside each
        region (logit 0 for one output; where the argmax changes for several).
    n_regions_per_layer: distinct regions of the first l layers (with kinks), l = 1, 2, ...
    vertices, vertex_offsets: each region's vertices when asked for (``vertices=True``);
        edges, edge_offsets: its edges, as pairs of indices into its own vertices.
    """

    origin: np.ndarray
    basis: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    patterns: np.ndarray = field(repr=False)
    interior_points: np.ndarray = field(repr=False)
    radii: np.ndarray = field(repr=False)
    volumes: np.ndarray | None = field(repr=False)
    unbounded: np.ndarray = field(repr=False)
    maps: np.ndarray = field(repr=False)
    facet_ids: np.ndarray = field(repr=False)
    facet_offsets: np.ndarray = field(repr=False)
    boundary: np.ndarray = field(repr=False)
    n_regions_per_layer: tuple
    n_neurons: int
    neurons_per_layer: tuple = ()
    vertices: np.ndarray | None = field(default=None, repr=False)
    vertex_offsets: np.ndarray | None = field(default=None, repr=False)
    edges: np.ndarray | None = field(default=None, repr=False)
    edge_offsets: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        self._adjacency = None

    @property
    def n_regions(self) -> int:
        return int(len(self.patterns))

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    @property
    def n_boundary_cells(self) -> int:
        """Regions the decision boundary passes through."""
        return int(np.count_nonzero(self.boundary > 0))

    @property
    def boundary_volume(self) -> float:
        """Total (k-1)-volume of the decision boundary."""
        return float(self.boundary.sum())

    @property
    def facets(self) -> list:
        """Each region's facet ids, a list of arrays (see :meth:`facet` to read one)."""
        return np.split(self.facet_ids, self.facet_offsets[1:-1])

    def facet(self, facet_id: int) -> dict:
        """What a facet id means: ``{"kind": "neuron", "bit": b, ...pattern_layout entry}``,
        ``{"kind": "box", "coordinate": c, "side": "lower"|"upper"}`` or
        ``{"kind": "max", "bit": first bit of the group, "candidates": (i, j)}``."""
        return decode_facet(int(facet_id))

    @property
    def adjacency(self) -> np.ndarray:
        """The dual graph: ``(n_pairs, 3)`` int64 rows ``(a, b, facet_id)``, a < b, for every
        pair of regions sharing a facet, with the hyperplane (unit) that separates them
        (where several units' hyperplanes coincide on the facet, as for ``abs`` or a
        duplicated neuron, the one the facet is recorded under; a and b then differ in all
        of those units' bits)."""
        if self._adjacency is None:
            self._adjacency = neighbours(self.patterns, self.facet_ids, self.facet_offsets,
                                         self.n_neurons)
        return self._adjacency

    def pattern_bits(self) -> np.ndarray:
        """Activation patterns as bool ``(n_regions, n_neurons)``."""
        return unpack_patterns(self.patterns, self.n_neurons)

    def to_input(self, coords: Any) -> np.ndarray:
        """Inputs for coordinates ``(m, k)``: ``origin + coords @ basis``."""
        y = np.asarray(coords, dtype=np.float64).reshape(-1, self.dim)
        return self.origin + y @ self.basis

    def output(self, coords: Any, regions: Any) -> np.ndarray:
        """Outputs at coordinates ``(m, k)`` lying in the given regions, via the maps."""
        y = np.asarray(coords, dtype=np.float64).reshape(-1, self.dim)
        m = self.maps[np.asarray(regions)]
        return np.einsum("rok,rk->ro", m[:, :, :-1], y) + m[:, :, -1]

    def region_vertices(self, r: int) -> np.ndarray:
        """Vertices of region ``r``, ``(m, k)`` (needs ``vertices=True``)."""
        if self.vertices is None:
            raise ValueError("this partition was computed without vertices; "
                             "call rl.regions(..., vertices=True)")
        return self.vertices[self.vertex_offsets[r]:self.vertex_offsets[r + 1]]

    def region_edges(self, r: int) -> np.ndarray:
        """Edges of region ``r``, ``(m, 2)`` indices into :meth:`region_vertices` (needs
        ``vertices=True``)."""
        if self.edges is None:
            raise ValueError("this partition was computed without vertices; "
                             "call rl.regions(..., vertices=True)")
        return self.edges[self.edge_offsets[r]:self.edge_offsets[r + 1]]

    def plot(self, net: Any = None, **kwargs):
        """For k = 3: the decision surface and axis-aligned slices (see ``_plot3d``)."""
        from ._plot3d import plot_box_partition

        return plot_box_partition(self, net, **kwargs)

    # ------------------------------------------------------------------ files
    def save(self, path) -> str:
        """Write a ``.npz`` (see the README's file formats); ``rl.load`` reads it back."""
        return io.save_arrays(path, _KIND, _VERSION, fields.to_arrays(self, _FIELDS))

    @classmethod
    def _from_arrays(cls, arrays: dict, version: int) -> "BoxPartition":
        if version != _VERSION:
            raise ValueError(f"unsupported BoxPartition file version {version}")
        return cls(**fields.from_arrays(arrays, _FIELDS, _KIND, _check_file))


def _optional_box(a: np.ndarray):
    return None if a.size == 0 else a


_FIELDS = (
    fields.Field("origin", np.float64, ("d",)),
    fields.Field("basis", np.float64, ("k", "d")),
    fields.Field("lower", np.float64, ("n_box",), optional=True),
    fields.Field("upper", np.float64, ("n_box",), optional=True),
    fields.Field("patterns", np.uint8, ("n_regions", "pattern_bytes")),
    fields.Field("interior_points", np.float64, ("n_regions", "k")),
    fields.Field("radii", np.float64, ("n_regions",), low=0.0),
    fields.Field("volumes", np.float64, ("n_regions",), low=0.0, allow_inf=True, optional=True),
    fields.Field("unbounded", np.bool_, ("n_regions",)),
    fields.Field("maps", np.float64, ("n_regions", "out_dim", "k + 1")),
    fields.Field("facet_ids", np.int64, ("n_facets",)),
    fields.Field("facet_offsets", np.int64, ("n_regions + 1",), low=0, order="sorted"),
    fields.Field("boundary", np.float64, ("n_regions",), low=0.0, allow_inf=True),
    fields.Field("n_regions_per_layer", np.int64, ("n_layers",), low=1, high="n_regions + 1",
                 order="sorted", attr=fields.as_tuple_of_ints),
    fields.Field("n_neurons", np.int64, (), low=0, attr=fields.as_int),
    fields.Field("neurons_per_layer", np.int64, ("n_layers",), low=1, attr=fields.as_tuple_of_ints),
    fields.Field("vertices", np.float64, ("n_vertices", "k"), optional=True),
    fields.Field("vertex_offsets", np.int64, ("n_regions + 1",), low=0, order="sorted",
                 optional=True),
    fields.Field("edges", np.int32, ("n_edges", 2), low=0, optional=True),
    fields.Field("edge_offsets", np.int64, ("n_regions + 1",), low=0, order="sorted",
                 optional=True),
)


def _check_file(f: dict, bad) -> None:
    """What ties a BoxPartition file's fields together, beyond their sizes."""
    sizes = f["sizes"]
    check_partition_sizes(f, bad)
    if sizes["k"] > MAX_DIM:
        raise bad("basis", f"has {sizes['k']} rows; at most {MAX_DIM} are supported")
    off = f["facet_offsets"]
    if off[0] != 0 or off[-1] != sizes["n_facets"]:
        raise bad("facet_offsets", "must run from 0 to the number of facet ids")
    ids = np.asarray(f["facet_ids"], dtype=np.int64)
    if (facet_bits(ids[ids >= 0]) >= int(f["n_neurons"])).any():
        raise bad("facet_ids", f"names a pattern bit beyond the network's {int(f['n_neurons'])}")
    if (f.get("lower") is None) != (f.get("upper") is None):
        raise bad("lower", "and upper must both be present or both absent")
    if f.get("lower") is not None:
        if len(f["lower"]) != sizes["k"]:
            raise bad("lower", f"needs {sizes['k']} entries (one per coordinate)")
        if not (f["lower"] < f["upper"]).all():
            raise bad("lower", "must be below upper in every coordinate")
    if f.get("vertex_offsets") is not None:
        vo = f["vertex_offsets"]
        if f.get("vertices") is None or vo[0] != 0 or vo[-1] != len(f["vertices"]):
            raise bad("vertex_offsets", "must run from 0 to the number of vertices")
    if (f.get("edges") is None) != (f.get("edge_offsets") is None):
        raise bad("edges", "and edge_offsets must both be present or both absent")
    if f.get("edge_offsets") is not None:
        eo, vo = f["edge_offsets"], f.get("vertex_offsets")
        if vo is None or eo[0] != 0 or eo[-1] != len(f["edges"]):
            raise bad("edge_offsets", "must run from 0 to the number of edges, with the vertices")
        owner = np.repeat(np.arange(len(eo) - 1), np.diff(eo))
        if len(owner) and (f["edges"] >= np.diff(vo)[owner][:, None]).any():
            raise bad("edges", "names a vertex beyond its region's")


io.register(_KIND, BoxPartition._from_arrays)


# ---------------------------------------------------------------------- the call
class _progress_callback:
    """``with _progress_callback(progress) as callback``: the callback for the core (None, the
    user's callable, or one driving a tqdm bar, closed on the way out)."""

    def __init__(self, progress: Any):
        if progress is not None and not isinstance(progress, (bool, np.bool_)) and not callable(progress):
            raise TypeError("progress must be True, False or a callable taking the regions found "
                            f"so far per layer, got {type(progress).__name__}")
        self.progress = progress
        self.bar = None

    def __enter__(self):
        if callable(self.progress):
            return self.progress
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        self.bar = tqdm(desc="regions", unit=" regions", unit_scale=True)

        def show(counts):
            deepest = max((i for i, c in enumerate(counts) if c), default=0)
            self.bar.n = counts[deepest]
            self.bar.set_postfix_str(f"layer {deepest + 1}/{len(counts)}", refresh=False)
            self.bar.refresh()

        return show

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


def regions(net: Any, lower: Any = None, upper: Any = None, *, origin: Any = None,
            basis: Any = None, max_regions: int = DEFAULT_MAX_REGIONS,
            vertices: bool = False, volumes: bool = True, progress: Any = False) -> BoxPartition:
    """Every linear region of ``net`` in a box, a k-dimensional slice, or all of input space.

    - ``rl.regions(net, lower, upper)``: the box ``lower <= x <= upper`` of input space
      (``(d,)`` each, d <= 8).
    - ``rl.regions(net, origin=x0, basis=B, lower=lo, upper=hi)``: the slice
      ``x0 + y @ B`` with ``B`` of shape ``(k, d)`` (k <= 8 independent directions) and
      ``lo <= y <= hi``; k = 1 and 2 give the regions of ``rl.segment`` and ``rl.plane``.
    - ``lower=None, upper=None``: the whole input space (or the whole slice). Unbounded
      regions are counted exactly: the space is mapped into k + 1 simplices through
      homogeneous coordinates (the network evaluated as ``t f(x / t)``), so no region, however
      far out, is missed; regions cut by the simplices' seams are merged by pattern.

    Computed in float64 on all cores by cutting convex polytopes layer by layer (depth first,
    memory bounded by the regions kept). Each region comes with its pattern, an interior
    point and the radius of a ball inside it, the output's affine map, the hyperplanes
    bounding it, its volume and the decision boundary inside it (see :class:`BoxPartition`).
    ``volumes=False`` skips the volumes (``part.volumes`` is then None): they are exact up
    to rounding and cheap up to 4 dimensions; in 6 they take about half the time.
    ``progress=True`` shows a ``tqdm`` bar of the regions found so far in the deepest layer
    reached (pieces before merging, for the whole space); a callable instead receives the
    counts of every layer, a list, about every 0.2 s.
    Raises ``ValueError`` if some layer prefix needs more than ``max_regions`` regions.
    """
    from .. import _core

    net = as_geometry_net(net)
    max_regions = check_max_regions(max_regions)
    origin, directions = _slice(net, origin, basis)
    k = len(directions)
    for name, flag in (("vertices", vertices), ("volumes", volumes)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {type(flag).__name__}")
    whole = lower is None and upper is None
    report = _progress_callback(progress)
    if whole:
        if vertices:
            raise ValueError("vertices=True needs a box (the whole space has vertices at "
                             "infinity); give lower and upper")
        with report as callback:
            return _whole_space(net, origin, directions, max_regions, bool(volumes), callback)
    if lower is None or upper is None:
        raise ValueError("give both lower and upper (a box), or neither (the whole space)")
    lo = as_point(lower, k, "lower")
    hi = as_point(upper, k, "upper")
    if not (lo < hi).all():
        raise ValueError(f"lower must be below upper in every coordinate, got {lo} and {hi}")
    with np.errstate(over="ignore"):
        extent = hi - lo
    if not np.isfinite(extent).all():
        raise ValueError("the box is too large for float64 (upper - lower overflows); rescale the "
                         "inputs, or pass lower=upper=None for the whole space")
    log_volume = float(np.log(extent).sum())
    if volumes and not -700.0 < log_volume < 700.0:
        raise ValueError(f"the box's volume {'over' if log_volume > 0 else 'under'}flows float64 "
                         f"(about 1e{log_volume / np.log(10):.0f}); rescale the inputs, or pass "
                         "volumes=False")
    box = Rebased(origin, directions, lo, hi)
    if not np.isfinite(box.origin).all():
        raise ValueError("the box's centre is too far out for float64; use a smaller box")
    local = box.slice_net(net)
    maps = box.basis[None]
    with report as callback:
        raw = _core.partition_polytope(local._core(), np.ascontiguousarray(maps), "box",
                                       list(-box.half), list(box.half), 1.0, [], np.zeros((0, 0, 0)),
                                       True, bool(volumes), bool(vertices), max_regions, callback)
    if volumes and not np.all(np.isfinite(raw["volumes"])):
        raise ValueError("the regions' volumes overflow float64 in this box; use a smaller box")
    interior = raw["centroids"] + box.centre
    patterns = packed_patterns(raw["patterns"], net.n_neurons)
    facet_ids, facet_offsets = raw["facet_ids"], raw["facet_offsets"]
    maps_out = box.shift_maps(raw["maps"])
    return BoxPartition(
        origin=origin, basis=directions, lower=lo, upper=hi,
        patterns=patterns,
        interior_points=interior,
        radii=raw["radii"],
        volumes=raw["volumes"] if volumes else None,
        unbounded=np.zeros(len(patterns), dtype=bool),
        maps=maps_out,
        facet_ids=facet_ids, facet_offsets=facet_offsets,
        boundary=raw["boundary"],
        n_regions_per_layer=tuple(int(x) for x in raw["regions_per_stage"]),
        n_neurons=net.n_neurons,
        neurons_per_layer=tuple(n for n in net.neurons_per_stage if n > 0),
        vertices=raw["vertices"] + box.centre if vertices else None,
        vertex_offsets=raw["vertex_offsets"] if vertices else None,
        edges=raw["edges"] if vertices else None,
        edge_offsets=raw["edge_offsets"] if vertices else None,
    )


def _slice(net, origin, basis):
    """(origin, directions (k, d)) of the slice; the input itself when neither is given."""
    d = net.input_dim
    if origin is None and basis is None:
        if d > MAX_DIM:
            raise ValueError(f"the network has {d} inputs; regions in more than {MAX_DIM} "
                             f"dimensions are out of reach: pass a slice (origin=, basis= with "
                             f"at most {MAX_DIM} rows)")
        return np.zeros(d), np.eye(d)
    if origin is None or basis is None:
        raise ValueError("a slice needs both origin= and basis=")
    origin = as_point(origin, d, "origin")
    B = np.asarray(basis)
    if B.dtype == object or B.dtype.kind not in "iuf":
        raise TypeError(f"basis must be a real array of shape (k, {d}), got dtype {B.dtype}")
    B = np.asarray(B, dtype=np.float64)
    if B.ndim == 1:
        B = B[None]
    B = B.reshape(B.shape[0], -1)
    if B.shape[1] != d:
        raise ValueError(f"basis must have shape (k, {d}) (one input-sized direction per row), "
                         f"got {np.shape(basis)}")
    if not 1 <= B.shape[0] <= MAX_DIM:
        raise ValueError(f"basis must have 1 to {MAX_DIM} rows, got {B.shape[0]}")
    if not np.isfinite(B).all():
        raise ValueError("basis contains NaN or Inf")
    unit, norms = _unit_rows(B)
    if (norms == 0).any():
        raise ValueError("basis has a zero row; every direction must be non-zero")
    if np.linalg.matrix_rank(unit) < B.shape[0]:
        raise ValueError("the basis rows must be linearly independent (they span the slice)")
    return origin, B


def _unit_rows(M: np.ndarray) -> tuple:
    """(rows scaled to unit length, their Euclidean norms), each row divided by its largest
    entry first so that nothing under- or overflows (rows of 1e-300 or 1e300); zero rows
    stay zero with norm 0, and a norm beyond float64 is inf while its unit row is exact."""
    peak = np.abs(M).max(axis=1, initial=0.0)
    unit, norms = np.zeros_like(M, dtype=np.float64), np.zeros(len(M))
    ok = peak > 0
    scaled = M[ok] / peak[ok, None]
    length = np.linalg.norm(scaled, axis=1)
    unit[ok] = scaled / length[:, None]
    with np.errstate(over="ignore"):
        norms[ok] = peak[ok] * length
    return unit, norms


def _cone_rays(k: int, scale: float) -> list:
    """The k + 1 simplicial cones covering R^k: cone i is spanned by every ray but i, of
    the rays -sum(e), e_1, ..., e_k (which sum to zero)."""
    rays = np.vstack([-np.ones((1, k)), np.eye(k)]) * scale
    return [np.delete(rays, i, axis=0) for i in range(k + 1)]


def _whole_space(net, origin, directions, max_regions, with_volumes, progress=None) -> BoxPartition:
    from .. import _core

    k = len(directions)
    local = Rebased(origin, directions, np.zeros(k), np.zeros(k)).slice_net(net)
    first = local.stages[0]
    w = first.weight.astype(np.float64)
    _, norms = _unit_rows(w)
    ok = norms > 0
    # Rays as long as the first layer's hyperplanes are far: the pieces then see the
    # arrangement at a sensible scale (any length is exact; this keeps it well conditioned).
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        scale = float(np.max(np.abs(first.bias[ok]) / norms[ok], initial=0.0)) if ok.any() else 0.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    cones = _cone_rays(k, scale)
    # Piece i: y = sum_j s_j rays_j with t = 1 - sum s_j; input map columns: the rays.
    maps = np.stack([np.vstack([r, np.zeros((1, k))]) for r in cones])  # (k+1, k+1, k)
    bias_scale = [-1.0] * k + [1.0]
    raw = _core.partition_polytope(local._core(), np.ascontiguousarray(maps), "simplex", [], [],
                                   1.0, bias_scale, np.ascontiguousarray(maps), True, with_volumes,
                                   False, max_regions, progress)
    patterns = packed_patterns(raw["patterns"], net.n_neurons)
    n_pieces = len(patterns)
    if n_pieces == 0:
        raise ValueError("no region found (the network's maps overflow float64?)")
    # Merge pieces of one region (same pattern: activation regions are convex).
    _, first_piece, inverse = np.unique(patterns, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first_piece, kind="stable")  # regions in the order first found
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    region = rank[inverse]
    n = len(order)
    reps = first_piece[order]
    unbounded = np.zeros(n, dtype=bool)
    np.logical_or.at(unbounded, region, raw["unbounded"].astype(bool))
    volumes = None
    if with_volumes:
        volumes = np.bincount(region, raw["volumes"], n)
        volumes[unbounded] = np.inf
    boundary = np.bincount(region, np.nan_to_num(raw["boundary"], posinf=np.inf), n)
    # The homogeneous maps over (s, 1) of each piece -> affine maps over (y, 1).
    inv = np.linalg.inv(np.stack([_homogeneous_matrix(c) for c in cones]))  # (k+1, k+1, k+1)
    maps_out = np.einsum("rok,rkj->roj", raw["maps"][reps], inv[raw["roots"][reps]])
    # Facets: real hyperplanes only (the simplices' faces are seams, not facets).
    ids, offs = raw["facet_ids"], raw["facet_offsets"]
    owner = np.repeat(region, np.diff(offs))
    keep = ids >= 0
    pairs = np.unique(np.stack([owner[keep], ids[keep]], axis=1), axis=0)
    facet_offsets = np.concatenate([[0], np.cumsum(np.bincount(pairs[:, 0], minlength=n))])
    # The piece holding each interior point: its ball (to the piece's facets and seams).
    interior = raw["centroids"][reps]
    radii = raw["radii"][reps]
    per_layer = _regions_per_layer(patterns[reps], net)
    return BoxPartition(
        origin=origin, basis=directions, lower=None, upper=None,
        patterns=np.ascontiguousarray(patterns[reps]),
        interior_points=interior,
        radii=radii,
        volumes=volumes,
        unbounded=unbounded,
        maps=maps_out,
        facet_ids=np.ascontiguousarray(pairs[:, 1]), facet_offsets=facet_offsets,
        boundary=boundary,
        n_regions_per_layer=per_layer,
        n_neurons=net.n_neurons,
        neurons_per_layer=tuple(x for x in net.neurons_per_stage if x > 0),
    )


def _homogeneous_matrix(rays: np.ndarray) -> np.ndarray:
    """P with (y, t) = P (s, 1): y = sum_j s_j rays_j, t = 1 - sum_j s_j."""
    k = rays.shape[1]
    P = np.zeros((k + 1, k + 1))
    P[:k, :k] = rays.T
    P[k, :k] = -1.0
    P[k, k] = 1.0
    return P


def _regions_per_layer(patterns: np.ndarray, net) -> tuple:
    """Distinct patterns of each layer prefix (convex regions: one per prefix pattern)."""
    out, upto = [], 0
    for nb in net.neurons_per_stage:
        if nb == 0:
            continue
        upto += nb
        ids = layer_prefix_ids(patterns, net.n_neurons, upto)
        out.append(int(ids.max()) + 1 if len(ids) else 0)
    return tuple(out)

