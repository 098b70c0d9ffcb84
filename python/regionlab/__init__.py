"""regionlab: exact linear regions and training dynamics of piecewise-linear networks.

Quick start::

    import regionlab as rl
    net = rl.from_torch(model)            # or rl.PLNet.from_arrays([...])
    rl.count_patterns(net, X).n_patterns
"""

from . import bounds, flow, metrics, teachers
from .count import PatternCount, count_patterns
from .cuda import cuda_available
from .geometry import (
    BoundaryAngles,
    BoxPartition,
    LocalComplexity,
    PlanePartition,
    SegmentPartition,
    boundary_angles,
    distance_to_boundary,
    local_complexity,
    plane,
    plane_through,
    regions,
    segment,
)
from .gradients import input_gradients
from .io import load
from .net import PLNet, Stage, from_torch
from .runtime import num_threads, set_num_threads, cpu_kernels

__all__ = [
    "PLNet",
    "Stage",
    "from_torch",
    "count_patterns",
    "PatternCount",
    "cuda_available",
    "num_threads",
    "set_num_threads",
    "cpu_kernels",
    "load",
    "segment",
    "SegmentPartition",
    "plane",
    "plane_through",
    "PlanePartition",
    "regions",
    "BoxPartition",
    "local_complexity",
    "LocalComplexity",
    "distance_to_boundary",
    "boundary_angles",
    "BoundaryAngles",
    "input_gradients",
    "bounds",
    "flow",
    "metrics",
    "teachers",
]
__version__ = "0.1.0"
