"""Pictures of 3-D box partitions (``BoxPartition.plot``): the decision surface, cut out of
every region it crosses, beside axis-aligned planar slices through the box's centre."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ._plot import _hash_rows, _pastel, _set_title

_AXIS_ORDER = (2, 1, 0)  # the slices fix z, then y, then x at the box's centre


def _cut(V: np.ndarray, edges: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Points where the affine function with values ``f`` at the vertices ``V`` is zero
    along the given edges (pairs of vertex indices), and the vertices where it is zero."""
    i, j = edges[:, 0], edges[:, 1]
    cross = f[i] * f[j] < 0
    t = f[i[cross]] / (f[i[cross]] - f[j[cross]])
    pts = V[i[cross]] + t[:, None] * (V[j[cross]] - V[i[cross]])
    return np.vstack([pts, V[f == 0]])


def _ordered(points: np.ndarray, normal: np.ndarray) -> np.ndarray | None:
    """The convex polygon of coplanar points, corners in counter-clockwise order (seen
    along -normal) without repeats, or None when it has no area."""
    from scipy.spatial import ConvexHull, QhullError

    if len(points) < 3:
        return None
    e1, e2 = np.linalg.svd(normal[None])[2][1:]  # orthonormal directions in the plane
    c = points.mean(0)
    q = np.stack([(points - c) @ e1, (points - c) @ e2], axis=1)
    try:
        hull = ConvexHull(q)
    except QhullError:  # collinear or repeated points: no area
        return None
    return points[hull.vertices]


def _clip(poly: np.ndarray, g: np.ndarray, h: float) -> np.ndarray:
    """The part of a convex polygon (ordered corners, any dimension) where g . y + h >= 0."""
    val = poly @ g + h
    out = []
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        if val[i] >= 0:
            out.append(poly[i])
        if (val[i] < 0) != (val[j] < 0):
            out.append(poly[i] + val[i] / (val[i] - val[j]) * (poly[j] - poly[i]))
    return np.array(out).reshape(-1, poly.shape[1])


def polygon_area(poly: np.ndarray) -> float:
    """Area of a planar polygon in 3-D, corners in order."""
    if len(poly) < 3:
        return 0.0
    d = poly[1:] - poly[0]
    return 0.5 * float(np.linalg.norm(np.cross(d[:-1], d[1:]).sum(0)))


def _region_edges(V: np.ndarray) -> np.ndarray:
    """Edges of the triangulated facets of the convex hull of ``V`` (every pair of vertices
    if Qhull cannot take them: the cut's hull is then the same polygon)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        tri = ConvexHull(V).simplices
        e = np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
        return np.unique(np.sort(e, axis=1), axis=0)
    except QhullError:
        return np.array(list(combinations(range(len(V)), 2))).reshape(-1, 2)


def decision_surface(part) -> list:
    """The decision boundary of a 3-D partition as convex polygons, ``[(region, (m, 3)
    corners in y), ...]``, one or more per region with ``part.boundary[r] > 0``.

    One output: where the region's logit ``maps[r, 0] @ (y, 1)`` is zero, cut out of the
    region's polytope. Several outputs: for every pair of classes ``a < b``, where
    ``f_a = f_b`` and both beat every other class (the plane ``f_a = f_b`` cut out of the
    polytope, then clipped by ``f_a >= f_c`` for each other class ``c``): exactly where the
    argmax changes. Needs the region's vertices (``rl.regions(..., vertices=True)``)."""
    if part.vertices is None:
        raise ValueError("the decision surface needs the regions' vertices; "
                         "call rl.regions(..., vertices=True) (or pass net= to plot)")
    out = []
    n_out = part.maps.shape[1]
    for r in np.flatnonzero(part.boundary > 0):
        V = part.region_vertices(r)
        edges = _region_edges(V)
        G, c = part.maps[r, :, :-1], part.maps[r, :, -1]
        pairs = [(0, None)] if n_out == 1 else list(combinations(range(n_out), 2))
        for a, b in pairs:
            g = G[a] if b is None else G[a] - G[b]
            h = c[a] if b is None else c[a] - c[b]
            poly = _ordered(_cut(V, edges, V @ g + h), g)
            if poly is None:
                continue
            for k in range(n_out if b is not None else 0):
                if k not in (a, b) and len(poly):
                    poly = _clip(poly, G[a] - G[k], c[a] - c[k])
            if len(poly) >= 3:
                out.append((int(r), poly))
    return out


def _labels(part) -> tuple:
    if np.array_equal(part.basis, np.eye(3)) and not part.origin.any():
        return ("x[0]", "x[1]", "x[2]")
    return ("y[0]", "y[1]", "y[2]")


