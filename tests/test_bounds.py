"""rl.bounds: closed-form region counts against hand values, brute-force enumeration of
their index sets, and the exact geometry engines (rl.plane, rl.segment)."""

import itertools
import math

import numpy as np
import pytest

import regionlab as rl
import regionlab.bounds as bounds
from oracles import zaslavsky_count


# ----------------------------------------------------------------------------- helpers
def _one_layer(rng, n, d, activation="relu"):
    rows = 2 * n if activation != "relu" else n
    W, b = rng.normal(size=(rows, d)), rng.normal(size=rows)
    net = rl.PLNet.from_arrays([W, rng.normal(size=(1, n))], [b, np.zeros(1)], activation)
    return net, W, b


def _vertex_box(A, c):
    """A square box (s0, s1, t0, t1) strictly holding every intersection of the lines
    A x + c = 0, computed here with numpy."""
    pairs = itertools.combinations(range(len(c)), 2)
    pts = [np.linalg.solve(A[[i, j]], -c[[i, j]]) for i, j in pairs]
    r = 1.5 * np.abs(np.array(pts)).max() + 1.0
    return (-r, r, -r, r)


def _touches_boundary(poly, extent):
    s0, s1, t0, t1 = extent
    tol = 1e-9 * (s1 - s0)
    return bool(
        (np.abs(poly[:, 0] - s0) < tol).any() or (np.abs(poly[:, 0] - s1) < tol).any()
        or (np.abs(poly[:, 1] - t0) < tol).any() or (np.abs(poly[:, 1] - t1) < tol).any()
    )


def _serra_upper_brute(widths, d):
    """Theorem 1 of Serra et al. 2018 by enumerating J directly."""
    total = 0
    for js in itertools.product(*[range(n + 1) for n in widths]):
        cap, ok = d, True
        for n, j in zip(widths, js):
            if j > min(cap, n):
                ok = False
                break
            cap = min(cap, n - j)
        if ok:
            total += math.prod(math.comb(n, j) for n, j in zip(widths, js))
    return total


# ------------------------------------------------------------------------- hand values
def test_hand_values():
    assert bounds.zaslavsky(3, 2) == 7 and bounds.zaslavsky(4, 2) == 11
    assert bounds.zaslavsky(5, 3) == 1 + 5 + 10 + 10
    assert bounds.zaslavsky(0, 3) == 1 and bounds.zaslavsky(2, 5) == 4  # fewer planes than d
    assert bounds.zaslavsky(3, 2, bounded=True) == 1  # the triangle
    assert bounds.zaslavsky(4, 2, bounded=True) == 3
    assert bounds.zaslavsky(5, 3, bounded=True) == 4
    assert bounds.zaslavsky(7, 1, bounded=True) == 6  # n points cut a line into n - 1 segments
    assert bounds.zaslavsky(0, 2, bounded=True) == 0
    # serra_upper([2, 2], 1): n0 = 1.
    #   j1 = 0 (C(2,0)=1): cap min(1, 2) = 1, j2 in {0, 1}: 1 * (1 + 2) = 3
    #   j1 = 1 (C(2,1)=2): cap min(1, 1) = 1, j2 in {0, 1}: 2 * (1 + 2) = 6   -> 9 = 3 * 3
    assert bounds.serra_upper([2, 2], 1) == 9
    # serra_upper([3, 1], 2): j1 in 0..2 (weights 1, 3, 3), then j2 in {0, 1} each: 7 * 2.
    assert bounds.serra_upper([3, 1], 2) == 14
    # A chain of width-1 layers: J = {000, 100, 010, 001} whatever d is.
    assert bounds.serra_upper([1, 1, 1], 5) == 4
    # [4, 4] on 2 inputs: the cap never drops below 2, so (1 + 4 + 6)^2.
    assert bounds.serra_upper([4, 4], 2) == 121
    assert bounds.montufar_lower([4, 4], 2) == 2**2 * 11
    assert bounds.montufar_lower([6, 6], 2) == 3**2 * 22
    assert bounds.serra_lower([6, 6], 2) == 4**2 * 22
    assert bounds.serra_lower([6], 2) == bounds.montufar_lower([6], 2) == 22
    # rank 3: 3 pair-hyperplanes per unit, d_1 = min(2, 3) = 2: C(9, 0..2).
    assert bounds.serra_maxout_upper([3], 2, rank=3) == 1 + 9 + 36
    assert bounds.serra_maxout_upper([2, 2], 2, rank=2) == 4 * 4
    # d_2 = min(3, 1, 5) = 1: (C(1,0)+C(1,1)) * (C(5,0)+C(5,1)).
    assert bounds.serra_maxout_upper([1, 5], 3, rank=2) == 2 * 6
    assert isinstance(bounds.serra_upper([5, 5], 2), int)


