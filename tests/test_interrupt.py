"""Ctrl-C stops long work in the core promptly with KeyboardInterrupt."""

import signal
import subprocess
import sys
import time

import pytest

SETUP = """
import numpy as np, regionlab as rl, sys
rng = np.random.default_rng(0)
"""
# Each job takes far longer than the test waits (hours of counting; a plane with many
# millions of regions).
JOBS = {
    "count_patterns": """
ws = [rng.standard_normal((256, 256)).astype(np.float32) for _ in range(6)]
net = rl.PLNet.from_arrays(ws, None, ["relu"] * 6)
X = rng.standard_normal((2000, 256), dtype=np.float32)
job = lambda: rl.count_patterns(net, (X for _ in range(100000)))
""",
    "plane": """
ws = [rng.standard_normal((2, 512))] + [rng.standard_normal((512, 512)) for _ in range(7)]
net = rl.PLNet.from_arrays([w.T for w in ws], [rng.standard_normal(512) * 10 for _ in ws], "relu")
job = lambda: rl.plane(net, np.zeros(2), [1, 0], [0, 1], extent=(-100, 100, -100, 100))
""",
    # One layer whose 2500 lines cut the square into ~3 million regions: all the work is in
    # subdividing a single region.
    "plane_one_wide_layer": """
net = rl.PLNet.from_arrays([rng.standard_normal((2500, 2)), np.ones((1, 2500))],
                           [rng.uniform(-0.5, 0.5, 2500), np.zeros(1)])
job = lambda: rl.plane(net, np.zeros(2), [1, 0], [0, 1], extent=(-3, 3, -3, 3))
""",
    # Boxes of 4 inputs through three layers of 64: tens of millions of regions.
    "regions": """
ws = [rng.standard_normal((64, 4))] + [rng.standard_normal((64, 64)) for _ in range(2)]
net = rl.PLNet.from_arrays(ws + [np.ones((1, 64))], [rng.standard_normal(64) for _ in ws] + [np.zeros(1)])
job = lambda: rl.regions(net, [-3] * 4, [3] * 4, max_regions=10**9)
""",
    # One wide layer in 5 dimensions: the work is in cutting the single box.
    "regions_one_wide_layer": """
net = rl.PLNet.from_arrays([rng.standard_normal((400, 5)), np.ones((1, 400))],
                           [rng.uniform(-0.5, 0.5, 400), np.zeros(1)])
job = lambda: rl.regions(net, [-3] * 5, [3] * 5, max_regions=10**10, volumes=False)
""",
}
RUN = """
print("ready", flush=True)
try:
    job()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
@pytest.mark.parametrize("job", sorted(JOBS))
def test_ctrl_c_interrupts_long_work(job):
    script = SETUP + JOBS[job] + RUN
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{job} ignored Ctrl-C")
    assert proc.returncode == 3 and "interrupted" in out
