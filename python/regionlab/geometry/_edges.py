"""Decision-boundary edges that lie along region edges, confirmed by probing the network
just across them (in the slice's centred coordinates)."""

from __future__ import annotations

import numpy as np


def _one_copy_per_edge(seg, pairs, candidates, tol):
    """The candidates (indices into seg) less repeats: the same edge seen from both sides
    has the same classes and the same end points up to rounding (within tol)."""
    chosen, seen = [], {}
    for i in candidates:
        ends = seg[i][np.lexsort(seg[i].T[::-1])]  # end points in a fixed order
        cell = tuple(np.floor(ends.mean(axis=0) / tol).astype(np.int64))
        near = [seen.get((pairs[i, 0], pairs[i, 1], cell[0] + dx, cell[1] + dy), [])
                for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        if any(np.abs(ends - other).max() <= tol for group in near for other in group):
            continue
        seen.setdefault((pairs[i, 0], pairs[i, 1]) + cell, []).append(ends)
        chosen.append(i)
    return np.asarray(chosen, dtype=np.int64)


def add_boundary_edges(slice_net, half, edges, segments, region, classes):
    """Adds the region edges that are decision boundary (all in re-centred coordinates,
    the box ``[-half, half]``; ``slice_net`` takes those coordinates as its input).

    Where the output has a kink exactly at the boundary (a ReLU on the output, or weights
    that make a neuron's zero line coincide with it), a class wins on one side of a region
    edge and only ties along it on the other. The core returns those edges as candidates
    with the class inside; the network, evaluated just across the edge, tells whether the
    tying class wins there. Each such edge shows up from both sides, so it is kept once.
    """
    seg = edges["segments"]
    if len(seg) == 0:
        return segments, region, classes
    mid = seg.mean(axis=1)
    d = seg[:, 1] - seg[:, 0]
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1) / np.linalg.norm(d, axis=1)[:, None]
    normal[((edges["interior"] - mid) * normal).sum(axis=1) > 0] *= -1  # point outwards
    side = 2.0 * float(half.max())
    # Just across: far enough that the output there is clear of rounding, close enough not
    # to overshoot a thin neighbouring region. In slice coordinates centred on the box, a
    # step of 1e-10 of its size is always resolved (a step added to far-away input points
    # would round back onto the edge).
    step = 1e-10 * side
    across = mid + step * normal
    in_slice = (np.abs(across) < half).all(axis=1)
    out = slice_net.forward(across)
    if out.shape[1] == 1:
        across_class = (out[:, 0] > 0).astype(np.int32)
    else:
        # Classes equal across up to rounding (identical there: every logit 0 where all
        # units are off) tie, and a tie goes to the lower class, as in the regions' maps.
        scale = np.abs(out).max(axis=1, keepdims=True)
        top = out >= out.max(axis=1, keepdims=True) - 64 * np.finfo(np.float64).eps * scale
        across_class = top.argmax(axis=1)
    keep = in_slice & (across_class == edges["outside"])
    pairs = np.sort(np.stack([edges["inside"], edges["outside"]], axis=1), axis=1).astype(classes.dtype)
    chosen = _one_copy_per_edge(seg, pairs, np.flatnonzero(keep), 1e-9 * side)
    return (np.concatenate([segments, seg[chosen]]), np.concatenate([region, edges["region"][chosen]]),
            np.concatenate([classes, pairs[chosen]]))
