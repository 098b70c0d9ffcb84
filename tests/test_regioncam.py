"""Region counts equal regioncam's (a separate exact implementation, in float32) where it is
installed (`pip install regioncam`, part of the test extra; in CI a missing regioncam fails)."""

import os

import numpy as np
import pytest

import regionlab as rl

if os.environ.get("CI"):
    import regioncam  # CI installs the test extra: these comparisons must run there
else:
    regioncam = pytest.importorskip("regioncam")
torch = pytest.importorskip("torch")


def _model(seed, width, depth, slope):
    torch.manual_seed(seed)
    layers, d = [], 2
    for _ in range(depth):
        layers += [torch.nn.Linear(d, width), torch.nn.ReLU() if slope is None else torch.nn.LeakyReLU(slope)]
        d = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(d, 1))


@pytest.mark.parametrize(
    "seed, width, depth, slope",
    [(0, 32, 2, None), (1, 64, 3, None), (2, 64, 3, 0.1), (3, 128, 4, None), (4, 48, 4, 0.2)],
)
def test_counts_equal_regioncam(seed, width, depth, slope):
    model = _model(seed, width, depth, slope)
    cam = regioncam.Regioncam(size=1)
    cam.add(model)
    p = rl.plane(model, [0, 0], [1, 0], [0, 1], extent=(-1, 1, -1, 1))
    # regioncam computes in float32; regions below its resolution (areas ~1e-14 and less,
    # verified below to hold their pattern in float64) are the only allowed difference.
    tiny = p.areas < 1e-10
    assert p.n_regions - tiny.sum() <= cam.num_faces <= p.n_regions
    if tiny.any():
        net = rl.from_torch(model, dtype=np.float64)
        c = p.centroids()[tiny]
        assert (net.patterns(p.to_input(c), packed=True) == p.patterns[tiny]).all()
