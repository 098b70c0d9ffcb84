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

    def mask_for(self, trainable_names: list) -> np.ndarray:
        keep = set(trainable_names)
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
        return self.pmap.coef ** 2

    def to_torch(self, flat: np.ndarray):
        import torch

        module = copy.deepcopy(self.template).double()
        values = self.split(np.asarray(flat, dtype=np.float64))
        named = dict(module.named_parameters())
        with torch.no_grad():
            for name, value in values.items():
                named[name].copy_(torch.from_numpy(np.array(value)))
        return module


def mapped_flow_model(model: Any) -> MappedFlowModel:
    """The flow model of a traced torch model, or a TypeError saying why it cannot train."""
    import torch

    from .._torch_import import check_plain_module
    from ..ir.param_map import parameter_map
    from ..net import from_torch

    check_plain_module(model)

    def lower(module):
        net = from_torch(module, dtype=np.float64)
        if net.has_max_groups:
            raise TypeError(
                "gradient flow does not support max groups (maxout units, max pooling) yet; "
                "the geometry and counting engines do"
            )
        return net.stages

    with torch.no_grad():
        stages, pmap = parameter_map(model, lower)
    used = pmap.source[pmap.source >= 0]
    if len(np.unique(used)) != len(used):
        dup = np.unique(used)[np.bincount(used)[np.unique(used)] > 1][0]
        name = _name_of(pmap, int(dup))
        raise TypeError(
            f"parameter {name} feeds several entries of the converted network (a tied "
            "parameter: a convolution, or a module used twice); gradient flow does not sum "
            "tied gradients yet, so it cannot train this model"
        )
    layers = [FlowLayer(f"stage{k}.weight", f"stage{k}.bias", np.array(st.weight, dtype=np.float64),
                        np.array(st.bias, dtype=np.float64), np.array(st.negative_slope))
              for k, st in enumerate(stages)]
    requires_grad = {n: bool(p.requires_grad) for n, p in model.named_parameters()}
    return MappedFlowModel(layers, pmap, model, requires_grad)


def _name_of(pmap: Any, index: int) -> str:
    off = 0
    for name, shape in zip(pmap.names, pmap.shapes):
        size = int(np.prod(shape))
        if index < off + size:
            return f"{name}[{np.unravel_index(index - off, shape)}]"
        off += size
    return str(index)
