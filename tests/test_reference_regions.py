"""The LP reference enumerator (tests/reference_regions.py) against independent facts:
Zaslavsky's count, dense sampling, the patterns of its own interior points, the box's
volume, and the exact 1D/2D engines (rl.segment, rl.plane)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

import regionlab as rl
from oracles import zaslavsky_count
from reference_regions import (
    polytope_volume,
    reference_count_by_sampling,
    reference_patterns,
    reference_regions,
)

torch = pytest.importorskip("torch")
nn = torch.nn


# ------------------------------------------------------------------ nets
class TwoMax(nn.Module):
    """torch.maximum of two Linear outputs, then maxout over pairs, then a readout."""

    def __init__(self, d):
        super().__init__()
        self.a, self.b = nn.Linear(d, 4), nn.Linear(d, 4)
        self.c, self.out = nn.Linear(4, 6), nn.Linear(3, 1)

    def forward(self, x):
        h = torch.maximum(self.a(x), self.b(x))
        h = self.c(h).view(-1, 3, 2).amax(-1)
        return self.out(h)


class Kinks(nn.Module):
    """Hardtanh (two kinks per unit), abs (two), ReLU: kinked units of several roles."""

    def __init__(self, d):
        super().__init__()
        self.a, self.b, self.out = nn.Linear(d, 3), nn.Linear(3 + d, 3), nn.Linear(3, 1)
        self.ht = nn.Hardtanh(-0.4, 0.6)

    def forward(self, x):
        return self.out(torch.relu(self.b(torch.cat([self.ht(self.a(x)), x.abs()], 1))))


def torch_net(name, d, seed=0):
    torch.manual_seed(seed)
    if name == "relu":
        model = nn.Sequential(nn.Linear(d, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1))
    elif name == "leaky":
        model = nn.Sequential(nn.Linear(d, 5), nn.LeakyReLU(0.1), nn.Linear(5, 4), nn.LeakyReLU(0.1),
                              nn.Linear(4, 1))
    elif name == "max":
        model = TwoMax(d)
    elif name == "kinks":
        model = Kinks(d)
    else:
        raise KeyError(name)
    return rl.from_torch(model.double().eval(), dtype=np.float64)


def arrays_max_net(rng, d):
    """maxout(3) x4 -> overlapping groups of sizes 1..4 (Stage.max_groups) -> 1."""
    stages = [
        rl.Stage.max_groups(rng.standard_normal((12, d)), rng.standard_normal(12),
                            [range(i, i + 3) for i in range(0, 12, 3)]),
        rl.Stage.max_groups(rng.standard_normal((6, 4)), rng.standard_normal(6) * 0.5,
                            [[0, 1], [1, 2, 3], [2, 3, 4, 5], [5], [0, 5]]),
        rl.Stage(rng.standard_normal((1, 5)), np.zeros(1), np.ones(1)),
    ]
    return rl.PLNet(stages)


BOX3 = (np.array([-1.5, -1.0, -1.2]), np.array([1.5, 1.3, 1.0]))
_CACHE: dict = {}


def case(name):
    """(net, lower, upper, reference) for the 3-D nets, computed once per session."""
    if name not in _CACHE:
        net = torch_net(name, 3)
        _CACHE[name] = (net, *BOX3, reference_regions(net, *BOX3))
    return _CACHE[name]


NETS3 = ["relu", "leaky", "max"]


def as_set(patterns):
    return {row.tobytes() for row in patterns}


# ------------------------------------------------------------------ Zaslavsky
@pytest.mark.parametrize("d, n", [(2, 7), (3, 6), (4, 6)])
def test_one_layer_count_is_zaslavsky(d, n):
    rng = np.random.default_rng(10 + d)
    W, b = rng.standard_normal((n, d)), rng.standard_normal(n)
    verts = np.array([np.linalg.solve(W[list(S)], -b[list(S)]) for S in combinations(range(n), d)])
    lo, hi = verts.min(0), verts.max(0)
    margin = 0.25 * (hi - lo).max() + 0.5
    lower, upper = lo - margin, hi + margin
    net = rl.PLNet.from_arrays([W, np.ones((1, n))], [b, np.zeros(1)], "relu")
    ref = reference_regions(net, lower, upper)
    assert len(ref["patterns"]) == zaslavsky_count(n, d)
    np.testing.assert_allclose(ref["volumes"].sum(), np.prod(upper - lower), rtol=1e-9)
    np.testing.assert_array_equal(net.patterns(ref["interior_points"], packed=True), ref["patterns"])


def test_count_drops_when_the_box_misses_vertices():
    """Two lines crossing outside the box: 3 regions, not 4."""
    net = rl.PLNet.from_arrays([np.array([[1.0, 0.0], [1.0, 1.0]]), np.ones((1, 2))],
                               [np.array([0.0, -5.0]), np.zeros(1)])
    ref = reference_regions(net, [-1, -1], [1, 1])
    assert len(ref["patterns"]) == 2  # the second line misses the box
    ref = reference_regions(net, [-1, -1], [6, 6])
    assert len(ref["patterns"]) == 4


# ------------------------------------------------------------------ sampling, interiors, volumes
@pytest.mark.parametrize("name", NETS3)
def test_sampled_patterns_are_regions(name):
    net, lower, upper, ref = case(name)
    n = 40_000
    sampled = reference_count_by_sampling(net, lower, upper, n, seed=1)
    regions = as_set(ref["patterns"])
    assert sampled <= regions
    # and the converse for big regions: one holding a fraction f of the box is missed by
    # n uniform samples with probability (1 - f)^n < exp(-20) when f > 20 / n.
    frac = ref["volumes"] / np.prod(upper - lower)
    big = as_set(ref["patterns"][frac > 20 / n])
    assert big <= sampled
    # the sampling oracle reads patterns like net.patterns does
    X = lower + np.random.default_rng(2).random((2000, 3)) * (upper - lower)
    np.testing.assert_array_equal(reference_patterns(net, X), net.patterns(X, packed=True))


@pytest.mark.parametrize("name", NETS3)
def test_interior_points_have_their_patterns(name):
    net, lower, upper, ref = case(name)
    pts, r = ref["interior_points"], ref["radii"]
    assert len(pts) > 10
    assert (r > 0).all()
    assert ((pts - r[:, None] >= lower - 1e-12) & (pts + r[:, None] <= upper + 1e-12)).all()
    np.testing.assert_array_equal(net.patterns(pts, packed=True), ref["patterns"])
    # the ball is inside the region: a few points on its surface have the same pattern
    rng = np.random.default_rng(3)
    u = rng.standard_normal((len(pts), 4, 3))
    u /= np.linalg.norm(u, axis=2, keepdims=True)
    on_sphere = (pts[:, None, :] + 0.999 * r[:, None, None] * u).reshape(-1, 3)
    np.testing.assert_array_equal(net.patterns(on_sphere, packed=True),
                                  np.repeat(ref["patterns"], 4, axis=0))
    # each region's affine output map agrees with the network inside it
    out = np.einsum("noi,ni->no", ref["map_weight"], pts) + ref["map_bias"]
    np.testing.assert_allclose(out, net.forward(pts), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NETS3)
def test_volumes_sum_to_the_box(name):
    net, lower, upper, ref = case(name)
    assert (ref["volumes"] > 0).all()
    np.testing.assert_allclose(ref["volumes"].sum(), np.prod(upper - lower), rtol=1e-9)
    # patterns are sorted and distinct
    rows = [p.tobytes() for p in ref["patterns"]]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)
    # every vertex satisfies its region's inequalities
    for A, b, V in zip(ref["A"], ref["b"], ref["vertices"]):
        assert (V @ A.T <= b + 1e-9).all()


@pytest.mark.parametrize("name", ["relu", "max"])
def test_cone_volumes_match_hull_volumes(name):
    """The two volume methods (Qhull's hull of the vertices; the cone recursion over the
    face lattice, the default in d >= 4) agree region by region."""
    net, lower, upper, ref = case(name)
    for A, b, x, v in zip(ref["A"], ref["b"], ref["interior_points"], ref["volumes"]):
        cones, _ = polytope_volume(A, b, x, method="cones")
        np.testing.assert_allclose(cones, v, rtol=1e-10)


# ------------------------------------------------------------------ against the exact engines
def plane_nets():
    rng = np.random.default_rng(7)
    return {
        "relu": torch_net("relu", 2, seed=1),
        "leaky": torch_net("leaky", 2, seed=1),
        "max": torch_net("max", 2, seed=1),
        "kinks": torch_net("kinks", 2, seed=1),
        "max_arrays": arrays_max_net(rng, 2),
    }


@pytest.mark.parametrize("name", ["relu", "leaky", "max", "kinks", "max_arrays"])
def test_matches_plane_in_2d(name):
    net = plane_nets()[name]
    lower, upper = np.array([-2.0, -1.5]), np.array([1.5, 2.0])
    ref = reference_regions(net, lower, upper)
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(lower[0], upper[0], lower[1], upper[1]))
    assert len(ref["patterns"]) == p.n_regions
    assert as_set(ref["patterns"]) == as_set(p.patterns)
    # the same regions have the same areas
    area = dict(zip((r.tobytes() for r in p.patterns), p.areas))
    np.testing.assert_allclose([area[r.tobytes()] for r in ref["patterns"]], ref["volumes"],
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ref["volumes"].sum(), np.prod(upper - lower), rtol=1e-9)


def test_matches_segment_in_1d():
    rng = np.random.default_rng(4)
    net = rl.PLNet.from_arrays([rng.standard_normal((8, 1)), rng.standard_normal((5, 8)),
                                rng.standard_normal((1, 5))],
                               [rng.standard_normal(8), rng.standard_normal(5), np.zeros(1)])
    ref = reference_regions(net, [-3.0], [2.5])
    s = rl.segment(net, [-3.0], [2.5])
    assert as_set(ref["patterns"]) == as_set(s.patterns)
    assert len(ref["patterns"]) == s.n_regions
    np.testing.assert_allclose(ref["volumes"].sum(), 5.5, rtol=1e-12)


# ------------------------------------------------------------------ degenerate and higher-d
def test_ties_constant_neurons_and_identity_units():
    """Identical max candidates (ties go to the first), a neuron with zero weights (always
    h = 0: bit 0), one with zero weights and positive bias (bit 1), identity units (no bit)."""
    rng = np.random.default_rng(5)
    W1 = rng.standard_normal((5, 2))
    W1[1] = 0.0
    W1[2] = 0.0
    b1 = rng.standard_normal(5)
    b1[1], b1[2] = 0.0, 0.7
    slopes = np.array([0.0, 0.0, 0.0, 1.0, 0.2])  # unit 3: identity, no bit
    w = rng.standard_normal(5)
    W2 = np.stack([w, w, rng.standard_normal(5)])
    stages = [
        rl.Stage(W1, b1, slopes),
        rl.Stage.max_groups(W2, np.zeros(3), [[1, 0, 2]]),  # candidates 1 and 0 always tie
        rl.Stage(np.ones((1, 1)), np.zeros(1), np.ones(1)),
    ]
    net = rl.PLNet(stages)
    assert net.n_neurons == 4 + 2
    lower, upper = np.array([-2.0, -2.0]), np.array([2.0, 2.0])
    ref = reference_regions(net, lower, upper)
    np.testing.assert_array_equal(net.patterns(ref["interior_points"], packed=True), ref["patterns"])
    bits = np.unpackbits(ref["patterns"], axis=1, count=6, bitorder="little")
    assert (bits[:, 1] == 0).all() and (bits[:, 2] == 1).all()
    assert set(bits[:, 4] + 2 * bits[:, 5]) <= {0, 2}  # position 1 never wins a tie
    sampled = reference_count_by_sampling(net, lower, upper, 20_000, seed=6)
    assert sampled <= as_set(ref["patterns"])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    assert as_set(p.patterns) == as_set(ref["patterns"])
    np.testing.assert_allclose(ref["volumes"].sum(), 16.0, rtol=1e-9)


@pytest.mark.parametrize("d, n1", [(4, 4), (5, 4), (6, 3)])
def test_higher_dimensions(d, n1):
    rng = np.random.default_rng(20 + d)
    net = rl.PLNet.from_arrays([rng.standard_normal((n1, d)), rng.standard_normal((3, n1)),
                                rng.standard_normal((1, 3))],
                               [rng.standard_normal(n1) * 0.5, rng.standard_normal(3) * 0.5, np.zeros(1)],
                               ["relu", ("leaky_relu", 0.1), "identity"])
    lower, upper = -np.ones(d), np.linspace(0.8, 1.3, d)
    ref = reference_regions(net, lower, upper)
    np.testing.assert_array_equal(net.patterns(ref["interior_points"], packed=True), ref["patterns"])
    np.testing.assert_allclose(ref["volumes"].sum(), np.prod(upper - lower), rtol=1e-9)
    if d == 4:  # Qhull still copes here: the hull volumes agree with the cone recursion
        hull = [polytope_volume(A, b, x, method="hull")[0]
                for A, b, x in zip(ref["A"], ref["b"], ref["interior_points"])]
        np.testing.assert_allclose(hull, ref["volumes"], rtol=1e-9)
    sampled = reference_count_by_sampling(net, lower, upper, 20_000, seed=8)
    assert sampled <= as_set(ref["patterns"])


def test_rejects_bad_boxes():
    net = torch_net("relu", 2)
    with pytest.raises(ValueError):
        reference_regions(net, [0, 0], [1, 0])
    with pytest.raises(ValueError):
        reference_regions(net, [0, 0, 0], [1, 1, 1])
