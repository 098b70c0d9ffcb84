"""Conversion between ``torch.nn`` models and :class:`~regionlab.net.PLNet`.

:func:`from_torch` reads a (nested) ``nn.Sequential`` of supported modules and folds every
run of linear operations between two activations into one affine stage. Documented
conversions:

- All folding is computed in float64. The PLNet's dtype is the model's parameter dtype when
  that is float32 or float64; float16 and bfloat16 models give a **float32** PLNet, and so
  do models without parameters. ``dtype=`` overrides this.
- ``BatchNorm1d``/``BatchNorm2d`` use their eval (running) statistics; ``Dropout`` is the
  identity (eval semantics). Modules that would behave differently because the model is in
  training mode are refused: call ``model.eval()`` first.
- ``Conv2d``, ``AvgPool2d`` and ``AdaptiveAvgPool2d`` become dense matrices acting on the
  input flattened in torch's ``(C, H, W)`` row-major order; the PLNet takes inputs of shape
  ``(n, C*H*W)`` (or ``(n, C, H, W)``, which it flattens). Give ``input_shape=(C, H, W)``.
- Two activations in a row fold into one neuron (their negative slopes multiply).
- ``Flatten``/``Unflatten`` only relabel the feature shape: the flat feature vector is the same.

:func:`plnet_to_torch` goes the other way: one ``nn.Linear`` per stage followed by
``nn.ReLU``, ``nn.LeakyReLU`` or :class:`PerNeuronLeakyReLU`, such that
``from_torch(plnet_to_torch(net))`` has the same stages as ``net``.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, Sequence

import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "regionlab.from_torch / PLNet.to_torch need PyTorch, which is not installed: "
        "pip install torch"
    ) from exc

from .ir.model_check import check_against_model
from .net import PLNet, Stage

__all__ = ["from_torch", "plnet_to_torch", "PerNeuronLeakyReLU", "MaxGroups"]

_F64 = torch.float64
_MAX_CHUNK_ELEMENTS = 1 << 22  # rows pushed through a layer at once are capped at ~32 MB


class PerNeuronLeakyReLU(nn.Module):
    """LeakyReLU with one negative slope per feature: ``x if x > 0 else slope * x``.

    The slopes are a float64 buffer broadcast against the trailing feature dimension(s);
    they are cast to the input's dtype in ``forward``.
    """

    def __init__(self, negative_slope: Any):
        super().__init__()
        slopes = np.array(negative_slope, dtype=np.float64).reshape(-1)
        self.register_buffer("negative_slope", torch.from_numpy(slopes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, x * self.negative_slope.to(x.dtype))

    def extra_repr(self) -> str:
        return f"num_features={self.negative_slope.numel()}"


class MaxGroups(nn.Module):
    """Max over groups of features: output ``g`` is ``max(x[..., index[offsets[g]:offsets[g+1]]])``
    on the flattened features (maxout units, max-pool windows). ``PLNet.to_torch`` uses it for
    max stages, and ``from_torch`` reads it back as one."""

    def __init__(self, group_offsets: Any, group_index: Any):
        super().__init__()
        offsets = np.asarray(group_offsets, dtype=np.int64)
        index = np.asarray(group_index, dtype=np.int64)
        sizes = np.diff(offsets)
        # a (groups, k_max) table; short groups repeat their first candidate (max unchanged)
        table = np.repeat(index[offsets[:-1], None], sizes.max(initial=1), axis=1)
        for g, (b, e) in enumerate(zip(offsets[:-1], offsets[1:])):
            table[g, : e - b] = index[b:e]
        self.register_buffer("group_offsets", torch.from_numpy(offsets.copy()))
        self.register_buffer("group_index", torch.from_numpy(index.copy()))
        self.register_buffer("table", torch.from_numpy(table))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, self.table].amax(-1)

    def extra_repr(self) -> str:
        return f"groups={self.table.shape[0]}, max_candidates={self.table.shape[1]}"


# --------------------------------------------------------------------------- from_torch
def from_torch(model: Any, input_shape: Any = None, dtype: Any = None,
               fold_linear: bool = True, _checked: bool = False) -> PLNet:
    """Convert a ``torch.nn`` model into a :class:`PLNet`.

    ``model`` is an ``nn.Sequential`` (nested ones are fine) or a single supported module,
    built from ``Linear``, ``ReLU``, ``LeakyReLU``, ``PReLU``, ``Identity``, ``Flatten``,
    ``Unflatten``, ``Dropout`` (eval), ``BatchNorm1d``/``BatchNorm2d`` (eval statistics),
    ``Conv2d``, ``AvgPool2d`` and ``AdaptiveAvgPool2d``. Anything else raises ``TypeError``.

    ``input_shape`` is the shape of one input without the batch dimension: an int ``d`` or
    ``(d,)`` for MLPs (inferred from the first ``Linear`` when omitted), ``(C, H, W)`` for
    convolutional models (required there). ``dtype`` is the PLNet's dtype (float32 or
    float64); by default the model's parameter dtype, with float16/bfloat16 models and
    parameter-free models converted to float32. The folding itself is done in float64.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"from_torch expects a torch.nn.Module, got {type(model).__name__}; "
            "for numpy weights use PLNet.from_arrays"
        )
    if not _checked:  # (a model already checked, lowered again with other values)
        check_plain_module(model)
    leaves = _leaves(model, "model")
    out_dtype = _resolve_dtype(model, dtype)
    if not all(_has_handler(m) for _, m in leaves):
        # Not a chain of known layers (residual blocks, torch.cat, functional calls...):
        # trace the graph and lower it.
        from .ir import lower_module  # (it checks its result against model(x) too)

        shape = _input_shape(input_shape) if input_shape is not None else None
        return _with_input_shape(PLNet(lower_module(model, shape), dtype=out_dtype), shape)
    handlers = [_handler_for(m, path) for path, m in leaves]
    for path, m in leaves:
        _check_fixed_map(m, path)
    shape = _input_shape(input_shape) if input_shape is not None else _infer_input_shape(leaves)
    folder = _Folder(shape, fold_linear)
    with torch.no_grad():
        for (path, m), handler in zip(leaves, handlers):
            handler(folder, m, path)
        stages = folder.finish()
        if not _checked:
            check_against_model(model, stages, shape, traced=False)
    return _with_input_shape(PLNet(stages, dtype=out_dtype), shape)


