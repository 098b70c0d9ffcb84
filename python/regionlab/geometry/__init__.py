"""Exact linear regions of a network on a line segment or a planar slice of input space.

``rl.segment`` and ``rl.plane`` / ``rl.plane_through`` compute, in float64 C++, every
region the network's neurons cut the slice into, with its activation pattern, the affine
map of the output on it and the decision boundary.
"""

from .plane import PlanePartition, plane, plane_through
from .segment import SegmentPartition, segment

__all__ = ["segment", "SegmentPartition", "plane", "plane_through", "PlanePartition"]
