"""Pairs held on their kink by a unit that is exactly zero.

A kinked unit whose incoming weights and bias are all exactly 0 has ``z = 0`` for every
sample. The flow counts ``z == 0`` as inactive (torch's autograd convention), so for a
ReLU unit the field leaves its weights, its bias and (its output being 0) its outgoing
weights' gradient at 0: the unit stays at zero for ever. That is one Filippov solution
among several (others, with slopes in ``[0, 1]`` on the kink, can move it off zero); it
is the one the integrator follows. Its pairs sit on their kink for the whole run, so they
are reported as sliding intervals, like every other pair held on its kink.
"""

from __future__ import annotations

import numpy as np

from ._model import FlowModel
from ._trajectory import SLIDING_DTYPE


def zero_unit_sliding(fm: FlowModel, flat: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    """Sliding rows (every sample, t[0] to t[-1]) of kinked units zero at every record."""
    params = fm.chain_split(flat)
    rows = []
    for layer, ly in enumerate(fm.layers):
        W = params[ly.weight_name]  # (records, out, in)
        zero = np.all(W == 0, axis=(0, 2))
        if ly.bias_name is not None:
            zero &= np.all(params[ly.bias_name] == 0, axis=0)
        zero &= ly.slopes != 1.0
        for j in np.flatnonzero(zero):
            rows.extend((i, layer, int(j), t[0], t[-1]) for i in range(n))
    return np.array(rows, dtype=SLIDING_DTYPE)
