"""Balestriero & Baraniuk (2022): with BatchNorm the partition of a random net concentrates
on the data (examples/batchnorm_partition.py, quick mode)."""

import pytest
from example_runner import run_quick


def test_batchnorm_partition_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    out = run_quick("batchnorm_partition", tmp_path)
    rows = {}
    for line in out.split("moving away from the data")[0].splitlines():  # the first table
        f = line.split()
        if len(f) >= 8 and f[0] in ("moons", "digits") and f[1] in ("no", "yes"):
            rows[(f[0], f[1] == "yes")] = {
                "lc_ratio": float(f[4].split("+-")[0]),
                "dist_ratio": float(f[7].split("+-")[0]),
            }
    assert set(rows) == {(d, bn) for d in ("moons", "digits") for bn in (False, True)}
    for data in ("moons", "digits"):
        plain, bn = rows[(data, False)], rows[(data, True)]
        # with BN: clearly more regions at the data than at random points ...
        assert bn["lc_ratio"] > 1.5, (data, bn)
        assert bn["lc_ratio"] > 1.4 * plain["lc_ratio"], (data, bn, plain)
        # ... and the boundary clearly closer to the data than to random points
        assert bn["dist_ratio"] < 0.7, (data, bn)
        assert bn["dist_ratio"] < 0.75 * plain["dist_ratio"], (data, bn, plain)
    assert out.count("agrees") == 4 and "DISAGREES" not in out
    assert (tmp_path / "batchnorm_partition.png").stat().st_size > 10_000
