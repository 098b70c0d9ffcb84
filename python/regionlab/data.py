"""The one place that turns any data source into a stream of input batches.

Engines never inspect where data came from; they ask :func:`open_stream` for batches.

Sources
-------
- **One array**: a numpy array or memory map, a torch tensor (any device), anything numpy
  can view as an array (pandas, JAX), or a row-sliceable array such as an ``h5py`` dataset
  or a ``dask`` array (read block by block, never loaded whole). Lists and tuples of rows
  are one array too.
- **An iterable of batches** (a generator, a ``torch.utils.data.DataLoader``, a list
  iterator). Each item is unpacked by this protocol, whatever the rank of the inputs:

  - a tuple or list whose first entry is an array or tensor is ``(inputs, targets, ...)``:
    the inputs are the first entry (this is what ``DataLoader`` yields for a
    ``TensorDataset``), except for a list of rows: arrays all of one shape, each exactly
    one sample of the net (``(d,)`` for a net with ``d`` inputs; a leading axis of 1, as in
    ``(1, d)``, is a batch of one). Where the shapes fit both readings (1-D entries before
    a torch model is converted; a net with one input and entries of shape ``(1,)``), an
    item is read as the stream's first tuple/list was, and the first as rows when it has
    more than three entries: a generator of two or three such rows should yield arrays;
  - a dict holds the inputs under ``input_key`` (by default the one of ``"inputs"``,
    ``"input"``, ``"x"``, ``"X"``, ``"images"``, ``"image"``, ``"pixel_values"``,
    ``"features"`` that it has; several or none of them is an error naming the keys);
  - anything else (an array, a tensor, a list of rows) is the batch of inputs itself.

A net with one input takes 1-D batches ``(n,)`` as ``n`` samples.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ._validate import to_numpy

__all__ = ["open_stream", "read_whole", "Stream", "DEFAULT_INPUT_KEYS", "unpack_batch"]

DEFAULT_INPUT_KEYS = ("inputs", "input", "x", "X", "images", "image", "pixel_values", "features")


def is_tensor(X: Any) -> bool:
    return type(X).__module__.startswith("torch") and hasattr(X, "detach")


def is_array(X: Any) -> bool:
    """numpy arrays, torch tensors and anything numpy can view as one."""
    if isinstance(X, np.ndarray) or is_tensor(X):
        return True
    return hasattr(X, "__array__") or hasattr(X, "__array_interface__")


def is_row_sliceable(X: Any) -> bool:
    """Arrays read in row blocks rather than whole (h5py datasets, dask arrays)."""
    if isinstance(X, np.ndarray) or is_tensor(X):
        return False
    shape = getattr(X, "shape", None)
    return (
        isinstance(shape, tuple)
        and len(shape) >= 1
        and hasattr(X, "__getitem__")
        and hasattr(X, "dtype")
    )


def unpack_batch(batch: Any, what: str, input_key: str | None = None,
                 sample_size: int | None = None, rows_before: bool | None = None) -> Any:
    """The inputs of one item of a stream (see the module docstring for the protocol).

    ``sample_size``: the net's number of inputs, when known (it tells rows from batches);
    ``rows_before``: how the stream's first tuple/list was read, for items that could be
    either."""
    return _unpack(batch, what, input_key, sample_size, rows_before)[0]


def _unpack(batch: Any, what: str, input_key: str | None, sample_size: int | None,
            rows_before: bool | None) -> tuple[Any, bool | None]:
    """(the inputs, whether a tuple/list was read as rows; None for other items)."""
    if isinstance(batch, dict):
        if input_key is not None:
            if input_key not in batch:
                raise KeyError(
                    f"{what}: a batch has no key {input_key!r} (its keys: {sorted(map(str, batch))})"
                )
            return batch[input_key], None
        found = [k for k in DEFAULT_INPUT_KEYS if k in batch]
        if len(found) != 1:
            problem = "several input-like keys" if found else "no input key"
            raise ValueError(
                f"{what}: dict batches with {problem} (keys: {sorted(map(str, batch))}); "
                f"pass input_key= naming the one that holds the inputs"
            )
        return batch[found[0]], None
    if isinstance(batch, (tuple, list)) and batch and is_array(batch[0]):
        rows = _rows_reading(batch, sample_size)
        if rows is None:  # either reading fits: the stream's first, else many entries are rows
            rows = rows_before if rows_before is not None else len(batch) > 3
        return (batch if rows else batch[0]), rows
    return batch, None


def _rows_reading(items: Any, sample_size: int | None) -> bool | None:
    """Whether a tuple/list of arrays is a batch of rows (True) or (inputs, targets, ...)
    (False); None where its shapes fit both (a one-input net's (1,) entries, or 1-D
    entries before the net is known)."""
    shapes = {tuple(b.shape) if is_tensor(b) else tuple(np.shape(b)) for b in items}
    if len(items) < 2 or len(shapes) != 1:
        return False
    (shape,) = shapes
    if sample_size is None:
        return None if len(shape) == 1 else False
    one_sample = int(np.prod(shape)) == sample_size and (len(shape) == 1 or shape[0] != 1)
    a_batch = (len(shape) >= 2 and int(np.prod(shape[1:])) == sample_size) or \
        (len(shape) == 1 and sample_size == 1)
    return None if one_sample and a_batch else one_sample


@dataclass
class Stream:
    """Batches of one data source. ``total`` is the sample count when known up front;
    ``sample_shape`` is the shape of one input as the source gives it (from the first batch)."""

    sample_shape: tuple[int, ...] | None
    total: int | None
    _batches: Callable[[int], Iterator[Any]]

    def raw_batches(self, rows: int) -> Iterator[Any]:
        """Batches as the source has them (tensors stay tensors, on their device)."""
        return self._batches(rows)

    def batches(self, rows: int, what: str) -> Iterator[np.ndarray]:
        """Batches as numpy arrays (not yet checked against a network's input size)."""
        for b in self._batches(rows):
            yield to_numpy(b, what)


def open_stream(X: Any, what: str, *, input_key: str | None = None,
                sample_size: int | None = None) -> Stream:
    """A :class:`Stream` over ``X`` (one array or an iterable of batches), or a clear error.

    For one array, ``rows`` in :meth:`Stream.batches` sets the batch size; an iterable's
    batches are passed on as they come. ``sample_size``: the net's number of inputs, when
    known (it tells a list of rows from ``(inputs, targets, ...)``).
    """
    if isinstance(X, (set, frozenset, dict, str, bytes)):
        raise TypeError(
            f"{what}: X is a {type(X).__name__}; pass an array (n, d), a tensor, or an "
            "iterable of batches such as a generator or a DataLoader"
        )
    if is_row_sliceable(X) and not is_array_like_list(X):
        total = int(X.shape[0])
        return Stream(tuple(X.shape[1:]), total, lambda rows: _slices(X, total, rows))
    if is_array_like_list(X) or is_array(X):
        if is_tensor(X) and X.ndim >= 1:
            total = int(X.shape[0])
            return Stream(tuple(X.shape[1:]), total, lambda rows: _slices(X, total, rows))
        arr = to_numpy(X, what)
        total = int(arr.shape[0]) if arr.ndim >= 1 else None
        if arr.ndim < 1:
            return Stream(tuple(arr.shape), None, lambda rows: iter([arr]))
        return Stream(tuple(arr.shape[1:]), total, lambda rows: _slices(arr, total, rows))
    if isinstance(X, Iterable):
        source = iter(X)
        try:
            raw = next(source)
        except StopIteration:
            raise ValueError(f"{what}: X yielded no batches (empty data set)") from None
        first, rows_first = _unpack(raw, what, input_key, sample_size, None)
        if rows_first is not None and _rows_reading(raw, sample_size) is None:
            reading = f"{len(raw)} rows" if rows_first else "(inputs, targets, ...)"
            warnings.warn(f"{what}: the stream's batches are lists of {len(raw)} arrays of shape "
                          f"{tuple(np.shape(raw[0]))}, which could be rows or (inputs, targets, ...); "
                          f"read as {reading}. Yield one array (n, d) per batch to say which.",
                          UserWarning, stacklevel=3)
        shape = tuple(np.shape(first)[1:]) if not is_tensor(first) else tuple(first.shape[1:])

        def chain(rows: int) -> Iterator[Any]:
            yield first
            for b in source:  # an item that fits both readings is read as the first one was
                yield _unpack(b, what, input_key, sample_size, rows_first)[0]

        return Stream(shape, None, chain)
    raise TypeError(
        f"{what}: X must be an array, a tensor or an iterable of batches, got {type(X).__name__}"
    )


def read_whole(X: Any, what: str) -> Any:
    """``X`` itself when it is one array or tensor (or not data at all: the caller's checks
    name the problem); an iterable of batches (generator, DataLoader) read whole, in order,
    into one numpy array whose samples keep their shape. For per-sample results, which need
    every sample in memory anyway."""
    if is_array(X) or is_tensor(X) or is_array_like_list(X) or not isinstance(X, Iterable) \
            or isinstance(X, (str, bytes, dict, set, frozenset)):
        return X
    batches = list(open_stream(X, what).batches(4096, what))
    if any(b.ndim == 0 for b in batches):
        raise ValueError(f"{what}: X yielded a scalar where a batch of samples belongs; each "
                         "batch must be an array (n, ...) of n samples")
    shapes = sorted({tuple(b.shape[1:]) for b in batches})
    if len(shapes) > 1:
        raise ValueError(f"{what}: X's batches hold samples of different shapes {shapes}; "
                         "every batch must have the same sample shape")
    return np.concatenate(batches)


def is_array_like_list(X: Any) -> bool:
    return isinstance(X, (list, tuple))


def _slices(X: Any, total: int, rows: int) -> Iterator[Any]:
    for start in range(0, total, rows):
        yield X[start : start + rows]
