"""examples/maxout_complexity.py (Tseran & Montufar 2021), quick mode asserts the claim."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "maxout_complexity.py"


def test_maxout_complexity_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
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
        assert r["mean"] < r["bound"]  # below Tseran & Montufar's upper bound, every setting
        assert r["mean"] <= r["max"]
        if r["L"] == 3 and r["N"] >= 24:
            assert r["mean"] < r["max"] / 10  # far below the maximum for deep nets
        if not math.isnan(r["exact"]):  # one layer, n0 = 1: the exact expectation
            assert abs(r["mean"] - r["exact"]) < 4 * r["se"] + 0.05 * r["exact"]
        # the paper's order N^n0 / n0! is the right magnitude (within a factor 4)
        assert r["order"] / 4 < r["mean"] < 4 * r["order"]
    for d, K, L in {(r["d"], r["K"], r["L"]) for r in rows}:
        means = [r["mean"] for r in sorted(rows, key=lambda r: r["N"]) if (r["d"], r["K"], r["L"]) == (d, K, L)]
        assert means == sorted(means)  # grows with the number of units
    for d, s, ratio in slopes:
        assert all(abs(x - d) < 0.35 for x in s)  # polynomial of degree n0 in N
        assert 0.3 < ratio < 1.25  # no growth with depth at fixed N (same order)
    assert "DISAGREES" not in out
    assert (tmp_path / "maxout_complexity.png").stat().st_size > 10_000
