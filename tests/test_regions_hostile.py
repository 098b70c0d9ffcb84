"""Adversarial checks of rl.regions / rl.distance_to_boundary / rl.local_complexity on
degenerate inputs: integer weights (many exact coincidences), dead and identity units,
tied and overlapping max groups, extreme scales, thin and far boxes, slices, the whole
space. Oracles: the LP reference enumerator, sampling, and exact invariances."""

import numpy as np
import pytest

import regionlab as rl
from reference_regions import reference_regions


def pattern_set(p):
    return {bytes(r) for r in np.asarray(p)}


def integer_net(seed, d, widths, slopes=(0.0, 0.1, -1.0, 2.0, 1.0)):
    rng = np.random.default_rng(seed)
    dims = [d] + list(widths) + [1]
    Ws = [rng.integers(-2, 3, size=(dims[i + 1], dims[i])).astype(float) for i in range(len(dims) - 1)]
    bs = [rng.integers(-2, 3, size=dims[i + 1]).astype(float) for i in range(len(dims) - 1)]
    acts = [rng.choice(slopes, size=w) for w in widths] + ["identity"]
    return rl.PLNet.from_arrays(Ws, bs, acts), Ws, bs, acts


def check_region_properties(net, part, lo, hi, seed=0):
    """Interior points, balls, maps, per-layer counts, volumes summing to the box's."""
    X = part.interior_points
    assert part.volumes.sum() == pytest.approx(np.prod(np.subtract(hi, lo)), rel=1e-9)
    assert (net.patterns(X, packed=True) == part.patterns).all()
    rng = np.random.default_rng(seed)
    u = rng.normal(size=X.shape)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    assert (net.patterns(X + 0.999 * part.radii[:, None] * u, packed=True) == part.patterns).all()
    np.testing.assert_allclose(part.output(X, np.arange(part.n_regions)),
                               net.astype(np.float64).forward(X), rtol=1e-9, atol=1e-9)
    bits, upto, per_layer = part.pattern_bits(), 0, []
    for nb in part.neurons_per_layer:
        upto += nb
        per_layer.append(len({r[:upto].tobytes() for r in bits}))
    assert tuple(per_layer) == part.n_regions_per_layer
    S = rng.uniform(lo, hi, size=(5000, len(lo)))
    assert pattern_set(net.patterns(S, packed=True)) <= pattern_set(part.patterns)


def assert_matches_reference(net, part, lo, hi):
    ref = reference_regions(net, np.asarray(lo, float), np.asarray(hi, float))
    assert pattern_set(part.patterns) == pattern_set(ref["patterns"])
    mine = {bytes(p): v for p, v in zip(part.patterns, part.volumes)}
    box = float(np.prod(np.subtract(hi, lo)))
    for p, v in zip(ref["patterns"], ref["volumes"]):
        assert mine[bytes(p)] == pytest.approx(v, rel=1e-6, abs=1e-12 * box)


@pytest.mark.parametrize("seed,d,widths", [(13, 5, [5, 5, 2]), (31, 4, [3, 2, 4]), (37, 2, [6, 6, 3]),
                                           (9, 3, [8, 4, 2]), (7, 5, [4, 5])])
def test_integer_weights_with_coincidences_match_the_lp_reference(seed, d, widths):
    # Integer weights in [-2, 2] and integer boxes: hyperplanes through box corners, along
    # box faces, through common points, parallel, coincident, zero rows; mixed slopes
    # 0 / 0.1 / -1 (abs) / 2 / 1 (identity) per neuron.
    net, *_ = integer_net(seed, d, widths)
    rng = np.random.default_rng(seed)
    lo = rng.integers(-3, 1, size=d).astype(float)
    hi = lo + rng.integers(1, 4, size=d)
    part = rl.regions(net, lo, hi)
    check_region_properties(net, part, lo, hi)
    assert_matches_reference(net, part, lo, hi)


def test_hyperplanes_on_box_faces_corners_and_through_one_point():
    W = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [2, 2], [-1, -1], [0, 0], [1, 0], [0, -3]], float)
    b = np.array([0, 0, 0, 0, 0, 0, 1, -1, 3], float)  # x = 1 and y = 1: box faces
    net = rl.PLNet.from_arrays([W, np.ones((1, len(W)))], [b, np.zeros(1)])
    for lo, hi in (([-1, -1], [1, 1]), ([0, 0], [1, 1]), ([-2, -3], [1, 1])):
        part = rl.regions(net, lo, hi)
        check_region_properties(net, part, np.array(lo, float), np.array(hi, float))
        assert_matches_reference(net, part, lo, hi)
    assert rl.regions(net, [0, 0], [1, 1]).n_regions == 2  # only x = y cuts the open square


