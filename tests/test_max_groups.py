"""Max groups (maxout units, max-pool windows): evaluation, counting and exact regions
against plain numpy loops, dense sampling, regioncam and torch."""

from __future__ import annotations

import os

import numpy as np
import pytest

import regionlab as rl
from oracles import distinct_rows, grid, numpy_forward


def max_net(rng, dtype=np.float64):
    """2 -> maxout(3) x4 -> overlapping groups (pool-like, sizes 1..4) -> 1."""
    W1, b1 = rng.standard_normal((12, 2)), rng.standard_normal(12)
    W2, b2 = rng.standard_normal((6, 4)), rng.standard_normal(6) * 0.5
    groups = [[0, 1], [1, 2, 3], [2, 3, 4, 5], [5], [0, 5]]
    stages = [
        rl.Stage.max_groups(W1, b1, [range(i, i + 3) for i in range(0, 12, 3)]),
        rl.Stage.max_groups(W2, b2, groups),
        rl.Stage(rng.standard_normal((1, 5)), np.zeros(1), np.ones(1)),
    ]
    return rl.PLNet(stages, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_patterns_match_numpy(rng, dtype):
    net = max_net(rng, dtype)
    assert net.n_neurons == 4 * 2 + (1 + 2 + 2 + 0 + 1)
    assert net.widths == (2, 4, 5, 1)
    X = rng.standard_normal((3000, 2)) * 2
    out, bits = numpy_forward(net, X.astype(dtype))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(net.forward(X), out, rtol=tol, atol=tol)
    if dtype == np.float64:
        np.testing.assert_array_equal(net.patterns(X), bits)


def test_ties_go_to_the_first_candidate(rng):
    W = rng.standard_normal((3, 2))
    W = np.stack([W[0], W[0], W[1]])  # candidates 0 and 1 always tie
    net = rl.PLNet([rl.Stage.max_groups(W, np.zeros(3), [[1, 0, 2]])])
    X = rng.standard_normal((500, 2))
    win = net.patterns(X).astype(int) @ [1, 2]
    h = X @ W.T
    expected = np.where(h[:, 2] > h[:, 0], 2, 0)  # candidate position 0 (unit 1) wins ties
    np.testing.assert_array_equal(win, expected)


def test_counts_equal_numpy_unique(rng):
    net = max_net(rng)
    X = np.round(rng.uniform(-3, 3, (40000, 2)) * 10) / 10  # repeated samples
    _, bits = numpy_forward(net, X)
    n, ids, first = distinct_rows(bits)
    pc = rl.count_patterns(net, X, return_counts=True, return_inverse=True, batch_size=999)
    assert pc.n_patterns == n
    np.testing.assert_array_equal(pc.inverse, ids)
    ends = np.cumsum(net.neurons_per_stage)
    per_stage = net.neurons_per_stage
    assert pc.n_patterns_per_layer == tuple(distinct_rows(bits[:, :e])[0] for e, k in zip(ends, per_stage) if k)


def test_plane_regions_against_dense_sampling(rng):
    net = max_net(rng)
    ext = (-3, 3, -3, 3)
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=ext)
    assert abs(p.areas.sum() - 36) < 1e-9
    pts = grid(ext, 700)
    sampled = {r.tobytes() for r in net.patterns(pts, packed=True)}
    regions = [r.tobytes() for r in p.patterns]
    assert sampled <= set(regions)
    assert len(set(regions)) == p.n_regions
    st = p.centroids()
    np.testing.assert_array_equal(net.patterns(p.to_input(st), packed=True), p.patterns)
    np.testing.assert_allclose(p.output(st, np.arange(p.n_regions)), net.forward(p.to_input(st)),
                               rtol=1e-10, atol=1e-10)


def test_a_comparison_that_decides_no_winner_never_cuts(rng):
    """max(a, b, c, d) with c above the others on the whole slice is one region, however
    a and b cross (a ReLU lowering would cut along a = b)."""
    W = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, -0.2], [-1.0, 0.5]])
    b = np.array([0.0, 0.0, 10.0, 0.0])
    net = rl.PLNet([rl.Stage.max_groups(W, b, [[0, 1, 2, 3]])])
    assert rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2)).n_regions == 1
    assert rl.segment(net, [-2, -2], [2, 2]).n_regions == 1


@pytest.mark.parametrize("seed", range(6))
def test_one_group_has_one_convex_region_per_winner(seed):
    """A single max group's regions are convex, one per candidate that wins somewhere."""
    rng = np.random.default_rng(seed)
    k = 7
    net = rl.PLNet([rl.Stage.max_groups(rng.standard_normal((k, 2)), rng.standard_normal(k), [range(k)])])
    ext = (-4, 4, -4, 4)
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=ext)
    winners = np.unique(net.patterns(grid(ext, 1500), packed=True), axis=0)
    assert p.n_regions == len(winners)


