"""Angles between a network's exact decision boundary and a hyperplane, on 2-D slices.

``rl.plane(net, origin, u, v)`` returns the decision boundary on the slice
``x(s, t) = origin + s u + t v`` exactly, as straight segments (``PlanePartition.boundary``).
A reference hyperplane ``{x : w . x = c}`` (e.g. a linear teacher's, Sarussi, Brutzkus &
Globerson, ICML 2021) meets the slice in a straight line whose direction, in input space,
is

    l = -(w . v) u + (w . u) v         (so that w . l = 0 and l lies in the slice).

For a boundary segment from ``(s0, t0)`` to ``(s1, t1)`` the direction in input space is
``e = (s1 - s0) u + (t1 - t0) v`` and its angle to the reference line is

    angle = arccos(|e . l| / (|e| |l|))   in [0, 90] degrees,

measured with input space's own inner product, so the answer does not depend on how the
slice is written (``u``, ``v`` need not be orthogonal or of unit length). The segment's
length is ``|e|`` (input-space units). Where the slice contains the normal ``w`` the angle
to the line equals the angle between the segment and the hyperplane itself,
``arcsin(|w . e| / (|w| |e|))``. The angle does not depend on ``c``: parallel hyperplanes
give the same angles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import check_finite

__all__ = ["BoundaryAngles", "boundary_angles"]


@dataclass(frozen=True)
class BoundaryAngles:
    """Per-segment angles of a slice's decision boundary to a reference line.

    ``angles``: ``(n_segments,)`` in degrees (or radians, as asked), in ``[0, 90]`` degrees;
    ``lengths``: ``(n_segments,)`` input-space lengths of the segments.
    """

    angles: np.ndarray
    lengths: np.ndarray
    degrees: bool

    @property
    def n_segments(self) -> int:
        return int(len(self.angles))

    @property
    def total_length(self) -> float:
        return float(self.lengths.sum())

    @property
    def mean(self) -> float:
        """Length-weighted mean angle; NaN when the slice shows no boundary."""
        if not self.total_length > 0:
            return float("nan")
        return float(np.average(self.angles, weights=self.lengths))

    @property
    def max(self) -> float:
        """Largest angle of any segment; NaN when the slice shows no boundary."""
        return float(self.angles.max()) if len(self.angles) else float("nan")


def boundary_angles(partition: Any, w: Any, *, degrees: bool = True) -> BoundaryAngles:
    """Angle of each decision-boundary segment of ``partition`` (a ``PlanePartition`` from
    ``rl.plane`` / ``rl.plane_through``) to the line in which the hyperplane of normal
    ``w`` (any offset) meets the slice; see the module docstring for the formulas.

    Raises ``TypeError`` for anything but a ``PlanePartition``, ``ValueError`` when ``w`` has the wrong length, is not finite, or is orthogonal
    to the slice (the hyperplane is then parallel to it and meets it in no line).
    Zero-length segments (if any) get angle 0 and length 0, so they do not weigh in.
    """
    if not all(hasattr(partition, name) for name in ("u", "v", "boundary")):  # a PlanePartition's
        raise TypeError(f"boundary_angles: expected a PlanePartition (from rl.plane or rl.plane_through), "
                        f"got {type(partition).__name__}")
    u = np.asarray(partition.u, dtype=np.float64).reshape(-1)
    v = np.asarray(partition.v, dtype=np.float64).reshape(-1)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.shape != u.shape:
        raise ValueError(f"boundary_angles: w has {w.size} entries, the slice's inputs {u.size}")
    check_finite(w, "w")
    wu, wv = float(w @ u), float(w @ v)
    line = -wv * u + wu * v
    if not np.linalg.norm(line) > 1e-12 * np.linalg.norm(w) * np.linalg.norm(u) * np.linalg.norm(v):
        raise ValueError("boundary_angles: w is orthogonal to the slice, so its hyperplane meets "
                         "the slice in no line; choose a slice that w is not orthogonal to")
    seg = np.asarray(partition.boundary, dtype=np.float64).reshape(-1, 2, 2)
    dst = seg[:, 1, :] - seg[:, 0, :]
    e = dst[:, :1] * u + dst[:, 1:] * v                     # (n, d) directions in input space
    lengths = np.linalg.norm(e, axis=1)
    cos = np.abs(e @ line) / (np.where(lengths > 0, lengths, 1.0) * np.linalg.norm(line))
    cos = np.where(lengths > 0, np.clip(cos, 0.0, 1.0), 1.0)
    angles = np.arccos(cos)
    if degrees:
        angles = np.degrees(angles)
    return BoundaryAngles(angles=angles, lengths=lengths, degrees=bool(degrees))
