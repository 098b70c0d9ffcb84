"""rl.teachers.linear's sampling against the laws it promises."""

import numpy as np
import pytest

import regionlab as rl


def test_a_margin_far_in_the_gaussian_tail_is_sampled_exactly():
    """Regression: redrawing until |w.x| >= margin never returned for margin 8; the tail is
    now drawn directly. Oracle: the conditional law P(|t| > s | |t| > a) = erfc(s/sqrt2) /
    erfc(a/sqrt2) of the part along w (KS test), the rest standard normal."""
    import math

    stats = pytest.importorskip("scipy.stats")
    teacher = rl.teachers.linear(w=[1.0, 2.0, -2.0], margin=4.0)
    X, y = teacher.sample(4000, seed=0)
    unit = np.array([1.0, 2.0, -2.0]) / 3.0
    t = X @ unit
    assert (np.abs(t) >= 4.0).all() and (y == np.sign(t)).all()
    tail = lambda s: 1.0 - np.array([math.erfc(v / math.sqrt(2)) for v in np.atleast_1d(s)]) / math.erfc(4 / math.sqrt(2))  # noqa: E731
    assert stats.kstest(np.abs(t), tail).pvalue > 1e-3
    assert abs((t > 0).mean() - 0.5) < 0.05
    rest = X - np.outer(t, unit)
    assert stats.kstest(rest @ np.array([2.0, -1.0, 0.0]) / math.sqrt(5), "norm").pvalue > 1e-3
    with pytest.raises(ValueError, match="smaller margin"):
        rl.teachers.linear(w=[1.0, 1.0], margin=0.9999 * math.sqrt(2), inputs="uniform").sample(5, seed=0)
