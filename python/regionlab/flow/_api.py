"""`integrate` (exact gradient flow), `gd` (gradient descent) and `distance`."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ._batches import batch_order
from ._model import parse_model, prepare_data
from ._rerun import METHODS as _METHODS
from ._trainable import TRAINABLE_DOC, resolve_trainable, trainable_mask
from ._trajectory import Trajectory, events_from_core
from ._zero_units import zero_unit_sliding

__all__ = ["integrate", "gd", "distance"]

_ADAPTIVE = ("dopri5", "bs3")


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if v > 2**62:  # (the core counts in int64)
        raise ValueError(f"{name} must be at most 2**62, got {v}")
    return v


def _record_times(record: Any, t_end: float) -> np.ndarray:
    if record is None:
        return np.linspace(0.0, t_end, 101)
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        n = _count(record, "record", 2)
        return np.linspace(0.0, t_end, n)
    times = np.asarray(record, dtype=np.float64).ravel()
    if times.size and (not np.all(np.isfinite(times)) or times.min() < 0 or times.max() > t_end):
        raise ValueError(f"record times must lie in [0, t_end={t_end}]")
    return np.unique(np.concatenate([[0.0], times, [t_end]]))


def integrate(model: Any, X: Any, y: Any, *, loss: str, t_end: float, rtol: float = 1e-7,
              atol: float = 1e-9, method: str = "dopri5", record: Any = None,
              events: bool = True, parameterization: str = "standard",
              max_steps: int = 1_000_000, step: float | None = None,
              threads: int | None = None, trainable: Any = None,
              dense: bool = False, aim: bool = True) -> Trajectory:
    """Gradient flow ``d theta/dt = -P grad L(theta)`` from the model's parameters, exactly.

    ``L = mean_i loss(f(x_i), y_i)``: ``"mse"`` (``1/2 |f - y|^2``), ``"logistic"`` or its
    alias ``"bce"`` (``log(1 + exp(-y f))``), ``"exp"`` (``exp(-y f)``), ``"cross_entropy"``
    (integer class labels). The margin losses take labels in {-1, +1} or in {0, 1} (0 is
    mapped to -1: ``"bce"`` on {0, 1} labels is torch's ``BCEWithLogitsLoss``); any other
    labels raise ValueError. Computed in float64 in C++.

    {trainable}

    ``dense=True`` keeps the integrator's dense output of every step (about 5 floats per
    parameter per step; saved with the trajectory), so that ``traj.at(t)`` gives the
    parameters at any time to the run's tolerances without running the flow again.

    A pre-activation exactly 0 counts as inactive (as in torch's autograd). So a ReLU unit
    whose weights and bias are exactly 0 stays at 0 for ever, every sample on its kink:
    one Filippov solution among several (slopes in [0, 1] on the kink could move it off);
    its pairs are reported in ``traj.sliding`` as held for the whole run.

    The field is discontinuous where a pre-activation ``z`` of some (sample, neuron) pair
    crosses 0. On each smooth piece the activation pattern is held fixed and the solver
    keeps its full order; every sign change is located by root finding on the dense output
    and the integration restarts there. Methods: ``"dopri5"`` (default), adaptive
    Dormand-Prince 5(4) with ``rtol``/``atol``; where kinks come so often that the pieces
    between them are much shorter than its steps, it takes Bogacki-Shampine 3(2) steps
    instead (3 evaluations a step instead of 6, same tolerances), choosing per step the
    method with fewer expected evaluations per unit time (``stats["low_order_steps"]``
    counts them). ``"bs3"``: Bogacki-Shampine 3(2) only. ``"rk4"``, ``"euler"``: fixed
    ``step``.

    ``aim`` (adaptive methods, one hidden layer): each step is shortened so that it ends
    just past the crossings predicted in it (from the near pairs' positions, velocities and
    accelerations). The first-layer crossings found in a step, one per neuron, switch at
    the step's end, where the field is already evaluated, instead of cutting the step at
    the first and evaluating afresh: the field's jump is one sample's rank-one term, and the
    state catches up by ``late * jump`` (``late``: from the root to the step's end). The
    error left is second order in ``late`` and kept under a fifth of the tolerance, so the
    global error stays proportional to ``rtol``/``atol``. Crossings that leave their kink
    slowly (about to slide, or near-tangent), a second crossing on a neuron, one that a
    switch would cause, and sliding exits still cut the step at the root. Records,
    ``traj.at`` and the event table (root times) see the switches.
    ``stats["end_events"]`` counts them; ``aim=False`` restarts at every kink.

    When the field pushes a pair onto
    its kink from both sides, the pair *slides*: its activation slope is solved, in
    ``[alpha, 1]``, so that ``z`` stays at 0 (Filippov); it leaves when that slope reaches
    an end of the interval. Several sliding pairs make a small linear system, exact for one
    hidden layer; in deeper nets the system is linearised at the current slopes (exact
    unless one sample slides in several layers at once, where it is a fixed-point iteration
    that converges along the flow). The exit is located where the slope reaches the end
    of its interval, to 1e-11 of it. Samples with equal inputs have equal pre-activations
    for ever: they cross and slide together and share one history in the tables (each
    listed). A pair whose ``z`` is 0 up to rounding at the start counts as inactive, so
    it gets its event at ``t = 0`` when the field moves it off its kink. Where the
    solution is not unique one solution is followed: a slide that turns repelling (its
    slope still inside the interval) goes on, with a ``RuntimeWarning`` and
    ``stats["repelling_slides"]``; several samples exactly on one kink at once are decided
    one pair at a time, without a warning (see the README).

    ``record``: None (101 equally spaced times), an int (that many), or an array of times;
    the start and ``t_end`` are always recorded. ``events=False`` keeps no event table (the
    kinks are still located). ``max_steps`` bounds accepted + rejected steps; reaching it
    raises ``ValueError``. ``threads``: how many threads share each gradient's samples;
    None (default) times one thread against ``rl.num_threads()`` on the first gradients
    and keeps the faster (a second thread only pays on a large enough problem and an
    otherwise idle core). With ``aim=False`` results agree to rounding whatever the thread
    count; with aiming, to the tolerances (its choice of where a step ends can tip on a
    rounding difference between thread counts). A given thread count is deterministic.
    ``parameterization`` sets the preconditioner ``P`` (the model's
    parameters are always reported in its own, standard, coordinates):

    - ``"standard"``: ``P = 1``.
    - ``"ntk"``: weights of a layer with fan-in ``n`` are ``W / sqrt(n)`` of trained
      parameters ``W``: ``P = 1/n`` on weights, 1 on biases.
    - ``"mean_field"``: the output layer is scaled by ``1/m`` (``m`` its fan-in) and time by
      ``m``: ``P = 1/m`` on the output layer, ``m`` on every other layer.

    Only the field is preconditioned: the starting weights are the model's own, never
    rescaled, so a mean-field run (output weights of size ``1/m``) or an NTK run starts
    from a model initialised at that scale by the caller (see
    ``examples/mean_field_vs_ntk.py``).
    """
    fm = parse_model(model, X)
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {tuple(_METHODS)}")
    t_end = _positive(t_end, "t_end")
    rtol = _positive(rtol, "rtol")
    atol = _positive(atol, "atol")
    max_steps = _count(max_steps, "max_steps", 1)
    if method not in _ADAPTIVE:
        if step is None:
            raise ValueError(f"method={method!r} takes a fixed step: pass step=...")
        step_v = _positive(step, "step")
    else:
        step_v = 0.0 if step is None else _positive(step, "step")
    names = resolve_trainable(fm, trainable)
    Xa, Y = prepare_data(fm, X, y, loss)
    problem = fm.build_problem(Xa, Y, loss, parameterization, trainable_mask(fm, names))
    times = _record_times(record, t_end)
    threads = 0 if threads is None else _count(threads, "threads", 1)
    from .. import _core

    r = _core.flow_integrate(problem, fm.theta0(), _METHODS[method], t_end, rtol, atol, step_v,
                             max_steps, bool(events), times.tolist(), threads, bool(dense), bool(aim))
    ev, sl = events_from_core(r)
    zero = zero_unit_sliding(fm, r["params"], r["t"], len(Xa))
    if len(zero):
        sl = np.concatenate([sl, zero])
        sl = sl[np.argsort(sl["t_start"], kind="stable")]
    stats = {"method": method, "loss": loss, "parameterization": parameterization,
             "steps": int(r["steps"]), "rejected": int(r["rejected"]),
             "evaluations": int(r["evaluations"]),
             "low_order_steps": int(r["low_order_steps"]),
             "aimed_steps": int(r["aimed_steps"]), "end_events": int(r["end_events"]),
             "n_events": len(ev),
             "n_sliding": len(sl), "rtol": rtol, "atol": atol, "t_end": t_end,
             "step": step_v, "max_steps": max_steps, "aim": bool(aim),
             "repelling_slides": len(r["rep_time"])}
    _warn_repelling(r)
    dense_out = {k: r["dense_" + k] for k in ("t0", "t1", "h", "coef")} if dense else None
    return Trajectory(fm, r["t"], r["loss"], r["sample_loss"], r["margin"], r["params"], ev, sl,
                      stats, trainable=names, dense=dense_out, problem=problem)


def _warn_repelling(r: dict) -> None:
    """A warning naming the slides that stopped attracting their pair (see integrate)."""
    if len(r["rep_time"]) == 0:
        return
    import warnings

    first = ", ".join(f"sample {s} unit {n} of layer {l} near t={t:.6g}" for t, s, l, n in
                      zip(r["rep_time"][:3], r["rep_sample"][:3], r["rep_layer"][:3], r["rep_neuron"][:3]))
    more = f" and {len(r['rep_time']) - 3} more" if len(r["rep_time"]) > 3 else ""
    warnings.warn(
        f"integrate: {len(r['rep_time'])} sliding pair(s) stopped being attracted to their kink "
        f"({first}{more}): from there the flow is not unique, and the run follows the slide on "
        "(an unstable solution: gradient descent with small steps leaves the kink). "
        "traj.stats['repelling_slides'] counts them.", RuntimeWarning, stacklevel=3)


def gd(model: Any, X: Any, y: Any, *, loss: str, lr: float, steps: int,
       record_every: int | None = None, events: bool = True,
       parameterization: str = "standard", threads: int | None = None,
       trainable: Any = None, batch_size: int | None = None, seed: Any = None,
       momentum: float = 0.0, weight_decay: float = 0.0) -> Trajectory:
    """Gradient descent ``theta <- theta - lr * P grad L``, all steps in C++.

    Record ``k`` sits at time ``t = k * lr``, the gradient flow's time axis, so GD and
    :func:`integrate` compare point by point (:func:`distance`). Records every
    ``record_every`` steps (default ``max(1, steps // 100)``) and the last step; the
    recorded loss is always the mean over all samples. Slopes come from the sign of ``z``
    (``z == 0`` inactive, as in torch's autograd). Events are the sign changes over all
    samples between consecutive iterates, stamped with the later time. ``threads`` and
    ``loss`` (labels) as in :func:`integrate`.

    {trainable}

    ``momentum`` and ``weight_decay`` follow ``torch.optim.SGD`` (dampening 0, no
    Nesterov): ``d = grad + weight_decay * theta``, ``buf = momentum * buf + d`` (``buf = d``
    at the first step), ``theta -= lr * P * buf``; frozen parameters are not decayed.

    ``batch_size``: None (full batch) or a number of samples: each step then uses the mean
    loss of one mini-batch. Epoch ``e`` takes the samples in the order of the ``e``-th
    ``permutation(n)`` of ``np.random.default_rng(seed)``, cut into consecutive batches (the
    last one shorter when ``batch_size`` does not divide ``n``, like a ``DataLoader`` with
    ``drop_last=False``); ``steps`` counts batches, epochs follow each other.
    :func:`regionlab.flow.minibatches` lists the same batches (for a torch loop). With
    mini-batches and ``events=True``, each step also runs a forward pass over all samples.
    """
    fm = parse_model(model, X)
    lr = _positive(lr, "lr")
    steps = _count(steps, "steps", 0)
    record_every = max(1, steps // 100) if record_every is None else _count(
        record_every, "record_every", 1)
    momentum = _non_negative(momentum, "momentum")
    weight_decay = _non_negative(weight_decay, "weight_decay")
    names = resolve_trainable(fm, trainable)
    if weight_decay and not fm.entries_are_parameters(trainable_mask(fm, names)):
        raise ValueError(
            "weight_decay on a traced model whose trained entries are not plainly its "
            "parameters (a tied weight, a scaled or shifted entry) is not supported yet"
        )
    Xa, Y = prepare_data(fm, X, y, loss)
    n = len(Xa)
    if batch_size is None:
        if seed is not None:
            raise ValueError("seed= only orders mini-batches: pass batch_size= too")
        bs, order = 0, np.zeros(0, dtype=np.int64)
    else:
        bs = min(_count(batch_size, "batch_size", 1), n)
        order = batch_order(n, bs, steps, seed) if bs < n else np.zeros(0, dtype=np.int64)
    problem = fm.build_problem(Xa, Y, loss, parameterization, trainable_mask(fm, names))
    from .. import _core

    threads = 0 if threads is None else _count(threads, "threads", 1)
    r = _core.flow_gd(problem, fm.theta0(), lr, steps, record_every, bool(events), threads,
                      momentum, weight_decay, bs, order)
    ev, sl = events_from_core(r)
    stats = {"method": "gd", "loss": loss, "parameterization": parameterization, "lr": lr,
             "steps": int(r["steps"]), "rejected": 0, "evaluations": int(r["evaluations"]),
             "n_events": len(ev), "n_sliding": 0, "momentum": momentum,
             "weight_decay": weight_decay, "batch_size": bs or n,
             "seed": int(seed) if isinstance(seed, (int, np.integer)) else str(seed)}
    return Trajectory(fm, r["t"], r["loss"], r["sample_loss"], r["margin"], r["params"], ev, sl,
                      stats, trainable=names, problem=problem)


def _non_negative(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def distance(traj_a: Trajectory, traj_b: Trajectory):
    """Euclidean parameter distance ``|theta_a(t) - theta_b(t)|`` over all parameters.

    Returns ``(t, d)`` on the union of both runs' record times that lie in the time range
    they share (``[max of starts, min of ends]``; times within ``1e-12`` relative of each
    other count once): no record in that range is left out. Where a run has no record at
    a time of that grid, its parameters come as from ``Trajectory.at``: the dense output
    (``integrate(..., dense=True)``), else the flow run again once, recording at the
    missing times (in the session that made it; after ``rl.load`` that needs the data, so
    ValueError), and for gradient descent the line between neighbouring records.
    ValueError too when the runs are of different models or share no time.
    """
    for tr in (traj_a, traj_b):
        if not isinstance(tr, Trajectory) or not hasattr(tr, "_flat"):
            raise TypeError(f"distance expects two Trajectory objects of rl.flow.integrate or rl.flow.gd, "
                            f"got {type(tr).__name__} (population runs: compare their W records)")
    if traj_a.param_names != traj_b.param_names or (
        traj_a.flat_params.shape[1] != traj_b.flat_params.shape[1]
    ):
        raise ValueError("the trajectories are of different models (parameter names differ)")
    lo = max(traj_a.t[0], traj_b.t[0])
    hi = min(traj_a.t[-1], traj_b.t[-1])
    slack = 1e-12 * max(1.0, abs(hi))
    if lo > hi + slack:
        raise ValueError(f"the runs share no time: [{traj_a.t[0]:g}, {traj_a.t[-1]:g}] and "
                         f"[{traj_b.t[0]:g}, {traj_b.t[-1]:g}]")
    grid = np.union1d(traj_a.t, traj_b.t)
    grid = grid[(grid >= lo - slack) & (grid <= hi + slack)]
    keep = np.concatenate([[True], np.diff(grid) > 1e-12 * np.maximum(1.0, np.abs(grid[1:]))])
    grid = np.clip(grid[keep], lo, hi)
    pa = traj_a._timeline().at(grid)[0]
    pb = traj_b._timeline().at(grid)[0]
    return grid, np.linalg.norm(pa - pb, axis=1)


integrate.__doc__ = integrate.__doc__.replace("{trainable}", TRAINABLE_DOC)
gd.__doc__ = gd.__doc__.replace("{trainable}", TRAINABLE_DOC)
