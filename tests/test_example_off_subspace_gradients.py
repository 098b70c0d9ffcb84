"""examples/off_subspace_gradients.py (Melamed, Yehudai & Vardi 2023), quick mode asserts the claim."""

from __future__ import annotations

import pytest
from example_runner import run_quick


def test_off_subspace_gradients_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = run_quick("off_subspace_gradients", tmp_path)
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 9 and parts[0] in ("1", "0.1"):
            rows[float(parts[0])] = [float(p) for p in parts[1:]]
    assert set(rows) == {1.0, 0.1}, out
    std, small = rows[1.0], rows[0.1]
    # columns: acc, loss, |Pg|, |P_perp g|, ratio, flip/|x|, lin/|x|, dW_perp
    for r in (std, small):
        assert r[0] == 1.0  # the net fits its training data
        assert r[7] < 1e-10  # GD never moves the first layer's orthogonal part
    assert std[4] >= 1.0  # orthogonal part at least as large as the in-subspace part
    assert small[3] < 0.2 * std[3]  # 10x smaller init: orthogonal part shrinks about 10x
    assert small[4] < 0.3 * std[4]
    assert std[5] < 0.5  # a perturbation of less than half |x| off the subspace flips the label
    assert small[5] > 3 * std[5]  # ... and the small init needs a much larger one
    assert abs(std[6] - std[5]) < 0.2 * std[5]  # first-order estimate agrees with the exact flip
    assert out.count("agrees") >= 3 and "DISAGREES" not in out
    assert "(>= in-subspace part: our reading)" in out  # the yardstick is ours, not the paper's
    assert (tmp_path / "off_subspace_gradients.png").stat().st_size > 10_000