def test_zaslavsky_matches_oracle():
    for n in range(12):
        for d in range(1, 5):
            assert bounds.zaslavsky(n, d) == zaslavsky_count(n, d)


# ----------------------------------------------------------------- zaslavsky vs geometry
@pytest.mark.parametrize("seed", range(4))
def test_zaslavsky_plane(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 25))
    net, W, b = _one_layer(rng, n, 2)
    extent = _vertex_box(W, b)
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=extent)
    assert p.n_regions == bounds.zaslavsky(n, 2) == bounds.serra_upper([n], 2)
    # Every vertex lies strictly inside the box, so a region is bounded iff it stays off
    # the box's boundary.
    inner = sum(not _touches_boundary(poly, extent) for poly in p.polygons())
    assert inner == bounds.zaslavsky(n, 2, bounded=True) == math.comb(n - 1, 2)


@pytest.mark.parametrize("seed", range(4))
def test_zaslavsky_segment(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 30))
    net, W, b = _one_layer(rng, n, 1)
    kinks = -b / W[:, 0]
    r = 1.5 * np.abs(kinks).max() + 1.0
    s = rl.segment(net, [-r], [r])
    assert s.n_regions == bounds.zaslavsky(n, 1) == n + 1
    assert s.n_regions - 2 == bounds.zaslavsky(n, 1, bounded=True)


@pytest.mark.parametrize("seed", range(3))
def test_rank2_maxout_layer_is_zaslavsky(seed):
    """A rank-2 maxout unit max(a1.x + c1, a2.x + c2) switches on one line, so one layer of
    n such units has Zaslavsky's count, which is Theorem 10's bound with k(k-1)/2 = 1."""
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(3, 15))
    net, W, b = _one_layer(rng, n, 2, ("maxout", 2))
    A, c = W[0::2] - W[1::2], b[0::2] - b[1::2]
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=_vertex_box(A, c))
    assert p.n_regions == bounds.serra_maxout_upper([n], 2, rank=2) == bounds.zaslavsky(n, 2)
    for d in range(1, 6):
        for m in range(1, 9):
            assert bounds.serra_maxout_upper([m], d, rank=2) == bounds.zaslavsky(m, d)


# ---------------------------------------------------------------------- deep bounds
def test_serra_upper_dp_matches_enumeration():
    rng = np.random.default_rng(7)
    for _ in range(40):
        L = int(rng.integers(1, 4))
        widths = [int(w) for w in rng.integers(1, 6, size=L)]
        d = int(rng.integers(1, 5))
        assert bounds.serra_upper(widths, d) == _serra_upper_brute(widths, d), (widths, d)


