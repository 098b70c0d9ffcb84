"""rl.distance_to_boundary and rl.local_complexity against independent oracles: the LP
reference enumerator's H-representations (tests/reference_regions.py), a numpy oracle with
full Jacobians, rl.regions / rl.plane on the same neighbourhoods, and a numpy recount of
Humayun et al.'s frame approximation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import regionlab as rl
from oracles import random_net
from reference_regions import _walk, reference_patterns, reference_regions


# ------------------------------------------------------------------ nets
def max_net(rng, d):
    """maxout(3) x4 -> overlapping groups of sizes 1..4 -> 1 (as in test_reference_regions)."""
    return rl.PLNet([
        rl.Stage.max_groups(rng.standard_normal((12, d)), rng.standard_normal(12),
                            [range(i, i + 3) for i in range(0, 12, 3)]),
        rl.Stage.max_groups(rng.standard_normal((6, 4)), rng.standard_normal(6) * 0.5,
                            [[0, 1], [1, 2, 3], [2, 3, 4, 5], [5], [0, 5]]),
        rl.Stage(rng.standard_normal((1, 5)), np.zeros(1), np.ones(1)),
    ])


def small_net(name, d, seed=0):
    rng = np.random.default_rng(100 * seed + 10 * d + len(name))
    if name == "relu":
        return random_net(rng, [d, 5, 4, 1])
    if name == "leaky":
        return random_net(rng, [d, 5, 4, 1], activation=("leaky_relu", 0.1))
    if name == "max":
        return max_net(rng, d)
    raise KeyError(name)


def deep_net(d=5, width=16, seed=3):
    """4 hidden layers: ReLU, leaky 0.1, maxout(2) (halving), ReLU; then one output."""
    rng = np.random.default_rng(seed)
    w = [rng.normal(0, 1 / np.sqrt(i), (o, i))
         for i, o in [(d, width), (width, width), (width, 2 * width), (width, width), (width, 1)]]
    b = [rng.normal(0, 0.5, len(x)) for x in w]
    return rl.PLNet.from_arrays(w, b, ["relu", ("leaky_relu", 0.1), ("maxout", 2), "relu",
                                       "identity"], dtype=np.float64)


NAMES = ["relu", "leaky", "max"]


# ------------------------------------------------------------------ oracles
def jacobian_constraints(net, x):
    """Every constraint of the activation region of x, by a numpy forward pass carrying the
    full Jacobian d(stage input)/dx: (value >= 0 inside, gradient, pattern bit)."""
    a, J = np.asarray(x, np.float64), np.eye(len(x))
    out, bit = [], 0
    for st in net.stages:
        W, c = np.asarray(st.weight, np.float64), np.asarray(st.bias, np.float64)
        z, Jz = W @ a + c, W @ J
        if st.is_max:
            off, idx = st.group_offsets, st.group_index
            win = []
            for g in range(len(off) - 1):
                cand = idx[off[g]:off[g + 1]].astype(int)
                w = cand[np.argmax(z[cand])]
                win.append(w)
                out += [(z[w] - z[o], Jz[w] - Jz[o], bit) for o in cand if o != w]
                bit += math.ceil(math.log2(len(cand))) if len(cand) > 1 else 0
            a, J = z[win], Jz[win]
        else:
            slope = np.asarray(st.negative_slope, np.float64)
            for j in np.flatnonzero(slope != 1.0):
                sign = 1.0 if z[j] > 0 else -1.0
                out.append((sign * z[j], sign * Jz[j], bit))
                bit += 1
            s = np.where(z > 0, 1.0, slope)
            a, J = s * z, s[:, None] * Jz
    assert bit == net.n_neurons
    return out


def jacobian_distance(net, x):
    """(distance, {bit: its own smallest distance}) from the Jacobian oracle."""
    per_bit = {}
    for val, grad, bit in jacobian_constraints(net, x):
        n = np.linalg.norm(grad)
        if n > 1e-12 * max(1.0, abs(val)):
            per_bit[bit] = min(per_bit.get(bit, np.inf), val / n)
    return min(per_bit.values(), default=np.inf), per_bit


def lp_distance(net, ref, X, d):
    """Distance from each x to its reference region's non-box facets (rows are unit-norm;
    the first 2 d rows of each H-representation are the box's)."""
    keys = {p.tobytes(): i for i, p in enumerate(ref["patterns"])}
    out = []
    for x, p in zip(X, net.patterns(X, packed=True)):
        i = keys[p.tobytes()]
        A, b = ref["A"][i][2 * d:], ref["b"][i][2 * d:]
        assert (A @ x <= b).all()  # x is inside its region
        out.append((b - A @ x).min(initial=np.inf))
    return np.array(out)


