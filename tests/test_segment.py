"""rl.segment against closed-form counts, bisection on the neurons' sign changes and the net."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regionlab as rl
from oracles import bisect_roots, numpy_forward, random_net


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_one_layer_has_one_region_more_than_roots(seed, n):
    rng = np.random.default_rng(seed)
    net = random_net(rng, [3, n, 1])
    a, b = rng.normal(size=(2, 3))
    W, bias = net.stages[0].weight, net.stages[0].bias
    # Each neuron's zero on the line, counted when strictly inside (0, 1).
    roots = -(W @ a + bias) / (W @ (b - a))
    s = rl.segment(net, a, b)
    assert s.n_regions == 1 + int(((roots > 0) & (roots < 1)).sum())
    np.testing.assert_allclose(s.breakpoints[1:-1], np.sort(roots[(roots > 0) & (roots < 1)]), atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_breakpoints_equal_bisection_of_sign_changes(seed):
    rng = np.random.default_rng(seed)
    activation = "relu" if seed % 2 else ("leaky_relu", 0.1)
    net = random_net(rng, [4] + [12] * (2 + seed % 3) + [2], activation)
    a, b = rng.normal(size=(2, 4)) * 2
    s = rl.segment(net, a, b)

    def preacts(t):
        X = a + np.asarray(t)[:, None] * (b - a)
        h, out = [], X
        for stage in net.stages:
            z = out @ stage.weight.T + stage.bias
            h.append(z[:, stage.negative_slope != 1.0])
            out = np.where(z > 0, z, stage.negative_slope * z)
        return np.concatenate(h, axis=1)

    roots = bisect_roots(preacts, np.linspace(0, 1, 20001))
    roots = roots[np.concatenate([[True], np.diff(roots) > 1e-9])]
    inner = s.breakpoints[1:-1]
    assert len(inner) == len(roots)
    np.testing.assert_allclose(inner, roots, atol=1e-10)
    # Patterns and maps agree with the net inside each piece.
    mid = s.midpoints
    out, bits = numpy_forward(net, s.points(mid))
    assert (np.packbits(bits, axis=1, bitorder="little") == s.patterns).all()
    np.testing.assert_allclose(s.output(mid), out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s.lengths.sum(), 1.0)
    assert s.n_regions_per_layer[-1] == s.n_regions


@pytest.mark.parametrize("n_out", [1, 3])
def test_class_changes_equal_bisection(n_out):
    rng = np.random.default_rng(20 + n_out)
    net = random_net(rng, [3, 16, 16, n_out], "relu")
    a, b = rng.normal(size=(2, 3)) * 3
    s = rl.segment(net, a, b)
    t = np.linspace(0, 1, 200001)
    out = net.forward(a + t[:, None] * (b - a))
    cls = (out[:, 0] > 0).astype(int) if n_out == 1 else out.argmax(1)
    changed = np.nonzero(cls[1:] != cls[:-1])[0]
    assert len(s.change_t) == len(changed)
    np.testing.assert_allclose(s.change_t, t[changed], atol=2e-5)
    np.testing.assert_array_equal(s.change_before, cls[changed])
    np.testing.assert_array_equal(s.change_after, cls[changed + 1])


def test_class_changes_where_every_logit_meets_zero():
    """Regression: with a bias-free output layer, all logits are 0 where every unit is off
    and the class lines meet at that region's edge; rounding reported changes to a class
    that never leads (0 -> 2 -> 0 within 5e-17). The oracle: argmax on a fine grid."""
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((6, 2)), rng.standard_normal(6)
    rng.standard_normal((1, 6)), rng.standard_normal((6, 3))
    net = rl.PLNet.from_arrays([W1, rng.standard_normal((3, 6))], [b1, np.zeros(3)],
                               activations=["relu", "identity"])
    t = np.linspace(0, 1, 20001)
    chords = np.random.default_rng(1).uniform(-2, 2, (200, 2, 2))
    through_the_corner = 0
    for a, b in chords:
        s = rl.segment(net, a, b)
        cls = net.forward(a + t[:, None] * (b - a)).argmax(1)
        changed = np.nonzero(cls[1:] != cls[:-1])[0]
        assert len(s.change_t) == len(changed)
        np.testing.assert_allclose(s.change_t, t[changed], atol=1e-4)
        np.testing.assert_array_equal(s.change_before, cls[changed])
        np.testing.assert_array_equal(s.change_after, cls[changed + 1])
        through_the_corner += bool((np.abs(s.output(s.midpoints)).max(1) == 0).any())
    assert through_the_corner > 20  # the all-zero region is crossed often


def test_segment_through_an_input_shaped_pair():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 10))
    net = rl.from_torch(model, input_shape=(1, 28, 28))
    a, b = torch.rand(2, 1, 28, 28)
    s = rl.segment(net, a, b)
    assert s.n_regions > 1 and s.a.shape == (784,)


def test_bad_input():
    net = random_net(np.random.default_rng(0), [2, 4, 1])
    with pytest.raises(ValueError, match="same point"):
        rl.segment(net, [1, 1], [1, 1])
    with pytest.raises(ValueError, match="takes 2 inputs"):
        rl.segment(net, [1, 1, 1], [1, 1])
    with pytest.raises(ValueError, match="max_regions"):
        rl.segment(random_net(np.random.default_rng(0), [2, 200, 1]), [-50, -50], [50, 50], max_regions=3)


@pytest.mark.parametrize("gap", [1e-9, 1e-11, 1e-13])
def test_a_segment_and_its_reverse_give_mirrored_regions(gap):
    # A kink at `gap` (relative to the length) from one end: whichever end the segment starts
    # from, it is resolved or not alike (tolerances are relative to the segment, not to
    # where its first end lies), and the breakpoints mirror each other.
    net = rl.PLNet.from_arrays([np.array([[1.0, 0.3]]), np.ones((1, 1))], [np.zeros(1), np.zeros(1)])
    a, b = np.array([3 * gap, 0.0]), np.array([-3.0 + 3 * gap, 0.0])
    forward, backward = rl.segment(net, a, b), rl.segment(net, b, a)
    assert forward.n_regions == backward.n_regions
    np.testing.assert_allclose(forward.breakpoints, 1 - backward.breakpoints[::-1], atol=1e-16)
    np.testing.assert_allclose(forward.lengths.sum(), 1.0, rtol=1e-15)
    if gap >= 1e-11:  # the guaranteed resolution (README): 1e-10 of the length
        assert forward.n_regions == 2
        np.testing.assert_allclose(forward.breakpoints[1], gap, rtol=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_far_short_segments_match_their_copy_at_the_origin(seed):
    # The same net shifted by 1e6: its regions along the same (shifted) short segment agree.
    rng = np.random.default_rng(60 + seed)
    net = random_net(rng, [2, 12, 12, 1], "relu")
    shift = np.array([1e6, -2e6])
    W1, b1 = net.stages[0].weight, net.stages[0].bias
    far = rl.PLNet.from_arrays([W1] + [s.weight for s in net.stages[1:]],
                               [b1 - W1 @ shift] + [s.bias for s in net.stages[1:]])
    a, b = rng.normal(size=(2, 2)) * 1e-3
    near_s, far_s = rl.segment(net, a, b), rl.segment(far, a + shift, b + shift)
    assert near_s.n_regions == far_s.n_regions
    # Offsets carry the rounding of W x at |x| ~ 2e6 (~1e-9 here, 1e-6 of the length).
    np.testing.assert_allclose(far_s.breakpoints, near_s.breakpoints, atol=1e-5)
    np.testing.assert_array_equal(far_s.patterns, near_s.patterns)


def test_boolean_end_points_are_refused():
    net = random_net(np.random.default_rng(0), [2, 4, 1])
    with pytest.raises(TypeError, match="booleans"):
        rl.segment(net, np.array([True, False]), [1.0, 1.0])
