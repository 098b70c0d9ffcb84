"""Sweeps of independent gradient-flow / descent runs, in this process or on a cluster.

    rows = rl.flow.sweep(rl.flow.gd, [dict(model=m, X=X, y=y, loss="logistic", lr=lr, steps=500)
                                       for lr in (0.01, 0.1, 1.0)], client=client)

Each run's keyword arguments go to ``fn`` (``rl.flow.integrate`` or ``rl.flow.gd``) on a
worker; only a picklable summary comes back: one row per run, in the order given.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._executor import run_all

__all__ = ["sweep"]


def _summary(fn_name: str, kwargs: dict) -> dict:
    from . import _api

    traj = getattr(_api, fn_name)(**kwargs)
    return {
        "t": np.asarray(traj.t), "loss": np.asarray(traj.loss),
        "params": {k: np.array(v) for k, v in traj.params[-1].items()},
        "trainable": list(traj.trainable), "stats": dict(traj.stats),
        "n_events": int(len(traj.events)),
    }


def sweep(fn: Callable, runs: list, *, client: Any = None, threads: int | None = None) -> list:
    """Run ``fn(**kwargs)`` for every ``kwargs`` in ``runs``; returns one dict a run:
    ``t``, ``loss`` (at the records), ``params`` (the last record's, ``state_dict``-named),
    ``trainable``, ``stats``, ``n_events``. ``client``: a ``dask.distributed`` ``Client`` or
    any ``concurrent.futures.Executor`` (runs are submitted one task each and gathered in
    order); default: one after the other here (each run uses the core's threads)."""
    from . import _api

    name = next((n for n in ("integrate", "gd") if getattr(_api, n) is fn), None)
    if name is None:
        raise TypeError("sweep runs rl.flow.integrate or rl.flow.gd")
    runs = [dict(r) for r in runs]
    if not all(isinstance(r, dict) for r in runs):
        raise TypeError("sweep: runs must be a list of keyword-argument dicts")
    if client is None:
        return [_summary(name, r) for r in runs]
    return run_all(client, _summary, [(name, r) for r in runs])
