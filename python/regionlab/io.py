"""Saving results to ``.npz`` and loading them back with ``rl.load``.

Every saved file is a plain numpy ``.npz`` (``np.load(path)`` opens it without regionlab)
holding the result's arrays plus two scalar entries:

- ``__regionlab_kind__``: which result it is (``"PlanePartition"``, ``"Trajectory"``, ...);
- ``__regionlab_format__``: the format version of that kind (an integer).

Files are read with ``allow_pickle=False``, so loading never executes code. Each result
class registers itself with :func:`register` and provides ``_to_arrays()`` (a dict of
numpy arrays) and a classmethod ``_from_arrays(arrays, version)``.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from typing import Callable, Dict

import numpy as np

_KIND_KEY = "__regionlab_kind__"
_FORMAT_KEY = "__regionlab_format__"
_LOADERS: Dict[str, Callable] = {}


def register(kind: str, loader: Callable) -> None:
    """Make ``rl.load`` hand files of ``kind`` to ``loader(arrays, version)``."""
    _LOADERS[kind] = loader


def save_arrays(path, kind: str, version: int, arrays: Dict[str, np.ndarray]) -> str:
    """Write ``arrays`` as an uncompressed ``.npz`` tagged with ``kind`` and ``version``.

    Returns the path written (numpy appends ``.npz`` when it is missing).
    """
    for key, value in arrays.items():
        if key.startswith("__regionlab_"):
            raise ValueError(f"array name {key!r} is reserved")
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {key!r} has dtype object, which .npz cannot hold safely")
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    np.savez(path, **arrays, **{_KIND_KEY: np.array(kind), _FORMAT_KEY: np.array(version)})
    return path


def load(path):
    """Load a result saved by ``.save()`` (a partition, a trajectory, ...).

    Never executes code from the file (``allow_pickle=False``).
    """
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    not_ours = f"{path} is not a regionlab result file (expected an .npz written by .save())"
    try:
        return _load_checked(path, not_ours)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        # truncated or damaged: the zip's own errors, named as the file's problem
        raise ValueError(f"{path} is damaged (truncated or corrupted: {type(e).__name__}: {e}); "
                         "save it again") from e


def _load_checked(path: str, not_ours: str):
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as e:  # text, pickles: anything numpy cannot read without pickle
        raise ValueError(not_ours) from e
    if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
        raise ValueError(not_ours)
    with data:
        if _KIND_KEY not in data.files:
            raise ValueError(f"{path} is not a regionlab result file (no {_KIND_KEY} entry)")
        if _FORMAT_KEY not in data.files:
            raise ValueError(f"{path} is a malformed regionlab file (no {_FORMAT_KEY} entry)")
        kind = str(data[_KIND_KEY])
        version = int(data[_FORMAT_KEY])
        _check_declared_sizes(data, f"{path} is a malformed {kind} file")
        arrays = {k: data[k] for k in data.files if not k.startswith("__regionlab_")}
    if kind not in _LOADERS:
        raise ValueError(f"{path} holds a {kind!r}, which this version of regionlab cannot load")
    try:
        return _LOADERS[kind](arrays, version)
    except KeyError as e:
        raise ValueError(f"{path} is a malformed {kind} file: it lacks the array {e.args[0]!r}") from None
    except ValueError as e:  # the loader's checks name the field; say which file
        raise ValueError(f"{path}: {e}") from e


def _check_declared_sizes(data, malformed: str) -> None:
    """Refuses an entry whose header declares more bytes than the file holds for it (a
    corrupt or hostile header), before numpy tries to allocate them."""
    for info in data.zip.infolist():
        if not info.filename.endswith(".npy"):
            continue
        name = info.filename[:-4]
        with data.zip.open(info) as fp:
            try:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            except ValueError as e:
                raise ValueError(f"{malformed}: entry {name!r} has an unreadable header ({e})") from None
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if declared > info.file_size:
            raise ValueError(f"{malformed}: field {name!r} declares shape {shape} "
                             f"({declared:,} bytes) but the file holds {info.file_size:,} bytes for it")