def reference_count(net, A0, b0, centre, s):
    """Regions of ``net`` in the polytope ``{x : A0 (x - centre) / s <= b0}`` (A0 unit rows)
    by the LP reference enumerator's own walk."""
    return len(_walk(net, 2e-9, A0, b0, np.asarray(centre, np.float64), float(s)))


def cross_halfspaces(d):
    """``|y|_1 <= 1`` as unit-norm rows: one per sign vector."""
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * d)).reshape(d, -1).T
    return signs / np.sqrt(d), np.full(len(signs), 1 / np.sqrt(d))


def box_halfspaces(d):
    return np.vstack([np.eye(d), -np.eye(d)]), np.ones(2 * d)


def frame_count(net, X, U, r):
    """Humayun et al.'s count, recomputed: per layer with bits, the pattern bits that are not
    the same at all 2 k frame vertices x +- r u_j (numpy forward pass; for (leaky) ReLU
    layers the bits are the pre-activations' signs > 0)."""
    n, k = len(X), U.shape[1]
    verts = np.concatenate([X[:, None] + r * U, X[:, None] - r * U], axis=1)
    bits = reference_patterns(net, verts.reshape(-1, X.shape[1]), packed=False)
    bits = bits.reshape(n, 2 * k, -1)
    changed = bits.any(1) & ~bits.all(1)
    per_layer = [b for b in net.neurons_per_stage if b > 0]
    edges = np.cumsum([0] + per_layer)
    return np.stack([changed[:, edges[i]:edges[i + 1]].sum(1) for i in range(len(per_layer))], 1)


def relu_frame_count(net, X, U, r):
    """The same for a (leaky) ReLU net, from pre-activation signs directly."""
    verts = np.concatenate([X[:, None] + r * U, X[:, None] - r * U], axis=1)
    a, counts = verts, []
    for st in net.stages[:-1]:
        z = a @ np.asarray(st.weight).T + st.bias
        pos = z > 0
        counts.append((pos.any(1) & ~pos.all(1)).sum(1))
        a = np.where(pos, z, st.negative_slope * z)
    return np.stack(counts, 1)


# ------------------------------------------------------------------ distance_to_boundary
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_distance_matches_lp_regions(name, d):
    net = small_net(name, d)
    lower, upper = -2.0 * np.ones(d), 2.0 * np.ones(d)
    ref = reference_regions(net, lower, upper)
    X = np.random.default_rng(1).uniform(-1.8, 1.8, (60, d))
    got = rl.distance_to_boundary(net, X)
    want = lp_distance(net, ref, X, d)
    np.testing.assert_allclose(got.distance, want, rtol=1e-9, atol=1e-12)
    assert np.isfinite(got.distance).all() and (got.distance > 0).all()
    # The named unit's hyperplane is at that distance (max groups: one of its comparisons).
    for x, dist, bit in zip(X, got.distance, got.bit):
        oracle, per_bit = jacobian_distance(net, x)
        np.testing.assert_allclose(dist, oracle, rtol=1e-9)
        assert 0 <= bit < net.n_neurons
        np.testing.assert_allclose(per_bit[int(bit)], dist, rtol=1e-9)


