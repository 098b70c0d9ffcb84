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
    ``TensorDataset``), except that more than three arrays all of one shape are a list of
    rows (the batch itself);
  - a dict holds the inputs under ``input_key`` (by default the one of ``"inputs"``,
    ``"input"``, ``"x"``, ``"X"``, ``"images"``, ``"image"``, ``"pixel_values"``,
    ``"features"`` that it has; several or none of them is an error naming the keys);
  - anything else (an array, a tensor, a list of rows) is the batch of inputs itself.

A net with one input takes 1-D batches ``(n,)`` as ``n`` samples.
"""

from __future__ import annotations

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


def unpack_batch(batch: Any, what: str, input_key: str | None = None) -> Any:
    """The inputs of one item of a stream (see the module docstring for the protocol)."""
    if isinstance(batch, dict):
        if input_key is not None:
            if input_key not in batch:
                raise KeyError(
                    f"{what}: a batch has no key {input_key!r} (its keys: {sorted(map(str, batch))})"
                )
            return batch[input_key]
        found = [k for k in DEFAULT_INPUT_KEYS if k in batch]
        if len(found) != 1:
            problem = "several input-like keys" if found else "no input key"
            raise ValueError(
                f"{what}: dict batches with {problem} (keys: {sorted(map(str, batch))}); "
                f"pass input_key= naming the one that holds the inputs"
            )
        return batch[found[0]]
    if isinstance(batch, (tuple, list)) and batch and is_array(batch[0]):
        if len(batch) > 3 and _same_shapes(batch):
            return batch  # many arrays of one shape: a list of rows, not (inputs, targets, ...)
        return batch[0]
    return batch


def _same_shapes(items: Any) -> bool:
    shapes = {tuple(np.shape(b)) if not is_tensor(b) else tuple(b.shape) for b in items}
    return len(shapes) == 1


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


def open_stream(X: Any, what: str, *, input_key: str | None = None) -> Stream:
    """A :class:`Stream` over ``X`` (one array or an iterable of batches), or a clear error.

    For one array, ``rows`` in :meth:`Stream.batches` sets the batch size; an iterable's
    batches are passed on as they come.
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
            first = unpack_batch(next(source), what, input_key)
        except StopIteration:
            raise ValueError(f"{what}: X yielded no batches (empty data set)") from None
        shape = tuple(np.shape(first)[1:]) if not is_tensor(first) else tuple(first.shape[1:])

        def chain(rows: int) -> Iterator[Any]:
            yield first
            for b in source:
                yield unpack_batch(b, what, input_key)

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
