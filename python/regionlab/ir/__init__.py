"""The intermediate representation's front ends: lowering traced torch graphs to PLNet stages."""

from .fx_lowering import LoweringError, lower_module

__all__ = ["LoweringError", "lower_module"]