def _with_input_shape(net: PLNet, shape: tuple[int, ...] | None) -> PLNet:
    """``net`` remembering an input shape of several axes (it then refuses others)."""
    if shape is not None and len(shape) > 1:
        net.input_shape = tuple(int(s) for s in shape)
    return net


def _leaves(module: nn.Module, path: str) -> list[tuple[str, nn.Module]]:
    """The modules a (nested) Sequential runs, in order, with their paths (``model.1.0``)."""
    if not runs_base_code(module, nn.Sequential):
        return [(path, module)]
    out = []
    # _modules, not named_children(): Sequential.forward runs a module listed twice twice
    for name, child in module._modules.items():
        if child is None:
            raise TypeError(f"{path}.{name} is None; remove it from the Sequential")
        out.extend(_leaves(child, f"{path}.{name}"))
    return out


def _resolve_dtype(model: nn.Module, dtype: Any) -> np.dtype:
    if dtype is not None:
        if isinstance(dtype, torch.dtype):
            dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(dtype, str(dtype))
        try:
            dt = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
        if dt.type not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dt}")
        return dt
    param_dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    return np.dtype(np.float64 if torch.float64 in param_dtypes else np.float32)


def _input_shape(input_shape: Any) -> tuple[int, ...]:
    try:
        if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
            shape = (operator.index(input_shape),)
        else:
            shape = tuple(operator.index(s) for s in input_shape)
    except TypeError as exc:
        raise TypeError(
            f"input_shape must be an int or a tuple of ints such as (C, H, W), got {input_shape!r}"
        ) from exc
    if not shape or any(s < 1 for s in shape):
        raise ValueError(
            f"input_shape must be non-empty with positive sizes, got {input_shape!r} "
            "(give the shape of one input, without the batch dimension)"
        )
    return shape


