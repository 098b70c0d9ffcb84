"""Exact input gradients (input-output Jacobians) of a piecewise-linear network.

Inside an activation region a ``PLNet`` is affine, ``f(x) = A x + c``, so its Jacobian
with respect to the input is the constant matrix ``A`` of the region holding ``x``. It is
the product of the stages' weight matrices, each preceded by the activation's
derivative on that sample's pattern:

    J(x) = D_L W_L ... D_1 W_1,

``D_k`` diagonal for (leaky) ReLU / identity units (``1`` where the pre-activation is
``> 0``, the negative slope ``s`` where it is ``<= 0``; ``s = 1`` for identity units) and,
for a max stage, the selection of each group's winning candidate.

Conventions (the package's, see :mod:`regionlab.net`): the pattern is the one
``net.patterns(X)`` computes in the net's dtype, so a pre-activation **exactly 0 counts
as inactive** (derivative ``s``: torch's ``relu'(0) = 0``), and a tie in a max group goes
to the first candidate (``numpy.argmax``), whose row is taken. On a kink the network is
not differentiable; the value returned there is the Jacobian of the region that
convention assigns the sample to (a one-sided derivative). For a single ReLU / leaky ReLU
kink that matches torch's autograd (``relu'(0) = 0``); at other kinks it may not. An
activation the package lowers to several ReLUs has its kinks moved onto those units: e.g.
``Hardtanh(lo, hi)`` becomes ``lo + relu(v - lo) - relu(v - hi)``, so at ``v = hi`` the
second unit counts as inactive and the slope returned is 1 (the left derivative), where
torch's ``hardtanh`` backward gives 0 on both kinks. Everywhere else it is the
derivative, exact up to the rounding of the matrix products (computed in float64,
whatever the net's dtype).

Reference for the region-wise affine structure: e.g. G. Montúfar, R. Pascanu, K. Cho,
Y. Bengio, "On the Number of Linear Regions of Deep Neural Networks", NeurIPS 2014.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import positive_int, to_numpy
from .data import read_whole
from .geometry._common import as_net

__all__ = ["input_gradients"]


def input_gradients(net: Any, X: Any, *, batch_size: int | None = None) -> np.ndarray:
    """Exact Jacobian of the network's output with respect to its input at each sample.

    Parameters
    ----------
    net:
        A :class:`regionlab.PLNet` or a torch module :func:`regionlab.from_torch` converts
        (a convolutional model takes its input shape from ``X``'s, ``(n, C, H, W)``).
    X:
        Samples ``(n, d)`` or ``(n, *input_shape)`` (array or tensor; a net with one input
        also takes ``(n,)``), or any data source :mod:`regionlab.data` reads (a generator
        or DataLoader of batches, ``(inputs, targets)`` tuples, dicts), read whole in order.
    batch_size:
        Samples per block of the computation (memory ``batch_size * out * width`` floats);
        the default keeps a block near 32 MB. Results do not depend on it.

    Returns
    -------
    ``(n, out, d)`` float64 array ``J`` with ``J[i] = d f(x_i) / d x`` (``d`` the flattened
    input size). On a kink: the Jacobian of the region the pattern convention picks (a
    pre-activation exactly 0 is inactive; max ties go to the first candidate), a one-sided
    derivative that can differ from torch's convention at kinks of activations lowered to
    several ReLUs (e.g. Hardtanh's upper kink; see the module docstring).

    Raises
    ------
    ValueError
        ``batch_size`` not a positive int (bools and floats such as ``2.0`` are refused,
        as elsewhere in the package), checked before anything else, also for empty ``X``.

    The backward product ``G <- (G D_k) W_k`` costs ``out * (affine outputs) * (inputs)``
    per stage and sample, so a net with few outputs is cheap at any input size.
    """
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size", "input_gradients")
    Xa = to_numpy(read_whole(X, "input_gradients"), "input_gradients")
    # In the net's own dtype, so that the pattern (the region on a kink) is net.patterns';
    # a Conv2d model takes its input shape from one sample's.
    plnet = as_net(net, np.empty(Xa.shape[1:]), what="input_gradients")
    Xm = plnet._prepare_inputs(Xa, "input_gradients")
    n, d = Xm.shape
    out = plnet.output_dim
    if n == 0:
        return np.zeros((0, out, d))
    if batch_size is None:
        widest = max(max(st.affine_features, st.in_features) for st in plnet.stages)
        batch_size = max(1, (1 << 22) // max(1, out * widest))

    stages = plnet.stages
    weights = [np.asarray(st.weight, dtype=np.float64) for st in stages]
    # Where each stage's bits start in the pattern.
    starts = np.concatenate([[0], np.cumsum([st.n_bits for st in stages])]).astype(np.int64)
    result = np.empty((n, out, d))
    for lo in range(0, n, batch_size):
        xb = Xm[lo:lo + batch_size]
        bits = plnet.patterns(xb)  # (b, n_neurons) bool: the engine's own pattern
        b = xb.shape[0]
        G = np.broadcast_to(np.eye(out), (b, out, out)).copy()  # d f / d a_L
        for k in range(len(stages) - 1, -1, -1):
            st, W = stages[k], weights[k]
            sb = bits[:, starts[k]:starts[k + 1]]
            if st.is_max:
                sizes = st.group_sizes
                nbits = st.group_bits
                offs = st.group_offsets
                # Winner position in each group, little-endian bits.
                winner = np.zeros((b, len(sizes)), dtype=np.int64)
                pos = 0
                for g, nb in enumerate(nbits):
                    for j in range(int(nb)):
                        winner[:, g] |= sb[:, pos + j].astype(np.int64) << j
                    pos += int(nb)
                cand = np.asarray(st.group_index, dtype=np.int64)[offs[:-1][None, :] + winner]  # (b, g)
                Gh = np.zeros((b, out, st.affine_features))
                rows = np.arange(b)[:, None, None]
                outs = np.arange(out)[None, :, None]
                np.add.at(Gh, (rows, outs, cand[:, None, :]), G)
            else:
                slope = np.asarray(st.negative_slope, dtype=np.float64)
                factor = np.broadcast_to(slope, (b, slope.size)).copy()
                kinked = st.kinked
                factor[:, kinked] = np.where(sb, 1.0, slope[kinked][None, :])
                Gh = G * factor[:, None, :]
            G = Gh @ W  # (b, out, in)
        result[lo:lo + b] = G
    return result