def test_dead_units_all_dead_layers_and_ties_on_full_dimensional_sets():
    W1 = np.array([[1, 0], [0, 1], [1, 1]], float)
    b1 = np.array([-1, -1, 0.0])
    W2 = np.array([[1, 1, 0], [0, 0, 1], [1, -1, 0], [0, 0, 0], [2, 2, 0]], float)
    nets = [
        # max over relu outputs that are all 0 on a quadrant: a tie on an open set
        rl.PLNet.from_arrays([W1, np.eye(3), np.ones((1, 2))], [b1, np.zeros(3), np.zeros(1)],
                             ["relu", ("max", [[0, 1], [1, 0, 2]]), "identity"]),
        # second-layer neurons identically zero / constant on regions
        rl.PLNet.from_arrays([W1, W2, np.ones((1, 5))], [b1, np.zeros(5), np.zeros(1)]),
        # an all-dead layer followed by a leaky layer of constants
        rl.PLNet.from_arrays([W1, -np.ones((3, 3)), np.ones((2, 3)), np.ones((1, 2))],
                             [b1, -np.ones(3), np.array([1.0, -1]), np.zeros(1)],
                             ["relu", "relu", ("leaky_relu", 0.1), "identity"]),
        # identity units mixed with kinks, slopes 0, 0.1, -1, 2
        rl.PLNet.from_arrays([W1, W2, np.ones((1, 5))], [b1, np.zeros(5), np.zeros(1)],
                             [np.array([1, 0, 1.0]), np.array([1, 0, 0.1, -1, 2]), "identity"]),
    ]
    for net in nets:
        part = rl.regions(net, [-2, -2], [2, 2])
        check_region_properties(net, part, np.array([-2.0, -2]), np.array([2.0, 2]))
        assert_matches_reference(net, part, [-2, -2], [2, 2])
    # No kink at all: one region, no layers with kinks.
    lin = rl.PLNet.from_arrays([W1, W2, np.ones((1, 5))], [b1, np.zeros(5), np.zeros(1)],
                               ["identity", "identity", "identity"])
    part = rl.regions(lin, [-2, -2], [2, 2])
    assert part.n_regions == 1 and part.n_regions_per_layer == () and part.patterns.shape == (1, 0)
    assert np.isinf(rl.distance_to_boundary(lin, np.zeros((3, 2))).distance).all()


@pytest.mark.parametrize("seed", [100, 109, 115, 128])
def test_tied_and_overlapping_max_groups_of_sizes_1_3_5_match_the_reference(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 5))
    m = 8
    W = rng.integers(-2, 3, size=(m, d)).astype(float)
    b = rng.integers(-2, 3, size=m).astype(float)
    W[1], b[1] = W[0], b[0]  # two identical candidates (ties: the first wins)
    groups = [[1, 0, 4, 5, 6], [0, 2, 3], [7], [4, 5]]  # overlapping groups, sizes 5, 3, 1, 2
    W2 = rng.integers(-2, 3, size=(4, 4)).astype(float)
    net = rl.PLNet.from_arrays([W, W2, np.ones((1, 4))], [b, np.zeros(4), np.zeros(1)],
                               [("max", groups), "relu", "identity"])
    lo, hi = -2 * np.ones(d), 2 * np.ones(d)
    part = rl.regions(net, lo, hi)
    check_region_properties(net, part, lo, hi)
    assert_matches_reference(net, part, lo, hi)