def _infer_input_shape(leaves: Sequence[tuple[str, nn.Module]]) -> tuple[int, ...]:
    """The input shape fixed by the first layer that needs one, or a ValueError."""
    for path, m in leaves:
        if isinstance(m, nn.Linear):
            return (m.in_features,)
        if isinstance(m, nn.BatchNorm1d):
            return (m.num_features,)
        if isinstance(m, (nn.Conv2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.BatchNorm2d)):
            raise ValueError(
                f"{path} ({type(m).__name__}) comes before any Linear layer, so the input's "
                "spatial size is unknown: pass input_shape=(C, H, W)"
            )
        if isinstance(m, nn.Unflatten):
            raise ValueError(
                f"{path} (Unflatten) comes before any Linear layer: pass input_shape"
            )
    raise ValueError(
        "cannot infer the input size: the model has no Linear or BatchNorm1d layer; "
        "pass input_shape (an int d, or (C, H, W))"
    )


# --------------------------------------------------------------------------- checks
def check_plain_module(model: nn.Module) -> None:
    """Refuse what makes ``model(x)`` differ from its modules' own forwards, or have no values.

    Forward hooks and forward pre-hooks (per module or global) can change inputs and
    outputs in ways no conversion can see, so a model with any is refused rather than
    converted as if they were absent. Parameters on the meta device hold no values.
    """
    from torch.nn.modules import module as module_mod

    if type(model).__name__ == "OptimizedModule" and isinstance(getattr(model, "_orig_mod", None), nn.Module):
        raise TypeError("this is a torch.compile'd module: pass the module it compiled, "
                        "model._orig_mod (the same function)")
    for path, m in model.named_modules(prefix="model"):
        _check_initialised(m, path)  # lazy modules are hooked until their first forward
        if type(m).__name__ == "_SpectralNorm" and m.training:
            raise ValueError(f"{path} is a spectral-norm parametrization in training mode, whose "
                             "weight changes at every call (a power iteration); call model.eval()")
    for name in ("_global_forward_hooks", "_global_forward_pre_hooks"):
        if getattr(module_mod, name, None):
            kind = "pre-hook" if "pre" in name else "hook"
            raise TypeError(
                f"a global forward {kind} is registered (torch.nn.modules.module.register_module_"
                f"forward_{kind.replace('-', '_')}); it can change every module's output, so "
                "regionlab cannot convert the model faithfully: remove it (handle.remove()) first"
            )
    for path, m in model.named_modules(prefix="model"):
        _check_own_methods(m, path)
        for attr, kind in (("_forward_hooks", "hook"), ("_forward_pre_hooks", "pre-hook")):
            hooks = getattr(m, attr, None)
            if hooks:
                fn = next(iter(hooks.values()))
                raise TypeError(
                    f"{path} ({type(m).__name__}) has a forward {kind} "
                    f"({getattr(fn, '__qualname__', type(fn).__name__)}); hooks can change what "
                    "model(x) computes and regionlab cannot see inside them: remove it "
                    "(handle.remove()) or write its effect into the model's layers"
                )
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if getattr(t, "is_meta", False):
            raise ValueError(
                f"{name} is on the meta device and holds no values; materialise the model "
                "(model.to_empty(device='cpu') and load_state_dict(...)) before converting it"
            )


def _check_own_methods(m: nn.Module, where: str) -> None:
    """Refuse a module whose instance replaces one of its class's methods (``m.forward =
    ...``, as patching libraries do): ``model(x)`` runs the replacement, which neither the
    conversion nor torch.fx's trace (the class's forward) would see."""
    cls = type(m)
    for name, value in vars(m).items():
        if name in _HARMLESS_OVERRIDES or not callable(value):
            continue
        if callable(getattr(cls, name, None)):
            raise TypeError(
                f"{where} ({cls.__name__}) has its own {name}() set on the instance, replacing "
                f"{cls.__name__}.{name}; model(x) runs the replacement, which regionlab cannot "
                "see: remove it (del module." + name + ") or write its effect into the model's "
                "layers"
            )


