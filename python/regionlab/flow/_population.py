"""Teacher-student training on the exact Gaussian population loss (closed form, C++).

    traj = rl.flow.population(W0, teacher, lr=0.5, steps=10_000, tol=1e-9)   # one run
    runs = rl.flow.population(W0_batch, teacher, lr=0.5, steps=10_000, tol=1e-9)

A 2-D ``W0`` ``(k, d)`` is one run and gives a :class:`PopulationTrajectory`; a 3-D
``W0_batch`` ``(runs, k, d)`` gives a :class:`PopulationRuns` table, the runs spread over
all cores (``threads=``). ``t_end=`` instead of ``lr=``/``steps=`` runs the gradient flow
(the shared ODE layer's adaptive Dormand-Prince, cpp/src/ode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._population import student_arrays
from .._validate import is_torch_module
from ._api import _count
from ._executor import run_all
from ._trajectory import EVENT_DTYPE, SLIDING_DTYPE, Trajectory

__all__ = ["population", "PopulationTrajectory", "PopulationRuns", "classify"]

KINDS = ("global", "spurious", "saddle", "stationary", "not converged")
# A batch run without tol= is called converged when its final gradient norm is below this.
CONVERGED_TOL = 1e-6


class PopulationTrajectory(Trajectory):
    """One population run (descent, or flow), a :class:`Trajectory` whose records are
    ``t`` (``step * lr`` for descent; ``t_eval`` for the flow), ``loss``, ``grad_norm``, the
    parameters ``W`` ``(records, k, d)``, ``a`` ``(records, k)``, ``c`` ``(records,)``, and
    ``params[i] = {"W": ..., "a": ...}`` (a torch student: its ``state_dict`` names, ``a``
    shaped like its last ``Linear`` weight). No samples, so no events or per-sample loss;
    ``model(i)`` is the student as a torch module; ``at(t)`` interpolates linearly between
    records (record the times you need with ``t_eval`` for the flow's own dense output)."""

    def __init__(self, t, step, loss, grad_norm, W, a, stats=None, c=None, names=("W", "a"),
                 teacher=None, negative_slope: float = 0.0):
        self.t = np.asarray(t, dtype=np.float64)
        self.step = np.asarray(step)
        self.loss = np.asarray(loss, dtype=np.float64)
        self.grad_norm = np.asarray(grad_norm, dtype=np.float64)
        self.W, self.a = np.asarray(W), np.asarray(a)
        self.c = np.zeros(len(self.t)) if c is None else np.asarray(c, dtype=np.float64)
        self.names = tuple(names)
        self.stats = dict(stats or {})
        self.trainable = [names[0]] + ([names[1]] if self.stats.get("train_a") else [])
        self.events = np.zeros(0, dtype=EVENT_DTYPE)
        self.sliding = np.zeros(0, dtype=SLIDING_DTYPE)
        self.sample_loss = np.zeros((len(self.t), 0))
        self.margin = np.zeros((len(self.t), 0))
        self._teacher, self._slope, self._dense, self._problem = teacher, negative_slope, None, None
        self.param_arrays = {names[0]: self.W, names[1]: self.a.reshape(len(self.t), *self._a_shape)}

    @property
    def _a_shape(self) -> tuple:
        return (1, -1) if self.names[1] != "a" else (-1,)

    @property
    def params(self) -> list:
        w, a = self.names
        return [{w: self.W[i], a: self.a[i].reshape(self._a_shape)} for i in range(len(self.t))]

    @property
    def flat_params(self) -> np.ndarray:
        return np.concatenate([self.W.reshape(len(self.t), -1), self.a], axis=1)

    @property
    def param_names(self) -> list:
        return list(self.names)

    def model(self, i: int = -1):
        """The student at record ``i`` as ``nn.Sequential(Linear(d, k, bias=False), (Leaky)ReLU,
        Linear(k, 1))`` (float64; the output bias ``c`` as the last layer's bias)."""
        import torch
        from torch import nn

        i = self._index(i)
        k, d = self.W.shape[1:]
        act = nn.ReLU() if self._slope == 0 else nn.LeakyReLU(self._slope)
        m = nn.Sequential(nn.Linear(d, k, bias=False), act, nn.Linear(k, 1)).double()
        with torch.no_grad():
            m[0].weight.copy_(torch.from_numpy(np.array(self.W[i])))
            m[2].weight.copy_(torch.from_numpy(np.array(self.a[i]))[None])
            m[2].bias.fill_(float(self.c[i]))
        return m

    def at(self, t: float, X: Any = None, y: Any = None):
        """``(params, loss)`` at ``t``, linear between records (exact at record times); the
        loss is the population loss there."""
        from ..metrics import population_loss

        t = float(t)
        if not self.t[0] <= t <= self.t[-1]:
            raise ValueError(f"t={t} is outside the run's [{self.t[0]}, {self.t[-1]}]")
        j = int(np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, len(self.t) - 1))
        if self.t[j] == t or j == len(self.t) - 1:
            return self.params[j], float(self.loss[j])
        w = (t - self.t[j]) / (self.t[j + 1] - self.t[j])
        W = (1 - w) * self.W[j] + w * self.W[j + 1]
        a = (1 - w) * self.a[j] + w * self.a[j + 1]
        c = (1 - w) * self.c[j] + w * self.c[j + 1]
        loss = population_loss(W, self._teacher, a, negative_slope=self._slope, bias=c)
        return {self.names[0]: W, self.names[1]: a.reshape(self._a_shape)}, loss

    def sample_grad_norms(self, i, X, y):  # no samples in a population run
        raise ValueError("a population run has no samples; see grad_norm")

    def save(self, path) -> str:
        raise ValueError("population runs are not saved as files yet; np.savez(path, t=traj.t, "
                         "loss=traj.loss, W=traj.W, a=traj.a) keeps them")

    def __repr__(self) -> str:
        return (f"PopulationTrajectory(records={len(self.t)}, t_end={self.t[-1]:g}, "
                f"loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g})")


