"""Which parameters a run trains: ``requires_grad`` by default, or an explicit ``trainable=``.

A frozen parameter gets a preconditioner entry of exactly 0, so the C++ field (flow, GD,
its momentum and weight decay) is exactly 0 there and the parameter stays bit-identical;
the metrics drop its columns of the Jacobian.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._model import FlowModel

__all__ = ["resolve_trainable", "trainable_mask"]

TRAINABLE_DOC = """``trainable``: which parameters move, by their ``state_dict`` names: None
    (default) trains those with ``requires_grad=True`` (a PLNet: all), a list of names, or a
    predicate ``name -> bool``; it overrides ``requires_grad``. Frozen parameters stay
    exactly where they are."""


def resolve_trainable(fm: FlowModel, trainable: Any = None) -> list:
    """The trained parameter names, in state_dict order; ValueError/TypeError when unclear."""
    names = fm.names
    if trainable is None:
        chosen = [n for n in names if fm.requires_grad.get(n, True)]
        if not chosen:
            raise ValueError(
                "no parameter of the model requires grad, so nothing would train; pass "
                f"trainable=[...] with some of {names} (it overrides requires_grad)"
            )
        return chosen
    if callable(trainable):
        chosen = []
        for n in names:
            v = trainable(n)
            if not isinstance(v, (bool, np.bool_)):
                raise TypeError(f"the trainable predicate must return a bool, got "
                                f"{type(v).__name__} for {n!r}")
            if v:
                chosen.append(n)
    else:
        if isinstance(trainable, (str, bytes)):
            raise TypeError(f"trainable must be a list of parameter names or a predicate, "
                            f"not a string; did you mean trainable=[{trainable!r}]?")
        try:
            given = list(trainable)
        except TypeError:
            raise TypeError(f"trainable must be a list of parameter names or a predicate "
                            f"name -> bool, got {type(trainable).__name__}") from None
        for g in given:
            if not isinstance(g, str):
                raise TypeError(f"trainable names must be strings, got {type(g).__name__}")
        unknown = [g for g in given if g not in names]
        if unknown:
            raise ValueError(f"trainable names {unknown} are not parameters of the model; "
                             f"valid names: {names}")
        chosen = [n for n in names if n in set(given)]
    if not chosen:
        raise ValueError(f"trainable selects no parameter, so nothing would train; valid "
                         f"names: {names}")
    return chosen


def trainable_mask(fm: FlowModel, trainable_names: list) -> np.ndarray:
    """Flat 0/1 vector (float64) in theta's order: 1 where the parameter is trained."""
    return fm.mask_for(trainable_names)
