"""Counting the distinct activation patterns (activation regions) a network induces on data.

The samples stream through the C++ core batch by batch; memory grows with the number of
distinct patterns, not with the number of samples, so arrays, memory maps, generators and
``torch.utils.data.DataLoader`` s of any length can be counted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import cuda as _cuda
from ._validate import as_float_matrix, is_torch_module, positive_int, to_numpy
from .data import open_stream
from .net import PLNet, from_torch

__all__ = ["PatternCount", "count_patterns"]

# Longest pattern whose fingerprint is the pattern itself (see cpp/include/regionlab/fingerprint.hpp).
EXACT_FINGERPRINT_BITS = 95
# Rows converted and handed to the core at once when X is one big array.
_DEFAULT_BATCH_BYTES = 64 << 20


@dataclass
class PatternCount:
    """What :func:`count_patterns` found.

    Attributes
    ----------
    n_patterns: distinct activation patterns among the samples.
    n_samples: samples seen.
    n_patterns_per_layer: distinct patterns of layers ``1..l`` for each layer ``l`` with
        kinked neurons (the last entry equals ``n_patterns``).
    counts: samples per pattern, patterns in order of first appearance (``return_counts``).
    first_index: index of the first sample showing each pattern (``return_counts`` or
        ``return_inverse``); ``net.patterns(X[first_index])`` recovers the patterns.
    inverse: pattern id of every sample (``return_inverse``).
    patterns: packed patterns, ``(n_patterns, ceil(n_neurons / 8))`` uint8 in the layout of
        ``net.patterns(X, packed=True)``, when they were kept (``exact=True``, or counts /
        inverse asked for a net of at most 128 neurons).
    exact: False when patterns (or layer prefixes) longer than 95 bits were compared by
        95-bit fingerprints; a miscount then has probability below ``n_patterns**2 / 2**96``.
        True when full patterns were kept and compared (``exact=True``, or counts / ids of
        a net of at most 128 neurons); per-layer counts are then exact too.
    device: where the counting ran, ``"cpu"`` or ``"cuda:N"``.
    memory_bytes: bytes of the pattern sets (on the device for ``device="cuda"``).
    """

    n_patterns: int
    n_samples: int
    n_patterns_per_layer: tuple[int, ...]
    n_neurons: int
    exact: bool
    dtype: str
    seconds: float
    memory_bytes: int
    counts: np.ndarray | None = None
    first_index: np.ndarray | None = None
    inverse: np.ndarray | None = None
    patterns: np.ndarray | None = field(default=None, repr=False)
    device: str = "cpu"

    @property
    def samples_per_second(self) -> float:
        return self.n_samples / self.seconds if self.seconds > 0 else float("inf")

    def pattern_bits(self) -> np.ndarray:
        """The kept patterns as a bool array ``(n_patterns, n_neurons)``."""
        if self.patterns is None:
            raise ValueError(
                "patterns were not kept; count with exact=True (or use "
                "net.patterns(X[result.first_index]))"
            )
        return np.unpackbits(self.patterns, axis=1, count=self.n_neurons, bitorder="little").astype(
            bool
        )

    def __repr__(self) -> str:
        return (
            f"PatternCount(n_patterns={self.n_patterns:,}, n_samples={self.n_samples:,}, "
            f"per_layer={self.n_patterns_per_layer}, exact={self.exact}, "
            f"{self.samples_per_second:,.0f} samples/s)"
        )


def _default_max_patterns(bytes_per_pattern: int) -> int:
    """Patterns that fit in half of the physical memory."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    return max(1, int(ram // 2 // bytes_per_pattern))


def _resolve_net(net_or_model: Any, sample_shape: tuple[int, ...] | None, dtype: Any) -> PLNet:
    if isinstance(net_or_model, PLNet):
        net = net_or_model
    elif is_torch_module(net_or_model):
        shape = sample_shape if sample_shape is not None and len(sample_shape) > 1 else None
        net = from_torch(net_or_model, input_shape=shape)
    else:
        raise TypeError(
            f"count_patterns: expected a regionlab.PLNet or a torch.nn.Module, got "
            f"{type(net_or_model).__name__}"
        )
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.type not in (np.float32, np.float64):
            raise TypeError(f"count_patterns: dtype must be float32 or float64, got {dt}")
        net = net.astype(dt)
    return net


