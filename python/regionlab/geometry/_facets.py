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
    candidates. Where several units' hyperplanes coincide on a facet (``abs`` lowered to
    two ReLUs, duplicated neurons) crossing it flips all their bits: the facets no single
    flip explains go to :func:`_coincident_neighbours`."""
    n = len(patterns)
    if n == 0:
        return np.zeros((0, 3), dtype=np.int64)
    owner = np.repeat(np.arange(n), np.diff(facet_offsets))
    ids = np.asarray(facet_ids, dtype=np.int64)
    real = ids >= 0
    owner, ids = owner[real], ids[real]
    masks = _flip_masks(ids, patterns.shape[1])
    flipped = patterns[owner] ^ masks
    keys = _as_keys(patterns)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = _as_keys(flipped)
    at = np.searchsorted(sorted_keys, wanted)
    at = np.minimum(at, n - 1)
    found = sorted_keys[at] == wanted
    other = order[at]
    a, b_, f = owner[found], other[found], ids[found]
    extra = _coincident_neighbours(patterns, owner[~found], ids[~found], masks[~found])
    lo, hi = np.minimum(a, b_), np.maximum(a, b_)
    pairs = np.stack([lo, hi, f], axis=1)
    if len(extra):
        pairs = np.concatenate([pairs, extra])
    pairs = np.unique(pairs, axis=0)
    return pairs[pairs[:, 0] != pairs[:, 1]].astype(np.int64)


def facet_bits(ids: np.ndarray) -> np.ndarray:
    """The first pattern bit each facet id (>= 0) names: a neuron's, or a max group's."""
    ids = np.asarray(ids, dtype=np.int64)
    return np.where(ids >= FACET_MAX, (ids - FACET_MAX) >> 40, ids)


def _flip_masks(ids: np.ndarray, n_bytes: int) -> np.ndarray:
    """Per facet id, the packed pattern bits that crossing it flips (a neuron: its bit; a
    max comparison: the XOR of the two candidates' positions in the group's winner bits)."""
    masks = np.zeros((len(ids), n_bytes), dtype=np.uint8)
    is_max = ids >= FACET_MAX
    bit = facet_bits(ids)
    change = np.where(is_max, ((ids >> 20) & 0xFFFFF) ^ (ids & 0xFFFFF), 1)
    # `change` at bit position `bit` (at most 20 bits: up to 4 bytes from bit // 8).
    for b in range(21):
        on = ((change >> b) & 1).astype(bool)
        if not on.any():
            continue
        pos = bit[on] + b
        rows = np.flatnonzero(on)
        masks[rows, pos // 8] ^= (1 << (pos % 8)).astype(np.uint8)
    return masks


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def _coincident_neighbours(patterns, owner, ids, masks, probes: int = 8) -> np.ndarray:
    """(a, b, facet id) across facets no single flip explains: several units' hyperplanes
    coincide there (``abs`` lowered to two ReLUs, duplicated neurons), and the engine
    records the facet under one of their ids. The region across differs from this one in
    exactly those units' bits; every other region on the far side of the facet's unit
    differs in more (it is also across some other hyperplane), so the neighbour is the
    nearest region, in Hamming distance, that lists the same facet with the unit's bit
    flipped. The bits to flip are found from a few regions per facet id and then looked up
    for all of them; regions they do not explain get the nearest-region search itself."""
    if len(owner) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    keys = _as_keys(patterns)
    index = {k.tobytes(): i for i, k in enumerate(keys)}
    rows = []
    for f in np.unique(ids):
        members = owner[ids == f]
        mask_f = masks[np.flatnonzero(ids == f)[0]]
        side = (patterns[members] & mask_f).any(axis=1)

        def nearest(r: int) -> int:
            far = members[side != bool((patterns[r] & mask_f).any())]
            if len(far) == 0:
                return -1
            dist = _POPCOUNT[patterns[far] ^ patterns[r]].sum(axis=1)
            best = np.flatnonzero(dist == dist.min())
            return int(far[best[0]]) if len(best) == 1 else -1

        flips = {}  # the distinct flip masks the probes found, by their bytes
        for r in members[:probes]:
            q = nearest(int(r))
            if q >= 0:
                flips.setdefault((patterns[r] ^ patterns[q]).tobytes(), patterns[r] ^ patterns[q])
        listed = set(members.tolist())
        for r in members:
            found = (index.get((patterns[r] ^ m).tobytes()) for m in flips.values())
            q = next((o for o in found if o in listed), None)
            if q is None:
                q = nearest(int(r))
            if q >= 0:
                rows.append((min(r, q), max(r, q), int(f)))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)
