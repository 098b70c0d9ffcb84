"""count_patterns against numpy.unique, Zaslavsky's count and brute force."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import regionlab as rl
from oracles import distinct_rows, numpy_forward, zaslavsky_count


def random_net(rng, widths, activations="relu", dtype=np.float64):
    ws = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(widths, widths[1:])]
    bs = [rng.standard_normal(o) * 0.3 for o in widths[1:]]
    return rl.PLNet.from_arrays(ws, bs, activations, dtype=dtype)


def quantized_2d(rng, n, levels=60):
    """2-D inputs on a coarse lattice: patterns repeat heavily."""
    return rng.integers(-levels, levels + 1, (n, 2)) / (levels / 2.0)


@pytest.mark.parametrize(
    "widths, activations",
    [
        ([2, 12, 1], "relu"),
        ([2, 30, 30, 1], ("leaky_relu", 0.1)),
        ([2, 40, 40, 40, 1], "relu"),  # 120 neurons: fingerprints are hashes
        ([2, 64, 64, 64, 64, 1], "relu"),
    ],
)
def test_counts_equal_numpy_unique(rng, widths, activations):
    net = random_net(rng, widths, activations)
    X = quantized_2d(rng, 60000)
    _, bits = numpy_forward(net, X)
    n_distinct, ids, first = distinct_rows(bits)

    pc = rl.count_patterns(net, X, return_counts=True, return_inverse=True, batch_size=7000)
    assert pc.n_samples == len(X)
    assert pc.n_patterns == n_distinct
    np.testing.assert_array_equal(pc.inverse, ids)
    np.testing.assert_array_equal(pc.first_index, first)
    np.testing.assert_array_equal(pc.counts, np.bincount(ids))
    # Prefix (layer 1..l) counts.
    ends = np.cumsum(net.neurons_per_stage)
    expected_prefix = [distinct_rows(bits[:, :e])[0] for e, k in zip(ends, net.neurons_per_stage) if k]
    assert pc.n_patterns_per_layer == tuple(expected_prefix)
    # Without ids or counts the streaming sets agree.
    assert rl.count_patterns(net, X).n_patterns_per_layer == tuple(expected_prefix)


def test_kept_patterns_match_the_samples(rng):
    net = random_net(rng, [2, 50, 50, 1])
    X = quantized_2d(rng, 20000)
    pc = rl.count_patterns(net, X, exact=True, return_counts=True)
    assert pc.exact and pc.patterns is not None
    np.testing.assert_array_equal(pc.pattern_bits(), net.patterns(X[pc.first_index]))


def test_wide_net_exact_and_fingerprint_agree(rng):
    net = random_net(rng, [20, 300, 300, 1], dtype=np.float32)
    X = rng.standard_normal((30000, 20)).astype(np.float32)
    X[::3] = X[1::3][: len(X[::3])]  # force repeats
    _, bits = numpy_forward(net.astype(np.float64), X.astype(np.float64))
    fp = rl.count_patterns(net, X)
    ex = rl.count_patterns(net, X, exact=True)
    assert not fp.exact and ex.exact
    assert fp.n_patterns == ex.n_patterns
    # float32 vs float64 sign flips are rare; numpy.unique on the core's own patterns is exact.
    assert ex.n_patterns == distinct_rows(net.patterns(X))[0]
    assert abs(ex.n_patterns - distinct_rows(bits)[0]) <= 5


def zaslavsky_net(n, seed):
    """n lines tangent to the unit circle with normals spread over [0, 0.8*pi): general
    position, every vertex within distance 1/cos(0.4*pi) < 3.3 of the origin."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 0.8 * np.pi, n))
    W = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    b = -np.ones(n)
    return rl.PLNet.from_arrays([W, np.ones((1, n))], [b, np.zeros(1)]), W, b


@pytest.mark.parametrize("n, seed", [(5, 0), (8, 1), (10, 2)])
def test_dense_grid_finds_zaslavsky_count(n, seed):
    net, W, b = zaslavsky_net(n, seed)
    side = np.linspace(-4, 4, 2001)
    gx, gy = np.meshgrid(side, side)
    X = np.stack([gx.ravel(), gy.ravel()], axis=1)
    assert rl.count_patterns(net, X).n_patterns == zaslavsky_count(n, 2) == 1 + n + n * (n - 1) // 2


