"""Independent references the tests compare regionlab against."""

from math import comb

import numpy as np


def numpy_forward(net, X):
    """The network evaluated stage by stage in float64 numpy: (outputs, bool patterns)."""
    a = np.asarray(X, dtype=np.float64)
    bits = []
    for st in net.stages:
        h = a @ st.weight.astype(np.float64).T + st.bias.astype(np.float64)
        bits.append(h[:, st.negative_slope != 1.0] > 0)
        a = np.where(h > 0, h, st.negative_slope * h)
    return a, np.concatenate(bits, axis=1)


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
