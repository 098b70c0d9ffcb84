"""Parameters of a gradient-flow run at times it did not record, by running it again.

The integrator is deterministic, and records do not change its steps: run again from the
same start with the same settings, recording at the times asked, it returns what a run
recording there from the start would have (to rounding; with aimed steps, to the
tolerances when the first run used more than one thread). Costs one run.
"""

from __future__ import annotations

import numpy as np

METHODS = {"dopri5": 0, "rk4": 1, "euler": 2, "bs3": 3}


def rerun(problem, theta0: np.ndarray, stats: dict, times: np.ndarray) -> np.ndarray:
    """(len(times), P) parameters at the given times (within [0, stats["t_end"]])."""
    from .. import _core

    method = stats["method"]
    if method not in METHODS or "t_end" not in stats:
        raise ValueError(f"cannot run this trajectory again (method {method!r}, stats "
                         f"{sorted(stats)}); keep the dense output with dense=True")
    step = float(stats.get("step", 0.0))
    if METHODS[method] in (1, 2) and not step > 0:
        raise ValueError("this fixed-step trajectory does not record its step; run it again "
                         "with record=[...] or dense=True")
    t_end = float(stats["t_end"])
    want = np.unique(np.clip(times, 0.0, t_end))
    r = _core.flow_integrate(problem, np.ascontiguousarray(theta0), METHODS[method], t_end,
                             float(stats["rtol"]), float(stats["atol"]), step,
                             int(stats.get("max_steps", 10**9)), False,
                             np.unique(np.concatenate([[0.0], want, [t_end]])).tolist(), 1,
                             False, bool(stats.get("aim", False)))
    got = {float(t): k for k, t in enumerate(r["t"])}
    return np.array([r["params"][got[float(t)]] for t in np.clip(times, 0.0, t_end)])