def count_patterns(
    net_or_model: Any,
    X: Any,
    *,
    batch_size: int | None = None,
    return_counts: bool = False,
    return_inverse: bool = False,
    progress: bool = False,
    exact: bool = False,
    max_patterns: int | None = None,
    dtype: Any = None,
    input_key: str | None = None,
    device: Any = "cpu",
) -> PatternCount:
    """Count the distinct activation patterns of ``net_or_model`` on the samples ``X``.

    Parameters
    ----------
    net_or_model: a :class:`PLNet`, or a ``torch.nn.Module`` that :func:`from_torch` accepts
        (a convolutional model takes its ``input_shape`` from the first batch).
    X: an array / tensor ``(n, d)`` or ``(n, *input_shape)`` (``(n,)`` for a net with one
        input), or any iterable of such batches (a generator, a ``DataLoader``); see
        :mod:`regionlab.data` for the batch protocol: ``(inputs, targets, ...)`` tuples and
        lists give their first entry, dicts the entry under ``input_key``. Lists and tuples
        of rows are taken as one array.
    batch_size: rows handed to the core at once when ``X`` is one array (default: ~64 MB);
        with ``device="cuda"``, rows per device batch (default: ~1 GB of device buffers).
    return_counts: also return the number of samples of each pattern (``counts``) and the
        first sample showing it (``first_index``), patterns in order of first appearance.
    return_inverse: also return the pattern id of every sample (``inverse``; memory grows
        with the samples).
    progress: show a ``tqdm`` progress bar.
    exact: keep and compare full patterns instead of 95-bit fingerprints for nets with more
        than 95 neurons (costs ``n_neurons / 8`` bytes per distinct pattern).
    max_patterns: stop with ``ValueError`` beyond this many distinct patterns (default:
        what fits in half the physical memory).
    dtype: compute in float32 or float64 (default: the network's dtype).
    input_key: for dict batches, the key holding the inputs (default: the one of
        ``regionlab.data.DEFAULT_INPUT_KEYS`` present).
    device: ``"cpu"`` (default), or ``"cuda"`` / ``"cuda:N"`` to count on a GPU (needs a
        build with ``REGIONLAB_CUDA=ON``; :func:`regionlab.cuda_available` says whether this
        one can). The same results as on the CPU, patterns computed in the same dtype (no
        TF32); a sample within rounding of a neuron's kink may get the other side of it,
        since the GPU sums the products in another order. CUDA tensors are read in place
        (after torch's current stream has finished its work); host data is copied over in
        batches. Without CUDA it raises ``RuntimeError`` saying how to build it.

    Data conversions: torch tensors are read without copy when on the CPU; integer and
    float16 data are converted to the network's dtype; non-contiguous arrays are copied.
    NaN/Inf inputs, an empty data set and mismatched shapes raise ``ValueError``.
    """
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size", "count_patterns")
    if max_patterns is not None:
        max_patterns = positive_int(max_patterns, "max_patterns", "count_patterns")
    cuda_index = _cuda.parse_device(device)
    if cuda_index is not None:
        _cuda.require_cuda(cuda_index)
    # CUDA tensors stay on the device when counting there.
    keep_on_device = (lambda b: cuda_index is not None and _cuda.is_cuda_tensor(b))

    known = net_or_model.input_dim if isinstance(net_or_model, PLNet) else None
    stream = open_stream(X, "count_patterns", input_key=input_key, sample_size=known)
    net = _resolve_net(net_or_model, stream.sample_shape, dtype)
    total = stream.total
    if total == 0:
        raise ValueError("count_patterns: X is empty (0 samples)")
    if cuda_index is not None and net.has_max_groups:
        raise ValueError(
            "count_patterns: the GPU path does not count max groups (maxout, max pooling) yet; "
            "count this net with device='cpu'"
        )
    n_bits = net.n_neurons
    with_table = bool(return_counts or return_inverse or exact)
    store_patterns = bool(exact or (with_table and n_bits <= 128))
    n_levels = max(1, len([k for k in net.neurons_per_stage if k > 0]))
    if cuda_index is None:
        per_pattern = 24 * n_levels + (40 if with_table else 0)
        if store_patterns:
            per_pattern += 12 * max(1, (n_bits + 63) // 64)
        limit = int(max_patterns) if max_patterns is not None else _default_max_patterns(per_pattern)
        from . import _core

        counter_cls = _core.PatternCounter32 if net.dtype == np.float32 else _core.PatternCounter64
        counter = counter_cls(net._core(), with_table, store_patterns, limit)
        row_bytes = net.input_dim * net.dtype.itemsize
        rows = batch_size or max(1024, _DEFAULT_BATCH_BYTES // row_bytes)
    else:
        # Device bytes per distinct pattern: 16-byte slots at load 1/4..1/2 per layer, and
        # the table's count, first sample, id and kept pattern.
        per_pattern = 64 * n_levels + (24 if with_table else 0)
        if store_patterns:
            per_pattern += 8 * max(1, (n_bits + 63) // 64)
        limit = (
            int(max_patterns)
            if max_patterns is not None
            else _cuda.default_max_patterns(per_pattern, cuda_index)
        )
        counter = _cuda.make_counter(
            net, with_table, store_patterns, limit, cuda_index, int(batch_size or 0)
        )
        # Host arrays go over in 2-8 device batches per call (about 1 GB), so that copies
        # overlap the work; device tensors in one batch per call.
        device_rows = int(counter.batch_rows)
        host_rows = device_rows * min(8, max(2, (1 << 30) // (device_rows * net.input_dim * net.dtype.itemsize)))
        rows = device_rows if keep_on_device(X) else host_rows
    batches = (
        b if keep_on_device(b) else to_numpy(b, "count_patterns") for b in stream.raw_batches(rows)
    )

    inverse_parts: list[np.ndarray] = []

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit=" samples", unit_scale=True, desc="count_patterns")
    start = time.perf_counter()
    try:
        for batch in batches:
            if total is None and np.ndim(batch) >= 1 and len(batch) == 0:
                continue  # an empty batch in a stream (e.g. after filtering) adds nothing
            if keep_on_device(batch):
                B = _cuda.device_matrix(batch, net.input_dim, net.dtype, cuda_index, "count_patterns")
                ids = _cuda.add_tensor(counter, B, return_inverse)
            else:
                B = as_float_matrix(batch, net.input_dim, net.dtype, "count_patterns",
                                    sample_shape=net.input_shape)
                ids = counter.add(B, return_inverse)
            if ids is not None:
                inverse_parts.append(ids)
            if bar is not None:
                bar.update(B.shape[0])
                bar.set_postfix(patterns=f"{counter.n_patterns:,}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    if counter.n_samples == 0:
        raise ValueError("count_patterns: X yielded only empty batches (no samples)")

    packed = None
    if store_patterns:
        words = counter.patterns()
        packed = np.ascontiguousarray(words.view(np.uint8)[:, : (n_bits + 7) // 8])
    return PatternCount(
        n_patterns=int(counter.n_patterns),
        n_samples=int(counter.n_samples),
        n_patterns_per_layer=tuple(int(v) for v in counter.n_patterns_per_layer),
        n_neurons=n_bits,
        exact=bool(store_patterns or n_bits <= EXACT_FINGERPRINT_BITS),
        dtype=net.dtype.name,
        seconds=seconds,
        memory_bytes=int(counter.memory_bytes),
        counts=counter.counts() if return_counts else None,
        first_index=counter.first_index() if with_table else None,
        inverse=np.concatenate(inverse_parts) if return_inverse else None,
        patterns=packed,
        device="cpu" if cuda_index is None else f"cuda:{cuda_index}",
    )