@pytest.mark.parametrize("seed", range(3))
def test_max_pool_counts_equal_regioncam(seed):
    if os.environ.get("CI"):
        import regioncam
    else:
        regioncam = pytest.importorskip("regioncam")
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(seed)
    l1, l2 = nn.Linear(2, 16), nn.Linear(16, 6)
    cam = regioncam.Regioncam(size=1)
    cam.add([regioncam.nn.convert(l1), regioncam.nn.ReLU(), regioncam.nn.convert(l2)])
    cam.max_pool()  # the max over the layer's units

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = l1, l2

        def forward(self, x):
            return self.l2(torch.relu(self.l1(x))).amax(-1, keepdim=True)

    p = rl.plane(Model().eval(), [0, 0], [1, 0], [0, 1], extent=(-1, 1, -1, 1))
    tiny = p.areas < 1e-10  # below regioncam's float32 resolution
    assert p.n_regions - tiny.sum() <= cam.num_faces <= p.n_regions


def test_segment_patterns_hold_inside_each_piece(rng):
    net = max_net(rng)
    s = rl.segment(net, [-3, -2], [3, 2.5])
    mids = 0.5 * (s.breakpoints[:-1] + s.breakpoints[1:])
    pts = np.array([-3, -2]) + mids[:, None] * np.array([6, 4.5])
    np.testing.assert_array_equal(net.patterns(pts, packed=True), s.patterns)
    t = np.linspace(0, 1, 20001)[1:-1]
    sampled = np.unique(net.patterns(np.array([-3, -2]) + t[:, None] * [6, 4.5], packed=True), axis=0)
    assert len(sampled) <= s.n_regions


def test_bad_groups_are_refused(rng):
    W = rng.standard_normal((3, 2))
    with pytest.raises(ValueError, match="at least one candidate"):
        rl.PLNet([rl.Stage(W, np.zeros(3), np.ones(3), np.array([0, 0, 3]), np.array([0, 1, 2]))])
    with pytest.raises(ValueError, match="index the 3 affine outputs"):
        rl.PLNet([rl.Stage.max_groups(W, np.zeros(3), [[0, 3]])])
    with pytest.raises(ValueError, match="multiple of 2"):
        rl.PLNet.from_arrays([W], activations=[("maxout", 2)])


def test_flow_refuses_max_groups_clearly(rng):
    net = max_net(rng)
    with pytest.raises(TypeError, match="max groups"):
        rl.flow.integrate(net, rng.standard_normal((5, 2)), np.ones(5), loss="mse", t_end=1.0)


def test_a_first_stage_max_group_keeps_its_groups_in_any_slice(rng):
    """The slice is folded into the first stage: its max groups must survive that."""
    net = max_net(rng)
    a = rl.plane(net, [0.5, -0.25], [1, 0], [0, 1], extent=(-1, 1, -1, 1))
    b = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-0.5, 1.5, -1.25, 0.75))
    assert a.n_regions == b.n_regions
    np.testing.assert_array_equal(np.sort(a.patterns, axis=0), np.sort(b.patterns, axis=0))


def test_more_groups_than_candidates_and_stages_after_a_max_stage(rng):
    """Regressions: overlapping padded pool windows give more groups than affine outputs
    (the kernel's buffers were sized by the outputs: heap corruption), and a stage after a
    max stage read a buffer the max stage had just written its groups into."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.MaxPool2d(2, stride=1, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(18, 3)).double().eval()
    net = rl.from_torch(model, input_shape=(1, 2, 2))
    assert net.stages[0].out_features > net.stages[0].affine_features
    X = rng.standard_normal((3000, 4))
    with torch.no_grad():
        expected = model(torch.from_numpy(X).reshape(-1, 1, 2, 2)).numpy()
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-12, atol=1e-12)
    out, bits = numpy_forward(net, X)
    np.testing.assert_array_equal(net.patterns(X), bits)
    assert rl.count_patterns(net, X).n_patterns == distinct_rows(bits)[0]
    # a random max net with repeated candidates and a max stage in the middle
    W1 = rng.standard_normal((3, 2))
    st = rl.Stage.max_groups(W1, rng.standard_normal(3), [[0, 1], [1, 2], [0, 2], [2], [0, 1, 2]])
    net2 = rl.PLNet([st, rl.Stage(rng.standard_normal((4, 5)), rng.standard_normal(4), np.zeros(4)),
                     rl.Stage(rng.standard_normal((1, 4)), np.zeros(1), np.ones(1))])
    np.testing.assert_allclose(net2.forward(X[:, :2]), numpy_forward(net2, X[:, :2])[0], rtol=1e-12,
                               atol=1e-12)
