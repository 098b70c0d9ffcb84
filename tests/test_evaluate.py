"""net.forward / net.patterns against a numpy reference, on every instruction set."""

import numpy as np
import pytest

import regionlab as rl
from regionlab import _core
from oracles import numpy_forward

ISAS = [isa for isa in ("generic", "avx2", "avx512")]


@pytest.fixture(params=ISAS)
def isa(request):
    before = _core.isa()
    if not _core.set_isa(request.param):
        pytest.skip(f"this CPU lacks {request.param}")
    yield request.param
    _core.set_isa(before)


def random_net(rng, widths, activations, dtype=np.float64):
    ws = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(widths, widths[1:])]
    bs = [rng.standard_normal(o) * 0.3 for o in widths[1:]]
    return rl.PLNet.from_arrays(ws, bs, activations, dtype=dtype)


@pytest.mark.parametrize(
    "widths, activations",
    [
        ([3, 16, 20, 2], "relu"),
        ([5, 70, 130, 3], ("leaky_relu", 0.1)),
        ([784, 64, 10], "relu"),
        ([2, 7], ["relu"]),  # a single kinked stage, no output layer
        ([4, 200, 100, 1], ["relu", ("leaky_relu", 0.2), "identity"]),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_and_patterns_match_numpy(rng, isa, widths, activations, dtype):
    net = random_net(rng, widths, activations, dtype)
    X = rng.standard_normal((1537, widths[0]))
    out, bits = numpy_forward(net, X)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(net.forward(X), out, rtol=tol, atol=tol)
    got = net.patterns(X)
    assert got.shape == bits.shape == (len(X), net.n_neurons)
    if dtype == np.float64:
        np.testing.assert_array_equal(got, bits)
    else:  # float32 may flip a sign that numpy's float64 puts within rounding of zero
        assert (got != bits).mean() < 1e-4


def test_per_neuron_slopes_and_identity_neurons(rng, isa):
    slopes = np.array([0.0, 1.0, 0.5, 1.0, -0.3, 0.0, 1.0, 2.0])
    w1, w2 = rng.standard_normal((8, 3)), rng.standard_normal((2, 8))
    net = rl.PLNet.from_arrays([w1, w2], None, [slopes, "identity"])
    assert net.n_neurons == 5
    X = rng.standard_normal((999, 3))
    out, bits = numpy_forward(net, X)
    np.testing.assert_allclose(net.forward(X), out, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(net.patterns(X), bits)


def test_packed_patterns_are_numpy_packbits(rng):
    net = random_net(rng, [6, 100, 37, 1], "relu")
    X = rng.standard_normal((300, 6))
    packed = net.patterns(X, packed=True)
    assert packed.dtype == np.uint8 and packed.shape == (300, (137 + 7) // 8)
    np.testing.assert_array_equal(packed, np.packbits(net.patterns(X), axis=1, bitorder="little"))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_count_does_not_change_results(rng, threads):
    net = random_net(rng, [10, 64, 64, 2], "relu")
    X = rng.standard_normal((20000, 10))
    expected_out, expected_bits = numpy_forward(net, X)
    rl.set_num_threads(threads)
    try:
        np.testing.assert_allclose(net.forward(X), expected_out, rtol=1e-10, atol=1e-10)
        np.testing.assert_array_equal(net.patterns(X), expected_bits)
    finally:
        rl.set_num_threads(None)


def test_input_conversions(rng):
    net = random_net(rng, [4, 8, 1], "relu", np.float32)
    X = rng.standard_normal((50, 8))[:, ::2]  # non-contiguous float64
    assert not X.flags.c_contiguous
    expected = net.forward(np.ascontiguousarray(X, dtype=np.float32))
    np.testing.assert_array_equal(net.forward(X), expected)
    np.testing.assert_array_equal(net.forward(X.astype(np.float16)), net.forward(X.astype(np.float16).astype(np.float32)))
    ints = rng.integers(-3, 3, (20, 4))
    np.testing.assert_array_equal(net.forward(ints), net.forward(ints.astype(np.float32)))
    # (n, *shape) inputs are flattened
    np.testing.assert_array_equal(net.forward(X.reshape(50, 2, 2)), expected)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((5, 3)), ValueError, "takes 4"),
        (np.zeros(4), ValueError, r"X\[None, :\]"),
        (np.zeros((5, 4), dtype=bool), TypeError, "booleans"),
        (np.zeros((5, 4), dtype=complex), TypeError, "real"),
        (np.array([["a"] * 4]), TypeError, "numeric"),
    ],
)
def test_bad_inputs_raise_clear_errors(rng, X, error, match):
    net = random_net(rng, [4, 8, 1], "relu")
    with pytest.raises(error, match=match):
        net.forward(X)
    with pytest.raises(error, match=match):
        net.patterns(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_inputs_name_the_row(rng, bad):
    net = random_net(rng, [4, 8, 1], "relu")
    X = rng.standard_normal((10000, 4))
    X[7321, 2] = bad
    with pytest.raises(ValueError, match="row 7321"):
        net.forward(X)
    with pytest.raises(ValueError, match="row 7321"):
        net.patterns(X)


def test_nonfinite_weights_are_refused(rng):
    w = rng.standard_normal((3, 2))
    w[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        rl.PLNet.from_arrays([w])


def test_inconsistent_stages_are_refused(rng):
    with pytest.raises(ValueError, match="takes 5 inputs"):
        rl.PLNet.from_arrays([rng.standard_normal((4, 2)), rng.standard_normal((1, 5))])
    with pytest.raises(ValueError, match="unknown activation"):
        rl.PLNet.from_arrays([rng.standard_normal((4, 2))], None, ["swish"])
    with pytest.raises(TypeError, match="float32 or float64"):
        rl.PLNet.from_arrays([rng.standard_normal((4, 2))], dtype=np.float16)


def test_net_properties(rng):
    net = random_net(rng, [5, 30, 20, 3], ["relu", ("leaky_relu", 0.1), "identity"])
    assert net.widths == (5, 30, 20, 3)
    assert net.n_neurons == 50
    assert net.neurons_per_stage == (30, 20, 0)
    assert net.input_dim == 5 and net.output_dim == 3
    assert net.dtype == np.float64
    assert "relu" in repr(net)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("widths", [[2, 8, 1], [3, 5, 4, 2], [20, 64, 64, 3]])
def test_a_row_gives_bit_identical_results_wherever_the_batching_puts_it(rng, isa, dtype, widths):
    """Short blocks are padded, so tiny products never take Eigen's other code paths."""
    net = random_net(rng, widths, "relu", dtype)
    X = rng.standard_normal((300, widths[0])).astype(dtype)
    whole = net.forward(X)
    patterns = net.patterns(X, packed=True)
    for i in [0, 1, 17, 31, 32, 150, 299]:
        np.testing.assert_array_equal(net.forward(X[i : i + 1]), whole[i : i + 1])
        np.testing.assert_array_equal(net.patterns(X[i : i + 1], packed=True), patterns[i : i + 1])
    for start, stop in [(5, 8), (100, 163), (0, 33)]:
        np.testing.assert_array_equal(net.forward(X[start:stop]), whole[start:stop])


def test_ties_on_a_kink_count_the_same_for_any_batching(rng):
    """Grid points exactly on hyperplanes: counts must not depend on batch size or threads."""
    W = np.array([[1.0, -1.0], [1.0, 1.0], [0.5, -0.25], [3.0, 1.0]])
    net = rl.PLNet.from_arrays([W], [np.array([0.0, -0.2, 0.1, 0.3])], ["relu"], dtype=np.float32)
    side = np.linspace(-1, 1, 201)
    X = np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)
    reference = rl.count_patterns(net, X, return_inverse=True)
    for batch in (1, 7, 33, 1000):
        pc = rl.count_patterns(net, X[:4000], return_inverse=True, batch_size=batch)
        np.testing.assert_array_equal(pc.inverse, reference.inverse[:4000])


def test_plnet_copies_the_callers_arrays(rng):
    W = rng.standard_normal((8, 2))
    net = rl.PLNet.from_arrays([W])
    W[0, 0] = 123.0  # still writable, and the net is unaffected
    assert net.stages[0].weight[0, 0] != 123.0
    assert not np.shares_memory(net.stages[0].weight, W)


def test_from_arrays_argument_checks(rng):
    ws = [rng.standard_normal((4, 2)), rng.standard_normal((1, 4))]
    with pytest.raises(ValueError, match="2 weight matrices but 3 biases"):
        rl.PLNet.from_arrays(ws, [np.zeros(4), np.zeros(1), np.zeros(1)])
    net = rl.PLNet.from_arrays(ws, None, ("relu", "identity"))  # a tuple of per-stage specs
    assert net.neurons_per_stage == (4, 0)
    leaky = rl.PLNet.from_arrays(ws, None, ("leaky_relu", 0.2))  # one spec for hidden stages
    assert np.all(leaky.stages[0].negative_slope == 0.2)


def test_first_nonfinite_row_is_reported_whatever_the_threads(rng):
    net = random_net(rng, [4, 8, 1], "relu")
    X = rng.standard_normal((100000, 4))
    X[[60000, 90000, 30001]] = np.nan
    for threads in (1, 2, 4):
        rl.set_num_threads(threads)
        try:
            with pytest.raises(ValueError, match="row 30001"):
                net.forward(X)
            with pytest.raises(ValueError, match="row 30001"):
                rl.count_patterns(net, X)
        finally:
            rl.set_num_threads(None)


def test_core_counter_refuses_none_network():
    with pytest.raises(TypeError):
        _core.PatternCounter64(None, False, False, 10)
