"""The example scripts run end to end (on small settings) and write their pictures."""

import subprocess
import sys
from pathlib import Path

import pytest
from example_runner import run_quick

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_patterns_during_training(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / "patterns_during_training.py"), "--epochs", "2", "--grid", "150",
         "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "epoch   2" in out
    assert (tmp_path / "patterns_during_training.png").stat().st_size > 5_000


def test_plane_through_three_inputs(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / "plane_through_three_inputs.py"), "--epochs", "1", "--n", "600",
         "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "epoch   1" in out
    assert (tmp_path / "plane_through_three_inputs.png").stat().st_size > 20_000


def test_spurious_minima_census_quick(tmp_path):
    """Safran & Shamir's percentages: the published value lies in our (100-run) 95% interval,
    and ours does not differ from it beyond the two samples' noise."""
    pytest.importorskip("matplotlib")
    out = run_quick("spurious_minima_census", tmp_path)
    assert "published value inside our 95% interval for 3 of 3" in out
    assert "|z| < 1.96 for 3 of 3" in out
    assert (tmp_path / "spurious_minima_census.png").stat().st_size > 10_000


def test_symmetric_minima_quick(tmp_path):
    """Arjevani & Field: the spurious minima found are (k - 1, 1)-symmetric local minima."""
    pytest.importorskip("matplotlib")
    out = run_quick("symmetric_minima", tmp_path)
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0] in ("7", "8")]
    assert [r[0] for r in rows] == ["7", "8"]
    for r in rows:
        loss, eig_min, deviation = float(r[3]), float(r[4]), float(r[6])
        assert loss > 1e-3 and eig_min > 0  # a spurious local minimum, not a saddle
        assert deviation < 1e-6  # symmetric to the convergence tolerance
    assert (tmp_path / "symmetric_minima.png").stat().st_size > 10_000
