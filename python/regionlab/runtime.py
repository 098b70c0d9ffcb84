"""Process-wide settings of the C++ core: threads and the instruction set in use."""

from __future__ import annotations


def num_threads() -> int:
    """Threads the core uses (default: all hardware threads, or ``REGIONLAB_NUM_THREADS``)."""
    from . import _core

    return int(_core.num_threads())


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads in the core; ``None`` restores the default."""
    from . import _core

    if n is not None and (not isinstance(n, int) or n <= 0):
        raise ValueError(f"set_num_threads: n must be a positive int or None, got {n!r}")
    _core.set_num_threads(0 if n is None else n)


def cpu_kernels() -> str:
    """Instruction set the core's matrix kernels run with: ``avx512``, ``avx2`` or ``generic``.

    Chosen at import from what the CPU supports; ``REGIONLAB_ISA`` overrides it.
    """
    from . import _core

    return str(_core.isa())
