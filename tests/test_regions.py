"""rl.regions against independent oracles: Zaslavsky's counts, the LP reference enumerator,
dense sampling, the segment and plane engines, and the geometry of each region."""

import itertools
import math

import numpy as np
import pytest
import torch

import regionlab as rl
from reference_regions import reference_regions


def one_layer(n, d, seed, bias_scale=0.5):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n, d))
    b = rng.normal(size=n) * bias_scale
    net = rl.PLNet.from_arrays([W, rng.normal(size=(1, n))], [b, np.zeros(1)])
    return net, W, b


def vertex_box(W, b, margin=1.5):
    d = W.shape[1]
    pts = [np.linalg.solve(W[list(S)], -b[list(S)]) for S in itertools.combinations(range(len(W)), d)]
    R = float(np.abs(pts).max()) * margin + 1.0
    return [-R] * d, [R] * d


def random_net(dims, seed, act="relu"):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(torch.nn.LeakyReLU(0.1) if act == "leaky" else torch.nn.ReLU())
    return rl.from_torch(torch.nn.Sequential(*layers))


class MaxNet(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.a = torch.nn.Linear(d, 6)
        self.b = torch.nn.Linear(d, 6)
        self.out = torch.nn.Linear(6, 1)

    def forward(self, x):
        return self.out(torch.maximum(self.a(x), self.b(x)))


def pattern_set(p):
    return {bytes(r) for r in np.asarray(p)}


def zaslavsky(n, d):
    return sum(math.comb(n, i) for i in range(d + 1))


@pytest.mark.parametrize("d,n", [(3, 9), (4, 8), (5, 8), (6, 8)])
def test_one_layer_in_general_position_matches_zaslavsky(d, n):
    net, W, b = one_layer(n, d, seed=d)
    lo, hi = vertex_box(W, b)
    part = rl.regions(net, lo, hi)
    assert part.n_regions == zaslavsky(n, d)
    assert part.volumes.sum() == pytest.approx(np.prod(np.subtract(hi, lo)), rel=1e-9)


@pytest.mark.parametrize("d,n", [(2, 6), (3, 7), (4, 6)])
def test_whole_space_counts_every_region_and_the_bounded_ones(d, n):
    net, _, _ = one_layer(n, d, seed=10 + d)
    part = rl.regions(net)  # all of R^d: no box chosen by anyone
    assert part.n_regions == zaslavsky(n, d) == rl.bounds.zaslavsky(n, d)
    # Zaslavsky/Buck: C(n - 1, d) of them are bounded.
    assert int((~part.unbounded).sum()) == math.comb(n - 1, d) == rl.bounds.zaslavsky(n, d, bounded=True)
    assert part.n_regions == rl.bounds.serra_upper([n], d)  # tight for one layer
    assert np.isinf(part.volumes[part.unbounded]).all()
    assert np.isfinite(part.volumes[~part.unbounded]).all()
    assert pattern_set(net.patterns(part.to_input(part.interior_points), packed=True)) == \
        pattern_set(part.patterns)
    # The balls are inside their regions.
    rng = np.random.default_rng(d)
    u = rng.normal(size=part.interior_points.shape)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    assert np.isfinite(part.radii).all() and (part.radii > 0).all()
    inside = part.interior_points + 0.999 * part.radii[:, None] * u
    assert (net.patterns(inside, packed=True) == part.patterns).all()


def test_central_arrangement_hyperplanes_through_one_vertex():
    # n generic hyperplanes through the origin of R^d: 2 sum_{i<d} C(n-1, i) regions.
    d, n = 3, 7
    rng = np.random.default_rng(3)
    W = rng.normal(size=(n, d))
    net = rl.PLNet.from_arrays([W, np.ones((1, n))], [np.zeros(n), np.zeros(1)])
    expected = 2 * sum(math.comb(n - 1, i) for i in range(d))
    assert rl.regions(net, [-1] * d, [1] * d).n_regions == expected
    assert rl.regions(net).n_regions == expected
    # The same box, not centred on the vertex.
    assert rl.regions(net, [-0.5, -2, -1], [3, 0.25, 1]).n_regions == expected


def test_degenerate_rows_duplicates_zero_rows_and_scales():
    d, n = 3, 6
    net, W, b = one_layer(n, d, seed=4)
    lo, hi = vertex_box(W, b)
    base = rl.regions(net, lo, hi).n_regions
    # Coincident neurons (duplicated rows, and a positive multiple) and zero rows cut nothing new.
    W2 = np.vstack([W, W[:2], 3 * W[2:3], np.zeros((2, d))])
    b2 = np.concatenate([b, b[:2], 3 * b[2:3], [0.0, 1.0]])
    net2 = rl.PLNet.from_arrays([W2, np.ones((1, len(W2)))], [b2, np.zeros(1)])
    part = rl.regions(net2, lo, hi)
    assert part.n_regions == base
    assert pattern_set(net2.patterns(part.interior_points, packed=True)) == pattern_set(part.patterns)
    # Tiny and huge weight scales give the same regions.
    for scale in (1e-150, 1e150):
        net3 = rl.PLNet.from_arrays([W * scale, np.ones((1, n))], [b * scale, np.zeros(1)])
        assert rl.regions(net3, lo, hi).n_regions == base


@pytest.mark.parametrize("d", [3, 4, 5])
@pytest.mark.parametrize("kind", ["relu", "leaky", "max"])
def test_matches_the_lp_reference(d, kind):
    if kind == "max":
        torch.manual_seed(d)
        net = rl.from_torch(MaxNet(d))
    else:
        net = random_net([d, 6, 5, 1] if d < 5 else [d, 5, 4, 1], seed=d, act=kind)
    lo, hi = [-1.0] * d, [1.0] * d
    part = rl.regions(net, lo, hi)
    ref = reference_regions(net, np.array(lo), np.array(hi))
    assert pattern_set(part.patterns) == pattern_set(ref["patterns"])
    # Volumes region by region.
    mine = {bytes(p): v for p, v in zip(part.patterns, part.volumes)}
    for p, v in zip(ref["patterns"], ref["volumes"]):
        assert mine[bytes(p)] == pytest.approx(v, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("kind", ["relu", "leaky", "max"])
def test_region_geometry_properties(kind):
    d = 3
    if kind == "max":
        torch.manual_seed(7)
        net = rl.from_torch(MaxNet(d))
    else:
        net = random_net([d, 12, 12, 1], seed=7, act=kind)
    lo, hi = np.array([-1.0, -0.5, -2.0]), np.array([1.0, 1.5, 0.0])
    part = rl.regions(net, lo, hi, vertices=True)
    assert part.volumes.sum() == pytest.approx(np.prod(hi - lo), rel=1e-9)
    assert len(pattern_set(part.patterns)) == part.n_regions
    # Interior points: inside the box, with their region's pattern, a ball of radius r too.
    X = part.interior_points
    assert ((X > lo) & (X < hi)).all()
    assert (net.patterns(X, packed=True) == part.patterns).all()
    rng = np.random.default_rng(0)
    u = rng.normal(size=X.shape)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    inside = X + 0.999 * part.radii[:, None] * u
    assert (net.patterns(inside, packed=True) == part.patterns).all()
    # Maps: the network through each region's affine map equals net.forward inside it.
    out = part.output(X, np.arange(part.n_regions))
    np.testing.assert_allclose(out, net.astype(np.float64).forward(X), rtol=1e-9, atol=1e-9)
    # Every pattern seen by dense sampling is a region.
    S = rng.uniform(lo, hi, size=(50_000, d))
    assert pattern_set(net.patterns(S, packed=True)) <= pattern_set(part.patterns)
    # Vertices lie in the box and the region's vertices' centroid is its interior point.
    for r in range(0, part.n_regions, max(1, part.n_regions // 20)):
        V = part.region_vertices(r)
        assert ((V >= lo - 1e-12) & (V <= hi + 1e-12)).all()
        np.testing.assert_allclose(V.mean(axis=0), X[r], atol=1e-12)


@pytest.mark.parametrize("widths", [[2, 9, 1], [2, 10, 8, 6, 1]])
def test_euler_relation_of_the_planar_complex(widths):
    # A generic net's zero sets continue across regions, so the complex is face to face:
    # V - E + F = 1 on the square, with every polygon's corners the complex's vertices on
    # its boundary. E = (sum of corners per region + edges on the border) / 2, and the border
    # is a cycle with as many edges as vertices.
    net = random_net(widths, seed=len(widths))
    part = rl.regions(net, [-1, -1], [1, 1], vertices=True)
    scale = 1e9
    keys = np.round(part.vertices * scale).astype(np.int64)
    V = len(np.unique(keys, axis=0))
    on_border = np.isclose(np.abs(part.vertices), 1.0, rtol=0, atol=1e-12).any(axis=1)
    border = len(np.unique(keys[on_border], axis=0))
    corners = np.diff(part.vertex_offsets).sum()
    assert (corners + border) % 2 == 0
    E = (corners + border) // 2
    assert V - E + part.n_regions == 1
    # The dual graph has one edge per interior edge of the complex.
    assert len(part.adjacency) == E - border


@pytest.mark.parametrize("d,widths", [(3, [6, 5]), (4, [5, 4, 3]), (3, [4, 4, 4])])
def test_deep_counts_respect_serra_upper_bound(d, widths):
    net = random_net([d] + widths + [1], seed=d + len(widths))
    part = rl.regions(net)
    assert part.n_regions <= rl.bounds.serra_upper(widths, d)
    for layers, count in enumerate(part.n_regions_per_layer, start=1):
        assert count <= rl.bounds.serra_upper(widths[:layers], d)


@pytest.mark.parametrize("widths", [[3, 8, 1], [3, 8, 6, 1]])
def test_euler_relation_of_the_complex_in_a_cube(widths):
    # V - E + F - C = 1 for the face-to-face complex of a generic net in a cube: vertices and
    # edges shared between regions counted once, 2-faces on a neuron shared by the two
    # regions either side of it, 2-faces on the cube's boundary by one.
    net = random_net(widths, seed=20 + len(widths))
    part = rl.regions(net, [-1] * 3, [1] * 3, vertices=True)
    keys = np.round(part.vertices * 1e9).astype(np.int64)
    _, global_id = np.unique(keys, axis=0, return_inverse=True)
    global_id = global_id.reshape(-1)
    V = int(global_id.max()) + 1
    owner = np.repeat(np.arange(part.n_regions), np.diff(part.edge_offsets))
    ends = global_id[part.edges + part.vertex_offsets[owner][:, None]]
    E = len(np.unique(np.sort(ends, axis=1), axis=0))
    ids = part.facet_ids
    F = int((ids >= 0).sum()) // 2 + int((ids < 0).sum())
    assert (ids >= 0).sum() % 2 == 0
    assert V - E + F - part.n_regions == 1
    # Each region's own boundary is a sphere: v - e + f = 2.
    for r in range(part.n_regions):
        v, e = len(part.region_vertices(r)), len(part.region_edges(r))
        f = part.facet_offsets[r + 1] - part.facet_offsets[r]
        assert v - e + f == 2


def test_volumes_of_cells_with_hundreds_of_vertices_match_irwin_hall():
    # {sum x > 1/2} in [-1, 1]^8: the cut cube has hundreds of vertices (every set size of
    # the volume code is used); its volume is 2^8 P(sum of 8 uniforms on [0, 1] > 4.25).
    def irwin_hall_cdf(t, n):
        return sum((-1) ** k * math.comb(n, k) * max(t - k, 0) ** n for k in range(n + 1)) / math.factorial(n)

    net = rl.PLNet.from_arrays([np.ones((2, 8)), np.ones((1, 2))], [np.array([-0.5, 0.5]), np.zeros(1)])
    part = rl.regions(net, [-1] * 8, [1] * 8, vertices=True)
    assert part.n_regions == 3
    assert np.diff(part.vertex_offsets).max() > 256
    outer = 256 * (1 - irwin_hall_cdf(4.25, 8))
    np.testing.assert_allclose(np.sort(part.volumes), [256 - 2 * outer, outer, outer], rtol=1e-10)


def test_dual_graph_neighbours_differ_in_the_separating_unit():
    net = random_net([3, 10, 8, 1], seed=2)
    part = rl.regions(net, [-1] * 3, [1] * 3)
    adj = part.adjacency
    assert len(adj) > part.n_regions - 1  # connected at least
    bits = part.pattern_bits()
    a, b, f = adj[:, 0], adj[:, 1], adj[:, 2]
    diff = bits[a] ^ bits[b]
    assert (diff.sum(axis=1) == 1).all()
    assert diff[np.arange(len(adj)), f].all()
    # The dual graph of a partition of a box is connected.
    parent = np.arange(part.n_regions)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in adj[:, :2]:
        parent[find(x)] = find(y)
    assert len({find(x) for x in range(part.n_regions)}) == 1
    # Facets name neurons (>= 0) or box faces (< 0), and each region has at least d + 1.
    assert (np.diff(part.facet_offsets) >= 4).all()
    assert part.facet(int(f[0]))["kind"] == "neuron"


def _adjacency_by_stepping_across_edges(net, part):
    """Oracle: from the midpoint of every edge of every region's polygon, a step of 1e-7
    outwards lands in the neighbour across it (read by the network's own pattern)."""
    index = {bytes(p): i for i, p in enumerate(part.patterns)}
    pairs = set()
    for r in range(part.n_regions):
        V, c = part.region_vertices(r), part.region_vertices(r).mean(0)
        for i, j in part.region_edges(r):
            mid, along = (V[i] + V[j]) / 2, V[j] - V[i]
            normal = np.array([along[1], -along[0]]) / np.linalg.norm(along)
            normal *= np.sign(normal @ (mid - c))
            q = mid + 1e-7 * normal
            if (q < part.lower).any() or (q > part.upper).any():
                continue
            other = index[bytes(net.patterns(part.to_input(q[None]), packed=True)[0])]
            if other != r:
                pairs.add((min(r, other), max(r, other)))
    return pairs


@pytest.mark.parametrize("case", ["abs", "duplicated", "relu twice"])
def test_dual_graph_across_coincident_hyperplanes(case):
    """Regression: crossing a facet where several units' hyperplanes coincide (abs lowered
    to two ReLUs, a duplicated neuron) flips several bits, and those pairs were dropped."""
    torch.manual_seed(0)
    if case == "duplicated":
        w = np.random.default_rng(0).standard_normal((3, 2))
        net = rl.PLNet.from_arrays([np.vstack([w, w[:1]]), np.ones((1, 4))],
                                   [np.array([0.1, -0.2, 0.3, 0.1]), np.zeros(1)])
    else:
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.o = torch.nn.Linear(2, 5), torch.nn.Linear(5, 1)

            def forward(self, x):
                h = self.a(x)
                return self.o(torch.abs(h) if case == "abs" else torch.relu(h) + torch.relu(h))

        net = rl.from_torch(Net().double())
    part = rl.regions(net, [-2, -2], [2, 2], vertices=True)
    expected = _adjacency_by_stepping_across_edges(net, part)
    assert len(expected) > part.n_regions - 1
    assert set(map(tuple, part.adjacency[:, :2].tolist())) == expected


def test_max_group_facets_swap_the_winner():
    torch.manual_seed(1)
    net = rl.from_torch(MaxNet(3))
    part = rl.regions(net, [-1] * 3, [1] * 3)
    adj = part.adjacency
    kinds = {part.facet(int(f))["kind"] for f in adj[:, 2]}
    assert "max" in kinds
    for a, b, f in adj[:50]:
        assert part.patterns[a].tobytes() != part.patterns[b].tobytes()


def test_one_and_two_dimensional_slices_equal_segment_and_plane():
    net = random_net([5, 16, 16, 1], seed=5)
    rng = np.random.default_rng(5)
    x0, u, v = rng.normal(size=(3, 5))
    seg = rl.segment(net, x0 - u, x0 + u)
    s1 = rl.regions(net, origin=x0, basis=u[None], lower=[-1], upper=[1])
    assert s1.n_regions == seg.n_regions
    assert pattern_set(s1.patterns) == pattern_set(seg.patterns)
    pl = rl.plane(net, x0, u, v, extent=(-1, 2, -0.5, 1))
    s2 = rl.regions(net, origin=x0, basis=np.stack([u, v]), lower=[-1, -0.5], upper=[2, 1])
    assert s2.n_regions == pl.n_regions
    assert pattern_set(s2.patterns) == pattern_set(pl.patterns)
    areas = {bytes(p): a for p, a in zip(pl.patterns, pl.areas)}
    for p, a in zip(s2.patterns, s2.volumes):
        assert areas[bytes(p)] == pytest.approx(a, rel=1e-9, abs=1e-14)


def test_k_dim_slice_of_a_high_dimensional_input():
    net = random_net([20, 16, 16, 1], seed=6)
    rng = np.random.default_rng(6)
    x0 = rng.normal(size=20)
    B = rng.normal(size=(3, 20))
    part = rl.regions(net, origin=x0, basis=B, lower=[-1] * 3, upper=[1] * 3)
    X = part.to_input(part.interior_points)
    assert (net.patterns(X, packed=True) == part.patterns).all()
    Y = rng.uniform(-1, 1, size=(30_000, 3))
    assert pattern_set(net.patterns(x0 + Y @ B, packed=True)) <= pattern_set(part.patterns)
    assert part.volumes.sum() == pytest.approx(8.0, rel=1e-9)


def test_whole_space_equals_a_box_holding_every_vertex():
    net = random_net([3, 8, 6, 1], seed=8)
    whole = rl.regions(net)
    big = rl.regions(net, [-1e5] * 3, [1e5] * 3)
    assert whole.n_regions == big.n_regions
    assert pattern_set(whole.patterns) == pattern_set(big.patterns)
    assert whole.n_regions_per_layer == big.n_regions_per_layer
    bounded = ~whole.unbounded
    vol = {bytes(p): v for p, v in zip(big.patterns, big.volumes)}
    for p, v in zip(whole.patterns[bounded], whole.volumes[bounded]):
        assert vol[bytes(p)] == pytest.approx(v, rel=1e-6)
    np.testing.assert_allclose(whole.output(whole.interior_points, np.arange(whole.n_regions)),
                               net.astype(np.float64).forward(whole.interior_points), rtol=1e-8,
                               atol=1e-8)


def test_decision_boundary_measure_on_a_known_plane():
    # One region, logit x0 + x1 + x2 - 0.5 on the unit cube: the cut is a hexagon-free
    # triangle-plus... use the exact area of {sum x = 0.5} in [0, 1]^3: sqrt(3)/8.
    net = rl.PLNet.from_arrays([np.ones((1, 3))], [np.array([-0.5])])
    part = rl.regions(net, [0, 0, 0], [1, 1, 1])
    assert part.n_regions == 1
    assert part.boundary_volume == pytest.approx(math.sqrt(3) / 8, rel=1e-12)
    assert part.n_boundary_cells == 1
    # A piecewise-linear logit: boundary cells are the regions its zero set crosses.
    net2 = random_net([3, 8, 1], seed=9)
    p2 = rl.regions(net2, [-2] * 3, [2] * 3)
    centres = p2.interior_points
    signs = np.sign(p2.output(centres, np.arange(p2.n_regions))[:, 0])
    assert p2.n_boundary_cells <= p2.n_regions
    if (signs > 0).any() and (signs < 0).any():
        assert p2.n_boundary_cells > 0


@pytest.mark.parametrize("dim", [2, 3])
def test_decision_boundary_lying_on_region_facets(dim):
    """Regression: a boundary on a facet between regions (a tie on the whole facet) was
    missed. f = (0, relu(x0)): class 0 for x0 <= 0, class 1 beyond, boundary {x0 = 0}, of
    measure 2^(dim-1) in [-1, 1]^dim, counted once; the same with one ReLU'd logit."""
    e0 = np.eye(1, dim)
    two = rl.PLNet.from_arrays([e0, np.array([[0.0], [1.0]])], [np.zeros(1), np.zeros(2)],
                               activations=["relu", "identity"])
    part = rl.regions(two, [-1] * dim, [1] * dim)
    assert part.boundary_volume == pytest.approx(2.0 ** (dim - 1), rel=1e-12)
    assert part.n_boundary_cells == 1
    diagonal = np.ones((1, dim)) / math.sqrt(dim)
    one = rl.PLNet.from_arrays([diagonal, np.ones((1, 1))], [np.zeros(1), np.zeros(1)],
                               activations=["relu", "identity"])
    cut = rl.regions(one, [-1] * dim, [1] * dim)
    plain = rl.regions(rl.PLNet.from_arrays([diagonal], [np.zeros(1)]), [-1] * dim, [1] * dim)
    assert cut.boundary_volume == pytest.approx(plain.boundary_volume, rel=1e-12)


@pytest.mark.parametrize("c, expected", [(1.5, math.sqrt(10) / 3 + 1.5),
                                         (-1.5, math.sqrt(10) / 3 + 2.5)])
def test_decision_boundary_on_part_of_a_facet_and_between_tied_classes(c, expected):
    """Logits (0, relu(x0), 3 x1 + c) on [-1, 1]^2, by hand: where x0 < 0 classes 0 and
    1 are both 0 (tied, class 0 wins). Regressions: the facet x0 = 0 is boundary only
    where class 2 is below (x1 < -c/3), which a judgement at the facet's centre missed;
    and the boundary between the tied pair and class 2 (x1 = -c/3, x0 < 0) was dropped."""
    net = rl.PLNet.from_arrays([np.eye(2), np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])],
                               [np.array([0.0, 10.0]), np.array([0.0, 0.0, -30.0 + c])],
                               activations=["relu", "identity"])
    assert rl.regions(net, [-1, -1], [1, 1]).boundary_volume == pytest.approx(expected, rel=1e-12)


def test_a_class_identical_to_a_lower_one_beyond_an_edge_is_no_boundary():
    """Regression (rl.plane): beyond the edge y = x/2 classes 0 and 2 are identical, so
    class 0 keeps winning (ties go to the lower class), but the probe across rounded class
    2 a hair above and reported a boundary (0, 2) of length 1.118. Class 2 never leads
    (argmax on a grid); the box, measuring per region, agrees."""
    net = rl.PLNet.from_arrays(
        [np.array([[1.0, 0.0], [-1.0, 2.0], [2.0, -2.0]]),
         np.array([[-2.0, 2.0, 1.0], [-1.0, -2.0, -1.0], [-1.0, 1.0, 0.0]])],
        [np.zeros(3), np.array([-1.0, 0.0, -1.0])])
    lo, hi = [-1.0, -3.0], [2.0, 3.0]
    plane = rl.plane(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], extent=(lo[0], hi[0], lo[1], hi[1]))
    g = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], 301), np.linspace(lo[1], hi[1], 301)), -1)
    assert set(np.unique(net.forward(g.reshape(-1, 2)).argmax(1))) == {0, 1}
    assert (plane.boundary_classes != 2).all()
    length = np.linalg.norm(plane.boundary[:, 1] - plane.boundary[:, 0], axis=1).sum()
    assert rl.regions(net, lo, hi).boundary_volume == pytest.approx(length, rel=1e-12)


