"""rl.bounds: maxout_expected_kinks_on_segment, tseran_montufar_upper, tseran_montufar_order."""

from __future__ import annotations

import math

import numpy as np
import pytest

import regionlab as rl
from regionlab import bounds


def _envelope_kinks(W, B, ta, tb):
    """Brute force: kinks in [ta, tb] of max_k (B_k + W_k t), one unit per row (exact)."""
    count = 0
    K = W.shape[1]
    for w, b in zip(W, B):
        for i in range(K):
            for j in range(i + 1, K):
                if w[i] == w[j]:
                    continue
                t = (b[j] - b[i]) / (w[i] - w[j])
                if ta <= t <= tb and b[i] + w[i] * t >= np.max(b + w * t) - 1e-12:
                    count += 1
    return count


def test_rank_two_is_a_hyperplane_arrangement():
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = int(rng.integers(1, 5))
        a, b = rng.normal(size=d), rng.normal(size=d) * 3
        sw, sb = rng.uniform(0.2, 2), rng.uniform(0.2, 2)
        got = bounds.maxout_expected_kinks_on_segment(7, a, b, rank=2, weight_std=sw, bias_std=sb)
        ref = bounds.expected_kinks_on_segment(7, a, b, weight_std=sw * math.sqrt(2), bias_std=sb * math.sqrt(2))
        assert got == pytest.approx(ref, rel=1e-12)


def test_whole_line_closed_forms():
    far = 1e9
    per_unit = {K: bounds.maxout_expected_kinks_on_segment(1, [-far], [far], rank=K, weight_std=1.0, bias_std=1.0)
                for K in (2, 3, 4, 5, 8)}
    assert per_unit[2] == pytest.approx(1.0, rel=1e-8)
    assert per_unit[3] == pytest.approx(1.5, rel=1e-8)  # 3 pairs, each on top with probability 1/2
    assert per_unit[4] == pytest.approx(6 * (0.25 + math.asin(1 / 3) / (2 * math.pi)), rel=1e-8)  # orthant probability
    for K, v in per_unit.items():
        assert v <= K - 1  # an upper envelope of K lines has at most K - 1 kinks
    assert list(per_unit.values()) == sorted(per_unit.values())


@pytest.mark.parametrize("K", [3, 5])
def test_matches_monte_carlo_of_random_lines(K):
    rng = np.random.default_rng(K)
    sw, sb, ta, tb = 0.7, 1.3, -2.0, 3.0
    units = 20000
    W = rng.normal(0, sw, (units, K))
    B = rng.normal(0, sb, (units, K))
    per = np.array([_envelope_kinks(W[i:i + 1], B[i:i + 1], ta, tb) for i in range(units)])
    exp = bounds.maxout_expected_kinks_on_segment(1, [ta], [tb], rank=K, weight_std=sw, bias_std=sb)
    assert abs(per.mean() - exp) < 4 * per.std() / math.sqrt(units)


def test_matches_exact_segment_counts_of_random_nets():
    """rl.segment on random one-layer maxout nets in d = 3, averaged: the formula + 1."""
    rng = np.random.default_rng(7)
    d, n, K, sw, sb = 3, 10, 3, 0.5, 0.8
    a, b = np.array([1.0, -2.0, 0.5]), np.array([-1.0, 2.5, 1.0])
    counts = []
    for _ in range(400):
        W = rng.normal(0, sw, (n * K, d))
        bias = rng.normal(0, sb, n * K)
        net = rl.PLNet.from_arrays([W, np.ones((1, n))], [bias, None], [("maxout", K), "identity"])
        counts.append(len(rl.segment(net, a, b).breakpoints) - 1)
    exp = 1 + bounds.maxout_expected_kinks_on_segment(n, a, b, rank=K, weight_std=sw, bias_std=sb)
    counts = np.array(counts)
    assert abs(counts.mean() - exp) < 4 * counts.std() / math.sqrt(len(counts))