def test_serra_upper_special_cases():
    for n in range(1, 10):
        for d in range(1, 6):
            assert bounds.serra_upper([n], d) == bounds.zaslavsky(n, d)
    # One input: j_l <= 1, so with every n_l >= 2 Theorem 1 reduces to prod (n_l + 1).
    for widths in ([3], [2, 2], [4, 2, 3], [5, 5, 5, 5]):
        assert bounds.serra_upper(widths, 1) == math.prod(n + 1 for n in widths)
    # A width-1 layer with its neuron counted (j = 1) leaves cap 0 for the layers above:
    # [4, 1, 3]: (1 + 4) * (1 * (1 + 3) + 1 * 1) = 25, not 5 * 2 * 4.
    assert bounds.serra_upper([4, 1, 3], 1) == 25
    # Never more than 2^(number of neurons) activation patterns.
    for widths, d in (([3, 4], 2), ([2, 2, 2], 3), ([6, 6], 6)):
        assert bounds.serra_upper(widths, d) <= 2 ** sum(widths)
    # Deep and wide stays fast (DP over the cap, not over J).
    assert bounds.serra_upper([100] * 10, 60) > 0


def test_lower_bounds_below_upper():
    for widths in ([6], [6, 6], [9, 7, 12], [12, 12, 12, 12]):
        for d in (1, 2, 3):
            up = bounds.serra_upper(widths, d)
            lo = bounds.montufar_lower(widths, d)
            assert lo <= up
            if min(widths) >= 3 * d:
                assert lo <= bounds.serra_lower(widths, d) <= up
    # d = 1, width >= 3: Serra's construction reaches prod(n_l + 1) on the first L-1 layers.
    assert bounds.serra_lower([3, 3, 4], 1) == 4 * 4 * 5 == bounds.serra_upper([3, 3, 4], 1)


@pytest.mark.parametrize("seed", range(3))
def test_serra_upper_bounds_random_plane_counts(seed):
    rng = np.random.default_rng(300 + seed)
    widths = [int(w) for w in rng.integers(2, 7, size=int(rng.integers(2, 4)))]
    ws = [rng.normal(size=(o, i)) for i, o in zip([2] + widths, widths + [1])]
    bs = [rng.normal(size=o) for o in widths + [1]]
    net = rl.PLNet.from_arrays(ws, bs)
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-1e4, 1e4, -1e4, 1e4))
    assert 1 <= p.n_regions <= bounds.serra_upper(widths, 2)
    # Each layer prefix is a network too.
    for l, count in enumerate(p.n_regions_per_layer):
        assert count <= bounds.serra_upper(widths[: l + 1], 2)


@pytest.mark.parametrize("seed", range(2))
def test_serra_maxout_upper_bounds_random_counts(seed):
    rng = np.random.default_rng(400 + seed)
    k, widths = 3, [3, 2]
    ws = [rng.normal(size=(k * o, i)) for i, o in zip([2] + widths[:-1], widths)]
    ws.append(rng.normal(size=(1, widths[-1])))
    bs = [rng.normal(size=w.shape[0]) for w in ws]
    net = rl.PLNet.from_arrays(ws, bs, ("maxout", k))
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-1e3, 1e3, -1e3, 1e3))
    assert p.n_regions <= bounds.serra_maxout_upper(widths, 2, rank=k)


# ------------------------------------------------------------ random one-layer densities
def test_kink_density_closed_form():
    sw, sb, n = 0.7, 0.4, 3
    # At the origin: sqrt(2/pi) sw * 1/(sqrt(2 pi) sb) per neuron.
    at0 = bounds.expected_kinks_per_length(n, 4, weight_std=sw, bias_std=sb)
    assert at0 == pytest.approx(n * math.sqrt(2 / math.pi) * sw / (math.sqrt(2 * math.pi) * sb))
    assert bounds.expected_kinks_per_length(n, 4, weight_std=sw, bias_std=sb, at=np.zeros(4)) == at0
    # Elsewhere, E_w[|w.u| phi_sb(w.x)] by plain Monte Carlo over w.
    rng = np.random.default_rng(11)
    x, u = np.array([0.3, -1.1, 0.5, 0.2]), np.array([1.0, 2.0, -0.5, 0.0])
    w = rng.normal(0.0, sw, size=(1_000_000, 4))
    phi = np.exp(-0.5 * (w @ x / sb) ** 2) / (math.sqrt(2 * math.pi) * sb)
    samples = np.abs(w @ u / np.linalg.norm(u)) * phi
    mc, se = samples.mean(), samples.std() / math.sqrt(len(samples))
    got = bounds.expected_kinks_per_length(1, 4, weight_std=sw, bias_std=sb, at=x, direction=3 * u)
    assert abs(got - mc) < 4 * se


