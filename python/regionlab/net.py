"""`PLNet`: the one intermediate representation every regionlab feature consumes.

A PLNet is a list of affine stages ``h_k = W_k a_{k-1} + b_k`` each followed by a
per-neuron activation ``a = h if h > 0 else s * h``. The negative slope ``s`` says what
the neuron is: ``0`` ReLU, ``0 < s < 1`` (or any ``s != 1``) LeakyReLU, ``1`` identity
(no kink, so no bit in the activation pattern). The last stage is usually all-identity
(the network's output).

The activation pattern of an input is one bit per *kinked* neuron (``s != 1``), in
stage order then neuron order: bit ``= h > 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from ._validate import as_float_matrix, check_finite

__all__ = ["Stage", "PLNet", "from_torch"]

_SUPPORTED_DTYPES = (np.float32, np.float64)


@dataclass(frozen=True)
class Stage:
    """One affine map followed by a per-neuron (leaky) ReLU / identity activation."""

    weight: np.ndarray  # (out, in), C-contiguous, the net's dtype
    bias: np.ndarray  # (out,)
    negative_slope: np.ndarray  # (out,) float64; 1.0 means identity (no kink)

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def kinked(self) -> np.ndarray:
        """Boolean mask of the neurons that contribute a pattern bit."""
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


class PLNet:
    """A piecewise-linear network: affine stages with per-neuron (leaky) ReLU activations.

    Build one with :func:`regionlab.from_torch` or :meth:`PLNet.from_arrays`.
    """

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
            s = np.array(st.negative_slope, dtype=np.float64, order="C", copy=True)
            if w.ndim != 2:
                raise ValueError(f"stage {k}: weight must be 2-D (out, in), got shape {w.shape}")
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
            for arr in (w, b, s):
                arr.setflags(write=False)
            fixed.append(Stage(w, b, s))
            prev_out = w.shape[0]
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
        ``('leaky_relu', slope)``, ``'identity'``, a float negative slope, or an array of
        per-neuron negative slopes. ``dtype`` defaults to the weights' dtype when float32/64.
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
            and activations[0] in ("leaky_relu", "leakyrelu")
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
        """Number of kinked neurons, i.e. bits in an activation pattern."""
        return int(sum(int(st.kinked.sum()) for st in self._stages))

    @property
    def neurons_per_stage(self) -> tuple[int, ...]:
        """Kinked neurons in each stage (stages with none contribute no pattern bits)."""
        return tuple(int(st.kinked.sum()) for st in self._stages)

    def astype(self, dtype: Any) -> "PLNet":
        """The same network with weights in another dtype (float32 or float64)."""
        if np.dtype(dtype) == self._dtype:
            return self
        return PLNet(self._stages, dtype=dtype)

    def __repr__(self) -> str:
        acts = []
        for st in self._stages:
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
            self._core_net = cls(
                [st.weight for st in self._stages],
                [st.bias for st in self._stages],
                [st.negative_slope for st in self._stages],
            )
        return self._core_net

    def _prepare_inputs(self, X: Any, what: str) -> np.ndarray:
        return as_float_matrix(X, self.input_dim, self._dtype, what, allow_empty=True)

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


def from_torch(model: Any, input_shape: Iterable[int] | None = None, *, dtype: Any = None) -> PLNet:
    """Convert a ``torch.nn.Module`` into a :class:`PLNet` (see :mod:`regionlab._torch_import`)."""
    from ._torch_import import from_torch as _from_torch

    return _from_torch(model, input_shape=input_shape, dtype=dtype)


def n_words(n_bits: int) -> int:
    """64-bit words needed for ``n_bits`` pattern bits."""
    return max(1, math.ceil(n_bits / 64))