def test_distance_deep_net_matches_jacobian_oracle():
    """4 hidden layers of width 16 in d = 5: most units are pruned by the spectral bound, the
    rest get exact row-times-Jacobian gradients; the full-Jacobian oracle sees them all."""
    net = deep_net()
    X = np.random.default_rng(2).standard_normal((150, 5))
    got = rl.distance_to_boundary(net, X)
    for x, dist, bit in zip(X, got.distance, got.bit):
        oracle, per_bit = jacobian_distance(net, x)
        np.testing.assert_allclose(dist, oracle, rtol=1e-9)
        np.testing.assert_allclose(per_bit[int(bit)], dist, rtol=1e-9)
    # The nearest unit is not always in the first layer (the deep ones are reached).
    assert (got.bit >= 16).any()
    # Blocks of samples (2048 at a time) give the same answer (up to BLAS rounding).
    many = np.repeat(X[:5], 900, axis=0)
    np.testing.assert_allclose(rl.distance_to_boundary(net, many).distance,
                               np.repeat(got.distance[:5], 900), rtol=1e-13)


def shared_winner_net(c):
    """max(x, -10) in two groups that share candidate 0 ([0, 1] and [0, 2]), so the next
    layer sees x twice: its unit ReLU(x + x - c) has gradient 2. Region of x = 0:
    (-10, c / 2), so the distance from 0 is min(10, c / 2)."""
    return rl.PLNet([
        rl.Stage.max_groups(np.array([[1.0], [0.0], [0.0]]), np.array([0.0, -10.0, -10.0]),
                            [[0, 1], [0, 2]]),
        rl.Stage(np.array([[1.0, 1.0]]), np.array([-c]), np.zeros(1)),
        rl.Stage(np.ones((1, 1)), np.zeros(1), np.ones(1)),
    ])


@pytest.mark.parametrize("c", [5.0, 15.0])
def test_distance_with_groups_sharing_a_winner(c):
    """Overlapping max groups (overlapping max-pool windows): when two groups pick the same
    candidate, the gradients through both must add up (c = 5: exact gradient), and the
    pruning bound must allow for the repeated rows (c = 15: the ReLU is the nearest)."""
    got = rl.distance_to_boundary(shared_winner_net(c), np.zeros((1, 1)))
    np.testing.assert_allclose(got.distance, [min(10.0, c / 2)], rtol=1e-14)
    assert got.bit[0] == 2  # the ReLU's bit (each group of two has one bit: 0 and 1)


def overlap_net(rng, d):
    """Two max stages of 3-candidate groups j, j+1, j+3 (mod width): every candidate is in
    three groups; then a ReLU layer."""
    W1 = rng.normal(0, 1 / np.sqrt(d), (7, d))
    W2, W3 = rng.normal(0, 0.4, (7, 7)), rng.normal(0, 0.4, (5, 7))
    groups = [[j, (j + 1) % 7, (j + 3) % 7] for j in range(7)]
    return rl.PLNet([rl.Stage.max_groups(W1, rng.normal(0, 0.5, 7), groups),
                     rl.Stage.max_groups(W2, rng.normal(0, 0.5, 7), groups),
                     rl.Stage(W3, rng.normal(0, 0.5, 5), np.zeros(5)),
                     rl.Stage(rng.standard_normal((1, 5)), np.zeros(1), np.ones(1))])


def test_distance_and_radii_with_overlapping_groups():
    rng = np.random.default_rng(14)
    for d in (2, 3):
        net = overlap_net(rng, d)
        X = rng.uniform(-1, 1, (100, d))
        got = rl.distance_to_boundary(net, X)
        want = [jacobian_distance(net, x)[0] for x in X]
        np.testing.assert_allclose(got.distance, want, rtol=1e-9)
    # rl.regions' radii are the same distances (nearest facet, or the box).
    net = overlap_net(rng, 2)
    part = rl.regions(net, [-1.0, -1.0], [1.0, 1.0])
    want = [min(jacobian_distance(net, y)[0], (1.0 - np.abs(y)).min())
            for y in part.interior_points]
    np.testing.assert_allclose(part.radii, want, rtol=1e-9)


