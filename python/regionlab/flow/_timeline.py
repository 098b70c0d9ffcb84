"""Parameters of a run at any time: records, the integrator's dense output, or lines.

A time within ``1e-12 * max(1, |t|)`` of a record time is that record. Otherwise:

- a gradient-flow run with dense output (``integrate(..., dense=True)``) evaluates the
  dense output of the accepted step containing ``t`` (each step is a smooth piece: steps
  are cut at every kink), as the integrator itself does for its records;
- a gradient-descent run interpolates linearly between the neighbouring records;
- a gradient-flow run without dense output is run again from its start with the same
  settings, recording at those times (``_rerun.py``: what a run recording there would
  have given, at the cost of one run); that needs its data (kept in the session, or
  passed again after ``rl.load``), else ValueError: a chord between records would be
  silently inaccurate.
"""

from __future__ import annotations

import numbers
from typing import Callable, Optional

import numpy as np

REL = 1e-12


class Timeline:
    def __init__(self, t: np.ndarray, flat: np.ndarray, dense: Optional[dict], linear: bool,
                 rerun: Optional[Callable] = None):
        self.t, self.flat, self.dense, self.linear = t, flat, dense, linear
        self.rerun = rerun  # times -> parameters, by running the flow again (or None)

    def check_time(self, t) -> float:
        if isinstance(t, bool) or not isinstance(t, (numbers.Real, np.floating, np.integer)):
            raise TypeError(f"t must be a number, got {type(t).__name__}")
        tv = float(t)
        lo, hi = self.t[0], self.t[-1]
        slack = REL * max(1.0, abs(hi))
        if not np.isfinite(tv) or tv < lo - slack or tv > hi + slack:
            raise ValueError(f"t={t!r} is outside the run's time range [{lo:g}, {hi:g}]")
        return min(max(tv, lo), hi)

    def records(self, times: np.ndarray) -> np.ndarray:
        """Index of the record at each time, or -1."""
        j = np.clip(np.searchsorted(self.t, times), 0, len(self.t) - 1)
        out = np.full(len(times), -1, dtype=np.int64)
        for c in (j - 1, j):
            c = np.clip(c, 0, len(self.t) - 1)
            hit = (np.abs(self.t[c] - times) <= REL * np.maximum(1.0, np.abs(times))) & (out < 0)
            out[hit] = c[hit]
        return out

    def at(self, times: np.ndarray):
        """(parameters (m, P), record index or -1 per time); times within the range."""
        rec = self.records(times)
        out = np.empty((len(times), self.flat.shape[1]))
        out[rec >= 0] = self.flat[rec[rec >= 0]]
        off = np.flatnonzero(rec < 0)
        if len(off) == 0:
            return out, rec
        if self.dense is not None:
            out[off] = self._dense_at(times[off])
        elif self.linear:
            out[off] = self._linear_at(times[off])
        elif self.rerun is not None:
            out[off] = self.rerun(times[off])
        else:
            raise ValueError(
                f"t={times[off[0]]:g} is not a record time of this gradient-flow run, which "
                "was loaded from a file without its dense output: pass the run's X, y to run "
                "it again (traj.at(t, X, y)), or keep the dense output with "
                "integrate(..., dense=True), or record=[...] the times you need")
        return out, rec

    def _linear_at(self, times: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(self.t, times, side="right"), 1, len(self.t) - 1)
        t0, t1 = self.t[j - 1], self.t[j]
        w = ((times - t0) / (t1 - t0))[:, None]
        return (1 - w) * self.flat[j - 1] + w * self.flat[j]

    def _dense_at(self, times: np.ndarray) -> np.ndarray:
        d = self.dense
        P = self.flat.shape[1]
        j = np.clip(np.searchsorted(d["t1"], times, side="left"), 0, len(d["t1"]) - 1)
        tau = ((times - d["t0"][j]) / d["h"][j])[:, None]
        r = d["coef"][j].reshape(len(times), 5, P)
        u = 1.0 - tau
        return r[:, 0] + tau * (r[:, 1] + u * (r[:, 2] + tau * (r[:, 3] + u * r[:, 4])))