def test_kink_density_integrates_to_segment_count():
    quad = pytest.importorskip("scipy.integrate").quad
    sw, sb, n = 1.3, 0.25, 5
    a, b = np.array([0.4, -0.2, 1.0]), np.array([-0.3, 0.9, 0.6])
    length = np.linalg.norm(b - a)

    def density(t):
        x = a + t * (b - a)
        return bounds.expected_kinks_per_length(n, 3, weight_std=sw, bias_std=sb, at=x,
                                                direction=b - a)

    integral = quad(density, 0.0, 1.0, epsabs=1e-12, epsrel=1e-10)[0] * length
    seg = bounds.expected_kinks_on_segment(n, a, b, weight_std=sw, bias_std=sb)
    assert seg == pytest.approx(integral, rel=1e-8)
    # Over the whole line each neuron kinks exactly once.
    u = (b - a) / length
    line = quad(lambda t: bounds.expected_kinks_per_length(
        n, 3, weight_std=sw, bias_std=sb, at=a + t * u, direction=u), -np.inf, np.inf)[0]
    assert line == pytest.approx(n, rel=1e-7)
    far = bounds.expected_kinks_on_segment(n, a - 1e9 * u, a + 1e9 * u, weight_std=sw, bias_std=sb)
    assert far == pytest.approx(n, rel=1e-7)


@pytest.mark.parametrize("through_origin", [True, False])
def test_expected_kinks_against_segment_monte_carlo(through_origin):
    """Average of (regions - 1) over 200 seeded random one-layer nets on a unit segment."""
    rng = np.random.default_rng(500 + through_origin)
    n, d, sb = 8, 3, 0.5
    sw = math.sqrt(2.0 / d)
    u = np.array([1.0, 2.0, 2.0]) / 3.0
    centre = np.zeros(d) if through_origin else np.array([0.4, 0.3, -0.5])
    a, b = centre - u / 2, centre + u / 2
    kinks = []
    for _ in range(200):
        W, bias = rng.normal(0.0, sw, size=(n, d)), rng.normal(0.0, sb, size=n)
        net = rl.PLNet.from_arrays([W, np.ones((1, n))], [bias, np.zeros(1)])
        kinks.append(rl.segment(net, a, b).n_regions - 1)
    kinks = np.array(kinks, dtype=float)
    expected = bounds.expected_kinks_on_segment(n, a, b, weight_std=sw, bias_std=sb)
    se = kinks.std(ddof=1) / math.sqrt(len(kinks))
    assert abs(kinks.mean() - expected) < 4 * se
    if through_origin:  # (2 / pi) arctan(sw / (2 sb)) per neuron
        assert expected == pytest.approx(n * 2 / math.pi * math.atan(sw / (2 * sb)))


def test_hanin_rolnick_density():
    sb, d = 0.3, 4
    # One layer: exact at the origin.
    one = bounds.hanin_rolnick_density([10], d, bias_std=sb, weight_gain=2.0)
    assert one == pytest.approx(bounds.expected_kinks_per_length(
        10, d, weight_std=math.sqrt(2.0 / d), bias_std=sb))
    # He gain keeps E(grad z . u)^2 = 2 / d in every layer: linear in the neuron count.
    assert bounds.hanin_rolnick_density([10, 20, 5], d, bias_std=sb) == pytest.approx(
        35 * math.sqrt(2 / d) / (math.pi * sb))
    # Gain 1 halves the second moment per layer: 10 sqrt(1/d) + 20 sqrt(1/(2d)).
    gain1 = bounds.hanin_rolnick_density([10, 20], d, bias_std=sb, weight_gain=1.0)
    by_hand = (10 * math.sqrt(1 / d) + 20 * math.sqrt(1 / (2 * d))) / (math.pi * sb)
    assert gain1 == pytest.approx(by_hand)