@pytest.mark.parametrize("case", ["abs facet", "three classes on a line"])
def test_box_boundary_in_degenerate_ties_equals_the_plane(case):
    """Regressions: a boundary on a facet of two coincident units (an abs-like pair with
    a bias-free output: one class on each side, the others equal to a lower one there)
    measured 0; and three classes equal along a whole segment inside a region, the argmax
    changing 0 -> 1 across it, measured 0 there (a pairwise cut saw only a degenerate
    part). Oracle: the plane tracer (and, for the first, the exact length 3.354)."""
    if case == "abs facet":
        ws = [np.array([[1.0, -2.0], [-1.0, 2.0]]), np.array([[-2.0, -2.0], [-2.0, 2.0], [2.0, -1.0]])]
        bs = [np.zeros(2), np.zeros(3)]
        lo, hi = [-1.0, -2.0], [2.0, 2.0]
    else:
        ws = [np.array([[1.0, 2.0], [-2.0, -2.0], [2.0, 0.0]]),
              np.array([[2.0, 0.0, -2.0], [1.0, -2.0, 0.0], [1.0, -2.0, -2.0], [2.0, 1.0, 0.0]]),
              np.array([[-2.0, 0.0, 2.0, 0.0], [-1.0, 0.0, -2.0, 1.0], [-1.0, 1.0, 0.0, 0.0]])]
        bs = [np.zeros(3), np.array([0.0, 0.0, 1.0, 0.0]), np.zeros(3)]
        lo, hi = [-3.0, -2.0], [2.0, 1.0]
    net = rl.PLNet.from_arrays(ws, bs)
    plane = rl.plane(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], extent=(lo[0], hi[0], lo[1], hi[1]))
    length = np.linalg.norm(plane.boundary[:, 1] - plane.boundary[:, 0], axis=1).sum()
    if case == "abs facet":
        assert length == pytest.approx(math.hypot(3.0, 1.5), rel=1e-12)
    assert rl.regions(net, lo, hi).boundary_volume == pytest.approx(length, rel=1e-12)