def test_tseran_montufar_formulas():
    # n0 = 1: 2^5 c_grad c_bias K N C(K, 2) * length.
    assert bounds.tseran_montufar_upper(10, 1, 3, c_grad=0.5, c_bias=2.0, volume=6.0) == pytest.approx(
        32 * 0.5 * 2.0 * 3 * 10 * 3 * 6.0)
    # n0 = 2, K = 2: C(4, 4) = 1.
    assert bounds.tseran_montufar_upper(10, 2, 2, c_grad=1.0, c_bias=1.0) == pytest.approx((32 * 2 * 10) ** 2 / 2)
    v = [bounds.tseran_montufar_upper(N, 2, K, c_grad=1, c_bias=1) for K in (2, 3) for N in (4, 8)]
    assert v[0] < v[1] and v[2] < v[3] and v[0] < v[2]
    assert bounds.tseran_montufar_order(20, 2) == 200.0
    assert bounds.tseran_montufar_order(20, 2, 2) == 800.0  # the authors' README example
    assert bounds.tseran_montufar_order(10, 1, 5) == 50 * 10
    with pytest.raises(ValueError):
        bounds.tseran_montufar_upper(1, 2, 2, c_grad=1, c_bias=1)
    with pytest.raises(ValueError):
        bounds.tseran_montufar_upper(4, 2, 2, c_grad=0, c_bias=1)
    with pytest.raises(ValueError):
        bounds.tseran_montufar_order(4, 2, 1)
    with pytest.raises(ValueError):
        bounds.maxout_expected_kinks_on_segment(3, [0.0], [0.0], rank=2, weight_std=1, bias_std=1)


@pytest.mark.parametrize("K", [3, 4, 5, 10, 50, 200, 1000, 10**4, 10**6])
def test_pair_factor_matches_adaptive_quadrature(K):
    """C(K, 2) E[Phi(Y)^(K-2)], Y ~ N(0, 1/2), against scipy's adaptive quad split at the peak."""
    integrate = pytest.importorskip("scipy.integrate")
    special = pytest.importorskip("scipy.special")

    def f(y):
        return math.exp((K - 2) * special.log_ndtr(y) - y * y)

    # the peak of the integrand: (K - 2) phi(y) / Phi(y) = 2 y, by bisection
    lo, hi = -1.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if (K - 2) * math.exp(-mid * mid / 2 - special.log_ndtr(mid)) / math.sqrt(2 * math.pi) > 2 * mid:
            lo = mid
        else:
            hi = mid
    pieces = ((-math.inf, mid - 1), (mid - 1, mid), (mid, mid + 1), (mid + 1, math.inf))
    ref = sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=500)[0] for a, b in pieces)
    ref *= math.comb(K, 2) / math.sqrt(math.pi)
    assert bounds._maxout_pair_factor(K) == pytest.approx(ref, rel=1e-13, abs=0)


def test_tseran_montufar_large_inputs_exact_or_refused():
    """(T K N)^d alone overflows float64 where the bound itself does not: the value must be
    the exactly computed one (rational arithmetic here), and one beyond float64 refused."""
    from fractions import Fraction

    N, d, K = 1000, 60, 3
    T = 32 * Fraction(1.0) * Fraction(0.4)
    exact = (T * K * N) ** d * math.comb(K * d, 2 * d) / math.factorial(d)
    assert bounds.tseran_montufar_upper(N, d, K, c_grad=1.0, c_bias=0.4) == pytest.approx(float(exact), rel=1e-15)
    with pytest.raises(OverflowError, match="beyond float64"):
        bounds.tseran_montufar_upper(10_000, 200, 3, c_grad=1.0, c_bias=1.0)
    with pytest.raises(OverflowError, match="beyond float64"):
        bounds.tseran_montufar_order(10_000, 200, 3)


@pytest.mark.parametrize("x0", [1e4, 1e6, 1e8, -1e8])
def test_expected_kinks_on_segment_far_from_origin(x0):
    """Far out the two arctangents cancel: compare with 50-digit arithmetic (mpmath)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    a, b = [x0, 0.0], [x0 + 1.0, 0.0]
    exact = 3 / mpmath.pi * (mpmath.atan(mpmath.mpf(x0) + 1) - mpmath.atan(mpmath.mpf(x0)))
    got = bounds.expected_kinks_on_segment(3, a, b, weight_std=1.0, bias_std=1.0)
    assert got == pytest.approx(float(exact), rel=1e-13)
    got_maxout = bounds.maxout_expected_kinks_on_segment(3, a, b, rank=3, weight_std=1.0, bias_std=1.0)
    ratio = bounds.maxout_expected_kinks_on_segment(3, [0.0, 0.0], [1.0, 0.0], rank=3, weight_std=1.0, bias_std=1.0) \
        / bounds.expected_kinks_on_segment(3, [0.0, 0.0], [1.0, 0.0], weight_std=1.0, bias_std=1.0)
    assert got_maxout == pytest.approx(ratio * float(exact), rel=1e-13)