def test_distance_is_zero_on_a_boundary():
    net = deep_net()
    # A point of the first neuron's hyperplane: its distance is (close to) zero.
    w, b = net.stages[0].weight[0], net.stages[0].bias[0]
    x0 = np.random.default_rng(4).standard_normal(5)
    x = x0 - (w @ x0 + b) / (w @ w) * w
    assert rl.distance_to_boundary(net, x[None]).distance[0] < 1e-12
    # Exactly on it (no bias, x = 0): exactly zero.
    relu = rl.PLNet.from_arrays([np.array([[1.0, 2.0], [3.0, -1.0]]), np.ones((1, 2))],
                                [np.zeros(2), np.zeros(1)])
    got = rl.distance_to_boundary(relu, np.zeros((1, 2)))
    assert got.distance[0] == 0.0 and got.bit[0] in (0, 1)
    # And the exact value off it: min(|x + 2y| / sqrt 5, |3x - y| / sqrt 10).
    p = np.array([[0.3, -0.4]])
    np.testing.assert_allclose(rl.distance_to_boundary(relu, p).distance,
                               [min(0.5 / np.sqrt(5), 1.3 / np.sqrt(10))], rtol=1e-14)


def test_distance_without_kinks_is_infinite():
    net = rl.PLNet.from_arrays([np.ones((3, 2)), np.ones((1, 3))], None, "identity")
    got = rl.distance_to_boundary(net, np.zeros((4, 2)))
    assert np.isinf(got.distance).all() and (got.bit == -1).all()


# ------------------------------------------------------------------ local complexity: exact
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_cube_counts_match_lp_and_regions(name, d):
    net = small_net(name, d)
    r = 0.6
    X = np.random.default_rng(5).uniform(-1, 1, (6, d))
    lc = rl.local_complexity(net, X, radius=r, shape="cube")
    assert lc.dim == d and lc.directions is None and lc.shape == "cube"
    want = [len(reference_regions(net, x - r, x + r)["patterns"]) for x in X]
    np.testing.assert_array_equal(lc.n_regions, want)
    np.testing.assert_array_equal(lc.n_regions, [rl.regions(net, x - r, x + r).n_regions
                                                 for x in X])
    assert (lc.n_regions > 1).any()


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_cross_counts_match_lp_on_the_cross_polytope(name, d):
    net = small_net(name, d)
    r = 0.8
    X = np.random.default_rng(6).uniform(-1, 1, (6, d))
    lc = rl.local_complexity(net, X, radius=r)  # shape="cross" is the default
    assert lc.shape == "cross"
    A0, b0 = cross_halfspaces(d)
    want = [reference_count(net, A0, b0, x, r) for x in X]
    np.testing.assert_array_equal(lc.n_regions, want)
    # The cross-polytope lies inside the cube: never more regions.
    cube = rl.local_complexity(net, X, radius=r, shape="cube")
    assert (lc.n_regions <= cube.n_regions).all()
    # Sampled patterns of the cross-polytope are among its regions.
    rng = np.random.default_rng(7)
    for x, count in zip(X, lc.n_regions):
        y = rng.uniform(-r, r, (20000, d))
        y = y[np.abs(y).sum(1) <= r]
        assert len(np.unique(net.patterns(x + y, packed=True), axis=0)) <= count


@pytest.mark.parametrize("name", NAMES)
def test_cross_in_2d_is_a_rotated_square(name):
    """|y|_1 <= r in the plane is the square s u + t v, |s|, |t| <= 1, with
    u = (r/2, r/2), v = (-r/2, r/2): rl.plane counts its regions."""
    net = small_net(name, 2, seed=1)
    r = 0.9
    X = np.random.default_rng(8).uniform(-1, 1, (8, 2))
    lc = rl.local_complexity(net, X, radius=r)
    u, v = np.array([r / 2, r / 2]), np.array([-r / 2, r / 2])
    np.testing.assert_array_equal(lc.n_regions, [rl.plane(net, x, u, v).n_regions for x in X])


