"""Balestriero & LeCun (2023), POLICE: a net trained with the POLICE correction is one affine
map on the constraint region R and still solves the task outside it
(examples/police_affine_region.py, quick mode)."""

import pytest
from example_runner import run_quick


def test_police_affine_region_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = run_quick("police_affine_region", tmp_path)
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 8 and f[0] in ("unconstrained", "POLICE"):
            rows[f[0]] = dict(regions_R=int(f[2]), patterns_R=int(f[3]), regions_view=int(f[4]),
                              acc_out=float(f[5]), acc_in=float(f[6]))
    free, pol = rows["unconstrained"], rows["POLICE"]
    # exactly one linear region inside R (exact partition), one activation pattern there ...
    assert pol["regions_R"] == 1 and pol["patterns_R"] == 1
    # ... where the same net trained without POLICE has many
    assert free["regions_R"] > 100
    # outside R the POLICE net is not constrained: many regions, and the task is learned
    assert pol["regions_view"] > 1000
    assert pol["acc_out"] >= 0.93
    assert free["acc_out"] - pol["acc_out"] <= 0.05
    assert out.count("agrees") == 2 and "DISAGREES" not in out
    assert (tmp_path / "police_affine_region.png").stat().st_size > 10_000
