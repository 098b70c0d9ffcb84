"""The trainable parameters of an MLP as one flat float64 vector, plus the problem setup.

A flow model is a chain of layers ``z = W a + b`` each followed by a per-neuron leaky ReLU
``a' = z if z > 0 else slope * z`` (slope 0: ReLU, 1: no activation). It is read from a
torch ``nn.Sequential`` (nested ones are fine) of ``Linear`` (with or without bias),
``ReLU``, ``LeakyReLU``, ``Identity`` (and regionlab's ``PerNeuronLeakyReLU``), or from a
:class:`~regionlab.PLNet` (through ``PLNet.to_torch()``, so its parameters are named
``0.weight``, ``0.bias``, ``2.weight``, ...). The flat vector lists, layer by layer, the
weight (row-major) then the bias: the order of the Sequential's ``state_dict``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .._validate import as_float_matrix, check_finite, to_numpy

LOSSES = {"mse": 0, "logistic": 1, "bce": 1, "exp": 2, "cross_entropy": 3}
PARAMETERIZATIONS = ("standard", "ntk", "mean_field")
_SUPPORTED = "any model rl.from_torch converts, without max units"


def split_flat(flat: np.ndarray, names: list, shapes: list) -> dict:
    """Flat values (..., P) -> {name: array (..., *shape)}, names in flat order."""
    out, off = {}, 0
    lead = flat.shape[:-1]
    for name, shape in zip(names, shapes):
        size = int(np.prod(shape))
        out[name] = flat[..., off : off + size].reshape(lead + tuple(shape))
        off += size
    return out


@dataclass
class FlowLayer:
    weight_name: str
    bias_name: Optional[str]
    weight: np.ndarray  # (out, in) float64
    bias: Optional[np.ndarray]  # (out,) float64 or None
    slopes: np.ndarray  # (out,) negative slope of each neuron's activation


@dataclass
class FlowModel:
    """An MLP's layers, its parameter names in flat order, and the torch module it came from."""

    layers: list
    template: Any = None  # the torch module (deep-copied in model(i)); None after rl.load
    requires_grad: dict = field(default_factory=dict)  # name -> requires_grad (absent: True)

    @property
    def widths(self) -> list:
        return [self.layers[0].weight.shape[1]] + [ly.weight.shape[0] for ly in self.layers]

    @property
    def names(self) -> list:
        out = []
        for ly in self.layers:
            out.append(ly.weight_name)
            if ly.bias_name is not None:
                out.append(ly.bias_name)
        return out

    @property
    def shapes(self) -> list:
        out = []
        for ly in self.layers:
            out.append(ly.weight.shape)
            if ly.bias is not None:
                out.append(ly.bias.shape)
        return out

    def theta0(self) -> np.ndarray:
        parts = []
        for ly in self.layers:
            parts.append(ly.weight.ravel())
            if ly.bias is not None:
                parts.append(ly.bias)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float64)

    def split(self, flat: np.ndarray) -> dict:
        """Flat parameters (..., P) -> {name: array (..., *shape)}."""
        return split_flat(flat, self.names, self.shapes)

    def parameters_flat(self, flat: np.ndarray) -> np.ndarray:
        """The run's flat state (..., entries) as the model's parameters in state_dict order
        (a plain MLP's state is exactly that)."""
        return flat

    def chain_split(self, flat: np.ndarray) -> dict:
        """Flat entries -> the layers' arrays keyed by ``layers[k].weight_name``/``bias_name``."""
        return self.split(flat)

    def mask_for(self, trainable_names: list) -> np.ndarray:
        """Flat 0/1 vector (float64) in theta's order: 1 where the parameter is trained."""
        keep = set(trainable_names)
        return np.concatenate([np.full(int(np.prod(shape)), 1.0 if name in keep else 0.0)
                               for name, shape in zip(self.names, self.shapes)])

    def precond(self, parameterization: str) -> np.ndarray:
        """Per-parameter factor P in d theta/dt = -P grad L (see integrate's docstring)."""
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"unknown parameterization {parameterization!r}; use one of {PARAMETERIZATIONS}"
            )
        parts = []
        last = len(self.layers) - 1
        width_last = self.layers[-1].weight.shape[1]
        for k, ly in enumerate(self.layers):
            fan_in = ly.weight.shape[1]
            if parameterization == "standard":
                cw, cb = 1.0, 1.0
            elif parameterization == "ntk":
                cw, cb = 1.0 / fan_in, 1.0
            else:  # mean_field: output layer scaled by 1/m, time sped up by m
                m = float(width_last)
                cw = cb = 1.0 / m if k == last else m
            parts.append(np.full(ly.weight.size, cw))
            if ly.bias is not None:
                parts.append(np.full(ly.bias.size, cb))
        return np.concatenate(parts)

    def build_problem(self, X: np.ndarray, Y: np.ndarray, loss: str, parameterization: str,
                      mask: Optional[np.ndarray] = None):
        """The C++ problem; ``mask`` (flat 0/1) zeroes the preconditioner of frozen entries."""
        from .. import _core

        precond = self.precond(parameterization)
        if mask is not None:
            precond = precond * mask
        offsets, members, coef, class_precond = self.ties(mask)

        return _core.FlowProblem(
            [int(w) for w in self.widths],
            [ly.bias is not None for ly in self.layers],
            [np.asarray(ly.slopes, dtype=np.float64) for ly in self.layers],
            X,
            Y,
            LOSSES[loss],
            precond,
            offsets,
            members,
            coef,
            class_precond,
        )

    def entries_are_parameters(self, mask: np.ndarray) -> bool:
        """Whether each trained entry is one parameter entry itself (weight decay on the
        entries is then weight decay on the parameters)."""
        return True

    def ties(self, mask: Optional[np.ndarray]) -> tuple:
        """Tied entries (see cpp FlowProblem::tie_offsets): none in a plain MLP."""
        return [0], [], [], []

    def reduce_columns(self, J: np.ndarray, mask: np.ndarray, parameterization: str) -> tuple:
        """Columns of d/d entries -> (columns of d/d trained parameters, their precond)."""
        keep = mask > 0
        return J[:, keep], self.precond(parameterization)[keep]

    def to_torch(self, flat: np.ndarray):
        """A fresh torch module with the flat parameters loaded (float64)."""
        import torch

        params = self.split(np.asarray(flat, dtype=np.float64))
        if self.template is not None:
            module = copy.deepcopy(self.template).double()
            named = dict(module.named_parameters())
            with torch.no_grad():
                for name, value in params.items():
                    named[name].copy_(torch.from_numpy(np.array(value)))
            return module
        return self._rebuild(params)

    def _rebuild(self, params: dict):
        """An nn.Sequential of Linear + activation layers (used after rl.load)."""
        import torch
        from torch import nn

        from .._torch_import import PerNeuronLeakyReLU

        mods = []
        for k, ly in enumerate(self.layers):
            lin = nn.Linear(ly.weight.shape[1], ly.weight.shape[0], bias=ly.bias is not None,
                            dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.array(params[ly.weight_name])))
                if ly.bias is not None:
                    lin.bias.copy_(torch.from_numpy(np.array(params[ly.bias_name])))
            mods.append(lin)
            s = ly.slopes
            if np.all(s == 1.0):
                if k < len(self.layers) - 1:
                    mods.append(nn.Identity())
            elif np.all(s == 0.0):
                mods.append(nn.ReLU())
            elif np.all(s == s[0]):
                mods.append(nn.LeakyReLU(float(s[0])))
            else:
                mods.append(PerNeuronLeakyReLU(s))
        return nn.Sequential(*mods)