_DROPOUTS = tuple(
    getattr(nn, name)
    for name in (
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    )
    if hasattr(nn, name)
)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _check_initialised(m: nn.Module, where: str) -> None:
    if any(nn.parameter.is_lazy(t) for t in list(m.parameters()) + list(m.buffers())):
        raise ValueError(
            f"{where} ({type(m).__name__}) is a lazy module that has not been initialised; "
            "run one forward pass on a sample input first"
        )


def _check_fixed_map(m: nn.Module, where: str) -> None:
    """Refuse modules that are not a fixed function of their input right now."""
    cls = type(m).__name__
    _check_initialised(m, where)
    if isinstance(m, _BATCHNORMS):
        if not m.track_running_stats or m.running_mean is None or m.running_var is None:
            raise ValueError(
                f"{where} ({cls}) has no running statistics (track_running_stats=False), so it "
                "normalises every batch with that batch's statistics and is not a fixed map; "
                "build it with track_running_stats=True and give it eval statistics "
                "(running_mean, running_var)"
            )
        if m.training:
            raise ValueError(
                f"{where} ({cls}) uses batch statistics because the model is in training mode; "
                "call model.eval() before from_torch"
            )
    if isinstance(m, _DROPOUTS) and m.training and m.p > 0:
        raise ValueError(
            f"{where} ({cls}, p={m.p}) drops random units because the model is in training "
            "mode; call model.eval() before from_torch"
        )