@pytest.mark.parametrize("w2, length", [([0.5, -0.5, 0, 0], 2.0), ([0, 0, 0.5, -0.5], 2.0),
                                        ([0.5, -0.5, -0.5, 0.5], 2 * math.sqrt(2))])
def test_whole_space_boundary_along_a_seam_of_its_pieces(w2, length):
    """Regression: the whole space is cut into simplicial pieces whose seams run along +x,
    +y and -(x + y); a boundary lying exactly on a seam was no cut of any piece and was
    lost (x - y: half of it). The bounded centre square [-1, 1]^2, logit along a line
    through the origin: length 2 or 2 sqrt 2, as the box says."""
    net = rl.PLNet.from_arrays([np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]]), np.array([w2])],
                               [np.ones(4), np.zeros(1)])
    whole = rl.regions(net)
    centre = np.flatnonzero(~whole.unbounded)
    assert len(centre) == 1
    assert whole.boundary[centre[0]] == pytest.approx(length, rel=1e-12)


@pytest.mark.parametrize("offset", [0.0, 1e9])
def test_ties_are_judged_on_the_slopes_and_the_constant_apart(offset):
    """Regressions: classes x + C and (1 + 1e-6) x + C differ (the argmax sees both) but a
    tie tolerance on the largest coefficient, C = 1e9, called them tied (boundary 0); and
    class 2 = (1 + 2^-52) class 0, dropped as tied, still won the probe across the 0|1
    boundary (no tolerance there), which was then counted from neither side."""
    e = 2.0**-52
    near = rl.PLNet.from_arrays([np.eye(2), np.array([[1.0, 0.0], [-1.0, 0.0], [1.0 + e, 0.0]])],
                                [np.array([5.0, 5.0]), np.array([-5.0, 5.0, -5.0 * (1.0 + e)])])
    assert rl.regions(near, [-1, -1], [1, 1]).boundary_volume == pytest.approx(2.0, rel=1e-12)
    apart = rl.PLNet.from_arrays([np.eye(2), np.array([[1.0, 0.0], [1.0 + 1e-6, 0.0]])],
                                 [np.array([5.0, 5.0]), np.array([offset - 5.0, offset - 5.0 * (1 + 1e-6)])])
    g = np.stack(np.meshgrid(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101)), -1).reshape(-1, 2)
    assert set(np.unique(apart.forward(g).argmax(1))) == {0, 1}
    assert rl.regions(apart, [-1, -1], [1, 1]).boundary_volume == pytest.approx(2.0, rel=1e-6)
    plane = rl.plane(apart, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0])
    assert np.linalg.norm(plane.boundary[:, 1] - plane.boundary[:, 0], axis=1).sum() == pytest.approx(2.0, rel=1e-6)