@dataclass
class PopulationRuns:
    """A table, one row per run: final ``W`` ``(runs, k, d)`` and ``a``, ``loss``,
    ``grad_norm``, ``eig_min``/``eig_max`` of the loss's Hessian in ``W`` at the end,
    ``steps`` and ``kind`` (see :func:`classify`); ``thresholds`` says how kinds were told."""

    W: np.ndarray
    a: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    eig_min: np.ndarray
    eig_max: np.ndarray
    steps: np.ndarray
    kind: np.ndarray
    thresholds: dict
    c: np.ndarray | None = None  # final output biases

    def __len__(self) -> int:
        return len(self.loss)

    def counts(self) -> dict:
        """How many runs ended as each kind."""
        return {k: int((self.kind == k).sum()) for k in KINDS}

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({
            "loss": self.loss, "grad_norm": self.grad_norm, "eig_min": self.eig_min,
            "eig_max": self.eig_max, "steps": self.steps, "kind": self.kind,
        })


def classify(loss, grad_norm, eig_min, *, tol: float, global_loss: float, eig_tol: float) -> np.ndarray:
    """Each run's kind: ``"not converged"`` when ``grad_norm >= tol``; else ``"global"``
    when ``loss < global_loss``; else ``"saddle"`` when ``eig_min < -eig_tol`` (a direction
    of descent); else ``"spurious"`` (a local minimum with positive loss)."""
    loss, grad_norm, eig_min = (np.asarray(v, dtype=np.float64) for v in (loss, grad_norm, eig_min))
    kind = np.full(loss.shape, "spurious", dtype=object)
    kind[eig_min < -eig_tol] = "saddle"
    kind[loss < global_loss] = "global"
    kind[~(grad_norm < tol)] = "not converged"
    return kind.astype(str)


def _run_chunk(W0: np.ndarray, A: np.ndarray, V: np.ndarray, b: np.ndarray, alpha: float,
               lr: Any, steps: int, tol: float, train_a: bool, record_every: int,
               threads: int, eigs: bool, c0: float = 0.0, train_c: bool = False) -> dict:
    """Runs of one batch (in this process, or on a worker): the core's result, plus the
    Hessian's extreme eigenvalues at the end when ``eigs``."""
    from .. import _core
    from ..metrics import population_hessian
    from ..teachers import gaussian_relu

    if isinstance(lr, tuple):  # gradient flow: ("flow", t_end, rtol, atol, record_times)
        _, t_end, rtol, atol, times = lr
        res = dict(_core.population_flow(np.ascontiguousarray(W0), np.ascontiguousarray(A), V, b,
                                         alpha, t_end, rtol, atol, train_a, steps, list(times),
                                         threads, c0, train_c))
    else:
        res = dict(_core.population_descend(np.ascontiguousarray(W0), np.ascontiguousarray(A), V,
                                            b, alpha, lr, steps, tol, train_a, record_every, threads,
                                            c0, train_c))
    if eigs:
        teacher = gaussian_relu(V, b)
        ev = [np.linalg.eigvalsh(population_hessian(W, teacher, av, negative_slope=alpha, bias=c))
              for W, av, c in zip(res["W"], res["a"], res["c"])]
        res["eig_min"] = np.array([e[0] for e in ev])
        res["eig_max"] = np.array([e[-1] for e in ev])
    return res


