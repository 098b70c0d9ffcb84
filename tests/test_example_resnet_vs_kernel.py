"""Allen-Zhu & Li (2019): in the quick run of examples/resnet_vs_kernel.py the ResNet
trained by GD has a lower test error than kernel regression with its own NTK, and the gap
widens with n."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "resnet_vs_kernel.py"


def test_resnet_vs_kernel_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("mean over seeds"))) + 2
    table = {}
    for line in lines[start:]:
        f = line.split()
        if len(f) != 5 or not f[0].isdigit():
            break
        table[int(f[0])] = [float(v) for v in f[1:]]
    assert sorted(table) == [50, 100, 200, 400]
    resnet, ntk, ntk_best, _ = table[400]
    assert resnet < 0.5 * ntk_best  # the ResNet beats even the oracle-ridge NTK, by 2x at least
    assert resnet < ntk
    ratio = {n: v[1] / v[0] for n, v in table.items()}
    assert ratio[400] > 2 * ratio[50]  # the gap widens with n
    assert table[400][0] < table[50][0] / 5  # the ResNet keeps learning
    assert "does NOT show" not in out
    assert (tmp_path / "resnet_vs_kernel.png").stat().st_size > 10_000