@pytest.mark.parametrize("seed", [1000, 1017, 1031])
def test_counts_are_invariant_under_permutation_positive_scaling_translation_and_zoom(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 5))
    n1, n2 = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    W1 = rng.integers(-2, 3, size=(n1, d)).astype(float)
    b1 = rng.integers(-2, 3, size=n1).astype(float)
    W2 = rng.integers(-2, 3, size=(n2, n1)).astype(float)
    b2 = rng.integers(-2, 3, size=n2).astype(float)
    a1 = rng.choice([0, 0.1, -1, 2], size=n1)
    a2 = rng.choice([0, 0.1, -1, 2], size=n2)

    def mk(W1, b1, W2, b2, a1, a2):
        return rl.PLNet.from_arrays([W1, W2, np.ones((1, n2))], [b1, b2, np.zeros(1)], [a1, a2, "identity"])

    lo, hi = -2 * np.ones(d), 2 * np.ones(d)
    base = rl.regions(mk(W1, b1, W2, b2, a1, a2), lo, hi)
    vols = np.sort(base.volumes)
    pi, pj = rng.permutation(n1), rng.permutation(n2)
    c = np.exp(3 * rng.normal(size=n1))  # leaky units are positively homogeneous
    t = rng.integers(-50, 50, size=d).astype(float)
    same_vols = [
        rl.regions(mk(W1[pi], b1[pi], W2[:, pi], b2, a1[pi], a2), lo, hi),
        rl.regions(mk(W1, b1, W2[pj], b2[pj], a1, a2[pj]), lo, hi),
        rl.regions(mk(W1 * c[:, None], b1 * c, W2 / c[None, :], b2, a1, a2), lo, hi),
        rl.regions(mk(W1, b1 - W1 @ t, W2, b2, a1, a2), lo + t, hi + t),
    ]
    for part in same_vols:
        assert part.n_regions == base.n_regions
        np.testing.assert_allclose(np.sort(part.volumes), vols, rtol=1e-7, atol=1e-12)
    for part in same_vols[2:]:
        assert pattern_set(part.patterns) == pattern_set(base.patterns)
    zoom = rl.regions(mk(W1 / 4, b1, W2, b2, a1, a2), 4 * lo, 4 * hi)
    assert pattern_set(zoom.patterns) == pattern_set(base.patterns)
    np.testing.assert_allclose(np.sort(zoom.volumes) / 4.0**d, vols, rtol=1e-7, atol=1e-12)


def test_extreme_weight_scales_and_far_exact_boxes_give_the_same_patterns():
    rng = np.random.default_rng(5)
    d = 3
    W1 = rng.integers(-2, 3, size=(8, d)).astype(float)
    b1 = rng.integers(-2, 3, size=8).astype(float)
    W2 = rng.integers(-2, 3, size=(5, 8)).astype(float)
    b2 = rng.integers(-2, 3, size=5).astype(float)

    def mk(W1, b1, W2=W2, b2=b2):
        return rl.PLNet.from_arrays([W1, W2, np.ones((1, 5))], [b1, b2, np.zeros(1)])

    lo, hi = -2 * np.ones(d), 2 * np.ones(d)
    base = rl.regions(mk(W1, b1), lo, hi)
    assert base.n_regions == 181
    for sc in (1e-300, 1e-100, 1e100, 1e300):
        assert pattern_set(rl.regions(mk(W1 * sc, b1 * sc, W2, b2 * sc), lo, hi).patterns) == \
            pattern_set(base.patterns)
        assert pattern_set(rl.regions(mk(W1, b1, W2 * sc, b2 * sc), lo, hi).patterns) == \
            pattern_set(base.patterns)
    # Boxes of size 1e-8 and 1e8, and boxes (exactly representable) far from the origin,
    # with the first layer moved along: the same partition.
    for c, h in ((0.0, 1e-8), (0.0, 1e8), (2.0**20, 2.0**-10), (-2.0**40, 2.0**10)):
        centre = np.full(d, c)
        s = 2 / h
        net = mk(W1 * s, b1 - (W1 * s) @ centre)
        part = rl.regions(net, centre - h, centre + h)
        assert pattern_set(part.patterns) == pattern_set(base.patterns)
        np.testing.assert_allclose(np.sort(part.volumes) / (h / 2) ** d, np.sort(base.volumes),
                                   rtol=1e-6, atol=1e-12)


