"""Exact gradient flow of ReLU-family MLPs, gradient descent beside it.

    traj = rl.flow.integrate(model, X, y, loss="logistic", t_end=50)
    traj.t, traj.loss, traj.params[-1], traj.events, traj.sliding, traj.model(-1)
    descent = rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=500)
    t, d = rl.flow.distance(traj, descent)
    params, loss = traj.at(1.5)     # any t (fastest with integrate(..., dense=True))
"""

from ._api import distance, gd, integrate
from ._batches import minibatches
from ._population import PopulationRuns, PopulationTrajectory, population
from ._sweep import sweep
from ._trajectory import EVENT_DTYPE, SLIDING_DTYPE, Trajectory

__all__ = ["integrate", "gd", "distance", "minibatches", "Trajectory", "EVENT_DTYPE",
           "SLIDING_DTYPE", "population", "PopulationTrajectory", "PopulationRuns", "sweep"]
