"""`PLNet`: the one intermediate representation every regionlab feature consumes.

A PLNet is a list of affine stages ``h_k = W_k a_{k-1} + b_k`` each followed by a
per-neuron activation ``a = h if h > 0 else s * h``. The negative slope ``s`` says what
the neuron is: ``0`` ReLU, ``0 < s < 1`` (or any ``s != 1``) LeakyReLU, ``1`` identity
(no kink, so no bit in the activation pattern). The last stage is usually all-identity
(the network's output).

The activation pattern of an input is one bit per *kinked* neuron (``s != 1``), in
stage order then neuron order: bit ``= h > 0``.

A stage may instead end in **max groups** (maxout units, max-pool windows): group ``g``
outputs the largest of its candidates ``h[i]``, ``i`` in its index list, and contributes
the winner's position in that list to the pattern, in ``ceil(log2 k)`` bits (little-endian;
ties go to the first candidate, like ``numpy.argmax``). A group of one candidate is an
identity pass-through unit with no bits. The next stage takes one input per group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from ._validate import as_float_matrix, check_finite

__all__ = ["Stage", "PLNet", "PatternEntry", "from_torch"]

_SUPPORTED_DTYPES = (np.float32, np.float64)


@dataclass(frozen=True)
class PatternEntry:
    """One kinked neuron or max group of a :class:`PLNet`'s pattern (see ``pattern_layout``)."""

    bit: int  # first bit in the pattern
    n_bits: int  # 1 for a neuron; ceil(log2 k) for a group of k candidates
    stage: int
    source: str  # module path (or traced graph node) in the source model
    unit: int  # flat index into that module's output
    role: str  # "relu", "lower", "upper", "below_upper", "positive", "negative" or "max"


@dataclass(frozen=True)
class Stage:
    """One affine map followed by a per-neuron (leaky) ReLU / identity activation, or by
    max groups (``group_offsets``/``group_index`` set: group ``g``'s candidates are
    ``group_index[group_offsets[g]:group_offsets[g + 1]]``; slopes are then unused)."""

    weight: np.ndarray  # (out, in), C-contiguous, the net's dtype
    bias: np.ndarray  # (out,)
    negative_slope: np.ndarray  # (out,) float64; 1.0 means identity (no kink)
    group_offsets: np.ndarray | None = None  # (n_groups + 1,) int64
    group_index: np.ndarray | None = None  # (n_candidates,) int32
    # Where each unit (slope stage: each affine output; max stage: each group) comes from
    # in the source model: (module path, unit index in that module's output, role); see
    # PLNet.pattern_layout. None: "stage k", the unit's own index.
    origin: tuple[tuple[str, int, str], ...] | None = None

    @classmethod
    def max_groups(
        cls, weight: Any, bias: Any, groups: Sequence[Sequence[int]], origin: Any = None
    ) -> "Stage":
        """An affine map followed by max groups given as lists of candidate indices."""
        groups = [np.asarray(g, dtype=np.int64).reshape(-1) for g in groups]
        offsets = np.concatenate([[0], np.cumsum([len(g) for g in groups])]).astype(np.int64)
        index = np.concatenate(groups).astype(np.int32) if groups else np.zeros(0, np.int32)
        w = np.asarray(weight)
        return cls(w, np.asarray(bias), np.ones(w.shape[0]), offsets, index, origin)

    @property
    def is_max(self) -> bool:
        return self.group_offsets is not None

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def affine_features(self) -> int:
        """Outputs of the affine map (the candidates of a max stage)."""
        return int(self.weight.shape[0])

    @property
    def out_features(self) -> int:
        """Units passed to the next stage: the groups of a max stage, else the neurons."""
        return len(self.group_offsets) - 1 if self.is_max else int(self.weight.shape[0])

    @property
    def group_sizes(self) -> np.ndarray:
        return np.diff(self.group_offsets) if self.is_max else np.zeros(0, np.int64)

    @property
    def group_bits(self) -> np.ndarray:
        """Pattern bits of each group: ``ceil(log2(k))`` for ``k`` candidates."""
        k = self.group_sizes
        return np.ceil(np.log2(np.maximum(k, 1))).astype(np.int64)

    @property
    def n_bits(self) -> int:
        """Pattern bits this stage contributes."""
        return int(self.group_bits.sum()) if self.is_max else int(self.kinked.sum())

    @property
    def kinked(self) -> np.ndarray:
        """Boolean mask of the neurons that contribute a pattern bit (none in a max stage)."""
        if self.is_max:
            return np.zeros(self.affine_features, dtype=bool)
        return self.negative_slope != 1.0