@pytest.mark.parametrize("shape", ["cube", "cross"])
def test_one_dimensional_neighbourhoods(shape):
    """dim = 1: the cross-polytope and the cube are both the segment [x - r u, x + r u]."""
    net = rl.PLNet.from_arrays([np.ones((3, 1)), np.ones((1, 3))],
                               [np.array([0.5, -0.25, -0.6]), np.zeros(1)])  # kinks -0.5, .25, .6
    for r, want in [(0.3, 2), (0.55, 3), (1.0, 4)]:
        assert rl.local_complexity(net, [[0.0]], radius=r, shape=shape).n_regions[0] == want
    # a random direction in d = 4, against rl.segment
    net = random_net(np.random.default_rng(15), [4, 12, 8, 1])
    X = np.random.default_rng(16).standard_normal((6, 4))
    lc = rl.local_complexity(net, X, radius=1.5, dim=1, shape=shape)
    want = [rl.segment(net, x - 1.5 * B[0], x + 1.5 * B[0]).n_regions
            for x, B in zip(X, lc.directions)]
    np.testing.assert_array_equal(lc.n_regions, want)


def sliced(net, x, B):
    """``net`` composed with the slice ``x + y @ B``: its inputs are the coordinates y."""
    st = net.stages[0]
    return rl.PLNet([dataclasses.replace(st, weight=st.weight @ B.T, bias=st.weight @ x + st.bias),
                     *net.stages[1:]])


@pytest.mark.parametrize("shape", ["cube", "cross"])
def test_random_3d_slices_match_lp(shape):
    """d = 7, dim = 3, max groups: the LP walk on the net composed with each slice."""
    rng = np.random.default_rng(17)
    net = overlap_net(rng, 7) if shape == "cross" else small_net("max", 7)
    X = rng.standard_normal((4, 7))
    lc = rl.local_complexity(net, X, radius=0.8, dim=3, shape=shape, seed=1)
    A0, b0 = (cross_halfspaces if shape == "cross" else box_halfspaces)(3)
    want = [reference_count(sliced(net, x, B), A0, b0, np.zeros(3), 0.8)
            for x, B in zip(X, lc.directions)]
    np.testing.assert_array_equal(lc.n_regions, want)
    assert (lc.n_regions > 1).sum() >= 3


@pytest.mark.parametrize("shape", ["cube", "cross"])
def test_random_slices_match_regions(shape):
    """d = 6, dim = 2: each sample's own random plane, counted by rl.regions / rl.plane."""
    net = random_net(np.random.default_rng(9), [6, 12, 12, 1])
    r = 0.7
    X = np.random.default_rng(10).standard_normal((10, 6))
    lc = rl.local_complexity(net, X, radius=r, dim=2, shape=shape, seed=3)
    U = lc.directions
    assert U.shape == (10, 2, 6)
    np.testing.assert_allclose(U @ np.swapaxes(U, 1, 2), np.broadcast_to(np.eye(2), (10, 2, 2)),
                               atol=1e-12)
    if shape == "cube":
        want = [rl.regions(net, [-r, -r], [r, r], origin=x, basis=B).n_regions
                for x, B in zip(X, U)]
    else:
        want = [rl.plane(net, x, r / 2 * (B[0] + B[1]), r / 2 * (B[1] - B[0])).n_regions
                for x, B in zip(X, U)]
    np.testing.assert_array_equal(lc.n_regions, want)
    assert (lc.n_regions > 1).any()
    # Seeded: the same seed gives the same slices, another seed others.
    again = rl.local_complexity(net, X, radius=r, dim=2, shape=shape, seed=3)
    np.testing.assert_array_equal(again.directions, U)
    np.testing.assert_array_equal(again.n_regions, lc.n_regions)
    other = rl.local_complexity(net, X, radius=r, dim=2, shape=shape, seed=4, exact=False)
    assert not np.allclose(other.directions, U)
    assert other.n_regions is None


def test_default_dim():
    X = np.zeros((2, 3))
    assert rl.local_complexity(small_net("relu", 3), X, radius=0.5).dim == 3
    lc = rl.local_complexity(random_net(np.random.default_rng(0), [6, 4, 1]), np.zeros((2, 6)),
                             radius=0.5)
    assert lc.dim == 2 and lc.directions.shape == (2, 2, 6)


