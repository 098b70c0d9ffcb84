"""Matplotlib pictures of slice partitions, in the look of the field's published figures:
regions as filled polygons with thin edges, the decision boundary bold."""

from __future__ import annotations

import numpy as np

from ._common import layer_prefix_ids


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 6))
    return ax


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


def _output_colors(values: np.ndarray, classes: bool, cmap):
    import matplotlib
    from matplotlib.colors import TwoSlopeNorm

    if classes:
        base = matplotlib.colormaps[cmap or "tab10"]
        rgb = np.array([base(int(c) % base.N)[:3] for c in values])
        return 0.55 * rgb + 0.45  # lighter, so edges and the boundary stay visible
    lim = float(np.abs(values).max()) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    return matplotlib.colormaps[cmap or "RdBu_r"](norm(values))


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
               linewidth=0.15, output=0, cmap=None, anchors=True):
    from matplotlib.collections import LineCollection, PolyCollection

    ax = _axes(ax)
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
            # Predicted class, exactly: regions the boundary crosses are split along it.
            cells, classes = _class_cells(p)
            ax.add_collection(PolyCollection(cells, facecolors=_output_colors(classes, True, cmap),
                                             edgecolors="none", antialiased=False))
            faces = "none"
        else:
            out = p.output(p.centroids(), np.arange(p.n_regions))
            faces = _output_colors(out[:, output], False, cmap)
    else:
        raise ValueError(f"color must be 'pattern', 'output' or 'layer', got {color!r}")
    polys = PolyCollection(p.polygons(), facecolors=faces, edgecolors=edgecolor,
                           linewidths=linewidth, antialiased=True)
    ax.add_collection(polys)
    if boundary and len(p.boundary):
        ax.add_collection(LineCollection(p.boundary, colors="k", linewidths=2.2, capstyle="round"))
    if anchors and p.anchors is not None:
        ax.scatter(p.anchors[:, 0], p.anchors[:, 1], s=40, c="k", zorder=3)
        for i, (x, y) in enumerate(p.anchors):
            ax.annotate(f"$x_{i}$", (x, y), xytext=(4, 4), textcoords="offset points")
    s0, s1, t0, t1 = p.extent
    ax.set_xlim(s0, s1)
    ax.set_ylim(t0, t1)
    ax.set_aspect("equal")
    ax.set_xlabel("s")
    ax.set_ylabel("t")
    ax.set_title(f"{p.n_regions:,} linear regions")
    return ax


def plot_segment(seg, ax=None, *, output=0, boundary=True, color="pattern"):
    from matplotlib.collections import PolyCollection

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 3))
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
    ax.set_xlabel("t")
    ax.set_title(f"{seg.n_regions:,} linear regions along the segment")
    return ax
