"""Exact linear regions of a network on a line segment, a planar slice, a box or a
k-dimensional slice of input space (k <= 8), and the statistics around samples.

``rl.segment`` and ``rl.plane`` / ``rl.plane_through`` compute, in float64 C++, every
region the network's neurons cut the slice into, with its activation pattern, the affine
map of the output on it and the decision boundary.
"""

from .plane import PlanePartition, plane, plane_through
from .segment import SegmentPartition, segment

__all__ = ["segment", "SegmentPartition", "plane", "plane_through", "PlanePartition", "regions",
           "BoxPartition", "local_complexity", "LocalComplexity", "distance_to_boundary",
           "BoundaryDistance", "boundary_angles", "BoundaryAngles"]
from .angles import BoundaryAngles, boundary_angles
from .regions import BoxPartition, regions
from .local import BoundaryDistance, LocalComplexity, distance_to_boundary, local_complexity