def _box_edges(lo: np.ndarray, hi: np.ndarray) -> list:
    corners = np.array([[(hi if (v >> c) & 1 else lo)[c] for c in range(3)] for v in range(8)])
    return [corners[[v, v | (1 << c)]] for v in range(8) for c in range(3) if not (v >> c) & 1]


def _draw_surface(ax, part, alpha, edgecolor, linewidth, title) -> None:
    from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection

    pieces = decision_surface(part)
    if pieces:
        regions = np.array([r for r, _ in pieces])
        faces = _pastel(_hash_rows(part.patterns[regions]))
        ax.add_collection3d(Poly3DCollection([p for _, p in pieces], facecolors=faces,
                                             edgecolors=edgecolor, linewidths=linewidth,
                                             alpha=alpha), autolim=False)
    ax.add_collection3d(Line3DCollection(_box_edges(part.lower, part.upper), colors="0.4",
                                         linewidths=0.6), autolim=False)
    for set_lim, lo, hi in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), part.lower, part.upper):
        set_lim(lo, hi)
    ax.set_box_aspect(tuple(part.upper - part.lower))
    for set_label, name in zip((ax.set_xlabel, ax.set_ylabel, ax.set_zlabel), _labels(part)):
        set_label(name)
    _set_title(ax, title, f"decision surface: {part.n_boundary_cells:,} of "
                          f"{part.n_regions:,} regions")


def _draw_slice(ax, part, net, axis: int, slice_kwargs: dict) -> None:
    from .plane import plane

    j, k = [c for c in range(3) if c != axis]
    lo, hi, basis = part.lower, part.upper, part.basis
    mid = 0.5 * (lo[axis] + hi[axis])
    p = plane(net, part.origin + mid * basis[axis], basis[j], basis[k],
              extent=(lo[j], hi[j], lo[k], hi[k]))
    names = _labels(part)
    p.plot(ax=ax, **{"title": f"{names[axis]} = {mid:.3g}: {p.n_regions:,} regions",
                     **slice_kwargs})
    ax.set_xlabel(names[j])
    ax.set_ylabel(names[k])


def plot_box_partition(part, net=None, *, slices: int = 3, ax=None, alpha: float = 0.85,
                       edgecolor="k", linewidth: float = 0.2, title=True,
                       slice_kwargs: dict | None = None):
    """Draw a 3-D box partition; returns the matplotlib Figure.

    Panel (a), a 3-D axes: the decision surface (see :func:`decision_surface`), one polygon
    per region it crosses, coloured by region, inside the box's wireframe. It needs the
    regions' vertices: ``part`` computed with ``vertices=True``, or ``net`` to recompute it.
    Then, when ``net`` is given, ``slices`` (0 to 3) panels: the planes through the box's
    centre with z, then y, then x fixed, on the box's faces, drawn by
    ``rl.plane(...).plot(**slice_kwargs)``. ``ax``: a 3-D Axes to draw panel (a) in (no
    slice panels then; make one with ``fig.add_subplot(projection="3d")``).
    """
    if part.dim != 3:
        raise ValueError(f"plot draws 3-D partitions only; this one has k = {part.dim} "
                         f"(use rl.plane / rl.segment for 2-D and 1-D slices)")
    if part.lower is None:
        raise ValueError("plot needs a box partition (this one is the whole space); "
                         "give lower and upper to rl.regions")
    if isinstance(slices, bool) or not isinstance(slices, (int, np.integer)) \
            or not 0 <= slices <= 3:
        raise ValueError(f"slices must be an integer from 0 to 3, got {slices!r}")
    if part.vertices is None:
        if net is None:
            raise ValueError("this partition was computed without vertices; call "
                             "rl.regions(..., vertices=True) or pass net= to plot")
        from .regions import regions

        part = regions(net, part.lower, part.upper, origin=part.origin, basis=part.basis,
                       vertices=True)
    import matplotlib.pyplot as plt

    if ax is not None:
        if getattr(ax, "name", None) != "3d":
            raise ValueError("ax must be a 3-D Axes (fig.add_subplot(projection='3d'))")
        fig, n_slices = ax.figure, 0
    else:
        n_slices = slices if net is not None else 0
        fig = plt.figure(figsize=(4.6 * (1 + n_slices), 4.6), layout="constrained")
        ax = fig.add_subplot(1, 1 + n_slices, 1, projection="3d")
    _draw_surface(ax, part, alpha, edgecolor, linewidth, title)
    for i, axis in enumerate(_AXIS_ORDER[:n_slices]):
        _draw_slice(fig.add_subplot(1, 1 + n_slices, 2 + i), part, net, axis, slice_kwargs or {})
    return fig
