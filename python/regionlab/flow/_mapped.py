"""Gradient flow on models that are not plain chains of Linear layers (residual MLPs,
``torch.cat``, functional calls): the flow runs on the stages of their PLNet, and a
parameter map (``regionlab.ir.param_map``) ties every entry to the model's own parameter.

Each entry ``w_e = const_e + coef_e * theta[id_e]`` moves as its parameter does:
``d w_e/dt = coef_e * d theta/dt = -coef_e^2 dL/dw_e`` (the chain rule; its preconditioner
entry is ``coef_e^2``), constant entries (a skip's identity, a frozen parameter's) not at
all. A parameter feeding several entries (a convolution's weight, a module used twice)
would need their gradients summed: refused for now with a clear error.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ._model import PARAMETERIZATIONS, FlowLayer, FlowModel, split_flat


class MappedFlowModel(FlowModel):
    """A FlowModel whose layers are a PLNet's stages and whose parameters are the source
    model's (``names``/``shapes``: its ``named_parameters()``)."""

    def __init__(self, layers: list, pmap: Any, template: Any, requires_grad: dict):
        super().__init__(layers, template=template, requires_grad=requires_grad)
        self.pmap = pmap

    @property
    def names(self) -> list:
        return list(self.pmap.names)

    @property
    def shapes(self) -> list:
        return list(self.pmap.shapes)

    def split(self, flat: np.ndarray) -> dict:
        """Entries ``(..., n_entries)`` -> the model's parameters ``{name: (..., *shape)}``."""
        return self.pmap.split(self.pmap.parameters_of(flat))

    def chain_split(self, flat: np.ndarray) -> dict:
        return split_flat(flat, FlowModel.names.fget(self), FlowModel.shapes.fget(self))

    def parameters_flat(self, flat: np.ndarray) -> np.ndarray:
        return self.pmap.parameters_of(flat)

    def mask_for(self, trainable_names: list) -> np.ndarray:
        keep = set(trainable_names)
        beyond = sorted(keep - self.pmap.probed) if self.pmap.probed is not None else []
        if beyond:
            raise ValueError(
                f"{beyond} were frozen (requires_grad=False) when this model's parameter map "
                "was built, so their entries are constants; set requires_grad=True on them "
                "instead of naming them in trainable="
            )
        trained = np.concatenate([np.full(int(np.prod(s)), n in keep, dtype=bool)
                                  for n, s in zip(self.pmap.names, self.pmap.shapes)]) \
            if self.pmap.names else np.zeros(0, dtype=bool)
        src = self.pmap.source
        return np.where(src >= 0, trained[np.maximum(src, 0)], False).astype(np.float64)

    def precond(self, parameterization: str) -> np.ndarray:
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"unknown parameterization {parameterization!r}; use one of {PARAMETERIZATIONS}"
            )
        if parameterization != "standard":
            raise ValueError(
                f"parameterization={parameterization!r} needs a plain nn.Sequential MLP (its "
                "layers' fan-in); this model is traced, so use 'standard'"
            )
        # an entry of a tied class is driven through apply_ties (precond 1 there)
        return np.where(self._tied, 1.0, self.pmap.coef ** 2)

    @property
    def _tied(self) -> np.ndarray:
        src = self.pmap.source
        counts = np.bincount(src[src >= 0], minlength=self.pmap.theta.size)
        return (src >= 0) & (counts[np.maximum(src, 0)] > 1)

    def ties(self, mask):
        """One class per trained parameter entry that feeds several entries."""
        src = self.pmap.source
        tied = self._tied & ((mask > 0) if mask is not None else True)
        members = np.flatnonzero(tied)
        order = np.argsort(src[members], kind="stable")
        members = members[order]
        ids = src[members]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
        offsets = np.r_[starts, len(members)].astype(np.int64)
        return (offsets.tolist(), members.tolist(), self.pmap.coef[members].tolist(),
                [1.0] * (len(offsets) - 1))

    def entries_are_parameters(self, mask) -> bool:
        trained = mask > 0
        return bool(not (self._tied & trained).any()
                    and (self.pmap.coef[trained] == 1).all() and (self.pmap.const[trained] == 0).all())

    def reduce_columns(self, J, mask, parameterization):
        """Each trained parameter's column: the sum of its entries' columns, times coef."""
        self.precond(parameterization)  # refuses the scalings a traced model cannot have
        src = self.pmap.source
        use = (src >= 0) & (mask > 0)
        ids, col = np.unique(src[use], return_inverse=True)
        Jr = np.zeros((J.shape[0], len(ids)))
        np.add.at(Jr.T, col, (J[:, use] * self.pmap.coef[use]).T)
        return Jr, np.ones(len(ids))

    def to_torch(self, flat: np.ndarray):
        import torch

        module = copy.deepcopy(self.template).double()
        values = self.split(np.asarray(flat, dtype=np.float64))
        named = dict(module.named_parameters())
        with torch.no_grad():
            for name, value in values.items():
                named[name].copy_(torch.from_numpy(np.array(value)))
        return module