def test_thin_boxes_count_what_the_stretched_box_counts():
    # A box 1e-9 thin in one side has the regions of the net composed with the stretch
    # that makes it a unit cube (the count is invariant under affine changes of variable).
    rng = np.random.default_rng(5)
    W1 = rng.integers(-2, 3, size=(8, 3)).astype(float)
    b1 = rng.integers(-2, 3, size=8).astype(float)
    W2 = rng.integers(-2, 3, size=(5, 8)).astype(float)
    b2 = rng.integers(-2, 3, size=5).astype(float)

    def mk(W1, b1):
        return rl.PLNet.from_arrays([W1, W2, np.ones((1, 5))], [b1, b2, np.zeros(1)])

    for lo, hi in (([-2, -2, 0], [2, 2, 1e-9]), ([-2, -2, 1 - 2**-30], [2, 2, 1 + 2**-30]),
                   ([-2, -1e-9, -1e-9], [2, 1e-9, 1e-9])):
        lo, hi = np.array(lo, float), np.array(hi, float)
        thin = rl.regions(mk(W1, b1), lo, hi)
        unit = rl.regions(mk(W1 * (hi - lo)[None, :], b1 + W1 @ lo), np.zeros(3), np.ones(3))
        assert pattern_set(thin.patterns) == pattern_set(unit.patterns)
        assert thin.volumes.sum() == pytest.approx(np.prod(hi - lo), rel=1e-9)
        assert (mk(W1, b1).patterns(thin.interior_points, packed=True) == thin.patterns).all()


@pytest.mark.parametrize("seed", range(6))
def test_boxes_with_sides_1e10_apart_count_what_the_unit_box_counts(seed):
    """Each input axis rescaled by s (s = 1e-5, 1, 1e5) and the box by 1/s: the same
    geometry. The on-plane floor was box_size * |a|, 1% of a plane's range over such a box,
    which merged regions (volumes off by 1.7%, interior points of foreign patterns)."""
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((6, 3)), rng.standard_normal((5, 6)), rng.standard_normal((1, 5))]
    bs = [0.5 * rng.standard_normal(6), 0.5 * rng.standard_normal(5), 0.5 * rng.standard_normal(1)]
    acts = ["relu", "relu", "identity"]
    unit = rl.regions(rl.PLNet.from_arrays(Ws, bs, acts), -np.ones(3), np.ones(3))
    s = np.array([1e-5, 1.0, 1e5])
    net = rl.PLNet.from_arrays([Ws[0] * s] + Ws[1:], bs, acts)
    scaled = rl.regions(net, -1 / s, 1 / s)
    assert pattern_set(scaled.patterns) == pattern_set(unit.patterns)
    assert scaled.volumes.sum() == pytest.approx(np.prod(2 / s), rel=1e-9)
    assert (net.patterns(scaled.interior_points, packed=True) == scaled.patterns).all()
    # and a 2-D slice stretched the same way gives the plane tracer's regions
    W2 = [rng.standard_normal((10, 2)), rng.standard_normal((1, 10))]
    b2 = [0.5 * rng.standard_normal(10), 0.5 * rng.standard_normal(1)]
    s2 = np.array([1e-5, 1e5])
    net2 = rl.PLNet.from_arrays([W2[0] * s2, W2[1]], b2, ["relu", "identity"])
    box2 = rl.regions(net2, -1 / s2, 1 / s2)
    plane = rl.plane(net2, np.zeros(2), [1.0, 0.0], [0.0, 1.0], extent=(-1e5, 1e5, -1e-5, 1e-5))
    assert box2.n_regions == plane.n_regions
    assert box2.volumes.sum() == pytest.approx(4.0, rel=1e-9)


def test_slices_of_ten_inputs_with_nearly_parallel_rows_and_extreme_norms():
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    net = rl.from_torch(torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.ReLU(),
                                            torch.nn.Linear(8, 6), torch.nn.ReLU(),
                                            torch.nn.Linear(6, 1)))
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=10)
    B = rng.normal(size=(3, 10))
    W1, b1 = net.stages[0].weight, net.stages[0].bias

    def composed(Bk):
        Ws = [W1 @ Bk.T] + [s.weight for s in net.stages[1:]]
        bs = [W1 @ x0 + b1] + [s.bias for s in net.stages[1:]]
        return rl.PLNet.from_arrays(Ws, bs, ["relu"] * (len(Ws) - 1) + ["identity"])

    base = rl.regions(net, origin=x0, basis=B[:2], lower=[-1, -1], upper=[1, 1])
    ref = reference_regions(composed(B[:2]), -np.ones(2), np.ones(2))
    assert pattern_set(base.patterns) == pattern_set(ref["patterns"])
    for sc in (1e-100, 1e-8, 1e8, 1e100):  # the same slice, written with scaled rows
        part = rl.regions(net, origin=x0, basis=B[:2] * sc, lower=[-1 / sc] * 2, upper=[1 / sc] * 2)
        assert pattern_set(part.patterns) == pattern_set(base.patterns)
    # Nearly parallel rows: still a valid slice; interior points keep their patterns.
    Bp = np.vstack([B[0], B[0] + 1e-4 * B[1]])
    part = rl.regions(net, origin=x0, basis=Bp, lower=[-1, -1e4], upper=[1, 1e4])
    assert (net.patterns(part.to_input(part.interior_points), packed=True) == part.patterns).all()
    Y = rng.uniform([-1, -1e4], [1, 1e4], size=(20000, 2))
    assert pattern_set(net.patterns(x0 + Y @ Bp, packed=True)) <= pattern_set(part.patterns)
    with pytest.raises(ValueError, match="linearly independent"):
        rl.regions(net, origin=x0, basis=np.vstack([B[0], B[0] + 1e-15 * B[1]]), lower=[-1, -1],
                   upper=[1, 1])


