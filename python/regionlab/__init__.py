"""regionlab: exact linear regions and training dynamics of piecewise-linear networks."""

from .net import PLNet, Stage, from_torch

__all__ = ["PLNet", "Stage", "from_torch"]
__version__ = "0.1.0"