def flow_model_from_ir(model: Any, input_shape: Any = None) -> FlowModel:
    """The flow model of a torch model, through its PLNet and parameter map, or a
    TypeError saying why it cannot train (``input_shape``: one input's shape).

    Where every stage is one ``Linear`` (its weight and bias, in order, unscaled) the result
    is a plain :class:`FlowModel` named by those parameters (savable, every
    parameterization); otherwise a :class:`MappedFlowModel`."""
    import torch

    from .._torch_import import check_plain_module
    from ..ir.param_map import parameter_map
    from .._torch_import import from_torch as _from_torch

    check_plain_module(model)
    # The model's own input size when it names one (its first Linear); the data's shape
    # only where the model needs to be told (a convolution first): a mismatched X then
    # gets the data's shape error, not the layer's.
    def lower(module, shape, checked=True):
        net = _from_torch(module, input_shape=shape, dtype=np.float64, fold_linear=False,
                          _checked=checked)
        if net.has_max_groups:
            raise TypeError(
                "gradient flow does not support max groups (maxout units, max pooling) yet; "
                "the geometry and counting engines do"
            )
        return net.stages

    try:
        shape, own = None, lower(model, None)
    except ValueError:
        if input_shape is None:
            raise
        shape, own = input_shape, lower(model, input_shape)

    with torch.no_grad():
        try:
            stages, pmap = parameter_map(model, lambda m: lower(m, shape), stages=own)
        except TypeError:
            # entries may mix a trainable parameter with frozen ones (a frozen BatchNorm's
            # scale): probe the trainable parameters alone, the frozen ones as constants
            trainable = {n for n, p in model.named_parameters() if p.requires_grad}
            stages, pmap = parameter_map(model, lambda m: lower(m, shape), stages=own,
                                         only=trainable)
    layers = [FlowLayer(f"stage{k}.weight", f"stage{k}.bias", np.array(st.weight, dtype=np.float64),
                        np.array(st.bias, dtype=np.float64), np.array(st.negative_slope))
              for k, st in enumerate(stages)]
    requires_grad = {n: bool(p.requires_grad) for n, p in model.named_parameters()}
    plain = _layer_names(stages, pmap)
    # A plain model's flat parameters run stage by stage: that must be state_dict order
    # too (a module declaring its layers in another order than it applies them is mapped).
    if plain is not None and [n for pair in plain for n in pair if n is not None] != list(pmap.names):
        plain = None
    if plain is not None:
        for ly, (w_name, b_name) in zip(layers, plain):
            ly.weight_name, ly.bias_name = w_name, b_name
            if b_name is None:
                ly.bias = None
        return FlowModel(layers, template=model, requires_grad=requires_grad)
    return MappedFlowModel(layers, pmap, model, requires_grad)


def _layer_names(stages: list, pmap: Any) -> list | None:
    """Per stage, the (weight, bias or None) parameter names when each stage is exactly one
    Linear's parameters in order (coefficient 1, no constant); else None."""
    starts, off = {}, 0
    for name, shape in zip(pmap.names, pmap.shapes):
        starts[off] = (name, tuple(shape))
        off += int(np.prod(shape))
    out, e = [], 0
    used = set()

    def block(size: int, shape: tuple):
        src = pmap.source[e : e + size]
        if src[0] < 0 or src[0] not in starts or starts[src[0]][1] != shape:
            return None
        ok = (np.array_equal(src, src[0] + np.arange(size))
              and (pmap.coef[e : e + size] == 1).all() and (pmap.const[e : e + size] == 0).all())
        return starts[src[0]][0] if ok else None

    for st in stages:
        out_dim, in_dim = st.weight.shape
        w = block(out_dim * in_dim, (out_dim, in_dim))
        e += out_dim * in_dim
        if w is None or w in used:
            return None
        bias_src = pmap.source[e : e + out_dim]
        if (bias_src < 0).all() and (pmap.const[e : e + out_dim] == 0).all():
            b = None
        else:
            b = block(out_dim, (out_dim,))
            if b is None or b in used:
                return None
        e += out_dim
        used.update({w, b} - {None})
        out.append((w, b))
    return out
