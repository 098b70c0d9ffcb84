"""Runs handed to a ``dask.distributed`` Client or a ``concurrent.futures`` Executor."""

from __future__ import annotations

from typing import Any, Callable


def run_all(client: Any, fn: Callable, calls: list) -> list:
    """``[fn(*args) for args in calls]``, each a task of ``client``, gathered in order.

    Dask takes a task with the same arguments for the same result (``pure=True``) and runs
    it once; runs here may differ only by their random draws (``seed=None``), so every one
    is submitted as impure."""
    if not callable(getattr(client, "submit", None)):
        raise TypeError(f"client must be a dask.distributed Client or a concurrent.futures "
                        f"Executor (something with .submit), got {type(client).__name__}")
    dask = type(client).__module__.split(".")[0] == "distributed"
    futures = [client.submit(fn, *args, pure=False) if dask else client.submit(fn, *args)
               for args in calls]
    return [f.result() for f in futures]