# ------------------------------------------------------------------ the approximation
@pytest.mark.parametrize("d, dim", [(2, None), (3, None), (6, 2), (6, 4)])
def test_approximation_recounted(d, dim):
    net = random_net(np.random.default_rng(11 + d), [d, 10, 8, 6, 1],
                     activation=["relu", ("leaky_relu", 0.1), "relu", "identity"])
    X = np.random.default_rng(12).standard_normal((40, d))
    r = 0.5
    lc = rl.local_complexity(net, X, radius=r, dim=dim, exact=False)
    U = np.broadcast_to(np.eye(d), (len(X), d, d)) if lc.directions is None else lc.directions
    want = relu_frame_count(net, X, U, r)
    np.testing.assert_array_equal(lc.approximate, want)
    np.testing.assert_array_equal(lc.approximate, frame_count(net, X, U, r))
    np.testing.assert_array_equal(lc.approximate_total, want.sum(1))
    assert lc.approximate.shape == (40, 3) and want.sum() > 0
    # The same frame is seen whatever the neighbourhood's shape.
    cube = rl.local_complexity(net, X, radius=r, dim=dim, shape="cube", exact=False)
    np.testing.assert_array_equal(cube.approximate, want)


def test_approximation_with_max_groups():
    net = small_net("max", 3)
    X = np.random.default_rng(13).uniform(-1, 1, (30, 3))
    lc = rl.local_complexity(net, X, radius=0.7, exact=False)
    want = frame_count(net, X, np.broadcast_to(np.eye(3), (30, 3, 3)), 0.7)
    np.testing.assert_array_equal(lc.approximate, want)
    assert lc.approximate.shape == (30, 2)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kwargs, error", [
    (dict(radius=0.0), ValueError),
    (dict(radius=-1.0), ValueError),
    (dict(radius=np.nan), ValueError),
    (dict(radius=np.inf), ValueError),
    (dict(radius=True), ValueError),
    (dict(radius="1"), ValueError),
    (dict(radius=1.0, dim=0), ValueError),
    (dict(radius=1.0, dim=4), ValueError),
    (dict(radius=1.0, dim=2.5), ValueError),
    (dict(radius=1.0, dim=True), ValueError),
    (dict(radius=1.0, shape="ball"), ValueError),
    (dict(radius=1.0, shape=None), ValueError),
])
def test_local_complexity_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        rl.local_complexity(small_net("relu", 3), np.zeros((2, 3)), **kwargs)


@pytest.mark.parametrize("X, error", [
    (np.zeros((2, 4)), ValueError),
    (np.zeros((2, 2)), ValueError),
    (np.zeros(3), ValueError),
    (np.array([[0.0, np.nan, 0.0]]), ValueError),
    (np.array([[0.0, np.inf, 0.0]]), ValueError),
    (np.array([["a", "b", "c"]]), TypeError),
    (np.array([[None, 1, 2]], dtype=object), TypeError),
])
def test_bad_samples_are_rejected(X, error):
    net = small_net("relu", 3)
    with pytest.raises(error):
        rl.distance_to_boundary(net, X)
    with pytest.raises(error):
        rl.local_complexity(net, X, radius=0.5)


def test_samples_from_any_data_source_give_the_same_answers():
    torch = pytest.importorskip("torch")
    import regionlab as rl

    rng = np.random.default_rng(5)
    net = rl.PLNet.from_arrays([rng.normal(size=(6, 2)), rng.normal(size=(1, 6))],
                               [rng.normal(size=6), np.zeros(1)])
    X = rng.normal(size=(7, 2))
    ref = rl.distance_to_boundary(net, X)
    ref_lc = rl.local_complexity(net, X, radius=0.3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(X), torch.zeros(7)), batch_size=3)
    sources = [lambda: torch.tensor(X), lambda: (b for b in (X[:4], X[4:])), lambda: loader,
               lambda: X.tolist()]
    for make in sources:
        np.testing.assert_array_equal(rl.distance_to_boundary(net, make()).distance, ref.distance)
        np.testing.assert_array_equal(rl.distance_to_boundary(net, make()).bit, ref.bit)
        np.testing.assert_array_equal(rl.local_complexity(net, make(), radius=0.3).n_regions,
                                      ref_lc.n_regions)