def _tensor(m: nn.Module, name: str, where: str) -> torch.Tensor:
    """A parameter/buffer of ``m`` as a finite float64 CPU tensor, or a ValueError."""
    t = getattr(m, name).detach().to(device="cpu", dtype=_F64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(
            f"{where} ({type(m).__name__}): {name} contains NaN or Inf; "
            "regionlab needs finite values (check the checkpoint or the training run)"
        )
    return t


# --------------------------------------------------------------------------- folding
class _Folder:
    """Composes linear ops into a pending affine map; each activation emits a stage.

    The pending map is ``x -> A x + c`` from the features after the last emitted stage
    (``in_dim`` of them) to the current features, whose per-sample shape is ``shape``. It is
    stored transposed, ``At = A.T`` (``(in_dim, dim)``), so that a layer applies to it by
    running on its rows as a batch of inputs; ``At is None`` means the identity (``c == 0``).
    """

    def __init__(self, shape: tuple[int, ...], fold_linear: bool = True):
        self.shape = shape
        self.fold_linear = fold_linear  # False: a Linear after pending affine maps starts a stage
        self.stages: list[Stage] = []
        self._start_block()

    @property
    def dim(self) -> int:
        return math.prod(self.shape)

    @property
    def is_identity(self) -> bool:
        return self.At is None

    def _start_block(self) -> None:
        self.in_dim = self.dim
        self.At: torch.Tensor | None = None
        self.c = torch.zeros(self.dim, dtype=_F64)

    def reshape(self, shape: tuple[int, ...]) -> None:
        self.shape = shape  # row-major relabelling: the flat features do not change

    def set_pending(self, At: torch.Tensor, c: torch.Tensor, shape: tuple[int, ...]) -> None:
        self.At, self.c, self.shape = At, c, shape

    def affine(self, fn: Callable[[torch.Tensor, bool], torch.Tensor], where: str) -> None:
        """Compose ``fn`` (``(n, *shape) -> (n, *new_shape)``; bias added iff its flag)."""
        try:
            c = fn(self.c.reshape(1, *self.shape), True)
        except RuntimeError as exc:
            raise ValueError(
                f"{where} cannot take features of shape {self.shape}: {exc}; "
                "check input_shape (one input, without the batch dimension)"
            ) from exc
        At = torch.eye(self.in_dim, dtype=_F64) if self.At is None else self.At
        self.At = _map_rows(At, self.shape, c[0].numel(), lambda x: fn(x, False))
        self.c, self.shape = c.reshape(-1), tuple(c.shape[1:])

    def activate(self, slopes: np.ndarray, where: str) -> None:
        if not np.isfinite(slopes).all():
            raise ValueError(f"{where}: negative slope contains NaN or Inf")
        if self.is_identity and self.stages and not self.stages[-1].is_max:
            # nothing affine since the last activation: both act on the same neuron
            last = self.stages[-1]
            s1 = last.negative_slope
            # s1 < 0 makes s1*h positive for h < 0, which the second activation passes
            merged = np.where(s1 >= 0, s1 * slopes, s1)
            self.stages[-1] = Stage(last.weight, last.bias, merged, origin=last.origin)
        else:
            self._emit(slopes, tuple((_source_path(where), j, "relu") for j in range(self.dim)))

    def max_groups(self, offsets: np.ndarray, index: np.ndarray, where: str) -> None:
        """Emit the pending map as a max stage over groups of the current features."""
        A = np.eye(self.in_dim) if self.At is None else self.At.T.numpy().copy()
        origin = tuple((_source_path(where), g, "max") for g in range(len(offsets) - 1))
        self.stages.append(Stage(A, self.c.numpy().copy(), np.ones(A.shape[0]), offsets, index, origin))
        self.shape = (len(offsets) - 1,)
        self._start_block()

    def boundary(self) -> None:
        """Emit the pending affine map as a stage of identity units (no pattern bits)."""
        shape = self.shape
        self._emit(np.ones(self.dim))
        self.shape = shape

    def finish(self) -> list[Stage]:
        if not self.is_identity or not self.stages:
            self._emit(np.ones(self.dim))
        return self.stages

    def _emit(self, slopes: np.ndarray, origin: tuple | None = None) -> None:
        A = np.eye(self.in_dim) if self.At is None else self.At.T.numpy().copy()
        self.stages.append(Stage(A, self.c.numpy().copy(), np.array(slopes, dtype=np.float64), origin=origin))
        self._start_block()


def _source_path(where: str) -> str:
    """A module's path as ``named_modules`` gives it (``model.layer1.0`` -> ``layer1.0``)."""
    return where[len("model."):] if where.startswith("model.") else where


def _map_rows(
    At: torch.Tensor,
    shape: tuple[int, ...],
    out_dim: int,
    fn: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """``fn`` applied to each row of ``At`` viewed as one input of ``shape``, in chunks."""
    n = At.shape[0]
    chunk = max(1, _MAX_CHUNK_ELEMENTS // max(At.shape[1], out_dim))
    out = torch.empty((n, out_dim), dtype=_F64)
    for i in range(0, n, chunk):
        rows = At[i : i + chunk]
        out[i : i + chunk] = fn(rows.reshape(rows.shape[0], *shape)).reshape(rows.shape[0], -1)
    return out


# --------------------------------------------------------------------------- handlers
def _linear(f: _Folder, m: nn.Linear, where: str) -> None:
    if f.shape[-1] != m.in_features:
        raise ValueError(
            f"{where} (Linear) expects {m.in_features} input features but receives features "
            f"of shape {f.shape}; fix input_shape or add nn.Flatten() before it"
        )
    W = _tensor(m, "weight", where)
    b = _tensor(m, "bias", where) if m.bias is not None else None
    if not f.fold_linear and not f.is_identity:
        f.boundary()
    if f.is_identity and len(f.shape) == 1:  # shortcut: I @ W.T is W.T
        bias = b if b is not None else torch.zeros(m.out_features, dtype=_F64)
        f.set_pending(W.T.clone(), bias, (m.out_features,))
        return
    f.affine(lambda x, with_bias: F.linear(x, W, b if with_bias else None), where)


def _batchnorm(f: _Folder, m: nn.Module, where: str) -> None:
    ranks = (1, 2) if isinstance(m, nn.BatchNorm1d) else (3,)
    if len(f.shape) not in ranks or f.shape[0] != m.num_features:
        want = "(C,) or (C, L)" if ranks == (1, 2) else "(C, H, W)"
        raise ValueError(
            f"{where} ({type(m).__name__}) has {m.num_features} channels and expects features "
            f"of shape {want} with C={m.num_features}, but receives shape {f.shape}"
        )
    mean, var = _tensor(m, "running_mean", where), _tensor(m, "running_var", where)
    if bool((var + m.eps <= 0).any()):
        raise ValueError(f"{where} ({type(m).__name__}): running_var + eps must be positive")
    scale = 1.0 / torch.sqrt(var + m.eps)
    shift = -mean * scale
    if m.affine:
        gamma, beta = _tensor(m, "weight", where), _tensor(m, "bias", where)
        scale, shift = gamma * scale, gamma * shift + beta
    view = (-1,) + (1,) * (len(f.shape) - 1)
    scale, shift = scale.view(view), shift.view(view)
    f.affine(lambda x, with_bias: x * scale + shift if with_bias else x * scale, where)


def _expect_chw(f: _Folder, m: nn.Module, where: str, channels: int | None = None) -> None:
    if len(f.shape) != 3 or (channels is not None and f.shape[0] != channels):
        want = "(C, H, W)" if channels is None else f"({channels}, H, W)"
        raise ValueError(
            f"{where} ({type(m).__name__}) expects features of shape {want} but receives "
            f"shape {f.shape}; pass input_shape=(C, H, W) without the batch dimension "
            "(or add nn.Unflatten before it)"
        )


def _conv2d(f: _Folder, m: nn.Conv2d, where: str) -> None:
    if m.padding_mode != "zeros":
        raise ValueError(
            f"{where} (Conv2d) has padding_mode={m.padding_mode!r}; only 'zeros' is supported"
        )
    _expect_chw(f, m, where, m.in_channels)
    W = _tensor(m, "weight", where)
    b = _tensor(m, "bias", where) if m.bias is not None else None

    def conv(x: torch.Tensor, with_bias: bool) -> torch.Tensor:
        return F.conv2d(x, W, b if with_bias else None, m.stride, m.padding, m.dilation, m.groups)

    f.affine(conv, where)


def _avgpool2d(f: _Folder, m: nn.AvgPool2d, where: str) -> None:
    _expect_chw(f, m, where)

    def pool(x: torch.Tensor, with_bias: bool) -> torch.Tensor:
        return F.avg_pool2d(
            x, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
            m.divisor_override,
        )

    f.affine(pool, where)


def _adaptive_avgpool2d(f: _Folder, m: nn.AdaptiveAvgPool2d, where: str) -> None:
    _expect_chw(f, m, where)
    f.affine(lambda x, with_bias: F.adaptive_avg_pool2d(x, m.output_size), where)


def _meta_shape(f: _Folder, op: Callable[[torch.Tensor], torch.Tensor], m: nn.Module, where: str):
    """The per-sample shape after a reshaping op, computed on a data-free tensor."""
    try:
        return tuple(op(torch.empty((2,) + f.shape, device="meta")).shape[1:])
    except (RuntimeError, IndexError, TypeError) as exc:
        raise ValueError(
            f"{where} ({type(m).__name__}) cannot take features of shape {f.shape}: {exc}"
        ) from exc


def _flatten(f: _Folder, m: nn.Flatten, where: str) -> None:
    ndim = len(f.shape) + 1  # with the batch dimension
    start = m.start_dim + ndim if m.start_dim < 0 else m.start_dim
    end = m.end_dim + ndim if m.end_dim < 0 else m.end_dim
    if start == 0 and end != 0:
        raise ValueError(
            f"{where} (Flatten) with start_dim={m.start_dim} flattens the batch dimension; "
            "use nn.Flatten() (start_dim=1), which keeps one row per input"
        )
    f.reshape(_meta_shape(f, lambda x: torch.flatten(x, m.start_dim, m.end_dim), m, where))


def _unflatten(f: _Folder, m: nn.Unflatten, where: str) -> None:
    ndim = len(f.shape) + 1
    if isinstance(m.dim, int) and (m.dim + ndim if m.dim < 0 else m.dim) == 0:
        raise ValueError(f"{where} (Unflatten) with dim={m.dim} splits the batch dimension")
    f.reshape(_meta_shape(f, lambda x: x.unflatten(m.dim, m.unflattened_size), m, where))


def _identity(f: _Folder, m: nn.Module, where: str) -> None:
    pass  # Identity, and Dropout in eval mode


def _relu(f: _Folder, m: nn.ReLU, where: str) -> None:
    f.activate(np.zeros(f.dim), where)


def _leaky_relu(f: _Folder, m: nn.LeakyReLU, where: str) -> None:
    f.activate(np.full(f.dim, float(m.negative_slope)), where)


def _prelu(f: _Folder, m: nn.PReLU, where: str) -> None:
    w = _tensor(m, "weight", where).numpy().reshape(-1)
    if w.size == 1:
        f.activate(np.full(f.dim, float(w[0])), where)
        return
    if f.shape[0] != w.size:
        raise ValueError(
            f"{where} (PReLU) has {w.size} slopes but the features reaching it have shape "
            f"{f.shape} (channel dimension {f.shape[0]})"
        )
    f.activate(np.repeat(w, f.dim // w.size), where)  # one slope per channel


def _per_neuron_leaky_relu(f: _Folder, m: PerNeuronLeakyReLU, where: str) -> None:
    s = _tensor(m, "negative_slope", where).numpy()
    try:
        slopes = np.broadcast_to(s, f.shape).reshape(-1).copy()  # torch's broadcasting
    except ValueError as exc:
        raise ValueError(
            f"{where} (PerNeuronLeakyReLU) has {s.size} slopes but the features reaching it "
            f"have shape {f.shape}"
        ) from exc
    f.activate(slopes, where)


def _max_groups(f: _Folder, m: MaxGroups, where: str) -> None:
    if int(m.group_index.max()) >= f.dim:
        raise ValueError(f"{where} (MaxGroups) indexes {int(m.group_index.max()) + 1} features "
                         f"but receives {f.dim}")
    f.max_groups(m.group_offsets.numpy().copy(), m.group_index.numpy().astype(np.int32), where)


_HANDLERS: dict[type, Callable[[_Folder, Any, str], None]] = {
    MaxGroups: _max_groups,
    nn.Linear: _linear,
    nn.ReLU: _relu,
    nn.LeakyReLU: _leaky_relu,
    nn.PReLU: _prelu,
    PerNeuronLeakyReLU: _per_neuron_leaky_relu,
    nn.Identity: _identity,
    nn.Flatten: _flatten,
    nn.Unflatten: _unflatten,
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    nn.Conv2d: _conv2d,
    nn.AvgPool2d: _avgpool2d,
    nn.AdaptiveAvgPool2d: _adaptive_avgpool2d,
    **{cls: _identity for cls in _DROPOUTS},
}

_SUPPORTED = (
    "Sequential (nested), Linear, ReLU, LeakyReLU, PReLU, Identity, Flatten, Unflatten, "
    "Dropout (eval), BatchNorm1d/BatchNorm2d (eval statistics), Conv2d (padding_mode='zeros'), "
    "AvgPool2d, AdaptiveAvgPool2d, regionlab PerNeuronLeakyReLU and MaxGroups; other models "
    "(residual blocks, torch.cat, MaxPool2d, maxout, functional calls) are traced with torch.fx"
)


# Methods a subclass may redefine without changing what its base's forward computes.
_HARMLESS_OVERRIDES = frozenset({
    "__init__", "__repr__", "extra_repr", "reset_parameters", "__setstate__", "__getstate__",
    "_load_from_state_dict", "_save_to_state_dict", "_check_input_dim",
})


# What nn.Module itself does on a call; a subclass redefining one of these changes it.
_CALL_PATH = frozenset({"forward", "__call__", "_call_impl", "_wrapped_call_impl", "__getattr__"})


def overridden_methods(cls: type, base: type) -> list[str]:
    """Methods on ``base``'s call path that ``cls``, a subclass, redefines: ``forward``,
    ``__call__``, and the methods of ``base``'s own classes (``Conv2d._conv_forward``...),
    not nn.Module's bookkeeping (``train``, ``to``...). A subclass redefining one of them
    computes something the base's handler cannot see."""
    own = set(_CALL_PATH)
    for klass in base.__mro__:
        if klass in (nn.Module, object):
            continue
        own.update(n for n, v in vars(klass).items()
                   if callable(v) or isinstance(v, (staticmethod, classmethod)))
    names = set()
    for klass in cls.__mro__:
        if klass is base:
            break
        names.update(n for n, v in vars(klass).items()
                     if callable(v) or isinstance(v, (staticmethod, classmethod)))
    return sorted((names & own) - _HARMLESS_OVERRIDES)


def runs_base_code(m: nn.Module, base: type) -> bool:
    """``m`` is a ``base`` whose forward is ``base``'s own code, unchanged by a subclass."""
    return isinstance(m, base) and not overridden_methods(type(m), base)


def _has_handler(m: nn.Module) -> bool:
    return any(base in _HANDLERS and runs_base_code(m, base) for base in type(m).__mro__)


def _handler_for(m: nn.Module, where: str) -> Callable[[_Folder, Any, str], None]:
    """The handler of a supported module, or a TypeError naming it and what is supported."""
    cls = type(m)
    for base in cls.__mro__:
        handler = _HANDLERS.get(base)
        if handler is None:
            continue
        changed = overridden_methods(cls, base)
        if changed:  # a subclass computing something else
            raise TypeError(
                f"{where} ({cls.__name__}) subclasses nn.{base.__name__} but overrides "
                f"{', '.join(n + '()' for n in changed)}, so from_torch cannot know what it "
                f"computes. Supported modules: {_SUPPORTED}"
            )
        return handler
    hint = ""
    if isinstance(m, nn.Sequential) or not cls.__module__.startswith("torch."):
        hint = (
            " (a custom module: if its forward() just runs its children in order, pass an "
            "nn.Sequential of them)"
        )
    raise TypeError(
        f"{where} ({cls.__name__}) is not supported by from_torch{hint}. Supported modules: "
        f"{_SUPPORTED}. Layers such as MaxPool2d, Sigmoid, Tanh or GELU are not affine maps "
        "followed by per-neuron (leaky) ReLUs; for hand-built networks use PLNet.from_arrays"
    )


# --------------------------------------------------------------------------- to torch
def plnet_to_torch(net: PLNet) -> "nn.Sequential":
    """An ``nn.Sequential`` computing ``net``: one ``Linear`` (net's dtype) per stage, each
    followed by ``ReLU`` (all slopes 0), ``LeakyReLU(s)`` (all slopes ``s``; ``s = 1`` on a
    hidden stage keeps the stage boundary), :class:`PerNeuronLeakyReLU` (mixed slopes), or
    nothing (an all-identity last stage). ``from_torch`` of the result gives ``net`` back.
    """
    if not isinstance(net, PLNet):
        raise TypeError(f"plnet_to_torch expects a PLNet, got {type(net).__name__}")
    tdtype = torch.float64 if net.dtype == np.float64 else torch.float32
    layers: list[nn.Module] = []
    for k, st in enumerate(net.stages):
        # skip_init: no random initialisation, so the global torch RNG is left untouched
        lin = torch.nn.utils.skip_init(nn.Linear, st.in_features, st.affine_features, dtype=tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(st.weight)))
            lin.bias.copy_(torch.from_numpy(np.array(st.bias)))
        layers.append(lin)
        if st.is_max:
            layers.append(MaxGroups(st.group_offsets, st.group_index))
            continue
        act = _activation_module(st.negative_slope, last=k == len(net.stages) - 1)
        if act is not None:
            layers.append(act)
    return nn.Sequential(*layers)


def _activation_module(slopes: np.ndarray, last: bool) -> nn.Module | None:
    if last and np.all(slopes == 1.0):
        return None
    if np.all(slopes == 0.0):
        return nn.ReLU()
    if np.all(slopes == slopes[0]):
        return nn.LeakyReLU(float(slopes[0]))
    return PerNeuronLeakyReLU(slopes)
