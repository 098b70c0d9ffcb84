"""The last line of defence of ``from_torch``: the converted stages against ``model(x)``.

Every structural check (hooks, subclasses, patched methods, in-place updates) refuses what
it knows of; this one refuses what nobody foresaw. A few random inputs go through the
model and through the stages (in numpy, float64); a difference beyond the model's own
rounding is a conversion that would be silently wrong, so it is refused instead.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from ..net import PLNet

# Relative tolerance per model dtype: well above its rounding through a deep net, far
# below any structural difference (a factor, a sign, a missing layer).
_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 3e-2, torch.bfloat16: 1e-1}


@contextlib.contextmanager
def _full_float32_precision():
    """GPUs run float32 matmuls and convolutions in TF32 (10-bit mantissas) when allowed:
    that rounding, not the conversion, would be measured. Off for the check."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


class ModelMismatch(TypeError):
    """The converted network does not compute what the model computes."""


def check_against_model(model: nn.Module, stages: list, input_shape: tuple[int, ...], *,
                        traced: bool) -> None:
    """Raise :class:`ModelMismatch` when ``stages`` differ from ``model`` on random inputs
    (``traced``: the stages come from torch.fx's trace, not from the model's layer list)."""
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = param.dtype if param is not None else torch.float64
    device = param.device if param is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    X = torch.randn((8,) + tuple(input_shape), generator=gen, dtype=torch.float64)
    try:
        with _full_float32_precision():
            expected = model(X.to(device=device, dtype=dtype)).detach().to("cpu", torch.float64)
    except Exception:  # a model that cannot run on this input is judged by its structure alone
        return
    expected = expected.reshape(len(X), -1).numpy()
    with np.errstate(over="ignore", invalid="ignore"):
        got = PLNet(stages, dtype=np.float64).forward(X.reshape(len(X), -1).numpy())
    if not (np.isfinite(expected).all() and np.isfinite(got).all()):
        raise ValueError("the model's outputs overflow on standard normal inputs (weights too "
                         "large for its dtype); rescale its weights before converting it")
    scale = np.abs(expected).max(initial=0.0) + 1.0
    if got.shape == expected.shape \
            and np.abs(got - expected).max(initial=0.0) <= _TOLERANCE.get(dtype, 1e-4) * scale:
        return
    gap = f"max difference {np.abs(got - expected).max():.3g}" if got.shape == expected.shape \
        else f"output shapes {got.shape[1:]} and {expected.shape[1:]}"
    if traced:
        cause = ("an in-place update of a tensor that is also used elsewhere (x += y, "
                 "x.relu_() after x was read) is the usual cause: write it out of place (x = x + y)")
    else:
        cause = ("a layer computes something its type does not say (a method patched by a "
                 "library, a subclass); convert a plain copy of the model")
    raise ModelMismatch(f"the converted network computes something other than model(x) "
                        f"({gap} on random inputs); {cause}")