@pytest.mark.parametrize("n, seed", [(12, 3), (25, 4), (40, 5)])
def test_samples_around_every_vertex_find_zaslavsky_count(n, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, 2))
    b = rng.standard_normal(n)
    net = rl.PLNet.from_arrays([W], [b], ["relu"])
    # Every region of a line arrangement in general position touches a vertex: probe the
    # four wedges at each vertex along their bisectors, closer than any other line.
    points = []
    for i, j in itertools.combinations(range(n), 2):
        v = np.linalg.solve(W[[i, j]], -b[[i, j]])
        dist = np.abs(W @ v + b) / np.linalg.norm(W, axis=1)
        dist[[i, j]] = np.inf
        eps = min(dist.min() / 4, 1e-3)
        d = W[[i, j]][:, ::-1] * [1, -1]  # directions of the two lines
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        bisectors = np.array([d[0] + d[1], d[0] - d[1], -d[0] - d[1], d[1] - d[0]])
        bisectors /= np.linalg.norm(bisectors, axis=1, keepdims=True)
        points.append(v + eps * bisectors)
    X = np.concatenate(points)
    assert rl.count_patterns(net, X).n_patterns == zaslavsky_count(n, 2)


def test_ids_follow_first_appearance_and_ignore_threads_and_batching(rng):
    net = random_net(rng, [2, 20, 20, 1])
    X = quantized_2d(rng, 50000)
    reference = rl.count_patterns(net, X, return_inverse=True)
    for threads, batch in [(1, 50000), (2, 999), (3, 12345)]:
        rl.set_num_threads(threads)
        try:
            pc = rl.count_patterns(net, X, return_inverse=True, batch_size=batch)
        finally:
            rl.set_num_threads(None)
        np.testing.assert_array_equal(pc.inverse, reference.inverse)
    assert reference.inverse[0] == 0
    assert np.all(np.diff(np.maximum.accumulate(reference.inverse)) <= 1)


def test_iterables_generators_and_dataloaders(rng):
    torch = pytest.importorskip("torch")
    net = random_net(rng, [3, 16, 16, 1], dtype=np.float32)
    X = rng.standard_normal((5000, 3)).astype(np.float32)
    expected = rl.count_patterns(net, X)
    gen = (X[i : i + 333] for i in range(0, len(X), 333))
    assert rl.count_patterns(net, gen).n_patterns == expected.n_patterns
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.zeros(len(X)))
    loader = torch.utils.data.DataLoader(ds, batch_size=256)
    pc = rl.count_patterns(net, loader, progress=True)
    assert (pc.n_patterns, pc.n_samples) == (expected.n_patterns, len(X))
    assert rl.count_patterns(net, torch.from_numpy(X)).n_patterns == expected.n_patterns


def test_torch_model_is_converted(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10)
    ).eval()
    X = torch.randn(2000, 1, 8, 8)
    with torch.no_grad():
        feats = model[:2](X).flatten(1) > 0
    n_expected = len(np.unique(feats.numpy(), axis=0))
    pc = rl.count_patterns(model, X)
    assert pc.n_patterns == n_expected
    assert pc.dtype == "float32"


@given(
    widths=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    n=st.integers(1, 3000),
    seed=st.integers(0, 2**31 - 1),
    slope=st.sampled_from([0.0, 0.1, -0.5]),
)
@settings(max_examples=40, deadline=None)
def test_property_counts_equal_numpy_unique(widths, n, seed, slope):
    rng = np.random.default_rng(seed)
    net = random_net(rng, [2] + widths + [1], ("leaky_relu", slope))
    X = quantized_2d(rng, n, levels=8)
    _, bits = numpy_forward(net, X)
    n_distinct, ids, _ = distinct_rows(bits)
    pc = rl.count_patterns(net, X, return_inverse=True)
    assert pc.n_patterns == n_distinct
    np.testing.assert_array_equal(pc.inverse, ids)


def test_network_without_kinks_has_one_pattern(rng):
    net = rl.PLNet.from_arrays([rng.standard_normal((3, 2))], activations=["identity"])
    pc = rl.count_patterns(net, rng.standard_normal((100, 2)), return_counts=True)
    assert pc.n_patterns == 1 and pc.counts.tolist() == [100] and pc.n_patterns_per_layer == ()


def test_max_patterns_stops_with_a_clear_error(rng):
    net = random_net(rng, [2, 30, 1])
    X = rng.uniform(-3, 3, (20000, 2))
    with pytest.raises(ValueError, match="max_patterns=10"):
        rl.count_patterns(net, X, max_patterns=10)
    with pytest.raises(ValueError, match="max_patterns=10"):
        rl.count_patterns(net, X, max_patterns=10, return_counts=True)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"max_patterns": -1}, ValueError, "max_patterns"),
        ({"dtype": np.float16}, TypeError, "float32 or float64"),
    ],
)
def test_bad_arguments(rng, kwargs, error, match):
    net = random_net(rng, [2, 5, 1])
    with pytest.raises(error, match=match):
        rl.count_patterns(net, np.zeros((3, 2)), **kwargs)


