"""Chen, Vanden-Eijnden & Bruna (2022): the quick run of examples/mean_field_vs_ntk.py
shows the training loss falling at a rate that keeps up with the kernel's smallest
eigenvalue and fits a linear rate better than a power law in both scalings, feature
movement only in mean field, and a lower test error in mean field."""

import pytest
from example_runner import run_quick


def test_mean_field_vs_ntk_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = run_quick("mean_field_vs_ntk", tmp_path)
    runs = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 14 and f[0] in ("mean_field", "ntk"):
            runs[f[0]] = dict(zip(["orders", "rate", "rate_q3", "rate_q4", "lam0", "lamT", "lin_pow", "move", "dK",
                                   "test"], map(float, f[4:])))
    mf, ntk = runs["mean_field"], runs["ntk"]
    for r in (mf, ntk):
        assert r["orders"] > 3  # the training loss falls by more than three decades ...
        assert r["lamT"] > 0  # the tangent kernel stays positive definite
        # ... with a late slope that keeps up with 2 lr lambda_min(K(T)/n) (a power law's slope p/t keeps falling)
        assert r["rate_q4"] >= 0.5 * r["lamT"]
        # ... and log L over the second half fits a linear rate better than a power law
        assert r["lin_pow"] < 1.0
    # the verdict follows the numbers: "yes" only if the linear fit is clearly better (RMS ratio < 0.3) in both
    clearly = all(r["lin_pow"] < 0.3 for r in (mf, ntk))
    rate_line = next(line for line in out.splitlines() if line.startswith("training loss -> 0 at a linear rate"))
    assert rate_line.endswith(" yes" if clearly else " partly")
    if not clearly:
        assert "linear rate only PARTLY shown" in out
    assert mf["move"] > 1.0 and mf["move"] > 8 * ntk["move"]  # features move in mean field only
    assert mf["dK"] > 2 * ntk["dK"]
    assert mf["test"] < 0.9 * ntk["test"]  # mean field generalises better
    sweep = {int(f[0]): (float(f[1]), float(f[2])) for f in map(str.split, out.splitlines())
             if len(f) == 4 and f[0].isdigit()}
    (mf_lo, ntk_lo), (mf_hi, ntk_hi) = sweep[64], sweep[256]
    assert ntk_hi < 0.6 * ntk_lo  # NTK movement shrinks like m^-1/2 (0.5 for 4x the width)
    assert abs(mf_hi / mf_lo - 1) < 0.2  # mean-field movement does not
    assert out.count(" yes") >= 4 and " NO" not in out
    assert "c = +-1/m (mean field) vs +-1/sqrt(m) (NTK)" in out
    assert (tmp_path / "mean_field_vs_ntk.png").stat().st_size > 10_000