def test_hanin_rolnick_density_order_of_magnitude():
    """Deep He-initialised nets: the measured boundary density near the origin is below the
    prediction (an upper-estimate) and of its order."""
    rng = np.random.default_rng(600)
    d, widths, sb, length = 3, [16, 16], 0.5, 0.2
    u = np.array([1.0, 2.0, 2.0]) / 3.0
    counts = []
    for _ in range(200):
        ws = [rng.normal(0.0, math.sqrt(2.0 / i), (o, i)) for i, o in zip([d] + widths, widths)]
        net = rl.PLNet.from_arrays(ws + [np.ones((1, widths[-1]))],
                                   [rng.normal(0.0, sb, o) for o in widths] + [np.zeros(1)])
        counts.append(rl.segment(net, -u * length / 2, u * length / 2).n_regions - 1)
    density = np.array(counts, dtype=float) / length
    se = density.std(ddof=1) / math.sqrt(len(density))
    predicted = bounds.hanin_rolnick_density(widths, d, bias_std=sb)
    assert 0.5 * predicted < density.mean() < predicted + 3 * se


# ------------------------------------------------------------------------- validation
def _kpl(**kw):
    return bounds.expected_kinks_per_length(3, 2, **kw)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: bounds.serra_upper([3, 0], 2), ValueError, "widths[1] must be at least 1"),
    (lambda: bounds.serra_upper([3, -2], 2), ValueError, "at least 1"),
    (lambda: bounds.serra_upper([3, 2.5], 2), TypeError, "must be an integer"),
    (lambda: bounds.serra_upper([3, True], 2), TypeError, "bool"),
    (lambda: bounds.serra_upper(5, 2), TypeError, "pass [n]"),
    (lambda: bounds.serra_upper([], 2), ValueError, "empty"),
    (lambda: bounds.serra_upper([3], 0), ValueError, "d must be at least 1"),
    (lambda: bounds.serra_upper([3], 2.0), TypeError, "pass an int"),
    (lambda: bounds.zaslavsky(-1, 2), ValueError, "n must be at least 0"),
    (lambda: bounds.zaslavsky("3", 2), TypeError, "must be an integer"),
    (lambda: bounds.montufar_lower([3, 1], 2), ValueError, "n_l >= d"),
    (lambda: bounds.serra_lower([6, 5], 2), ValueError, "use montufar_lower"),
    (lambda: bounds.serra_maxout_upper([3], 2, rank=1), ValueError, "rank must be at least 2"),
    (lambda: _kpl(weight_std=0, bias_std=1), ValueError, "positive"),
    (lambda: _kpl(weight_std=1, bias_std=None), TypeError, "bias_std"),
    (lambda: _kpl(weight_std=1, bias_std=1, at=[1, 0]), ValueError, "direction="),
    (lambda: _kpl(weight_std=1, bias_std=1, at=[1, 0, 0]), ValueError, "d = 2"),
    (lambda: _kpl(weight_std=1, bias_std=1, at=[1, 0], direction=[0, 0]), ValueError,
     "zero vector"),
    (lambda: bounds.expected_kinks_on_segment(3, [1, 0], [1, 0], weight_std=1, bias_std=1),
     ValueError, "distinct"),
    (lambda: bounds.hanin_rolnick_density([4], 2, bias_std=-1.0), ValueError, "bias_std"),
])
def test_validation(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


def test_numpy_integers_accepted():
    assert bounds.serra_upper(np.array([3, 4]), np.int64(2)) == bounds.serra_upper([3, 4], 2)
