"""The README's main job: `regionlab demo` writes a picture and prints counts."""

import subprocess
import sys

import numpy as np
import pytest


def test_demo_writes_picture_and_counts(tmp_path):
    pytest.importorskip("torch")
    from regionlab.demo import run

    result = run(out_dir=str(tmp_path), side=200)
    assert (tmp_path / "regionlab_demo.png").stat().st_size > 10_000
    grid = result["grid"]
    assert grid.n_samples == 200 * 200
    assert grid.inverse.max() + 1 == grid.n_patterns
    # The grid sees most of the exact regions, and no more than there are.
    assert 0.5 * result["plane"].n_regions < grid.n_patterns <= result["plane"].n_regions
    assert result["mnist_size"].n_patterns == result["mnist_size"].n_samples  # random inputs, 1536 bits


def test_cli_info_runs():
    out = subprocess.run(
        [sys.executable, "-m", "regionlab.cli", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert "cpu kernels" in out
    assert np.any([isa in out for isa in ("avx512", "avx2", "generic")])
