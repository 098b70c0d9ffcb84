"""Exact gradient flow of ReLU-family MLPs, gradient descent beside it.

    traj = rl.flow.integrate(model, X, y, loss="logistic", t_end=50)
    traj.t, traj.loss, traj.params[-1], traj.events, traj.sliding, traj.model(-1)
    descent = rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=500)
    t, d = rl.flow.distance(traj, descent)
"""

from ._api import distance, gd, integrate
from ._trajectory import EVENT_DTYPE, SLIDING_DTYPE, Trajectory

__all__ = ["integrate", "gd", "distance", "Trajectory", "EVENT_DTYPE", "SLIDING_DTYPE"]
