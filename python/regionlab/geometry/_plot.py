"""Matplotlib pictures of slice partitions, in the look of the field's published figures:
regions as filled polygons with thin edges, the decision boundary bold."""

from __future__ import annotations

import numpy as np

from ._common import layer_prefix_ids


# Region edges: this width up to _THIN_FROM regions, thinner as 1/sqrt(regions) beyond,
# and not drawn at all beyond _NO_EDGES_FROM regions (the faces' colours show them).
_EDGE_WIDTH = 0.15
_THIN_FROM = 1_000
_NO_EDGES_FROM = 100_000
# The figure follows the extent's aspect ratio up to this much; beyond, the axes stretch.
_MAX_ASPECT = 4.0


def auto_linewidth(n_regions: int) -> float:
    """The edge width plot uses for ``n_regions`` regions (0 above _NO_EDGES_FROM)."""
    if n_regions > _NO_EDGES_FROM:
        return 0.0
    return _EDGE_WIDTH * min(1.0, (_THIN_FROM / max(n_regions, 1)) ** 0.5)


def _new_axes(figsize):
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _axis_of(direction: np.ndarray):
    """(i, c) when direction is c * e_i, else None."""
    nonzero = np.flatnonzero(direction)
    return (int(nonzero[0]), float(direction[nonzero[0]])) if len(nonzero) == 1 else None


class _Frame:
    """The coordinates a plane is drawn in: the input's own axes x[i], x[j] when the slice is
    axis-aligned (and they resolve the extent), else the slice coordinates s and t."""

    def __init__(self, p):
        s0, s1, t0, t1 = p.extent
        self.offset, self.scale = np.zeros(2), np.ones(2)
        self.labels = ("s", "t")
        axes = _axis_of(p.u), _axis_of(p.v)
        if None not in axes and axes[0][0] != axes[1][0]:
            (i, cu), (j, cv) = axes
            offset, scale = np.array([p.origin[i], p.origin[j]]), np.array([cu, cv])
            with np.errstate(over="ignore", invalid="ignore"):
                lo = offset + scale * np.array([s0, t0])
                hi = offset + scale * np.array([s1, t1])
            width = np.abs(hi - lo)
            if np.isfinite(lo).all() and np.isfinite(hi).all() and \
                    (width > 1e-9 * np.maximum(np.abs(lo), np.abs(hi))).all():
                self.offset, self.scale = offset, scale
                self.labels = (f"x[{i}]", f"x[{j}]")
        self.xlim = tuple(sorted(self.point([s0, s1], 0)))
        self.ylim = tuple(sorted(self.point([t0, t1], 1)))

    def point(self, values, axis: int) -> np.ndarray:
        return self.offset[axis] + self.scale[axis] * np.asarray(values, dtype=np.float64)

    def points(self, st: np.ndarray) -> np.ndarray:
        """(..., 2) slice coordinates -> drawing coordinates."""
        if (self.offset == 0).all() and (self.scale == 1).all():
            return st
        return self.offset + self.scale * st

    @property
    def aspect(self) -> float:
        return (self.xlim[1] - self.xlim[0]) / (self.ylim[1] - self.ylim[0])


def _figsize(aspect: float, area: float = 36.0):
    r = min(max(aspect, 1 / _MAX_ASPECT), _MAX_ASPECT)
    return (area * r) ** 0.5, (area / r) ** 0.5


def _set_title(ax, title, default: str) -> None:
    if title is True:
        ax.set_title(default)
    elif isinstance(title, str):
        ax.set_title(title)
    elif title not in (None, False):
        raise TypeError(f"title must be True, False, None or a string, got {type(title).__name__}")


