"""`Trajectory`: what a gradient flow (or gradient descent) run recorded."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import io
from . import _trajectory_file as tfile
from ._model import LOSSES, FlowLayer, FlowModel, prepare_data
from ._rerun import rerun as run_again
from ._timeline import Timeline
from ._trainable import trainable_mask

__all__ = ["Trajectory", "EVENT_DTYPE", "SLIDING_DTYPE"]

# new_state: +1 the pair became active (z > 0), -1 inactive, 0 it entered a sliding mode.
EVENT_DTYPE = np.dtype(
    [("time", "f8"), ("sample", "i8"), ("layer", "i8"), ("neuron", "i8"), ("new_state", "i8")]
)
SLIDING_DTYPE = np.dtype(
    [("sample", "i8"), ("layer", "i8"), ("neuron", "i8"), ("t_start", "f8"), ("t_end", "f8")]
)


class Trajectory:
    """Records of a gradient-flow or gradient-descent run.

    - ``t`` (n_records,): record times, always including the start and the end (GD: k*lr).
    - ``loss`` (n_records,): the mean loss; ``sample_loss`` and ``margin`` (n_records, n).
      The margin is ``y * f(x)`` for one-output models (mse, logistic, exp) and
      ``f_y(x) - max_{k != y} f_k(x)`` for cross-entropy.
    - ``params``: one dict per record, keyed and shaped like the model's parameters in its
      ``state_dict`` (float64); ``param_arrays`` holds them stacked, ``(n_records, *shape)``.
    - ``events``: structured array (time, sample, layer, neuron, new_state) of activation
      changes, in time order; ``layer`` counts Linear layers from 0; ``new_state`` is +1
      (became active), -1 (inactive) or 0 (entered a sliding mode on the kink).
    - ``sliding``: structured array (sample, layer, neuron, t_start, t_end), one row per
      interval a pair spent on its kink (t_end is the run's end when it never left).
      Gradient flow: pairs of a kinked unit whose weights and bias are exactly 0 at every
      record sit on their kink for the whole run (z = 0 for every sample), listed here too.
    - ``trainable``: the names of the parameters the run trained (the others stayed fixed).
    - ``stats``: dict with steps, rejected, evaluations, n_events, method, loss, ...
    - ``at(t)``: parameters and loss at any time of the run (see its docstring).
    """

    def __init__(self, model: FlowModel, t, loss, sample_loss, margin, params_flat, events,
                 sliding, stats: dict, *, trainable: Optional[list] = None,
                 dense: Optional[dict] = None, problem: Any = None):
        self._model = model
        self.trainable = list(model.names if trainable is None else trainable)
        self._dense = dense  # dense output pieces (integrate(dense=True)), or None
        self._problem = problem  # the run's C++ problem (its data), for at(t)'s loss
        self.t = np.asarray(t, dtype=np.float64)
        self.loss = np.asarray(loss, dtype=np.float64)
        self.sample_loss = np.asarray(sample_loss, dtype=np.float64)
        self.margin = np.asarray(margin, dtype=np.float64)
        self._flat = np.asarray(params_flat, dtype=np.float64)
        self.param_arrays = model.split(self._flat)
        self.events = events
        self.sliding = sliding
        self.stats = dict(stats)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.t)

    @property
    def params(self) -> list:
        return [{k: v[i] for k, v in self.param_arrays.items()} for i in range(len(self.t))]

    @property
    def flat_params(self) -> np.ndarray:
        """(n_records, n_params) parameters in the flat order of the model's state_dict."""
        return self._model.parameters_flat(self._flat)

    @property
    def param_names(self) -> list:
        return self._model.names

    def model(self, i: int = -1):
        """A fresh float64 torch module holding the parameters of record ``i``.

        It is a deep copy of the module the run started from (after ``rl.load``: an
        equivalent ``nn.Sequential`` of Linear and activation layers). Its parameters
        require grad exactly when the run trained them, so a run continued from it keeps
        the same ones frozen.
        """
        module = self._model.to_torch(self._flat[self._index(i)])
        trained = set(self.trainable)
        # (by position: after rl.load the rebuilt Sequential names its layers 0, 2, ...)
        for (_, p), name in zip(module.named_parameters(), self._model.names):
            p.requires_grad_(name in trained)
        return module

    def _index(self, i: int) -> int:
        n = len(self.t)
        if not -n <= int(i) < n:
            raise IndexError(f"record {i} out of range for {n} records")
        return int(i) % n

    def sample_grad_norms(self, i: int, X: Any, y: Any) -> np.ndarray:
        """Per-sample gradient norms ``|grad_theta loss_i|`` over the trained parameters at
        record ``i`` (X, y as in the run)."""
        from ..metrics import _sample_grad_norms

        return _sample_grad_norms(self._model, self._flat[self._index(i)], X, y,
                                  self.stats["loss"], self.trainable)

    def __repr__(self) -> str:
        return (
            f"Trajectory({self.stats.get('method', '?')}, records={len(self.t)}, "
            f"t=[{self.t[0]:g}, {self.t[-1]:g}], loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}, "
            f"events={len(self.events)}, sliding={len(self.sliding)})"
        )

    # ------------------------------------------------------------------ any time t
    @property
    def has_dense_output(self) -> bool:
        return self._dense is not None

    def at(self, t: float, X: Any = None, y: Any = None):
        """``(params, loss)`` at time ``t`` in ``[t[0], t[-1]]``; ValueError outside.

        ``params`` is a dict shaped like the ``state_dict``. At a record time, the record.
        Between records, gradient flow: from the integrator's own dense output of the step
        containing ``t`` when the run kept it (``integrate(..., dense=True)``, accurate to
        the run's tolerances), else by running the flow again from its start with the
        same settings, recording at ``t`` (exactly what a run recording at ``t`` gives; it
        costs one run). Gradient descent: linear interpolation between the neighbouring
        records (a step time ``k * lr`` is a record with ``record_every=1``). The loss is
        the mean loss at those parameters. Both need the run's data between records: kept
        in the session; after ``rl.load`` pass the run's ``X`` and ``y``.
        """
        timeline = self._timeline(X, y)
        flat, rec = timeline.at(np.array([timeline.check_time(t)]))
        params = dict(self._model.split(flat[0]))
        if rec[0] >= 0:
            return params, float(self.loss[rec[0]])
        return params, float(_core().flow_gradient(self._data(X, y), flat[0])[0])

    def _timeline(self, X: Any = None, y: Any = None) -> Timeline:
        gd = self.stats.get("method") == "gd"
        can_rerun = not gd and (self._problem is not None or X is not None or y is not None)
        rerun = (lambda times: run_again(self._data(X, y), self._flat[0], self.stats, times)
                 ) if can_rerun else None
        return Timeline(self.t, self._flat, self._dense, linear=gd, rerun=rerun)

    def _data(self, X: Any, y: Any):
        """The run's C++ problem (data, loss, frozen entries): kept, or built from X, y."""
        if X is not None or y is not None:
            if X is None or y is None:
                raise ValueError("pass both X and y (the run's data)")
            loss = self.stats["loss"]
            Xa, Y = prepare_data(self._model, X, y, loss)
            return self._model.build_problem(Xa, Y, loss, self.stats["parameterization"],
                                             trainable_mask(self._model, self.trainable))
        if self._problem is None:
            raise ValueError("this trajectory was loaded from a file and does not hold its "
                             "data: pass at(t, X, y) with the run's X and y")
        return self._problem

    # ------------------------------------------------------------------ save / load
    def save(self, path) -> str:
        """Write the trajectory to ``path`` (``.npz``); read it back with ``rl.load``.

        The dense output (``integrate(..., dense=True)``) is saved with it; the data is not.
        Runs of traced models (residual MLPs...) cannot be saved yet: save ``traj.params``.
        """
        if hasattr(self._model, "pmap"):
            raise ValueError(
                "saving the trajectory of a traced model (residual blocks, torch.cat, ...) is "
                "not supported yet; save its records instead, e.g. np.savez(path, t=traj.t, "
                "loss=traj.loss, **{k: v for k, v in traj.param_arrays.items()})"
            )
        arrays = {
            "t": self.t, "loss": self.loss, "sample_loss": self.sample_loss,
            "margin": self.margin, "flat_params": self._flat,
            "param_names": np.array(self._model.names, dtype=str),
            "layer_widths": np.array(self._model.widths, dtype=np.int64),
            "layer_has_bias": np.array([ly.bias is not None for ly in self._model.layers]),
            "layer_slopes": np.concatenate([ly.slopes for ly in self._model.layers]),
            "trainable": np.array(self.trainable, dtype=str),
        }
        if self._dense is not None:
            arrays.update({"dense_" + k: v for k, v in self._dense.items()})
        for f in EVENT_DTYPE.names:
            arrays["events_" + f] = self.events[f]
        for f in SLIDING_DTYPE.names:
            arrays["sliding_" + f] = self.sliding[f]
        stat_keys = sorted(self.stats)
        arrays["stats_keys"] = np.array(stat_keys, dtype=str)
        arrays["stats_values"] = np.array([str(self.stats[k]) for k in stat_keys], dtype=str)
        return io.save_arrays(path, "Trajectory", tfile.FORMAT, arrays)

    @classmethod
    def _from_arrays(cls, arrays: dict, version: int) -> "Trajectory":
        a = tfile.validate(arrays, version)  # every field checked before anything is built
        widths = [int(w) for w in a["layer_widths"]]
        names = [str(s) for s in a["param_names"]]
        slopes = np.asarray(a["layer_slopes"], dtype=np.float64)
        layers, off, ni = [], 0, 0
        for k, has_bias in enumerate(a["layer_has_bias"]):
            w_name = names[ni]
            b_name = names[ni + 1] if has_bias else None
            ni += 2 if has_bias else 1
            out_dim, in_dim = widths[k + 1], widths[k]
            layers.append(FlowLayer(w_name, b_name, np.zeros((out_dim, in_dim)),
                                    np.zeros(out_dim) if has_bias else None,
                                    slopes[off : off + out_dim].copy()))
            off += out_dim
        events = _structured(EVENT_DTYPE, {f: a["events_" + f] for f in EVENT_DTYPE.names})
        sliding = _structured(SLIDING_DTYPE, {f: a["sliding_" + f] for f in SLIDING_DTYPE.names})
        stats = {}
        for k, v in zip(a["stats_keys"], a["stats_values"]):
            stats[str(k)] = _parse_stat(str(v))
        if stats.get("loss") not in LOSSES:
            raise ValueError(f"stats_keys/stats_values: the run's loss is missing or unknown "
                             f"({stats.get('loss')!r}); the file is damaged")
        trainable = [str(s) for s in a["trainable"]] if "trainable" in a else None
        dense = None
        if "dense_t0" in a:
            dense = {k: a["dense_" + k] for k in ("t0", "t1", "h", "coef")}
        return cls(FlowModel(layers), a["t"], a["loss"], a["sample_loss"], a["margin"],
                   a["flat_params"], events, sliding, stats, trainable=trainable, dense=dense)


def _core():
    from .. import _core as core

    return core


def _parse_stat(v: str):
    if v in ("True", "False"):
        return v == "True"
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def _structured(dtype: np.dtype, fields: dict) -> np.ndarray:
    n = len(next(iter(fields.values())))
    out = np.zeros(n, dtype=dtype)
    for f, v in fields.items():
        out[f] = v
    return out


def events_from_core(r: dict) -> tuple:
    events = _structured(EVENT_DTYPE, {
        "time": r["ev_time"], "sample": r["ev_sample"], "layer": r["ev_layer"],
        "neuron": r["ev_neuron"], "new_state": r["ev_state"],
    })
    sliding = _structured(SLIDING_DTYPE, {
        "sample": r["sl_sample"], "layer": r["sl_layer"], "neuron": r["sl_neuron"],
        "t_start": r["sl_start"], "t_end": r["sl_end"],
    })
    order = np.argsort(sliding["t_start"], kind="stable")
    return events, sliding[order]


io.register("Trajectory", Trajectory._from_arrays)