@pytest.mark.parametrize("seed", [3, 8, 19])
def test_whole_space_has_the_patterns_of_a_huge_box_for_integer_nets(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 5))
    widths = [int(rng.integers(2, 6)) for _ in range(int(rng.integers(1, 3)))]
    net, *_ = integer_net(seed, d, widths, slopes=(0.0, 0.1, -1.0, 2.0))
    whole = rl.regions(net)
    big = rl.regions(net, -1e6 * np.ones(d), 1e6 * np.ones(d))
    assert pattern_set(whole.patterns) == pattern_set(big.patterns)
    assert whole.n_regions_per_layer == big.n_regions_per_layer
    X = whole.interior_points
    assert (net.patterns(X, packed=True) == whole.patterns).all()
    np.testing.assert_allclose(whole.output(X, np.arange(whole.n_regions)),
                               net.astype(np.float64).forward(X), rtol=1e-8, atol=1e-8)


def test_whole_space_with_far_hyperplanes_zero_rows_and_one_input():
    # Three lines far from the origin: 7 regions, one bounded triangle of area 4.5.
    net = rl.PLNet.from_arrays([np.array([[1.0, 0], [0, 1], [1, 1]]), np.ones((1, 3))],
                               [np.array([1e6, -1e6, 3]), np.zeros(1)])
    w = rl.regions(net)
    assert w.n_regions == 7 and int((~w.unbounded).sum()) == 1
    assert w.volumes[~w.unbounded][0] == pytest.approx(4.5, rel=1e-9)
    # Zero rows only: one region, unbounded.
    z = rl.regions(rl.PLNet.from_arrays([np.zeros((3, 2)), np.ones((1, 3))],
                                        [np.array([1.0, -1, 0]), np.zeros(1)]))
    assert z.n_regions == 1 and z.unbounded.all()
    # Huge and tiny weights; a hyperplane 1e200 away.
    for W, b in ((np.eye(2) * 1e150, [1e150, 0]), (np.eye(2) * 1e-150, [1e-150, 0]), (np.eye(2), [1e200, 0])):
        w = rl.regions(rl.PLNet.from_arrays([W, np.ones((1, 2))], [np.array(b), np.zeros(1)]))
        assert w.n_regions == 4 and w.unbounded.all()
    # One input: kinks at 0, 1, 2 (the last from -2x + 4).
    net1 = rl.PLNet.from_arrays([np.array([[1.0], [1.0], [-2.0]]), np.ones((1, 3))],
                                [np.array([0, -1, 4.0]), np.zeros(1)])
    w = rl.regions(net1)
    assert w.n_regions == 4 and int(w.unbounded.sum()) == 2
    np.testing.assert_allclose(np.sort(w.volumes[~w.unbounded]), [1.0, 1.0], rtol=1e-12)


def test_local_complexity_cube_equals_the_regions_of_the_box_even_on_vertices():
    W = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [2, 0]], float)
    b = np.array([0, 0, 0, 0, -1.0])
    net = rl.PLNet.from_arrays([W, np.ones((2, 5)), np.ones((1, 2))], [b, np.array([-1, 0.0]), np.zeros(1)])
    # Samples on a 4-line vertex, on line crossings, 1e-13 from the vertex, far away.
    X = np.array([[0, 0], [0.5, 0.5], [0.5, 0], [1e-13, 0], [3, 3], [0.25, 0.25]], float)
    for r in (1e-12, 1e-3, 0.5, 1e6):
        lc = rl.local_complexity(net, X, radius=r, shape="cube")
        assert lc.n_regions.tolist() == [rl.regions(net, x - r, x + r).n_regions for x in X]
    tiny = rl.local_complexity(net, X, radius=1e-12)
    assert tiny.n_regions.tolist() == [8, 4, 4, 8, 2, 4]
    assert tiny.approximate_total.tolist() == [5, 2, 2, 5, 1, 2]
    huge = rl.local_complexity(net, X, radius=1e6)
    assert (huge.n_regions == rl.regions(net).n_regions).all()