def _slopes_from_spec(spec: Any, out: int, where: str) -> np.ndarray:
    """Turn an activation spec into per-neuron negative slopes (see `PLNet.from_arrays`)."""
    if spec is None or (isinstance(spec, str) and spec in ("identity", "linear", "none")):
        return np.ones(out)
    if isinstance(spec, str):
        if spec == "relu":
            return np.zeros(out)
        if spec in ("leaky_relu", "leakyrelu"):
            return np.full(out, 0.01)
        raise ValueError(
            f"{where}: unknown activation {spec!r}; use 'relu', 'leaky_relu', 'identity', "
            "('leaky_relu', slope), a float slope, or an array of per-neuron slopes"
        )
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0] in ("leaky_relu", "leakyrelu"):
        return np.full(out, float(spec[1]))
    arr = np.asarray(spec, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(out, float(arr))
    if arr.shape != (out,):
        raise ValueError(f"{where}: per-neuron slopes have shape {arr.shape}, expected ({out},)")
    return arr.copy()


def _checked_origin(origin: Any, units: int, k: int) -> tuple | None:
    if origin is None:
        return None
    try:
        origin = tuple((str(p), int(u), str(r)) for p, u, r in origin)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"stage {k}: origin must hold (module path, unit, role) triples") from exc
    if len(origin) != units:
        raise ValueError(f"stage {k}: origin has {len(origin)} entries for {units} units")
    return origin


def _checked_groups(st: Stage, out: int, k: int) -> tuple[Any, Any]:
    """Own copies of a max stage's group arrays, or a ValueError saying what is wrong."""
    if st.group_offsets is None and st.group_index is None:
        return None, None
    if st.group_offsets is None or st.group_index is None:
        raise ValueError(f"stage {k}: give both group_offsets and group_index (or neither)")
    offsets = np.array(st.group_offsets, copy=True)
    index = np.array(st.group_index, copy=True)
    if offsets.dtype.kind not in "iu" or index.dtype.kind not in "iu":
        raise TypeError(f"stage {k}: group offsets and indices must be integers")
    offsets, index = offsets.astype(np.int64).reshape(-1), index.astype(np.int32).reshape(-1)
    if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(index):
        raise ValueError(
            f"stage {k}: group_offsets must start at 0, end at len(group_index) "
            f"({len(index)}) and describe at least one group"
        )
    if (np.diff(offsets) <= 0).any():
        raise ValueError(f"stage {k}: every max group needs at least one candidate")
    if len(index) and (index.min() < 0 or index.max() >= out):
        raise ValueError(f"stage {k}: max group candidates must index the {out} affine outputs")
    return offsets, index


def _groups_from_spec(spec: tuple, out: int, where: str) -> list:
    kind, arg = spec
    if kind == "maxout":
        k = int(arg)
        if k < 1 or out % k:
            raise ValueError(f"{where}: maxout groups of {k} need a multiple of {k} outputs, got {out}")
        return [list(range(i, i + k)) for i in range(0, out, k)]
    try:
        return [list(map(int, g)) for g in arg]
    except TypeError as exc:
        raise TypeError(f"{where}: ('max', groups) needs a list of candidate index lists") from exc


