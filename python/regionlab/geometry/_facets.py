"""Facet ids of the n-dimensional partitions (as the C++ engine records them at the
vertices) and the dual graph they give."""

from __future__ import annotations

import numpy as np

FACET_MAX = 1 << 62  # flag of a max-group comparison: FACET_MAX | pos << 40 | i << 20 | j
_INFINITY = -1000
_CROSS = -2000


def decode_facet(fid: int) -> dict:
    """What a facet id means (see ``BoxPartition.facet``)."""
    if fid >= FACET_MAX:
        rest = fid - FACET_MAX
        return {"kind": "max", "bit": rest >> 40, "candidates": ((rest >> 20) & 0xFFFFF, rest & 0xFFFFF)}
    if fid >= 0:
        return {"kind": "neuron", "bit": fid}
    if fid == _INFINITY:
        return {"kind": "infinity"}
    if fid <= _CROSS:
        return {"kind": "neighbourhood", "face": _CROSS - fid}
    c, upper = divmod(-1 - fid, 2)
    return {"kind": "box", "coordinate": c, "side": "upper" if upper else "lower"}


def _as_keys(patterns: np.ndarray) -> np.ndarray:
    """Rows as one opaque (sortable, comparable) value each."""
    p = np.ascontiguousarray(patterns)
    return p.view(np.dtype((np.void, p.shape[1]))).reshape(-1)


def neighbours(patterns: np.ndarray, facet_ids: np.ndarray, facet_offsets: np.ndarray,
               n_neurons: int) -> np.ndarray:
    """Pairs of regions across each facet: crossing a neuron's hyperplane at a generic point
    of a facet flips that neuron's bit only (every other pre-activation is continuous and
    non-zero there); crossing a max comparison swaps the group's winner between its two
    candidates. Facets whose flipped pattern is no region (a facet shared by coincident
    hyperplanes) are left out."""
    n = len(patterns)
    if n == 0:
        return np.zeros((0, 3), dtype=np.int64)
    owner = np.repeat(np.arange(n), np.diff(facet_offsets))
    ids = np.asarray(facet_ids, dtype=np.int64)
    real = ids >= 0
    owner, ids = owner[real], ids[real]
    flipped = patterns[owner].copy()
    is_max = ids >= FACET_MAX
    bit = np.where(is_max, (ids - FACET_MAX) >> 40, ids)
    change = np.where(is_max, ((ids >> 20) & 0xFFFFF) ^ (ids & 0xFFFFF), 1)
    # XOR `change` at bit position `bit` (at most 20 bits: up to 4 bytes from bit // 8).
    for b in range(21):
        on = ((change >> b) & 1).astype(bool)
        if not on.any():
            continue
        pos = bit[on] + b
        rows = np.flatnonzero(on)
        flipped[rows, pos // 8] ^= (1 << (pos % 8)).astype(np.uint8)
    keys = _as_keys(patterns)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = _as_keys(flipped)
    at = np.searchsorted(sorted_keys, wanted)
    at = np.minimum(at, n - 1)
    found = sorted_keys[at] == wanted
    other = order[at]
    a, b_, f = owner[found], other[found], ids[found]
    lo, hi = np.minimum(a, b_), np.maximum(a, b_)
    pairs = np.unique(np.stack([lo, hi, f], axis=1), axis=0)
    return pairs[pairs[:, 0] != pairs[:, 1]].astype(np.int64)