def _run_on(client: Any, W0: np.ndarray, A: np.ndarray, args: tuple, chunks: int | None) -> dict:
    """The batch split into chunks of runs, submitted to ``client`` (a dask.distributed
    Client or any concurrent.futures.Executor), gathered back in run order."""
    runs = len(W0)
    n_chunks = chunks or min(runs, 64)
    bounds = np.linspace(0, runs, n_chunks + 1).astype(int)
    parts = run_all(client, _run_chunk, [(W0[lo:hi], A[lo:hi], *args)
                                         for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo])
    # A chunk of one run comes back in the single-run form (its records, 0-d counts and
    # more): the table keeps the per-run columns every chunk has.
    keys = [key for key in parts[0] if all(key in p for p in parts) and not key.startswith("rec_")]
    return {key: np.concatenate([np.atleast_1d(p[key]) for p in parts]) for key in keys}


def population(W0: Any, teacher: Any, *, a: Any = None, train_a: bool = False,
               negative_slope: float = 0.0, lr: float | None = None, steps: int | None = None,
               tol: float = 0.0, t_end: float | None = None, record_every: int = 0,
               global_loss: float = 1e-8, eig_tol: float = 1e-8, threads: int | None = None,
               client: Any = None, chunks: int | None = None, rtol: float = 1e-8,
               atol: float = 1e-10, t_eval: Any = None, max_steps: int = 1_000_000,
               bias: float = 0.0, train_bias: bool = False):
    """Gradient descent, or gradient flow, on the exact population loss ``F``
    (``rl.metrics.population_loss``).

    Flow (``t_end=``): ``dW/dt = -dF/dW`` (and ``a`` with ``train_a``) to ``t_end`` by the
    shared ODE layer's adaptive Dormand-Prince 5(4) at ``rtol``/``atol``; one run records at
    ``t_eval`` (default: ``record_every + 1`` (101) evenly spaced times) from the dense
    output; a batch classifies its end points as descent does (``tol`` on the final
    gradient norm; ``max_steps`` caps the steps of each run).

    ``W0``: ``(k, d)`` for one run, ``(runs, k, d)`` for many. ``a``: the output weights
    (default ones), fixed unless ``train_a``; ``bias``: an output bias ``c`` (default 0),
    fixed unless ``train_bias``. Each step ``W <- W - lr dF/dW`` until
    ``|grad F| < tol`` or ``steps`` steps. One run returns a :class:`PopulationTrajectory`
    (records every ``record_every`` steps, 0: start and end); many return a
    :class:`PopulationRuns` table with the Hessian's extreme eigenvalues at the end (of
    ``W``, ``a`` held fixed) and each run's kind (:func:`classify` with ``tol``, or 1e-6
    when ``tol`` is 0, ``global_loss`` and ``eig_tol``). With ``train_a`` the eigenvalues
    are NaN and a converged non-global run is ``"stationary"`` (the ``W`` block alone
    cannot tell a minimum from a saddle in ``(W, a)``).

    ``client``: a ``dask.distributed`` ``Client`` or any ``concurrent.futures.Executor``
    spreads a batch over its workers in ``chunks`` pieces (default: up to 64), each run on
    one thread there; the table is the same as in-process (each run depends only on its
    own ``W0``). Default: this process's threads.
    """
    flow = t_end is not None
    if flow and lr is not None:
        raise ValueError("population: give t_end= (gradient flow) or lr= and steps= (descent), not both")
    if not flow and (lr is None or steps is None):
        raise ValueError("population: give lr= and steps= (gradient descent) or t_end= (flow)")
    names = ("W", "a")
    if is_torch_module(W0):
        W0, a, negative_slope, train_a, names = _torch_student(W0, a, negative_slope, train_a)
    W0 = np.asarray(W0, dtype=np.float64)
    single = W0.ndim == 2
    batch = W0[None] if single else W0
    if batch.ndim != 3:
        raise ValueError(f"population: W0 must be (k, d) or (runs, k, d), got shape {W0.shape}")
    if len(batch) == 0:
        raise ValueError("population: W0 holds no runs (shape (0, k, d)); give at least one")
    record_every = _count(record_every, "record_every", 0)
    if threads is not None:
        threads = _count(threads, "threads", 1)
    if chunks is not None:
        chunks = _count(chunks, "chunks", 1)
    rows = []
    for W in batch:  # validated like the metrics (shapes, finiteness, the teacher)
        _, a_run, alpha = student_arrays(W, teacher, a, negative_slope, "population")
        rows.append(a_run)
    A = np.ascontiguousarray(np.stack(rows))
    V, b = np.array(teacher.V), np.array(teacher.b)
    if flow:
        t_end = float(t_end)
        if not (t_end > 0 and np.isfinite(t_end)):
            raise ValueError(f"population: t_end must be positive and finite, got {t_end}")
        times = np.linspace(0.0, t_end, (record_every or 100) + 1) if t_eval is None else \
            np.sort(np.asarray(t_eval, dtype=np.float64).reshape(-1))
        if len(times) == 0 or not np.isfinite(times).all() or times[0] < 0 or times[-1] > t_end:
            raise ValueError("population: t_eval must be one or more finite times in [0, t_end]")
        lr_or_flow: Any = ("flow", t_end, float(rtol), float(atol), times)
        steps = _count(max_steps, "max_steps", 1)
    else:
        steps = _count(steps, "steps", 0)
        lr_or_flow = float(lr)
    settings = (lr_or_flow, steps, float(tol), bool(train_a), int(record_every))
    c0 = float(bias)
    if not np.isfinite(c0):
        raise ValueError("population: bias must be finite")
    if single or client is None:
        res = _run_chunk(np.ascontiguousarray(batch), A, V, b, alpha, *settings,
                         0 if threads is None else int(threads), not single, c0, bool(train_bias))
    else:
        res = _run_on(client, np.ascontiguousarray(batch), A,
                      (V, b, alpha, *settings, 1, True, c0, bool(train_bias)), chunks)
    stats = {"tol": float(tol), "train_a": bool(train_a), "negative_slope": alpha}
    if single and flow:
        return PopulationTrajectory(res["rec_t"], np.arange(len(res["rec_t"])), res["rec_loss"],
                                    res["rec_grad_norm"], res["rec_W"], res["rec_a"], names=names,
                                    c=res["rec_c"], teacher=teacher, negative_slope=alpha,
                                    stats={**stats, "method": "dopri5", "t_end": t_end, "rtol": rtol,
                                     "atol": atol, "steps": int(res["steps"][0]),
                                     "rejected": int(res["rejected"]),
                                     "evaluations": int(res["evaluations"][0])})
    if single:
        st = res["rec_step"]
        return PopulationTrajectory(st * float(lr), st, res["rec_loss"], res["rec_grad_norm"],
                                    res["rec_W"], res["rec_a"], names=names, c=res["rec_c"],
                                    teacher=teacher, negative_slope=alpha,
                                    stats={**stats, "lr": float(lr), "steps": int(res["steps"][0]),
                                     "converged": bool(res["converged"][0])})
    eig_min, eig_max = res["eig_min"], res["eig_max"]
    if train_a or train_bias:  # the Hessian is of W alone: it cannot tell a saddle in (W, a, c)
        eig_min, eig_max = np.full_like(eig_min, np.nan), np.full_like(eig_max, np.nan)
    kind = classify(res["loss"], res["grad_norm"], eig_min, tol=tol if tol > 0 else CONVERGED_TOL,
                    global_loss=global_loss, eig_tol=eig_tol)
    if train_a or train_bias:
        kind = np.where(np.isin(kind, ["spurious", "saddle"]), "stationary", kind)
    return PopulationRuns(res["W"], res["a"], res["loss"], res["grad_norm"], eig_min, eig_max,
                          res["steps"], kind,
                          {"tol": float(tol), "global_loss": global_loss, "eig_tol": eig_tol},
                          res["c"])