def test_bad_data(rng):
    net = random_net(rng, [2, 5, 1])
    with pytest.raises(ValueError, match="empty"):
        rl.count_patterns(net, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="no batches"):
        rl.count_patterns(net, iter([]))
    with pytest.raises(ValueError, match="takes 2"):
        rl.count_patterns(net, np.zeros((4, 3)))
    X = rng.standard_normal((100, 2))
    X[57, 1] = np.nan
    with pytest.raises(ValueError, match="row 57"):
        rl.count_patterns(net, X)
    with pytest.raises(TypeError, match="PLNet or a torch.nn.Module"):
        rl.count_patterns("not a net", X)
    with pytest.raises(TypeError, match="iterable of batches"):
        rl.count_patterns(net, 3.5)


def test_nan_in_a_later_batch_names_the_global_sample(rng):
    net = random_net(rng, [2, 5, 1])
    X = rng.standard_normal((50000, 2))
    X[41234, 0] = np.inf
    with pytest.raises(ValueError, match="row 41234"):
        rl.count_patterns(net, X, batch_size=10000)


def test_float16_and_integer_data_are_converted(rng):
    net = random_net(rng, [2, 10, 1], dtype=np.float32)
    X = rng.integers(-5, 5, (1000, 2))
    a = rl.count_patterns(net, X)
    b = rl.count_patterns(net, X.astype(np.float16))
    c = rl.count_patterns(net, X.astype(np.float32))
    assert a.n_patterns == b.n_patterns == c.n_patterns


def test_dtype_override(rng):
    net = random_net(rng, [2, 10, 1], dtype=np.float64)
    pc = rl.count_patterns(net, rng.standard_normal((100, 2)), dtype=np.float32)
    assert pc.dtype == "float32"


def test_memory_follows_patterns_not_samples(rng):
    """Streaming 40x more samples with the same patterns does not grow the counter."""
    net = random_net(rng, [2, 24, 24, 1])
    X = quantized_2d(rng, 50000, levels=20)
    small = rl.count_patterns(net, X)
    large = rl.count_patterns(net, (X for _ in range(40)))
    assert large.n_samples == 40 * small.n_samples
    assert large.n_patterns == small.n_patterns
    assert large.memory_bytes == small.memory_bytes


def test_exact_mode_makes_long_prefix_counts_exact(rng):
    net = random_net(rng, [2, 100, 100, 1])  # 100-bit and 200-bit prefixes
    X = quantized_2d(rng, 30000)
    _, bits = numpy_forward(net, X)
    pc = rl.count_patterns(net, X, exact=True)
    assert pc.exact
    assert pc.n_patterns_per_layer == (distinct_rows(bits[:, :100])[0], distinct_rows(bits)[0])


def test_exact_flag_reports_what_ran(rng):
    net = random_net(rng, [2, 60, 60, 1])  # 120 bits
    X = quantized_2d(rng, 1000)
    assert not rl.count_patterns(net, X).exact
    assert rl.count_patterns(net, X, return_counts=True).exact  # <= 128 bits: patterns kept
    assert rl.count_patterns(net, X, exact=True).exact


def test_empty_batches_in_a_stream_are_skipped(rng):
    net = random_net(rng, [2, 10, 1])
    X = quantized_2d(rng, 3000)
    batches = [X[:1000], X[:0], X[1000:], np.zeros((0, 2))]
    pc = rl.count_patterns(net, iter(batches))
    assert pc.n_samples == 3000
    assert pc.n_patterns == rl.count_patterns(net, X).n_patterns
    with pytest.raises(ValueError, match="only empty batches"):
        rl.count_patterns(net, iter([np.zeros((0, 2))]))


def test_array_likes_and_list_batches(rng):
    net = random_net(rng, [2, 10, 1])
    X = quantized_2d(rng, 2000)
    expected = rl.count_patterns(net, X).n_patterns

    class ArrayLike:  # what pandas DataFrames, JAX and h5py offer
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a if dtype is None else self.a.astype(dtype)

    assert rl.count_patterns(net, ArrayLike(X)).n_patterns == expected
    # a stream of plain lists of rows, and of (inputs, targets) pairs
    rows = [X[i : i + 500].tolist() for i in range(0, 2000, 500)]
    assert rl.count_patterns(net, iter(rows)).n_samples == 2000
    pairs = [(X[i : i + 500], np.zeros(500)) for i in range(0, 2000, 500)]
    assert rl.count_patterns(net, iter(pairs)).n_patterns == expected