class PLNet:
    """A piecewise-linear network: affine stages with per-neuron (leaky) ReLU activations.

    Build one with :func:`regionlab.from_torch` or :meth:`PLNet.from_arrays`.

    ``input_shape``: the shape of one input when it has several axes (an image net
    converted by :func:`regionlab.from_torch`), else None. Inputs are taken flat ``(n, d)``
    or in that shape ``(n, *input_shape)``; any other shape is refused (channels-last
    images would otherwise be flattened in the wrong order).
    """

    input_shape: tuple[int, ...] | None = None

    def __init__(self, stages: Sequence[Stage], dtype: Any = np.float64):
        dtype = np.dtype(dtype)
        if dtype.type not in _SUPPORTED_DTYPES:
            raise TypeError(f"PLNet dtype must be float32 or float64, got {dtype}")
        if len(stages) == 0:
            raise ValueError("a PLNet needs at least one stage")
        fixed = []
        prev_out = None
        for k, st in enumerate(stages):
            # Own copies: the caller's arrays stay writable, and later writes to them
            # cannot make the stages disagree with the C++ copy.
            w = np.array(st.weight, dtype=dtype, order="C", copy=True)
            b = np.array(st.bias, dtype=dtype, order="C", copy=True)
            if st.is_max and st.negative_slope is None:
                s = np.ones(w.shape[0] if w.ndim == 2 else 0)
            else:
                s = np.array(st.negative_slope, dtype=np.float64, order="C", copy=True)
            if w.ndim != 2:
                raise ValueError(f"stage {k}: weight must be 2-D (out, in), got shape {w.shape}")
            if 0 in w.shape:
                raise ValueError(f"stage {k}: weight has shape {w.shape}; every stage needs at "
                                 "least one input and one output")
            if b.shape != (w.shape[0],) or s.shape != (w.shape[0],):
                raise ValueError(
                    f"stage {k}: bias {b.shape} and slopes {s.shape} must both be ({w.shape[0]},)"
                )
            if prev_out is not None and w.shape[1] != prev_out:
                raise ValueError(
                    f"stage {k}: takes {w.shape[1]} inputs but stage {k - 1} has {prev_out} outputs"
                )
            for name, arr in (("weight", w), ("bias", b), ("negative_slope", s)):
                check_finite(arr, f"stage {k} {name}")
            offsets, index = _checked_groups(st, w.shape[0], k)
            for arr in (w, b, s, offsets, index):
                if arr is not None:
                    arr.setflags(write=False)
            origin = _checked_origin(st.origin, len(offsets) - 1 if offsets is not None else w.shape[0], k)
            fixed.append(Stage(w, b, s, offsets, index, origin))
            prev_out = fixed[-1].out_features
        self._stages = tuple(fixed)
        self._dtype = dtype
        self._core_net = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        weights: Sequence[Any],
        biases: Sequence[Any] | None = None,
        activations: Any = "relu",
        *,
        dtype: Any = None,
    ) -> "PLNet":
        """Build a PLNet from weight matrices ``(out, in)`` (PyTorch's ``Linear`` layout).

        ``activations`` is one spec for every hidden stage (the last stage is identity), or a
        list (or tuple) with one spec per stage. A spec is ``'relu'``, ``'leaky_relu'`` (slope 0.01),
        ``('leaky_relu', slope)``, ``'identity'``, a float negative slope, an array of
        per-neuron negative slopes, ``('maxout', k)`` (max over consecutive groups of ``k``
        outputs) or ``('max', groups)`` (a list of candidate index lists). ``dtype`` defaults to the weights' dtype when float32/64.
        """
        if isinstance(weights, np.ndarray) and weights.ndim == 2:
            weights = [weights]
        weights = list(weights)
        if not weights:
            raise ValueError("from_arrays needs at least one weight matrix")
        ws = [np.asarray(w) for w in weights]
        if dtype is None:
            dtype = np.result_type(*[w.dtype for w in ws])
            if dtype.type not in _SUPPORTED_DTYPES:
                dtype = np.float64
        if biases is None:
            bs = [np.zeros(w.shape[0]) for w in ws]
        else:
            biases = list(biases)
            if len(biases) != len(ws):
                raise ValueError(f"got {len(ws)} weight matrices but {len(biases)} biases")
            bs = [np.zeros(w.shape[0]) if b is None else np.asarray(b) for w, b in zip(ws, biases)]
        n = len(ws)
        is_single_leaky_spec = (
            isinstance(activations, tuple)
            and len(activations) == 2
            and activations[0] in ("leaky_relu", "leakyrelu", "maxout")
        )
        if isinstance(activations, (list, tuple)) and not is_single_leaky_spec:
            if len(activations) != n:
                raise ValueError(f"activations has {len(activations)} entries for {n} stages")
            specs = list(activations)
        else:
            specs = [activations] * (n - 1) + ["identity"]
        stages = []
        for k, (w, b, spec) in enumerate(zip(ws, bs, specs)):
            if w.ndim != 2:
                raise ValueError(f"weight {k} must be 2-D (out, in), got shape {w.shape}")
            if isinstance(spec, tuple) and len(spec) == 2 and spec[0] in ("max", "maxout"):
                stages.append(Stage.max_groups(w, b, _groups_from_spec(spec, w.shape[0], f"stage {k}")))
                continue
            stages.append(Stage(w, b, _slopes_from_spec(spec, w.shape[0], f"stage {k}")))
        return cls(stages, dtype=dtype)

    # ----------------------------------------------------------------- properties
    @property
    def stages(self) -> tuple[Stage, ...]:
        return self._stages

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def input_dim(self) -> int:
        return self._stages[0].in_features

    @property
    def output_dim(self) -> int:
        return self._stages[-1].out_features

    @property
    def widths(self) -> tuple[int, ...]:
        """Layer sizes, input first: ``(d, n_1, ..., n_L)``."""
        return (self.input_dim,) + tuple(st.out_features for st in self._stages)

    @property
    def n_neurons(self) -> int:
        """Bits in an activation pattern: kinked neurons, plus the winner bits of max groups."""
        return int(sum(st.n_bits for st in self._stages))

    @property
    def neurons_per_stage(self) -> tuple[int, ...]:
        """Pattern bits of each stage (stages with none contribute no pattern bits)."""
        return tuple(st.n_bits for st in self._stages)

    @property
    def has_max_groups(self) -> bool:
        return any(st.is_max for st in self._stages)

    @property
    def pattern_layout(self) -> list["PatternEntry"]:
        """What each part of an activation pattern is, in the source model's terms.

        One :class:`PatternEntry` per kinked neuron (one bit) and per max group with more
        than one candidate (``ceil(log2 k)`` bits holding the winner's position), in
        pattern order: its first bit, its bit count, the stage, the module path it came
        from (``from_torch``: the activation's or pool's path, e.g. ``"layer1.relu"``; a
        traced function: its graph node, e.g. ``"relu_1"``), the unit (flat index into
        that module's output) and its role: ``"relu"`` (a (leaky) ReLU neuron),
        ``"lower"``/``"upper"`` (the kinks of a clamp/hardtanh/relu6: bit 1 when the input
        is above ``lo`` / above ``hi``), ``"below_upper"`` (the one kink of ``clamp(max=hi)``:
        bit 1 when the input is below ``hi``), ``"positive"``/``"negative"`` (the two
        halves of abs), ``"max"`` (a group).
        """
        entries, bit = [], 0
        for k, st in enumerate(self._stages):
            n_units = st.out_features if st.is_max else st.affine_features
            origin = st.origin or tuple(
                (f"stage{k}", u, "max" if st.is_max else "relu") for u in range(n_units)
            )
            if st.is_max:
                units = [(g, int(nb)) for g, nb in enumerate(st.group_bits) if nb > 0]
            else:
                units = [(int(u), 1) for u in np.flatnonzero(st.kinked)]
            for u, nb in units:
                path, unit, role = origin[u]
                entries.append(PatternEntry(bit, nb, k, path, unit, role))
                bit += nb
        return entries

    def explain_pattern(self, pattern: Any) -> dict[str, dict[str, np.ndarray]]:
        """One pattern (bool ``(n_neurons,)``, or packed uint8) read back per source module:
        ``{path: {role: values}}`` with values indexed like the module's flat output units
        (``-1`` where a unit has no entry): 0/1 for neurons, the winner's position for groups."""
        bits = np.asarray(pattern)
        if bits.dtype == np.uint8 and bits.shape == ((self.n_neurons + 7) // 8,):
            bits = np.unpackbits(bits, count=self.n_neurons, bitorder="little")
        bits = bits.astype(np.int64).reshape(-1)
        if bits.shape != (self.n_neurons,):
            raise ValueError(
                f"explain_pattern: expected {self.n_neurons} bits (or {(self.n_neurons + 7) // 8} "
                f"packed bytes), got shape {np.shape(pattern)}"
            )
        layout = self.pattern_layout
        sizes: dict[tuple[str, str], int] = {}
        for e in layout:
            sizes[e.source, e.role] = max(sizes.get((e.source, e.role), 0), e.unit + 1)
        out: dict[str, dict[str, np.ndarray]] = {}
        for (path, role), n in sizes.items():
            out.setdefault(path, {})[role] = np.full(n, -1, dtype=np.int64)
        for e in layout:
            value = int(bits[e.bit : e.bit + e.n_bits] @ (1 << np.arange(e.n_bits)))
            out[e.source][e.role][e.unit] = value
        return out

    def astype(self, dtype: Any) -> "PLNet":
        """The same network with weights in another dtype (float32 or float64)."""
        if np.dtype(dtype) == self._dtype:
            return self
        return PLNet(self._stages, dtype=dtype)

    def __repr__(self) -> str:
        acts = []
        for st in self._stages:
            if st.is_max:
                sizes = np.unique(st.group_sizes)
                acts.append(f"max{int(sizes[0])}" if len(sizes) == 1 else "max")
                continue
            s = np.unique(st.negative_slope)
            if len(s) == 1:
                acts.append({0.0: "relu", 1.0: "id"}.get(float(s[0]), f"leaky{float(s[0]):g}"))
            else:
                acts.append("mixed")
        return (
            f"PLNet(widths={self.widths}, activations={acts}, "
            f"n_neurons={self.n_neurons}, dtype={self._dtype.name})"
        )

    # ----------------------------------------------------------------- core bridge
    def _core(self):
        """The C++ copy of this network (built once, immutable like the PLNet)."""
        if self._core_net is None:
            from . import _core

            cls = _core.Network32 if self._dtype == np.float32 else _core.Network64
            no_groups = np.zeros(1, np.int64)
            self._core_net = cls(
                [st.weight for st in self._stages],
                [st.bias for st in self._stages],
                [st.negative_slope for st in self._stages],
                [st.group_offsets if st.is_max else no_groups for st in self._stages],
                [st.group_index if st.is_max else np.zeros(0, np.int32) for st in self._stages],
            )
        return self._core_net

    def _prepare_inputs(self, X: Any, what: str) -> np.ndarray:
        return as_float_matrix(X, self.input_dim, self._dtype, what, allow_empty=True,
                               sample_shape=self.input_shape)

    # ----------------------------------------------------------------- evaluation
    def forward(self, X: Any) -> np.ndarray:
        """Network output for each row of ``X`` (``(n, d)``, or ``(n, *input_shape)``)."""
        X = self._prepare_inputs(X, "forward")
        if X.shape[0] == 0:
            return np.zeros((0, self.output_dim), dtype=self._dtype)
        return self._core().forward(X)

    __call__ = forward

    def patterns(self, X: Any, *, packed: bool = False) -> np.ndarray:
        """Activation pattern of each row of ``X``.

        ``packed=False``: bool ``(n, n_neurons)``. ``packed=True``: uint8
        ``(n, ceil(n_neurons / 8))``, identical to
        ``np.packbits(patterns(X), axis=1, bitorder="little")``.
        """
        X = self._prepare_inputs(X, "patterns")
        if X.shape[0] == 0:
            return np.zeros((0, (self.n_neurons + 7) // 8 if packed else self.n_neurons),
                            dtype=np.uint8 if packed else bool)
        words = self._core().patterns(X)  # (n, n_words) uint64, little-endian bit order
        nbytes = (self.n_neurons + 7) // 8
        packed_bytes = words.view(np.uint8)[:, :nbytes]
        if packed:
            return np.ascontiguousarray(packed_bytes)
        return np.unpackbits(packed_bytes, axis=1, count=self.n_neurons, bitorder="little").astype(
            bool
        )

    def to_torch(self):
        """An equivalent ``torch.nn.Sequential`` (Linear + ReLU/LeakyReLU layers)."""
        from ._torch_import import plnet_to_torch

        return plnet_to_torch(self)


def from_torch(model: Any, input_shape: Iterable[int] | None = None, *, dtype: Any = None,
               fold_linear: bool = True) -> PLNet:
    """Convert a ``torch.nn.Module`` into a :class:`PLNet` (see :mod:`regionlab._torch_import`).

    ``fold_linear=False`` keeps a stage boundary (identity activations) before each
    ``Linear`` of a chain that follows another affine layer without an activation between
    (a deep linear network keeps its layers, as gradient flow needs them)."""
    from ._torch_import import from_torch as _from_torch

    return _from_torch(model, input_shape=input_shape, dtype=dtype, fold_linear=fold_linear)


def n_words(n_bits: int) -> int:
    """64-bit words needed for ``n_bits`` pattern bits."""
    return max(1, math.ceil(n_bits / 64))