@pytest.mark.parametrize("seed", [0, 1, 2, 4])
def test_distance_to_boundary_equals_the_reference_polytope_distance(seed):
    # Leaky slopes 0 / 0.1 / -1 / 2 / 1, overlapping max groups: the distance from a sample
    # to its region's boundary is the least slack of the reference H-representation.
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 4))
    if seed % 2 == 0:
        W1, b1 = rng.normal(size=(6, d)), rng.normal(size=6)
        W2, b2 = rng.normal(size=(4, 6)), rng.normal(size=4)
        net = rl.PLNet.from_arrays([W1, W2, np.ones((1, 4))], [b1, b2, np.zeros(1)],
                                   [rng.choice([0, 0.1, -1, 2, 1], size=6), rng.choice([0, 0.1, -1, 2], size=4),
                                    "identity"])
    else:
        W1, b1 = rng.normal(size=(7, d)), rng.normal(size=7)
        W2, b2 = rng.normal(size=(3, 4)), rng.normal(size=3)
        net = rl.PLNet.from_arrays([W1, W2, np.ones((1, 3))], [b1, b2, np.zeros(1)],
                                   [("max", [[0, 1, 2], [2, 3], [4], [5, 6, 0, 1, 3]]), "relu", "identity"])
    L = 4.0
    ref = reference_regions(net, -L * np.ones(d), L * np.ones(d))
    index = {bytes(p): i for i, p in enumerate(ref["patterns"])}
    X = rng.uniform(-1, 1, size=(40, d))
    dist = rl.distance_to_boundary(net, X).distance
    for x, p, got in zip(X, net.patterns(X, packed=True), dist):
        i = index[bytes(p)]
        A, bb = ref["A"][i], ref["b"][i]
        slack = (bb - A @ x) / np.linalg.norm(A, axis=1)
        is_box = ((np.abs(A) > 1e-12).sum(axis=1) == 1) & np.isclose(np.abs(bb), L)
        expected = slack[~is_box].min(initial=np.inf)
        if expected < (L - np.abs(x)).min():
            assert got == pytest.approx(expected, rel=1e-7, abs=1e-12)


def test_distance_to_boundary_on_boundaries_in_dead_regions_and_without_kinks():
    W = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [2, 0]], float)
    b = np.array([0, 0, 0, 0, -1.0])
    X = np.array([[0, 0], [0.5, 0], [3, 3], [-3, -2], [0.3, 0.1]], float)
    net = rl.PLNet.from_arrays([W, -np.ones((2, 5)), np.ones((2, 2)), np.ones((1, 2))],
                               [b, -100 * np.ones(2), np.array([1, -1.0]), np.zeros(1)])
    got = rl.distance_to_boundary(net, X)
    # On hyperplanes: 0. In the all-dead quadrant: the nearest first-layer line x = y.
    np.testing.assert_allclose(got.distance, [0, 0, 0, 1 / np.sqrt(2), 0.1], rtol=1e-12, atol=0)
    assert got.bit[3] == 3
    lin = rl.PLNet.from_arrays([W, np.ones((1, 5))], [b, np.zeros(1)], ["identity", "identity"])
    d = rl.distance_to_boundary(lin, X)
    assert np.isinf(d.distance).all() and (d.bit == -1).all()


# ---------------------------------------------------------------- regressions of what was found