def _torch_student(model: Any, a: Any, negative_slope: float, train_a: bool):
    """``(W, a, slope, train_a, names)`` of a torch student ``Linear(d, k, bias=False)`` ->
    ``ReLU``/``LeakyReLU`` -> ``Linear(k, 1, bias=False)``; ``a`` trains when its weight
    requires grad (or ``train_a``)."""
    from torch import nn

    mods = [m for m in model.children()] if isinstance(model, nn.Sequential) else []
    ok = (len(mods) == 3 and isinstance(mods[0], nn.Linear) and isinstance(mods[2], nn.Linear)
          and mods[0].bias is None and mods[2].bias is None and mods[2].out_features == 1
          and type(mods[1]) in (nn.ReLU, nn.LeakyReLU))
    if not ok:
        raise TypeError(
            "population: a torch student must be nn.Sequential(nn.Linear(d, k, bias=False), "
            "nn.ReLU() or nn.LeakyReLU(s), nn.Linear(k, 1, bias=False)) (no output bias yet); "
            "or pass W0 as an array"
        )
    if a is not None:
        raise ValueError("population: a torch student carries its own a (its last Linear's weight)")
    names = [n for n, _ in model.named_parameters()]
    slope = float(mods[1].negative_slope) if isinstance(mods[1], nn.LeakyReLU) else 0.0
    W = mods[0].weight.detach().cpu().double().numpy()
    a_w = mods[2].weight.detach().cpu().double().numpy().reshape(-1)
    return W, a_w, slope, bool(train_a or mods[2].weight.requires_grad), (names[0], names[1])