def test_box_boundary_equals_the_planes_with_ties_on_facets():
    """A bias-free output layer: every logit is 0 where all units are off, so part of the
    decision boundary lies on that region's facets. The box's measure (per region, in the
    polytope engine) against the plane's (the 2-D boundary tracer), two separate paths."""
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((6, 2)), rng.standard_normal(6)
    rng.standard_normal((1, 6)), rng.standard_normal((6, 3))
    net = rl.PLNet.from_arrays([W1, rng.standard_normal((3, 6))], [b1, np.zeros(3)],
                               activations=["relu", "identity"])
    box = rl.regions(net, [-2, -2], [2, 2])
    plane = rl.plane(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], extent=(-2.0, 2.0, -2.0, 2.0))
    length = np.linalg.norm(plane.boundary[:, 1] - plane.boundary[:, 0], axis=1).sum()
    assert box.boundary_volume == pytest.approx(length, rel=1e-9)
    # the whole space gives the same boundary inside the box's regions that are bounded
    whole = rl.regions(net)
    assert np.isinf(whole.boundary_volume) or whole.boundary_volume >= box.boundary_volume


def test_volumes_can_be_skipped_and_nothing_else_changes(tmp_path):
    net = random_net([4, 10, 8, 1], seed=11)
    full = rl.regions(net, [-1] * 4, [1] * 4)
    lean = rl.regions(net, [-1] * 4, [1] * 4, volumes=False)
    assert lean.volumes is None
    for name in ("patterns", "interior_points", "radii", "maps", "facet_ids", "boundary"):
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name))
    back = rl.load(lean.save(tmp_path / "lean.npz"))
    assert back.volumes is None and back.n_regions == full.n_regions


