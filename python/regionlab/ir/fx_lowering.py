"""Lowering a traced ``torch.fx`` graph (a DAG) to the chain of affine stages of a PLNet.

Every value in the graph is kept as an affine function of the current *basis*: the outputs
of the last emitted stage (at first, the network's input). Linear operations (``Linear``,
``Conv2d``, eval ``BatchNorm``, average pools, reshapes, indexing, ``+``, ``-``,
multiplication by constants, ``torch.cat``) compose into these affine maps without
emitting anything. A piecewise-linear activation emits one stage:

- its own units: ``relu``/``leaky_relu``/``prelu`` one kinked unit per feature;
  ``hardtanh``/``clamp``/``relu6`` two (``lo + relu(v - lo) - relu(v - hi)``) and ``abs``
  two (``relu(v) + relu(-v)``), whose impossible sign combinations never form a region;
- identity pass-through units (slope 1, no pattern bit) carrying every value that is still
  needed later (the skip of a residual block, the other branch of a ``cat``): either those
  values themselves or the basis, whichever needs fewer units.

The output node's affine map becomes the last stage (slopes 1). Max units (``MaxPool2d``,
``F.max_pool2d``, ``amax``/``max(dim)`` for maxout, ``torch.maximum``) emit a max stage:
one group per output, whose candidates are the window's or slice's entries (padding never
wins); values still needed later pass through as groups of one. They are never lowered to
ReLUs, which would split regions along comparisons that do not decide the winner.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from ..net import PLNet, Stage

_F64 = torch.float64

SUPPORTED_OPS = (
    "Supported modules: Linear, Conv2d, BatchNorm1d/2d (eval), AvgPool2d, AdaptiveAvgPool2d, Flatten, "
    "Unflatten, Dropout (eval), Identity, ReLU, LeakyReLU, PReLU, Hardtanh, ReLU6, MaxPool2d; supported "
    "functions and methods: +, -, unary -, * and / by constants, torch.cat, F.linear and "
    "F.conv2d with fixed weights, flatten, view, reshape, unflatten, indexing, "
    "permute/transpose, contiguous, size, relu, leaky_relu, hardtanh, relu6, clamp, abs, "
    "F.max_pool2d, amax, max(dim).values, torch.maximum"
)


class LoweringError(TypeError):
    """A graph node that the PLNet IR cannot express."""


@dataclass
class Affine:
    """``value = (z @ At + c).reshape(shape)`` for the current basis ``z`` (``m`` entries)."""

    At: torch.Tensor  # (m, D)
    c: torch.Tensor  # (D,)
    shape: tuple[int, ...]

    @property
    def dim(self) -> int:
        return self.c.numel()

    def rows(self) -> torch.Tensor:
        return self.At.reshape(self.At.shape[0], *self.shape)

    def offset(self) -> torch.Tensor:
        return self.c.reshape(1, *self.shape)

    def apply_linear(self, op: Callable[[torch.Tensor], torch.Tensor]) -> "Affine":
        """``op`` linear in its (batched) input, with no constant term."""
        rows, c = op(self.rows()), op(self.offset())
        return Affine(rows.reshape(rows.shape[0], -1), c.reshape(-1), tuple(c.shape[1:]))

    def apply_affine(self, op: Callable[[torch.Tensor, bool], torch.Tensor]) -> "Affine":
        """``op(x, with_constant)``: affine, evaluated without its constant on the rows."""
        rows, c = op(self.rows(), False), op(self.offset(), True)
        return Affine(rows.reshape(rows.shape[0], -1), c.reshape(-1), tuple(c.shape[1:]))


@dataclass(frozen=True)
class _Piece:
    """One unit per feature: ``slope``-activation of ``alpha * v + beta``, weighted by
    ``gamma`` in the output (``sum_j gamma_j * unit_j + delta``)."""

    alpha: float
    beta: Any  # float, or a per-feature tensor
    slopes: Any  # float or per-feature array
    gamma: float
    role: str = "relu"  # what the unit is, for PLNet.pattern_layout


@dataclass
class _MaxResult:
    """``x.max(dim)``: ``(values, indices)``; only the values are a value of the network."""

    values: Affine


_INPLACE_OPERATORS = (operator.iadd, operator.isub, operator.imul, operator.itruediv)


class _Batch:
    """The batch dimension of ``x.size(0)`` / ``x.shape[0]``: rows of a batch, whatever their count."""


_BATCH = _Batch()


class Lowering:
    """Runs the graph symbolically, emitting stages at activations."""

    def __init__(self, gm: fx.GraphModule, input_shape: tuple[int, ...]):
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.stages: list[Stage] = []
        d = math.prod(input_shape)
        self.m = d
        self.input = Affine(torch.eye(d, dtype=_F64), torch.zeros(d, dtype=_F64), input_shape)
        self.values: dict[fx.Node, Any] = {}
        self.last_use: dict[fx.Node, int] = {}
        self.stage_output: Affine | None = None  # the value an activation just returned

    # ------------------------------------------------------------------ driver
    def run(self) -> list[Stage]:
        nodes = list(self.gm.graph.nodes)
        for i, node in enumerate(nodes):
            for arg in node.all_input_nodes:
                self.last_use[arg] = i
        output = None
        for i, node in enumerate(nodes):
            self.position = i
            if node.op == "output":
                output = node.args[0]
                break
            src = node.args[0] if self.in_place(node) and node.args else None
            if isinstance(src, fx.Node):
                # the input tensor is overwritten by the result: its old value dies here
                later = self.last_use.get(src, -1)
                self.last_use[src] = i
            self.values[node] = self.evaluate(node)
            if isinstance(src, fx.Node):  # and later readers of it see the result
                self.values[src] = self.values[node]
                self.last_use[src] = max(later, self.last_use.get(node, -1))
        if not isinstance(output, fx.Node) or not isinstance(self.values.get(output), Affine):
            raise LoweringError(
                "the model must return one tensor (not a tuple, dict or constant); "
                "wrap it so that forward() returns the network's output"
            )
        return self.finish(self.values[output])

    def finish(self, out: Affine) -> list[Stage]:
        # No extra stage only when the output *is* the last stage's units, as built (decided
        # by structure: the stages must not depend on the parameters' values).
        trivial = out is self.stage_output and out.dim == self.m
        if not trivial:
            self.emit([(out.At, out.c, np.ones(out.dim))])
        return self.stages

    # ------------------------------------------------------------------ stages
    def emit(
        self,
        blocks: list[tuple[torch.Tensor, torch.Tensor, np.ndarray]],
        groups: list[np.ndarray] | None = None,
        origin: list[tuple[str, int, str]] | None = None,
    ) -> None:
        """One stage of the units in ``blocks`` (``(At, c, slopes)``); with ``groups``, a
        max stage whose leading groups are those (candidate indices) and whose remaining
        units pass through as groups of one."""
        W = torch.cat([At for At, _, _ in blocks], dim=1).T
        b = torch.cat([c for _, c, _ in blocks])
        slopes = np.concatenate([np.broadcast_to(s, (c.numel(),)) for _, c, s in blocks])
        n_units = len(groups) if groups is not None else W.shape[0]
        if groups is not None:
            n_candidates = int(blocks[0][1].numel())  # the first block holds the candidates
            singles = [np.array([i]) for i in range(n_candidates, W.shape[0])]
            n_units = len(groups) + len(singles)
        if origin is not None:  # pass-through units have no source of their own
            origin = list(origin) + [("", -1, "identity")] * (n_units - len(origin))
        stage = Stage(W.numpy().copy(), b.numpy().copy(), slopes.astype(np.float64), origin=origin)
        if groups is not None:
            stage = Stage.max_groups(stage.weight, stage.bias, list(groups) + singles, origin)
        self.stages.append(stage)
        self.m = stage.out_features

    def live_values(self) -> list[fx.Node]:
        """Nodes holding a tensor value (or a max's values) that a later node still reads."""
        return [
            n
            for n, v in self.values.items()
            if isinstance(v, (Affine, _MaxResult)) and self.last_use.get(n, -1) > self.position
        ]

    def _affine(self, n: fx.Node) -> Affine:
        v = self.values[n]
        return v.values if isinstance(v, _MaxResult) else v

    def _set_affine(self, n: fx.Node, a: Affine) -> None:
        self.values[n] = _MaxResult(a) if isinstance(self.values[n], _MaxResult) else a

    def carry(self, node: fx.Node, old_m: int, blocks: list, groups: list | None = None,
              origin: list | None = None) -> None:
        """Emit ``blocks`` plus pass-through units for the values still needed later, and
        re-express those values over the new stage's outputs."""
        n_act = len(groups) if groups is not None else sum(int(c.numel()) for _, c, _ in blocks)
        live = self.live_values()
        carried_dim = sum(self._affine(n).dim for n in live)
        carry_basis = bool(live) and old_m < carried_dim
        if carry_basis:
            blocks.append((torch.eye(old_m, dtype=_F64), torch.zeros(old_m, dtype=_F64), np.ones(old_m)))
        else:
            for n in live:
                lv = self._affine(n)
                blocks.append((lv.At, lv.c, np.ones(lv.dim)))
        self.emit(blocks, groups, origin)
        new_m = self.m
        offset = n_act
        for n in live:
            lv = self._affine(n)
            At = torch.zeros((new_m, lv.dim), dtype=_F64)
            if carry_basis:
                At[n_act:] = lv.At
                c = lv.c
            else:
                At[offset : offset + lv.dim] = torch.eye(lv.dim, dtype=_F64)
                c = torch.zeros(lv.dim, dtype=_F64)
                offset += lv.dim
            self._set_affine(n, Affine(At, c, lv.shape))

    def activate(self, node: fx.Node, v: Affine, pieces: list[_Piece], delta: float = 0.0) -> Affine:
        D = v.dim
        blocks = []
        for p in pieces:
            beta = torch.as_tensor(p.beta, dtype=_F64).expand(v.shape).reshape(-1)
            blocks.append((v.At * p.alpha, v.c * p.alpha + beta, np.asarray(p.slopes, dtype=np.float64)))
        path = self.source(node)
        origin = [(path, u, p.role) for p in pieces for u in range(D)]
        self.carry(node, v.At.shape[0], blocks, origin=origin)
        new_m = self.m
        At = torch.zeros((new_m, D), dtype=_F64)
        for j, p in enumerate(pieces):
            At[j * D : (j + 1) * D] = torch.eye(D, dtype=_F64) * p.gamma
        c = torch.as_tensor(delta, dtype=_F64).expand(v.shape).reshape(-1).clone()
        out = Affine(At, c, v.shape)
        # the stage's units themselves only when one piece passes them through unchanged
        plain = len(pieces) == 1 and delta == 0 and pieces[0].gamma == 1
        self.stage_output = out if plain else None
        return out

    # ------------------------------------------------------------------ nodes
    def evaluate(self, node: fx.Node) -> Any:
        if node.op == "placeholder":
            if node is not next(iter(self.gm.graph.nodes)):
                raise LoweringError(
                    f"node {node.name}: the model takes more than one input; regionlab "
                    "networks have one input tensor"
                )
            return self.input
        if node.op == "get_attr":
            return _fetch_attr(self.gm, node.target).detach().to("cpu", _F64)
        args = fx.node.map_arg(node.args, lambda n: self.values[n])
        kwargs = fx.node.map_arg(node.kwargs, lambda n: self.values[n])
        if node.op == "call_module":
            return self.call_module(node, self.modules[node.target], args, kwargs)
        if node.op == "call_function":
            return self.call_function(node, node.target, args, kwargs)
        if node.op == "call_method":
            return self.call_method(node, node.target, args, kwargs)
        raise self.unsupported(node)

    def in_place(self, node: fx.Node) -> bool:
        """``x.relu_()``, ``F.relu(x, inplace=True)``, ``nn.ReLU(inplace=True)``, ``x += y``..."""
        if node.op == "call_method":
            return str(node.target).endswith("_") and not str(node.target).startswith("__")
        if node.op == "call_function":
            return bool(node.kwargs.get("inplace", False)) or node.target in _INPLACE_OPERATORS
        if node.op == "call_module":
            return bool(getattr(self.modules[node.target], "inplace", False))
        return False

    @staticmethod
    def source(node: fx.Node) -> str:
        """The module path of a module call, else the graph node's name (``relu_1``)."""
        return str(node.target) if node.op == "call_module" else node.name

    def unsupported(self, node: fx.Node, why: str = "") -> LoweringError:
        reason = f": {why}" if why else ""
        if node.op == "call_module":
            cls = type(self.modules[node.target]).__name__
            return LoweringError(
                f"model.{node.target} ({cls}) cannot be converted (graph node {node.name!r}, "
                f"op call_module){reason}. {SUPPORTED_OPS}"
            )
        target = getattr(node.target, "__name__", node.target)
        return LoweringError(
            f"graph node {node.name!r} (op {node.op}, target {target}) cannot be converted"
            f"{reason}. {SUPPORTED_OPS}"
        )

    def call_module(self, node: fx.Node, m: nn.Module, args: tuple, kwargs: dict) -> Any:
        from .._torch_import import _check_fixed_map, _handler_for, _has_handler

        where = f"model.{node.target}"
        x = args[0] if args else None
        if not isinstance(x, Affine) or len(args) != 1 or kwargs:
            raise self.unsupported(node, "a module must take the one tensor flowing through the net")
        if isinstance(m, nn.MaxPool2d) and type(m).forward is nn.MaxPool2d.forward:
            if m.return_indices:
                raise self.unsupported(node, "return_indices=True gives indices, not values")
            return self.max_pool(node, x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
        _check_fixed_map(m, where)
        if type(m) in (nn.ReLU,) or (isinstance(m, nn.ReLU) and type(m).forward is nn.ReLU.forward):
            return self.activate(node, x, [_Piece(1.0, 0.0, 0.0, 1.0)])
        if isinstance(m, nn.LeakyReLU) and type(m).forward is nn.LeakyReLU.forward:
            return self.activate(node, x, [_Piece(1.0, 0.0, float(m.negative_slope), 1.0)])
        if isinstance(m, nn.Hardtanh) and type(m).forward is nn.Hardtanh.forward:
            return self.activate(node, x, *_clamp_pieces(float(m.min_val), float(m.max_val)))
        if isinstance(m, nn.PReLU) and type(m).forward is nn.PReLU.forward:
            w = m.weight.detach().to("cpu", _F64).reshape(-1)
            slopes = _channel_slopes(w, x.shape, where)
            return self.activate(node, x, [_Piece(1.0, 0.0, slopes, 1.0)])
        if not _has_handler(m):
            raise self.unsupported(node)
        handler = _handler_for(m, where)
        view = _ValueFolder(x)
        handler(view, m, where)
        if view.slopes is not None:  # PerNeuronLeakyReLU and other slope-only activations
            return self.activate(node, x, [_Piece(1.0, 0.0, view.slopes, 1.0)])
        return view.value

    def call_function(self, node: fx.Node, fn: Any, args: tuple, kwargs: dict) -> Any:
        if fn in (operator.add, torch.add, operator.iadd):
            return self.add(node, args[0], args[1], kwargs.get("alpha", 1))
        if fn in (operator.sub, torch.sub, operator.isub):
            return self.add(node, args[0], args[1], -kwargs.get("alpha", 1))
        if fn in (operator.neg, torch.neg):
            return self.scale(node, args[0], -1.0)
        if fn in (operator.mul, torch.mul, operator.imul):
            return self.multiply(node, args[0], args[1])
        if fn in (operator.truediv, torch.div, operator.itruediv) and not kwargs:
            if isinstance(args[1], Affine):
                raise self.unsupported(node, "division by a value of the network is not piecewise linear")
            k = _as_constant(args[1])
            if (torch.is_tensor(k) and bool((k == 0).any())) or (not torch.is_tensor(k) and k == 0):
                raise self.unsupported(node, "division by zero")
            return self.scale(node, args[0], 1.0 / k)
        if fn is operator.getitem:
            return self.getitem(node, args[0], args[1])
        if fn in (torch.relu, F.relu):
            return self.activate(node, self.tensor_arg(node, args), [_Piece(1.0, 0.0, 0.0, 1.0)])
        if fn is F.leaky_relu:
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            return self.activate(node, self.tensor_arg(node, args), [_Piece(1.0, 0.0, float(slope), 1.0)])
        if fn in (F.hardtanh, torch.clamp, torch.clip, F.relu6):
            lo, hi = _clamp_bounds(fn, args, kwargs)
            return self.activate(node, self.tensor_arg(node, args), *_clamp_pieces(lo, hi))
        if fn is torch.abs:
            return self.activate(node, self.tensor_arg(node, args), _ABS)
        if fn in (F.linear, F.conv2d):
            return self.fixed_weight_call(node, fn, args, kwargs)
        if fn is torch.cat:
            return self.cat(node, args[0], args[1] if len(args) > 1 else kwargs.get("dim", 0))
        if fn in (torch.flatten, torch.reshape, F.dropout, torch.permute, torch.transpose,
                  torch.squeeze, torch.unsqueeze, F.avg_pool2d, F.adaptive_avg_pool2d):
            return self.linear_call(node, fn, args, kwargs)
        if fn is F.max_pool2d:
            x = self.tensor_arg(node, args)
            a = dict(zip(("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"), args[1:]))
            a.update(kwargs)
            if a.get("return_indices"):
                raise self.unsupported(node, "return_indices=True gives indices, not values")
            return self.max_pool(node, x, a["kernel_size"], a.get("stride"), a.get("padding", 0),
                                 a.get("dilation", 1), a.get("ceil_mode", False))
        if fn in (torch.amax, torch.max):
            return self.max_method(node, "amax" if fn is torch.amax else "max", args, kwargs)
        if fn is torch.maximum:
            return self.maximum(node, args[0], args[1])
        if fn is getattr:
            return self.attribute(node, args[0], args[1])
        raise self.unsupported(node)

    def max_method(self, node: fx.Node, name: str, args: tuple, kwargs: dict) -> Any:
        x = self.tensor_arg(node, args)
        if name == "max" and len(args) > 1 and isinstance(args[1], Affine):
            return self.maximum(node, x, args[1])
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
        values = self.max_over_dim(node, x, dim, keepdim)
        return values if name == "amax" else _MaxResult(values)

    def attribute(self, node: fx.Node, obj: Any, name: str) -> Any:
        if isinstance(obj, _MaxResult) and name == "values":
            return obj.values
        if isinstance(obj, _MaxResult) and name == "indices":
            raise self.unsupported(node, "the winners' indices are not a piecewise-linear value")
        if isinstance(obj, Affine) and name == "shape":
            return (_BATCH,) + obj.shape
        raise self.unsupported(node)

    def call_method(self, node: fx.Node, name: str, args: tuple, kwargs: dict) -> Any:
        x = args[0]
        if name == "size":
            return self.size(node, x, args[1] if len(args) > 1 else kwargs.get("dim"))
        if name in ("relu", "relu_"):
            return self.activate(node, self.tensor_arg(node, args), [_Piece(1.0, 0.0, 0.0, 1.0)])
        if name in ("abs", "abs_"):
            return self.activate(node, self.tensor_arg(node, args), _ABS)
        if name in ("clamp", "clip", "clamp_"):
            lo, hi = _clamp_bounds(torch.clamp, args, kwargs)
            return self.activate(node, self.tensor_arg(node, args), *_clamp_pieces(lo, hi))
        if name in ("add", "sub", "add_", "sub_"):
            sign = 1 if name.startswith("add") else -1
            return self.add(node, x, args[1], sign * kwargs.get("alpha", 1))
        if name in ("mul", "mul_"):
            return self.multiply(node, x, args[1])
        if name == "neg":
            return self.scale(node, x, -1.0)
        if name in ("view", "reshape", "flatten", "unflatten", "permute", "transpose",
                    "contiguous", "squeeze", "unsqueeze"):
            return self.linear_call(node, name, args, kwargs)
        if name in ("amax", "max"):
            return self.max_method(node, name, args, kwargs)
        if name == "maximum":
            return self.maximum(node, x, args[1])
        raise self.unsupported(node)

    # ------------------------------------------------------------------ max groups
    def max_stage(self, node: fx.Node, candidates: Affine, groups: list[np.ndarray],
                  out_shape: tuple[int, ...]) -> Affine:
        """Emit a max stage: group g outputs the max of ``candidates`` at ``groups[g]``."""
        origin = [(self.source(node), g, "max") for g in range(len(groups))]
        self.carry(node, candidates.At.shape[0], [(candidates.At, candidates.c, np.ones(candidates.dim))],
                   groups, origin)
        G = len(groups)
        At = torch.zeros((self.m, G), dtype=_F64)
        At[:G] = torch.eye(G, dtype=_F64)
        self.stage_output = Affine(At, torch.zeros(G, dtype=_F64), out_shape)
        return self.stage_output

    def max_pool(self, node: fx.Node, x: Affine, kernel: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool) -> Affine:
        if len(x.shape) != 3:
            raise self.unsupported(node, f"max_pool2d needs (C, H, W) features, got {x.shape}")
        C, H, W = x.shape
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
        kh, kw = pair(kernel)
        sh, sw = pair(stride if stride not in (None, ()) else kernel)
        ph, pw = pair(padding)
        dh, dw = pair(dilation)
        out = F.max_pool2d(torch.empty((1, C, H, W), device="meta"), (kh, kw), (sh, sw), (ph, pw),
                           (dh, dw), ceil_mode)
        OH, OW = out.shape[2:]
        groups = []
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    rows = [i * sh - ph + a * dh for a in range(kh)]
                    cols = [j * sw - pw + b * dw for b in range(kw)]
                    cand = [c * H * W + r * W + q for r in rows if 0 <= r < H for q in cols if 0 <= q < W]
                    if not cand:
                        raise self.unsupported(node, f"max-pool window ({i}, {j}) lies wholly in the "
                                               "padding (torch would output -inf there)")
                    groups.append(np.array(cand, dtype=np.int64))
        return self.max_stage(node, x, groups, (C, OH, OW))

    def max_over_dim(self, node: fx.Node, x: Affine, dim: Any, keepdim: bool) -> Affine:
        if dim is None:
            raise self.unsupported(node, "a max over the whole tensor mixes the batch dimension")
        if isinstance(dim, (tuple, list)):
            if len(dim) != 1:
                raise self.unsupported(node, "max over several dimensions at once")
            dim = dim[0]
        full = (1,) + x.shape
        d = dim % len(full)
        if d == 0:
            raise self.unsupported(node, "a max over the batch dimension")
        idx = torch.arange(x.dim).reshape(x.shape).movedim(d - 1, -1)
        k = idx.shape[-1]
        groups = [g.numpy().astype(np.int64) for g in idx.reshape(-1, k)]
        shape = tuple(idx.shape[:-1]) + ((1,) if keepdim else ())
        if keepdim:
            shape = tuple(s for s in x.shape[: d - 1]) + (1,) + tuple(x.shape[d:])
        return self.max_stage(node, x, groups, shape)

    def maximum(self, node: fx.Node, a: Any, b: Any) -> Affine:
        if not (isinstance(a, Affine) and isinstance(b, Affine)):
            raise self.unsupported(node, "torch.maximum of two values of the network")
        ra, rb = torch.broadcast_tensors(a.rows(), b.rows())
        ca, cb = torch.broadcast_tensors(a.offset(), b.offset())
        shape = tuple(ca.shape[1:])
        D = math.prod(shape)
        both = Affine(torch.cat([ra.reshape(ra.shape[0], -1), rb.reshape(rb.shape[0], -1)], 1),
                      torch.cat([ca.reshape(-1), cb.reshape(-1)]), (2 * D,))
        groups = [np.array([i, D + i]) for i in range(D)]
        return self.max_stage(node, both, groups, shape)

    # ------------------------------------------------------------------ helpers
    def tensor_arg(self, node: fx.Node, args: tuple) -> Affine:
        if not args or not isinstance(args[0], Affine):
            raise self.unsupported(node, "expected a tensor of the network as first argument")
        return args[0]

    def size(self, node: fx.Node, x: Any, dim: Any) -> Any:
        if not isinstance(x, Affine):
            raise self.unsupported(node)
        full = (_BATCH,) + x.shape
        return full if dim is None else full[dim]

    def add(self, node: fx.Node, a: Any, b: Any, alpha: float) -> Any:
        if isinstance(a, Affine) and isinstance(b, Affine):
            try:  # torch's broadcasting over the per-sample dimensions
                rows = a.rows() + alpha * b.rows()
                c = a.offset() + alpha * b.offset()
            except RuntimeError as exc:
                raise self.unsupported(node, f"adding shapes {a.shape} and {b.shape}: {exc}") from exc
            return Affine(rows.reshape(rows.shape[0], -1), c.reshape(-1), tuple(c.shape[1:]))
        if isinstance(a, Affine):
            const = torch.as_tensor(_as_constant(b), dtype=_F64) * alpha
            return Affine(a.At, (a.offset() + const).reshape(-1), a.shape)
        if isinstance(b, Affine):
            scaled = self.scale(node, b, alpha)
            return self.add(node, scaled, a, 1.0)
        raise self.unsupported(node)

    def scale(self, node: fx.Node, x: Any, k: Any) -> Affine:
        if not isinstance(x, Affine):
            raise self.unsupported(node)
        k = torch.as_tensor(k, dtype=_F64)
        return x.apply_linear(lambda t: t * k)

    def multiply(self, node: fx.Node, a: Any, b: Any) -> Affine:
        if isinstance(a, Affine) and isinstance(b, Affine):
            raise self.unsupported(node, "the product of two values of the network is not piecewise linear")
        x, k = (a, b) if isinstance(a, Affine) else (b, a)
        return self.scale(node, x, _as_constant(k))

    def getitem(self, node: fx.Node, x: Any, index: Any) -> Any:
        if isinstance(x, _MaxResult):
            return self.attribute(node, x, "values" if index == 0 else "indices")
        if isinstance(x, tuple):
            return x[index]
        if not isinstance(x, Affine):
            raise self.unsupported(node)
        first = index[0] if isinstance(index, tuple) and index else index
        if not (isinstance(first, slice) and first == slice(None)):
            raise self.unsupported(node, "indexing must keep the batch dimension whole (x[:, ...])")
        return x.apply_linear(lambda t: t[index])

    def cat(self, node: fx.Node, parts: Any, dim: int) -> Affine:
        if not all(isinstance(p, Affine) for p in parts):
            raise self.unsupported(node, "torch.cat of the network's values only")
        if dim == 0 or dim == -len(parts[0].shape) - 1:
            raise self.unsupported(node, "concatenating along the batch dimension")
        rows = torch.cat([p.rows() for p in parts], dim=dim)
        c = torch.cat([p.offset() for p in parts], dim=dim)
        return Affine(rows.reshape(rows.shape[0], -1), c.reshape(-1), tuple(c.shape[1:]))

    def fixed_weight_call(self, node: fx.Node, fn: Any, args: tuple, kwargs: dict) -> Affine:
        """``F.linear`` / ``F.conv2d`` whose weight and bias are constants (parameters)."""
        x = self.tensor_arg(node, args)
        rest = list(args[1:])
        kw = dict(kwargs)
        weight = rest.pop(0) if rest else kw.pop("weight")
        bias = rest.pop(0) if rest else kw.pop("bias", None)
        if isinstance(weight, Affine) or isinstance(bias, Affine):
            raise self.unsupported(node, "weights computed from the input are not piecewise linear")
        W = _as_constant(weight)
        b = None if bias is None else _as_constant(bias)
        return x.apply_affine(lambda t, with_bias: fn(t, W, b if with_bias else None, *rest, **kw))

    def linear_call(self, node: fx.Node, fn: Any, args: tuple, kwargs: dict) -> Affine:
        x = self.tensor_arg(node, args)
        if fn is F.dropout:
            training = args[2] if len(args) > 2 else kwargs.get("training", True)
            if training:
                raise self.unsupported(node, "F.dropout with training=True drops random units")
            return x
        rest = args[1:]

        def op(t: torch.Tensor) -> torch.Tensor:
            a = tuple(t.shape[0] if r is _BATCH else r for r in _flat_args(rest))
            a = _restore(rest, a)
            return getattr(t, fn)(*a, **kwargs) if isinstance(fn, str) else fn(t, *a, **kwargs)

        out = x.apply_linear(op)
        return out


class _ValueFolder:
    """The folder interface of ``_torch_import``'s module handlers, over one value."""

    def __init__(self, value: Affine):
        self.value = value
        self.slopes: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def dim(self) -> int:
        return self.value.dim

    is_identity = False
    fold_linear = True  # a traced graph's affine maps always compose

    def affine(self, fn: Callable[[torch.Tensor, bool], torch.Tensor], where: str) -> None:
        try:
            self.value = self.value.apply_affine(fn)
        except RuntimeError as exc:
            raise ValueError(f"{where} cannot take features of shape {self.shape}: {exc}") from exc

    def reshape(self, shape: tuple[int, ...]) -> None:
        self.value = Affine(self.value.At, self.value.c, shape)

    def activate(self, slopes: np.ndarray, where: str) -> None:
        self.slopes = slopes


# ---------------------------------------------------------------------- small helpers
_ABS = [_Piece(1.0, 0.0, 0.0, 1.0, "positive"), _Piece(-1.0, 0.0, 0.0, 1.0, "negative")]


def _clamp_pieces(lo: float | None, hi: float | None) -> tuple[list[_Piece], float]:
    """``clamp(v, lo, hi) = lo + relu(v - lo) - relu(v - hi)`` (one side open: one unit),
    as pieces and the output constant."""
    if lo is None and hi is None:
        raise LoweringError("clamp without bounds")
    if lo is not None and hi is not None and not lo < hi:
        raise LoweringError(f"clamp/hardtanh needs min < max, got {lo} and {hi}")
    if hi is None:  # max(v, lo) = lo + relu(v - lo)
        return [_Piece(1.0, -lo, 0.0, 1.0, "lower")], lo
    if lo is None:  # min(v, hi) = hi - relu(hi - v): its unit is active below hi
        return [_Piece(-1.0, hi, 0.0, -1.0, "below_upper")], hi
    return [_Piece(1.0, -lo, 0.0, 1.0, "lower"), _Piece(1.0, -hi, 0.0, -1.0, "upper")], lo


def _clamp_bounds(fn: Any, args: tuple, kwargs: dict) -> tuple[Any, Any]:
    if fn is F.relu6:
        return 0.0, 6.0
    if fn is F.hardtanh:
        lo = args[1] if len(args) > 1 else kwargs.get("min_val", -1.0)
        hi = args[2] if len(args) > 2 else kwargs.get("max_val", 1.0)
        return float(lo), float(hi)
    lo = args[1] if len(args) > 1 else kwargs.get("min")
    hi = args[2] if len(args) > 2 else kwargs.get("max")
    for b in (lo, hi):
        if b is not None and not isinstance(b, (int, float)):
            raise LoweringError("clamp bounds must be Python numbers")
    return (None if lo is None else float(lo)), (None if hi is None else float(hi))


def _channel_slopes(w: torch.Tensor, shape: tuple[int, ...], where: str) -> np.ndarray:
    if w.numel() == 1:
        return np.full(math.prod(shape), float(w[0]))
    if shape[0] != w.numel():
        raise ValueError(f"{where} (PReLU) has {w.numel()} slopes but its input has shape {shape}")
    return np.repeat(w.numpy(), math.prod(shape) // w.numel())


def _as_constant(k: Any) -> Any:
    if isinstance(k, (int, float)):
        return float(k)
    if torch.is_tensor(k):
        return k.detach().to("cpu", _F64)
    raise LoweringError(f"expected a constant, got {type(k).__name__}")


def _fetch_attr(gm: fx.GraphModule, target: str) -> torch.Tensor:
    obj: Any = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _flat_args(args: tuple) -> list:
    out = []
    for a in args:
        if isinstance(a, (tuple, list)):
            out.extend(a)
        else:
            out.append(a)
    return out


def _restore(template: tuple, flat: tuple) -> tuple:
    """``flat`` regrouped like ``template`` (a shape given as a tuple stays a tuple)."""
    out, i = [], 0
    for a in template:
        if isinstance(a, (tuple, list)):
            out.append(tuple(flat[i : i + len(a)]))
            i += len(a)
        else:
            out.append(flat[i])
            i += 1
    return tuple(out)


# ---------------------------------------------------------------------- entry point
def lower_module(model: nn.Module, input_shape: tuple[int, ...] | None) -> list[Stage]:
    """The stages of ``model`` traced with ``torch.fx`` (``input_shape``: one input's shape,
    inferred from the first ``Linear``/``BatchNorm1d`` the graph calls when ``None``)."""
    from .._torch_import import _infer_input_shape
    from .model_check import check_against_model

    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:  # data-dependent control flow, unsupported Python, ...
        raise LoweringError(
            f"torch.fx could not trace {type(model).__name__} ({type(exc).__name__}: {exc}); "
            "regionlab converts models whose forward() is a fixed graph of supported "
            f"operations ({SUPPORTED_OPS})"
        ) from exc
    inferred = input_shape is None
    if inferred:
        input_shape = _infer_input_shape(_layers_before_functional_ones(gm))
    with torch.no_grad():
        try:
            stages = Lowering(gm, input_shape).run()
        except RuntimeError as exc:  # a shape torch itself rejects
            if not inferred:
                raise
            raise ValueError(
                f"the input shape inferred from the model's first layer, {input_shape}, does "
                f"not fit it ({exc}); pass input_shape (an int d, or (C, H, W))") from exc
        check_against_model(model, stages, input_shape, traced=True)
    return stages


def _layers_before_functional_ones(gm: fx.GraphModule) -> list:
    """The modules the graph calls, in order, up to its first F.linear / F.conv2d call:
    a layer after one does not see the raw input, so it cannot give the input's shape."""
    modules = dict(gm.named_modules())
    called = []
    for n in gm.graph.nodes:
        if n.op == "call_function" and n.target in (F.linear, F.conv2d):
            break
        if n.op == "call_module":
            called.append((n.target, modules[n.target]))
    return called
