"""Independent references the tests compare regionlab against."""

from math import comb

import numpy as np


def numpy_forward(net, X):
    """The network evaluated stage by stage in float64 numpy: (outputs, bool patterns)."""
    a = np.asarray(X, dtype=np.float64)
    bits = []
    for st in net.stages:
        h = a @ st.weight.astype(np.float64).T + st.bias.astype(np.float64)
        if st.group_offsets is not None:
            a, b = numpy_max_groups(h, st.group_offsets, st.group_index)
            bits.append(b)
            continue
        bits.append(h[:, st.negative_slope != 1.0] > 0)
        a = np.where(h > 0, h, st.negative_slope * h)
    return a, np.concatenate(bits, axis=1)


def numpy_max_groups(h, offsets, index):
    """Max groups by a plain loop: each group's maximum and its winner (first on ties)
    written little-endian in ceil(log2 k) bits."""
    values, bits = [], []
    for b, e in zip(offsets[:-1], offsets[1:]):
        cand = h[:, index[b:e]]
        win = np.argmax(cand, axis=1)  # numpy's tie rule: the first maximum
        values.append(cand[np.arange(len(h)), win])
        nb = int(np.ceil(np.log2(e - b))) if e - b > 1 else 0
        bits.extend(((win >> i) & 1).astype(bool) for i in range(nb))
    b = np.stack(bits, axis=1) if bits else np.zeros((len(h), 0), dtype=bool)
    return np.stack(values, axis=1), b


def zaslavsky_count(n_hyperplanes, dim):
    """Regions of n hyperplanes in general position in R^dim."""
    return sum(comb(n_hyperplanes, i) for i in range(dim + 1))


def distinct_rows(bool_patterns):
    """numpy.unique on packed patterns: (n_distinct, inverse in first-appearance order)."""
    packed = np.packbits(bool_patterns, axis=1, bitorder="little")
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    # Relabel ids by first appearance, the order regionlab uses.
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return len(first), rank[inverse.ravel()], np.sort(first)


def random_net(rng, widths, activation="relu", bias_scale=0.5):
    """A PLNet with N(0, 1/fan_in) weights and N(0, bias_scale^2) biases; last stage linear."""
    import regionlab as rl

    ws = [rng.normal(0, 1 / np.sqrt(i), (o, i)) for i, o in zip(widths[:-1], widths[1:])]
    bs = [rng.normal(0, bias_scale, o) for o in widths[1:]]
    return rl.PLNet.from_arrays(ws, bs, activation, dtype=np.float64)


def grid(extent, n):
    """The centres of an n x n grid of cells over extent (s0, s1, t0, t1), (n*n, 2).

    Centres stay off the extent's border, where a sample's pattern can belong to a region
    outside the slice.
    """
    s = extent[0] + (np.arange(n) + 0.5) * (extent[1] - extent[0]) / n
    t = extent[2] + (np.arange(n) + 0.5) * (extent[3] - extent[2]) / n
    S, T = np.meshgrid(s, t)
    return np.stack([S.ravel(), T.ravel()], axis=1)


def inside_convex(poly, pts, tol):
    """Whether each point lies in the counter-clockwise convex polygon, up to tol."""
    nxt = np.roll(poly, -1, axis=0)
    edge = nxt - poly
    rel = pts[:, None, :] - poly[None, :, :]
    cross = edge[None, :, 0] * rel[:, :, 1] - edge[None, :, 1] * rel[:, :, 0]
    return (cross >= -tol).all(axis=1)


def bisect_roots(f, t, tol=1e-13):
    """Roots of each column of f between consecutive grid points t where its sign changes.

    f maps an array of t to (len(t), k) values; returns the sorted roots found.
    """
    v = f(t)
    roots = []
    for i, j in zip(*np.nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)):
        lo, hi = t[i], t[i + 1]
        flo = v[i, j]
        while hi - lo > tol:
            mid = 0.5 * (lo + hi)
            fm = f(np.array([mid]))[0, j]
            if np.sign(fm) == np.sign(flo):
                lo, flo = mid, fm
            else:
                hi = mid
        roots.append(0.5 * (lo + hi))
    return np.sort(np.array(roots))
