"""Chen, Vanden-Eijnden & Bruna (2022): the quick run of examples/mean_field_vs_ntk.py
shows linear convergence in both scalings, feature movement only in mean field, and a
lower test error in mean field."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "mean_field_vs_ntk.py"


def test_mean_field_vs_ntk_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    runs = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 13 and f[0] in ("mean_field", "ntk"):
            runs[f[0]] = dict(zip(["orders", "rate", "rate_q3", "rate_q4", "lam0", "lamT", "move", "dK", "test"],
                                  map(float, f[4:])))
    mf, ntk = runs["mean_field"], runs["ntk"]
    for r in (mf, ntk):
        assert r["orders"] > 3  # the training loss falls by more than three decades ...
        assert r["rate_q4"] > 0.7 * r["rate_q3"]  # ... at a (nearly) constant rate, not like 1/t
        assert r["lamT"] > 0  # the tangent kernel stays positive definite
    assert mf["move"] > 1.0 and mf["move"] > 8 * ntk["move"]  # features move in mean field only
    assert mf["dK"] > 2 * ntk["dK"]
    assert mf["test"] < 0.9 * ntk["test"]  # mean field generalises better
    sweep = {int(f[0]): (float(f[1]), float(f[2])) for f in map(str.split, out.splitlines())
             if len(f) == 4 and f[0].isdigit()}
    (mf_lo, ntk_lo), (mf_hi, ntk_hi) = sweep[64], sweep[256]
    assert ntk_hi < 0.6 * ntk_lo  # NTK movement shrinks like m^-1/2 (0.5 for 4x the width)
    assert abs(mf_hi / mf_lo - 1) < 0.2  # mean-field movement does not
    assert out.count(" yes") >= 5 and " NO" not in out
    assert (tmp_path / "mean_field_vs_ntk.png").stat().st_size > 10_000
