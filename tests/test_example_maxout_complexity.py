"""examples/maxout_complexity.py (Tseran & Montufar 2021), quick mode asserts the claim."""

from __future__ import annotations

import math

import pytest

import regionlab as rl
from example_runner import run_quick


def test_maxout_complexity_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_quick("maxout_complexity", tmp_path)
    rows, slopes = [], []
    for line in out.splitlines():
        p = line.split()
        if len(p) == 14 and p[0] in ("1", "2") and p[1] in ("2", "3", "5"):
            rows.append({"d": int(p[0]), "K": int(p[1]), "L": int(p[2]), "N": int(p[3]),
                         "mean": float(p[6]), "se": float(p[7]),
                         "exact": math.nan if p[8] == "-" else float(p[8]),
                         "order": float(p[9]), "bound": float(p[11]), "max": float(p[12])})
        elif len(p) == 6 and p[0] in ("1", "2") and p[1] in ("2", "3", "5"):
            slopes.append((int(p[0]), [float(x) for x in p[2:5]], float(p[5])))
    assert len(rows) == 3 * 3 * (3 + 2) and len(slopes) == 6, out
    for r in rows:
        # consistency of the counts (not a test of the paper: Tseran & Montufar's bound is >= 140x the means,
        # so mean < bound is not asserted); the maximum is deterministic and nearly reached by one layer
        assert r["mean"] <= r["max"]
        if r["L"] == 3 and r["N"] >= 24:
            assert r["mean"] < r["max"] / 10  # far below the maximum for deep nets
        if not math.isnan(r["exact"]):  # one layer, n0 = 1: the exact expectation
            assert abs(r["mean"] - r["exact"]) < 4 * r["se"] + 0.05 * r["exact"]
    # the constant in front of N^n0 / n0! grows with K; for one layer and n0 = 2 the rank-K / rank-2
    # count ratio tends to P_K^2 (P_K = expected kinks of a unit per rank-2 kink), from below by O(1/N)
    # (quick run at N = 48: 1.004 for K = 3, 0.986 for K = 5; sampling error of the ratio ~3%)
    one = {r["K"]: r for r in rows if r["d"] == 2 and r["L"] == 1 and r["N"] == 48}
    for K in (3, 5):
        pk = rl.bounds.maxout_expected_kinks_on_segment(1, [-1.0], [1.0], rank=K, weight_std=1.0, bias_std=1.0) / \
            rl.bounds.maxout_expected_kinks_on_segment(1, [-1.0], [1.0], rank=2, weight_std=1.0, bias_std=1.0)
        assert 0.85 < one[K]["mean"] / one[2]["mean"] / pk ** 2 < 1.1
    for d, K, L in {(r["d"], r["K"], r["L"]) for r in rows}:
        means = [r["mean"] for r in sorted(rows, key=lambda r: r["N"]) if (r["d"], r["K"], r["L"]) == (d, K, L)]
        assert means == sorted(means)  # grows with the number of units
    for d, s, ratio in slopes:
        assert all(abs(x - d) < 0.35 for x in s)  # polynomial of degree n0 in N
        assert 0.3 < ratio < 1.25  # no growth with depth at fixed N (same order)
    assert "DISAGREES" not in out
    assert (tmp_path / "maxout_complexity.png").stat().st_size > 10_000
