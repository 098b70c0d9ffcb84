"""Ctrl-C stops long work in the core promptly with KeyboardInterrupt."""

import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import numpy as np, regionlab as rl, sys
rng = np.random.default_rng(0)
ws = [rng.standard_normal((256, 256)).astype(np.float32) for _ in range(6)]
net = rl.PLNet.from_arrays(ws, None, ["relu"] * 6)
X = rng.standard_normal((2000, 256), dtype=np.float32)
print("ready", flush=True)
try:
    rl.count_patterns(net, (X for _ in range(100000)))  # hours of work
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
def test_ctrl_c_interrupts_counting():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("count_patterns ignored Ctrl-C")
    assert proc.returncode == 3 and "interrupted" in out