def parse_model(model: Any, X: Any = None) -> FlowModel:
    """A FlowModel from a torch model or a PLNet; TypeError for anything else.

    Every model goes through the IR: ``from_torch`` lowers it (``fold_linear=False``, so a
    deep linear network keeps its layers) and a parameter map ties the stages' entries to
    the model's parameters (``regionlab.flow._mapped``). ``X`` (the data, optional) gives
    the model its input shape."""
    from ..net import PLNet
    from ._mapped import flow_model_from_ir

    if isinstance(model, PLNet):  # no requires_grad of its own: everything trains
        if model.has_max_groups:
            raise TypeError(
                "gradient flow does not support max groups (maxout units, max pooling) yet; "
                "the geometry and counting engines do"
            )
        fm = flow_model_from_ir(model.to_torch().double(), None)
        fm.requires_grad = {}
        return fm
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - only without torch
        raise TypeError(f"model must be a torch.nn.Module or a PLNet, got {type(model).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module ({_SUPPORTED}) or a regionlab PLNet, "
            f"got {type(model).__name__}"
        )
    shape = tuple(np.shape(X)[1:]) if X is not None and len(np.shape(X)) > 1 else None
    return flow_model_from_ir(model, shape)


def prepare_data(fm: FlowModel, X: Any, y: Any, loss: str):
    """X as (n, d) float64 and y as the label matrix the core expects, or a clear error."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {tuple(LOSSES)}")
    Xa = as_float_matrix(X, fm.widths[0], np.dtype(np.float64), "X")
    check_finite(Xa, "X")
    n, k = Xa.shape[0], fm.widths[-1]
    ya = to_numpy(y, "y")
    if ya.dtype == object or ya.dtype.kind not in "biuf":
        raise TypeError(f"y must be numeric, got dtype {ya.dtype}")
    if ya.shape[:1] != (n,):
        raise ValueError(f"y has shape {ya.shape} but X has {n} samples; give one label per sample")
    if loss == "mse":
        Y = ya.astype(np.float64).reshape(n, -1)
        if Y.shape[1] != k:
            raise ValueError(f"mse: y has {Y.shape[1]} columns but the model has {k} outputs")
    elif loss in ("logistic", "bce", "exp"):
        if k != 1:
            raise ValueError(f"{loss} loss needs a model with one output, this one has {k}")
        Y = sign_labels(ya.astype(np.float64).reshape(n, -1), loss)
    else:
        if k < 2:
            raise ValueError("cross_entropy needs a model with at least two outputs")
        if ya.ndim != 1 or not np.all(np.mod(ya, 1) == 0) or ya.min() < 0 or ya.max() >= k:
            raise ValueError(f"cross_entropy needs integer class labels in [0, {k}), shape (n,)")
        Y = np.zeros((n, k))
        Y[np.arange(n), ya.astype(np.int64)] = 1.0
    check_finite(Y, "y")
    return Xa, np.ascontiguousarray(Y)


def sign_labels(Y: np.ndarray, loss: str) -> np.ndarray:
    """Labels for the margin losses as +-1: {-1, +1} as given, {0, 1} mapped 0 -> -1."""
    if Y.shape[1] != 1:
        raise ValueError(f"{loss} loss needs one label per sample, got {Y.shape[1]} columns")
    values = set(np.unique(Y).tolist())
    if values <= {-1.0, 1.0}:
        return Y
    if values <= {0.0, 1.0}:
        return 2.0 * Y - 1.0
    raise ValueError(f"{loss} loss needs labels in {{-1, +1}} or in {{0, 1}} (0 is mapped to "
                     f"-1), got the values {sorted(values)[:8]}")