def test_max_regions_stops_with_a_clear_error():
    net = random_net([3, 32, 32, 1], seed=1)
    with pytest.raises(ValueError, match="max_regions"):
        rl.regions(net, [-1] * 3, [1] * 3, max_regions=100)


def test_save_and_load_round_trip(tmp_path):
    net = random_net([3, 6, 1], seed=3)
    part = rl.regions(net, [-1] * 3, [1] * 3, vertices=True)
    path = part.save(tmp_path / "box.npz")
    back = rl.load(path)
    assert isinstance(back, rl.BoxPartition)
    assert back.n_regions == part.n_regions
    np.testing.assert_array_equal(back.patterns, part.patterns)
    np.testing.assert_array_equal(back.volumes, part.volumes)
    np.testing.assert_array_equal(back.adjacency, part.adjacency)
    whole = rl.regions(net)
    back = rl.load(whole.save(tmp_path / "whole.npz"))
    assert back.lower is None and back.n_regions == whole.n_regions


def test_bad_input_is_refused_with_what_to_do():
    net = random_net([3, 6, 1], seed=3)
    with pytest.raises(ValueError, match="lower must be below upper"):
        rl.regions(net, [1, 0, 0], [0, 1, 1])
    with pytest.raises(ValueError, match="both lower and upper"):
        rl.regions(net, [0, 0, 0], None)
    with pytest.raises(ValueError, match="3 inputs"):
        rl.regions(net, [0, 0], [1, 1])
    with pytest.raises(ValueError, match="linearly independent"):
        rl.regions(net, origin=np.zeros(3), basis=[[1, 0, 0], [2, 0, 0]], lower=[0, 0], upper=[1, 1])
    with pytest.raises(ValueError, match="slice"):
        rl.regions(random_net([12, 4, 1], seed=0), [0] * 12, [1] * 12)
    with pytest.raises(ValueError, match="vertices=True needs a box"):
        rl.regions(net, vertices=True)
    with pytest.raises(TypeError):
        rl.regions("not a net", [0] * 3, [1] * 3)