def test_strips_and_slabs_of_the_whole_space_are_unbounded():
    # Lines x = 0 and x = 1: two half-planes and a strip, all unbounded (the strip meets
    # infinity only in two points of the circle at infinity, not along a facet).
    net = rl.PLNet.from_arrays([np.array([[1.0, 0], [1, 0]]), np.ones((1, 2))],
                               [np.array([0.0, -1]), np.zeros(1)])
    w = rl.regions(net)
    assert w.n_regions == 3 and w.unbounded.all() and np.isinf(w.volumes).all()
    # |x| - 1 through two layers: every region unbounded.
    net = rl.PLNet.from_arrays([np.array([[1.0, 0], [-1, 0]]), np.array([[1.0, 1]]), np.ones((1, 1))],
                               [np.zeros(2), np.array([-1.0]), np.zeros(1)])
    w = rl.regions(net)
    assert w.unbounded.all()
    # Gaussian deep nets: a region is bounded iff its volume stops growing with the box (an
    # unbounded one grows at least in proportion to the box's side; bounded ones can reach
    # beyond 1e3, so the boxes are 1e5 and 1e8).
    for seed in range(4):
        rng = np.random.default_rng(seed)
        net = rl.PLNet.from_arrays([rng.normal(size=(6, 3)), rng.normal(size=(5, 6)), np.ones((1, 5))],
                                   [rng.normal(size=6), rng.normal(size=5), np.zeros(1)])
        w = rl.regions(net)
        small = rl.regions(net, [-1e5] * 3, [1e5] * 3)
        big = rl.regions(net, [-1e8] * 3, [1e8] * 3)
        v_small = {bytes(p): v for p, v in zip(small.patterns, small.volumes)}
        v_big = {bytes(p): v for p, v in zip(big.patterns, big.volumes)}
        for p, unbounded, vol in zip(w.patterns, w.unbounded, w.volumes):
            grows = v_big[bytes(p)] > 2 * v_small[bytes(p)]
            assert unbounded == grows
            if not unbounded:  # the smaller box resolves it better (rounding grows with the box)
                assert vol == pytest.approx(v_small[bytes(p)], rel=1e-6)


@pytest.mark.parametrize("d", [3, 4])
def test_thin_slabs_keep_their_facets_and_balls(d):
    # Two parallel neurons 1e-9 apart in [-1, 1]^d: the slab between them is a region with
    # both neurons and every box face orthogonal to them as facets.
    for gap in (1e-8, 1e-9, 3e-10):
        w = np.zeros((2, d))
        w[:, 0] = 1.0
        net = rl.PLNet.from_arrays([w, np.ones((1, 2))], [np.array([0.0, -gap]), np.zeros(1)])
        part = rl.regions(net, -np.ones(d), np.ones(d))
        assert part.n_regions == 3
        slab = int(np.argmin(part.volumes))
        kinds = [part.facet(int(f))["kind"] for f in part.facets[slab]]
        assert kinds.count("neuron") == 2 and kinds.count("box") == 2 * (d - 1)
        assert part.radii[slab] == pytest.approx(gap / 2, rel=1e-3)
        rng = np.random.default_rng(0)
        u = rng.normal(size=(200, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        inside = part.interior_points[slab] + 0.999 * part.radii[slab] * u
        assert (net.patterns(inside, packed=True) == part.patterns[slab]).all()


def test_boxes_whose_volume_does_not_fit_float64_are_refused():
    net = rl.PLNet.from_arrays([np.eye(2), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    with pytest.raises(ValueError, match="volume overflows"):
        rl.regions(net, [-1e200] * 2, [1e200] * 2)
    with pytest.raises(ValueError, match="too large for float64"):
        rl.regions(net, [-1e308] * 2, [1e308] * 2)
    with pytest.raises(ValueError, match="volume underflows"):
        rl.regions(net, [0, 0], [1e-300, 1e-300])
    assert rl.regions(net, [-1e200] * 2, [1e200] * 2, volumes=False).n_regions == 4


def test_no_samples_give_empty_results():
    net = rl.PLNet.from_arrays([np.eye(2), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    assert rl.distance_to_boundary(net, np.zeros((0, 2))).distance.shape == (0,)
    assert rl.local_complexity(net, np.zeros((0, 2)), radius=1.0).n_regions.shape == (0,)
    with pytest.raises(ValueError, match="2 inputs"):
        rl.distance_to_boundary(net, np.zeros((0, 3)))


def test_extreme_basis_norms_are_accepted():
    net = rl.PLNet.from_arrays([np.eye(2), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    tiny = rl.regions(net, origin=[0, 0], basis=[[1e-300, 0]], lower=[-1], upper=[1])
    assert tiny.n_regions == 2
    huge = rl.regions(net, origin=[0, 0], basis=[[1e300, 0], [0, 1e300]], lower=[-1, -1], upper=[1, 1])
    assert huge.n_regions == 4