def _hash_rows(packed: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash of each row of bytes (colours that differ between neighbours)."""
    h = np.full(len(packed), 0xCBF29CE484222325, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in packed.T:
            h = (h ^ col.astype(np.uint64)) * np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return h


def _pastel(keys: np.ndarray) -> np.ndarray:
    """Light, distinct colours from integer keys."""
    from matplotlib.colors import hsv_to_rgb

    k = keys.astype(np.uint64)
    hue = (k % np.uint64(1000)).astype(np.float64) / 1000.0
    sat = 0.18 + 0.22 * ((k >> np.uint64(10)) % np.uint64(100)).astype(np.float64) / 100.0
    val = 0.88 + 0.12 * ((k >> np.uint64(20)) % np.uint64(100)).astype(np.float64) / 100.0
    return hsv_to_rgb(np.stack([hue, sat, val], axis=1))


def _class_colors(n_classes: int, cmap):
    """A light colour per class (edges and the boundary stay visible), as a colormap with a
    norm that maps class k to colour k: a mappable for a colour bar."""
    import matplotlib
    from matplotlib.colors import BoundaryNorm, ListedColormap

    base = matplotlib.colormaps[cmap or "tab10"]
    rgb = np.array([base(k % base.N)[:3] for k in range(n_classes)])
    listed = ListedColormap(0.55 * rgb + 0.45)
    return listed, BoundaryNorm(np.arange(n_classes + 1) - 0.5, n_classes)


def _value_norm(values: np.ndarray, vmin, vmax, norm):
    """The norm for output values: ``norm`` if given, else vmin/vmax (missing ends from the
    data, centred on 0 when neither is given, so the sign of the logit shows)."""
    from matplotlib.colors import Normalize, TwoSlopeNorm

    if norm is not None:
        if vmin is not None or vmax is not None:
            raise ValueError("pass either norm= or vmin=/vmax=, not both")
        return norm
    if vmin is None and vmax is None:
        lim = float(np.abs(values).max()) if len(values) else 1.0
        lim = lim or 1.0
        return TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    lo = float(values.min()) if vmin is None else float(vmin)
    hi = float(values.max()) if vmax is None else float(vmax)
    if not lo < hi:
        raise ValueError(f"vmin must be below vmax, got {lo} and {hi}")
    return Normalize(vmin=lo, vmax=hi, clip=False)


def _clip(poly: np.ndarray, a: float, b: float, c: float, strict: bool) -> np.ndarray:
    """The part of a convex polygon where a s + b t + c >= 0 (> 0 when strict)."""
    h = poly @ np.array([a, b]) + c
    inside = h > 0 if strict else h >= 0
    out = []
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        if inside[i]:
            out.append(poly[i])
        if inside[i] != inside[j] and h[i] != h[j]:
            w = h[i] / (h[i] - h[j])
            out.append(poly[i] + w * (poly[j] - poly[i]))
    return np.array(out).reshape(-1, 2)


def _class_cells(p):
    """Polygons coloured by predicted class: whole regions, except those the decision
    boundary crosses, which are cut into their classes' pieces."""
    polys = p.polygons()
    centroid_class = p.output(p.centroids(), np.arange(p.n_regions)).argmax(axis=1)
    crossed = np.zeros(p.n_regions, dtype=bool)
    crossed[p.boundary_region] = True
    cells = [polys[r] for r in np.flatnonzero(~crossed)]
    classes = list(centroid_class[~crossed])
    for r in np.flatnonzero(crossed):
        m = p.maps[r]
        for k in range(m.shape[0]):
            cell = polys[r]
            for j in range(m.shape[0]):
                if j != k and len(cell) >= 3:
                    # Where two classes tie, the lower index wins (numpy's argmax).
                    cell = _clip(cell, *(m[k] - m[j]), strict=j < k)
            if len(cell) >= 3:
                cells.append(cell)
                classes.append(k)
    return cells, np.array(classes)


def plot_plane(p, ax=None, *, color="pattern", boundary=True, layer=1, edgecolor="k",
               linewidth="auto", output=0, cmap=None, anchors=True, vmin=None, vmax=None,
               norm=None, title=True, colorbar=False):
    from matplotlib.collections import LineCollection, PolyCollection

    frame = _Frame(p)
    if ax is None:
        ax = _new_axes(_figsize(frame.aspect))
    if isinstance(linewidth, str):
        if linewidth != "auto":
            raise ValueError(f"linewidth must be a number or 'auto', got {linewidth!r}")
        linewidth = auto_linewidth(p.n_regions)
    polygons = [frame.points(poly) for poly in p.polygons()]
    mappable = None
    if color != "output" and (vmin is not None or vmax is not None or norm is not None):
        raise ValueError("vmin, vmax and norm apply to color='output' only")
    if color == "pattern":
        faces = _pastel(_hash_rows(p.patterns))
    elif color == "layer":
        per_layer = p.neurons_per_layer
        if not 1 <= layer <= max(len(per_layer), 1):
            raise ValueError(f"layer must be between 1 and {len(per_layer)}, got {layer}")
        bits = int(sum(per_layer[:layer]))
        ids = layer_prefix_ids(p.patterns, p.n_neurons, bits).astype("<u8")
        faces = _pastel(_hash_rows(ids.view(np.uint8).reshape(-1, 8)))
    elif color == "output":
        if p.maps.shape[1] > 1:
            if vmin is not None or vmax is not None or norm is not None:
                raise ValueError("vmin, vmax and norm apply to one output; with several the "
                                 "colours are the predicted classes")
            # Predicted class, exactly: regions the boundary crosses are split along it.
            cells, classes = _class_cells(p)
            listed, class_norm = _class_colors(p.maps.shape[1], cmap)
            mappable = PolyCollection([frame.points(c) for c in cells], array=classes,
                                      cmap=listed, norm=class_norm, edgecolors="none",
                                      antialiased=False)
            ax.add_collection(mappable)
            faces = "none"
        else:
            if not 0 <= output < p.maps.shape[1]:
                raise ValueError(f"output must be 0 for a net with one output, got {output}")
            values = p.output(p.centroids(), np.arange(p.n_regions))[:, output]
            faces = None
    else:
        raise ValueError(f"color must be 'pattern', 'output' or 'layer', got {color!r}")
    edges = edgecolor if linewidth > 0 else "none"
    if faces is None:  # one output: the regions themselves carry the colour scale
        polys = PolyCollection(polygons, array=values, cmap=cmap or "RdBu_r",
                               norm=_value_norm(values, vmin, vmax, norm), edgecolors=edges,
                               linewidths=linewidth, antialiased=True)
        mappable = polys
    else:
        polys = PolyCollection(polygons, facecolors=faces, edgecolors=edges,
                               linewidths=linewidth, antialiased=True)
    ax.add_collection(polys)
    if boundary and len(p.boundary):
        ax.add_collection(LineCollection(frame.points(p.boundary), colors="k", linewidths=2.2,
                                         capstyle="round"))
    if anchors and p.anchors is not None:
        pts = frame.points(p.anchors)
        ax.scatter(pts[:, 0], pts[:, 1], s=40, c="k", zorder=3)
        for i, (x, y) in enumerate(pts):
            ax.annotate(f"$x_{i}$", (x, y), xytext=(4, 4), textcoords="offset points")
    ax.set_xlim(*frame.xlim)
    ax.set_ylim(*frame.ylim)
    r = frame.aspect
    ax.set_aspect("equal" if 1 / _MAX_ASPECT <= r <= _MAX_ASPECT else "auto")
    ax.set_xlabel(frame.labels[0])
    ax.set_ylabel(frame.labels[1])
    _set_title(ax, title, f"{p.n_regions:,} linear regions")
    if colorbar:
        if mappable is None:
            raise ValueError("colorbar=True needs color='output'")
        bar = ax.figure.colorbar(mappable, ax=ax)
        if p.maps.shape[1] > 1:
            bar.set_ticks(np.arange(p.maps.shape[1]))
            bar.set_label("predicted class")
        else:
            bar.set_label(f"output {output}")
    return ax


def plot_segment(seg, ax=None, *, output=0, boundary=True, color="pattern", title=True):
    from matplotlib.collections import PolyCollection

    if ax is None:
        ax = _new_axes((8, 3))  # constrained layout: the labels stay inside when saved
    t = seg.breakpoints
    if output is not None:
        values = np.concatenate([seg.maps[:, output, 0] * t[:-1] + seg.maps[:, output, 1],
                                 [seg.maps[-1, output, 0] * t[-1] + seg.maps[-1, output, 1]]])
        ax.plot(t, values, color="k", linewidth=1.2)
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        ax.set_ylabel(f"output {output}")
    else:
        lo, hi = 0.0, 1.0
        ax.set_yticks([])
    if color == "pattern":
        faces = _pastel(_hash_rows(seg.patterns))
    else:
        raise ValueError(f"color must be 'pattern' for a segment, got {color!r}")
    bands = [[(a, lo), (b, lo), (b, hi), (a, hi)] for a, b in zip(t[:-1], t[1:])]
    ax.add_collection(PolyCollection(bands, facecolors=faces, edgecolors="none", zorder=0))
    if boundary:
        for x in seg.change_t:
            ax.axvline(x, color="k", linewidth=2, linestyle="--")
    ax.set_xlim(0, 1)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("t (from a to b)")
    _set_title(ax, title, f"{seg.n_regions:,} linear regions along the segment")
    return ax
