"""Result classes declare their file fields once; saving, loading and validation follow.

A :class:`Field` says what one ``.npz`` entry holds: its dtype, its shape in named sizes
(``("n_regions", 2)``, ``("n_regions + 1",)``), the range of its values and how it becomes
the attribute. :func:`to_arrays` writes an object's fields; :func:`from_arrays` checks
every field of a loaded file against the declaration (presence, dtype, rank, sizes agreeing
across fields, finiteness, value ranges, order) and raises a ``ValueError`` naming the
field, so a malformed or hostile file fails at ``rl.load`` and never later with a raw numpy
error. Checks that tie fields together beyond sizes are the class's own (``check=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

Size = Union[int, str]  # a fixed size, a size name, or "name + k"


@dataclass(frozen=True)
class Field:
    """One entry of a result file.

    ``dtype``: as saved; loading accepts the same kind (integers of any width within the
    range, floats of any width) and converts to it. ``shape``: ints and size names; a size
    name takes its value from the first field that has it, later fields must agree.
    ``low``/``high``: inclusive/exclusive bounds of the values (numbers or size names).
    ``order``: ``"increasing"`` (strictly) or ``"sorted"`` (non-decreasing) along axis 0.
    ``attr``: turns the checked array into the attribute (default: the array itself);
    ``optional``: may be absent (the attribute is then None) and is not saved when None.
    ``allow_inf``: +inf is allowed (NaN and -inf still are not).
    """

    name: str
    dtype: Any
    shape: Tuple[Size, ...]
    low: Optional[Union[float, str]] = None
    high: Optional[Union[float, str]] = None
    order: Optional[str] = None
    attr: Optional[Callable[[np.ndarray], Any]] = None
    optional: bool = False
    allow_inf: bool = False  # +inf is a value (an unbounded region's volume); NaN never is


def as_tuple_of_ints(a: np.ndarray) -> tuple:
    return tuple(int(x) for x in a)


def as_tuple_of_floats(a: np.ndarray) -> tuple:
    return tuple(float(x) for x in a)


def as_int(a: np.ndarray) -> int:
    return int(a)


def to_arrays(obj: Any, fields: Sequence[Field]) -> Dict[str, np.ndarray]:
    """The object's fields as arrays of their declared dtypes (optional ones left out if None)."""
    out = {}
    for f in fields:
        value = getattr(obj, f.name)
        if value is None and f.optional:
            continue
        out[f.name] = np.asarray(value, dtype=f.dtype)
    return out


class _Malformed:
    def __init__(self, kind: str):
        self.kind = kind

    def __call__(self, name: str, why: str) -> ValueError:
        return ValueError(f"malformed {self.kind} file: field {name!r} {why}")


def _size(spec: Size, sizes: Dict[str, int]) -> Optional[int]:
    """The value of a size spec given the sizes bound so far (None if not bound yet)."""
    if isinstance(spec, int):
        return spec
    name, _, plus = spec.partition("+")
    name = name.strip()
    if name not in sizes:
        return None
    return sizes[name] + (int(plus) if plus else 0)


def _bind(spec: Size, n: int, sizes: Dict[str, int]) -> str:
    """Binds the size name in ``spec`` so that ``spec`` equals ``n``; returns the name."""
    name, _, plus = str(spec).partition("+")
    sizes[name.strip()] = n - (int(plus) if plus else 0)
    return name.strip()


def _check_dtype(f: Field, a: np.ndarray, bad) -> None:
    want = np.dtype(f.dtype)
    if want.kind in "iu":
        if a.dtype.kind not in "iu":
            raise bad(f.name, f"has dtype {a.dtype}, expected integers ({want})")
    elif want.kind == "f":
        if a.dtype.kind != "f":
            raise bad(f.name, f"has dtype {a.dtype}, expected floats ({want})")
    elif a.dtype != want:
        raise bad(f.name, f"has dtype {a.dtype}, expected {want}")


def _check_shape(f: Field, a: np.ndarray, sizes: Dict[str, int], bound_by: Dict[str, str],
                 bad) -> None:
    if a.ndim != len(f.shape):
        want = "(" + ", ".join(str(s) for s in f.shape) + ("," if len(f.shape) == 1 else "") + ")"
        raise bad(f.name, f"has shape {a.shape}, expected {want}")
    for axis, spec in enumerate(f.shape):
        n = a.shape[axis]
        expected = _size(spec, sizes)
        if expected is None:
            name = _bind(spec, n, sizes)
            bound_by[name] = f.name
            if sizes[name] < 0:
                raise bad(f.name, f"has shape {a.shape}: too short on axis {axis} ({name} < 0)")
        elif n != expected:
            if isinstance(spec, int):
                raise bad(f.name, f"has {n} entries on axis {axis}, expected {spec}")
            name = str(spec).partition("+")[0].strip()
            raise bad(f.name, f"has {n} entries on axis {axis}, but {spec} = {expected} "
                              f"({name} from {bound_by[name]!r})")


def _bound(value: Union[float, str, None], sizes: Dict[str, int]):
    return _size(value, sizes) if isinstance(value, str) else value


def _check_values(f: Field, a: np.ndarray, sizes: Dict[str, int], bad) -> None:
    if a.dtype.kind == "f":
        ok = (np.isfinite(a) | (a == np.inf)) if f.allow_inf else np.isfinite(a)
        if not ok.all():
            raise bad(f.name, "contains NaN or Inf" if not f.allow_inf else "contains NaN or -Inf")
    if a.size == 0:
        return
    want = np.dtype(f.dtype)
    if want.kind in "iu":
        info = np.iinfo(want)
        if int(a.min()) < info.min or int(a.max()) > info.max:
            raise bad(f.name, f"holds values outside the range of {want}")
    low, high = _bound(f.low, sizes), _bound(f.high, sizes)
    if low is not None and a.min() < low:
        raise bad(f.name, f"holds {a.min()}, below its smallest allowed value {low}")
    if high is not None and a.max() >= high:
        raise bad(f.name, f"holds {a.max()}, but its values must be below {high}")
    if f.order and len(a) > 1:
        step = np.diff(a, axis=0)
        if (step <= 0).any() if f.order == "increasing" else (step < 0).any():
            raise bad(f.name, "is not in increasing order" if f.order == "increasing"
                      else "is not sorted")


def from_arrays(arrays: Dict[str, np.ndarray], fields: Sequence[Field], kind: str,
                check: Optional[Callable[[dict, Callable], None]] = None) -> dict:
    """Checked constructor arguments from a file's arrays; ``ValueError`` naming a bad field.

    ``check(values, bad)`` gets the converted arrays (before ``attr``) and the sizes (as
    ``values["sizes"]``), and raises ``bad(field, why)`` for what ties fields together.
    """
    bad = _Malformed(kind)
    sizes: Dict[str, int] = {}
    bound_by: Dict[str, str] = {}  # size name -> the field it was read from
    values: Dict[str, Any] = {}
    for f in fields:
        if f.name not in arrays:
            if f.optional:
                values[f.name] = None
                continue
            raise bad(f.name, "is missing")
        a = np.asarray(arrays[f.name])
        _check_dtype(f, a, bad)
        _check_shape(f, a, sizes, bound_by, bad)
        _check_values(f, a, sizes, bad)
        values[f.name] = a.astype(f.dtype, copy=False)
    if check is not None:
        check(dict(values, sizes=sizes), bad)
    return {f.name: (values[f.name] if f.attr is None or values[f.name] is None
                     else f.attr(values[f.name])) for f in fields}
