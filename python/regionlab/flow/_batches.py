"""The mini-batch schedule of ``rl.flow.gd``, reproducible outside regionlab.

Epoch ``e`` visits the samples in the order ``rng.permutation(n)``, the ``e``-th call on
``rng = np.random.default_rng(seed)``, cut into consecutive batches of ``batch_size``
(the epoch's last one shorter when ``batch_size`` does not divide ``n``, as a torch
``DataLoader`` with ``drop_last=False``). Step ``k`` uses the ``k``-th batch of that
sequence, epochs following each other.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

__all__ = ["minibatches", "batch_order"]


def batch_order(n: int, batch_size: int, steps: int, seed: Any) -> np.ndarray:
    """One permutation of ``range(n)`` per epoch that ``steps`` batches need, concatenated."""
    per_epoch = -(-n // batch_size)
    epochs = -(-steps // per_epoch)
    rng = np.random.default_rng(seed)
    if epochs == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([rng.permutation(n) for _ in range(epochs)]).astype(np.int64)


def minibatches(n: int, batch_size: int, steps: int, seed: Any = None) -> Iterator[np.ndarray]:
    """The sample indices of each of ``steps`` mini-batches, as ``gd(batch_size=, seed=)``
    uses them (see the module docstring); for a torch loop that should see the same batches.
    """
    order = batch_order(n, batch_size, steps, seed)
    per_epoch = -(-n // batch_size)
    for k in range(steps):
        e, b = divmod(k, per_epoch)
        start = e * n + b * batch_size
        yield order[start : min(start + batch_size, (e + 1) * n)]
