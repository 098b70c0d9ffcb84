"""Hanin & Rolnick (2019): regions along lines scale with the number of neurons, not depth."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "hanin_rolnick_regions_along_lines.py"


def test_hanin_rolnick_regions_along_lines_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        f = line.replace("|", " ").split()
        if len(f) == 11 and f[0].isdigit():
            rows[int(f[0]), int(f[2])] = {"density": float(f[3]), "dens_n": float(f[4]), "publ_n": float(f[5]),
                                          "dist_n": float(f[7]), "acc": float(f[8]),
                                          "trained_dens_n": float(f[9]), "trained_dist_n": float(f[10])}
    depths, neurons = [1, 2, 4], [48, 96]
    assert sorted(rows) == sorted((L, n) for L in depths for n in neurons)
    for r in rows.values():
        # at init the exact density matches Hanin & Rolnick's first-order value (measured 0.81..1.03)
        assert 0.7 < r["dens_n"] / r["publ_n"] < 1.4
        # and stays of the same size through training (measured 0.94..1.16)
        assert 0.5 < r["trained_dens_n"] / r["dens_n"] < 2.0
    for n in neurons:
        for key in ("dens_n", "trained_dens_n"):
            per_neuron = [rows[L, n][key] for L in depths]
            assert max(per_neuron) / min(per_neuron) < 1.5  # depth does not matter at equal N
    for L in depths:
        for prefix in ("", "trained_"):
            dens = [rows[L, n][prefix + "dens_n"] * n for n in neurons]
            assert dens[1] / dens[0] > 1.5  # twice the neurons: about twice the density (measured 1.9..2.1)
            dist = [rows[L, n][prefix + "dist_n"] / n for n in neurons]
            assert dist[1] / dist[0] < 0.75  # and about half the distance to the boundary (measured ~0.5)
    dist_n = [r["dist_n"] for r in rows.values()]
    assert max(dist_n) / min(dist_n) < 2.0  # distance x N roughly constant at init (measured 1.4)
    assert "ours: agrees" in out
    assert (tmp_path / "hanin_rolnick_regions_along_lines.png").stat().st_size > 10_000