@pytest.mark.parametrize("d,widths", [(4, [10, 8]), (5, [8, 6]), (6, [7, 5])])
def test_every_region_volume_matches_qhull(d, widths):
    # Each region's volume (Lawrence's vertex formula where it is well conditioned, the face
    # recursion elsewhere) against Qhull's hull of the region's own vertices. Qhull refuses
    # a few many-vertex cells in 6-d (precision errors on their coplanar corners); those are
    # skipped, and the volumes' sum checks them all.
    from scipy.spatial import ConvexHull
    from scipy.spatial import QhullError

    net = random_net([d, *widths, 1], seed=40 + d, act="leaky")
    part = rl.regions(net, -np.ones(d), np.ones(d), vertices=True)
    assert part.n_regions > 50
    checked = 0
    for r in range(part.n_regions):
        try:
            hull = ConvexHull(part.region_vertices(r)).volume
        except QhullError:
            continue
        assert part.volumes[r] == pytest.approx(hull, rel=1e-9)
        checked += 1
    assert checked >= 0.9 * part.n_regions
    assert part.volumes.sum() == pytest.approx(2.0**d, rel=1e-10)


def test_progress_reports_growing_counts_per_layer_and_ends_at_the_result(capsys):
    net = random_net([4, 12, 12, 1], seed=3)
    lo, hi = -np.ones(4), np.ones(4)
    seen = []
    part = rl.regions(net, lo, hi, progress=seen.append)
    assert seen, "the final counts are always reported"
    assert all(len(c) == len(part.n_regions_per_layer) for c in seen)
    assert (np.diff(np.array(seen), axis=0) >= 0).all()  # never decreasing
    assert list(seen[-1]) == list(part.n_regions_per_layer)
    bar = rl.regions(net, lo, hi, progress=True)  # a tqdm bar on stderr, the same regions
    assert "regions" in capsys.readouterr().err
    assert pattern_set(bar.patterns) == pattern_set(part.patterns)
    whole = []
    rl.regions(net, progress=whole.append)  # the whole space reports its pieces too
    assert whole


def test_progress_callback_that_raises_stops_the_work_with_its_error():
    net = random_net([4, 12, 12, 1], seed=3)

    def stop(counts):
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        rl.regions(net, -np.ones(4), np.ones(4), progress=stop)
    with pytest.raises(TypeError, match="progress"):
        rl.regions(net, -np.ones(4), np.ones(4), progress="yes")
    assert rl.regions(net, -np.ones(4), np.ones(4)).n_regions > 0  # nothing left behind
