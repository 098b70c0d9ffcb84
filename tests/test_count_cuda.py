"""count_patterns(device="cuda") against the CPU path (the oracle), and the CPU-only checks
that asking for CUDA without it fails clearly.

The GPU tests are marked ``gpu`` (deselected by default; run them with ``pytest -m gpu``)
and skip where ``rl.cuda_available()`` is False. Nets whose weights, biases, slopes and
inputs are small integers or halves compute exactly in float32 and float64, whatever the
order of the sums, so GPU and CPU must agree bit for bit there, also for samples exactly
on kinks (zero rows with zero biases, integer points on integer hyperplanes).
"""

import numpy as np
import pytest

import regionlab as rl
from oracles import distinct_rows, numpy_forward

needs_cuda = pytest.mark.skipif(not rl.cuda_available(), reason="needs a CUDA build and a CUDA device")
gpu = [pytest.mark.gpu, needs_cuda]


def integer_net(rng, widths, activations="relu", dtype=np.float32, zero_bias_rows=0.3):
    """Weights in {-1, 0, 1}, biases in {-1, 0, 1} (many 0): every sum is exact."""
    ws = [rng.integers(-1, 2, (o, i)).astype(np.float64) for i, o in zip(widths, widths[1:])]
    bs = [rng.integers(-1, 2, o) * (rng.random(o) > zero_bias_rows) for o in widths[1:]]
    return rl.PLNet.from_arrays(ws, [b.astype(np.float64) for b in bs], activations, dtype=dtype)


def integer_inputs(rng, n, d, dtype=np.float32):
    """Integer points with zero rows (exactly on every zero-bias kink) and duplicated rows."""
    X = rng.integers(-2, 3, (n, d)).astype(dtype)
    X[::11] = 0
    X[5::7] = X[4::7][: len(X[5::7])]
    return X


def gaussian_net(rng, widths, activations="relu", dtype=np.float64):
    ws = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(widths, widths[1:])]
    bs = [rng.standard_normal(o) * 0.3 for o in widths[1:]]
    return rl.PLNet.from_arrays(ws, bs, activations, dtype=dtype)


def count_both(net, X, X_device=None, **kw):
    cpu = rl.count_patterns(net, X, **kw)
    dev = rl.count_patterns(net, X if X_device is None else X_device, device="cuda", **kw)
    return cpu, dev


def assert_same(cpu, dev):
    assert dev.device == "cuda:0" and cpu.device == "cpu"
    assert dev.n_samples == cpu.n_samples
    assert dev.n_patterns == cpu.n_patterns
    assert dev.n_patterns_per_layer == cpu.n_patterns_per_layer
    assert dev.exact == cpu.exact and dev.dtype == cpu.dtype
    for name in ("counts", "first_index", "inverse", "patterns"):
        a, b = getattr(cpu, name), getattr(dev, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(b, a, err_msg=name)


RESULT_OPTIONS = [
    {},
    {"return_counts": True},
    {"return_inverse": True, "return_counts": True},
    {"exact": True, "return_inverse": True},
]


# ---------------------------------------------------------------- GPU: exact arithmetic
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "widths, activations",
    [
        ([6, 20, 1], "relu"),
        ([8, 24, 24, 1], ("leaky_relu", 0.5)),
        ([8, 40, 40, 40, 1], "relu"),  # 120 bits: fingerprints hash (or full patterns kept)
        ([5, 33, 70, 1], "relu"),  # stage offsets not multiples of 32
        ([6, 64, 64, 3], ["relu", ("leaky_relu", 0.25), "identity"]),
    ],
)
@pytest.mark.parametrize("options", RESULT_OPTIONS)
@pytest.mark.gpu
@needs_cuda
def test_exact_arithmetic_nets_match_cpu(rng, dtype, widths, activations, options):
    net = integer_net(rng, widths, activations, dtype)
    X = integer_inputs(rng, 20000, widths[0], dtype)
    cpu, dev = count_both(net, X, batch_size=3000, **options)
    assert_same(cpu, dev)
    # And the CPU is right: numpy.unique on numpy's own float64 patterns.
    _, bits = numpy_forward(net, X)
    assert cpu.n_patterns == distinct_rows(bits)[0]


@pytest.mark.gpu
@needs_cuda
def test_units_on_their_kinks_are_off(rng):
    """Zero inputs and zero biases put every unit exactly on its kink: h = 0 is "off"."""
    net = integer_net(rng, [4, 50, 50, 1], "relu", np.float32, zero_bias_rows=1.0)
    X = np.zeros((1000, 4), np.float32)
    X[500:] = 1
    cpu, dev = count_both(net, X, return_inverse=True, exact=True)
    assert_same(cpu, dev)
    assert not dev.pattern_bits()[dev.inverse[0]].any()


@pytest.mark.gpu
@needs_cuda
def test_mixed_identity_units(rng):
    """Per-unit slopes with some identity units (no pattern bit) inside a stage."""
    slopes = np.where(rng.random(40) < 0.3, 1.0, 0.0)
    slopes2 = np.where(rng.random(40) < 0.5, 1.0, 0.5)
    net = integer_net(rng, [6, 40, 40, 2], [slopes, slopes2, "identity"], np.float64)
    X = integer_inputs(rng, 15000, 6, np.float64)
    for options in RESULT_OPTIONS:
        assert_same(*count_both(net, X, **options))


# ---------------------------------------------------------------- GPU: random nets
@pytest.mark.parametrize(
    "widths, activations",
    [
        ([2, 12, 1], "relu"),
        ([10, 30, 30, 1], ("leaky_relu", 0.1)),
        ([20, 64, 64, 64, 64, 1], "relu"),
        ([50, 300, 300, 1], "relu"),  # 600 bits, 10 words
    ],
)
@pytest.mark.parametrize("options", RESULT_OPTIONS)
@pytest.mark.gpu
@needs_cuda
def test_float64_random_nets_match_cpu(rng, widths, activations, options):
    net = gaussian_net(rng, widths, activations, np.float64)
    X = rng.standard_normal((30000, widths[0]))
    X[::5] = X[1::5][: len(X[::5])]  # repeats
    assert_same(*count_both(net, X, batch_size=7000, **options))


@pytest.mark.gpu
@needs_cuda
def test_float32_random_net_differs_only_within_rounding(rng):
    """float32 sums in another order may flip a sample within rounding of a kink; any
    difference from the CPU must be such a sample, and without one the results are equal."""
    net = gaussian_net(rng, [64, 256, 256, 1], "relu", np.float32)
    X = rng.standard_normal((40000, 64)).astype(np.float32)
    X[::4] = X[1::4][: len(X[::4])]
    cpu, dev = count_both(net, X, exact=True, return_inverse=True, return_counts=True)
    gpu_bits = dev.pattern_bits()[dev.inverse]
    cpu_bits = cpu.pattern_bits()[cpu.inverse]
    differ = gpu_bits != cpu_bits
    if not differ.any():
        assert_same(cpu, dev)
        return
    # Pre-activations in float64 of the float32 net: the flipped units sit on their kinks.
    a, pre = X.astype(np.float64), []
    for st in net.stages:
        h = a @ st.weight.astype(np.float64).T + st.bias.astype(np.float64)
        pre.append(h[:, st.negative_slope != 1.0])
        a = np.where(h > 0, h, st.negative_slope * h)
    pre = np.concatenate(pre, axis=1)
    assert np.abs(pre[differ]).max() < 1e-4, "GPU and CPU patterns differ away from kinks"
    assert differ.any(axis=1).mean() < 1e-2


# ---------------------------------------------------------------- GPU: inputs
@pytest.mark.gpu
@needs_cuda
def test_torch_cuda_tensors_match_numpy(rng):
    torch = pytest.importorskip("torch")
    net = integer_net(rng, [12, 48, 48, 1], ("leaky_relu", 0.5), np.float32)
    X = integer_inputs(rng, 25000, 12, np.float32)
    options = {"return_counts": True, "return_inverse": True, "exact": True}
    cpu = rl.count_patterns(net, X, **options)
    for Xt in (
        torch.from_numpy(X).cuda(),
        torch.from_numpy(X).double().cuda(),  # converted to the net's dtype on the device
        torch.from_numpy(X).to(torch.int32).cuda(),
        torch.from_numpy(X).cuda().reshape(-1, 3, 4),  # flattened
        torch.from_numpy(X.T.copy()).cuda().T,  # non-contiguous
    ):
        dev = rl.count_patterns(net, Xt, device="cuda", batch_size=4000, **options)
        assert_same(cpu, dev)


@pytest.mark.gpu
@needs_cuda
def test_streams_of_cuda_batches(rng):
    torch = pytest.importorskip("torch")
    net = integer_net(rng, [8, 40, 40, 1], "relu", np.float64)
    X = integer_inputs(rng, 12000, 8, np.float64)
    Xt = torch.from_numpy(X).cuda()
    y = torch.zeros(len(X), device="cuda")
    loader = [(Xt[i : i + 1000], y[i : i + 1000]) for i in range(0, len(X), 1000)]
    cpu = rl.count_patterns(net, X, return_inverse=True, return_counts=True)
    assert_same(cpu, rl.count_patterns(net, iter(loader), device="cuda", return_inverse=True, return_counts=True))
    # numpy batches in a stream go over to the device.
    gen = (X[i : i + 999] for i in range(0, len(X), 999))
    assert_same(cpu, rl.count_patterns(net, gen, device="cuda", return_inverse=True, return_counts=True))


@pytest.mark.parametrize("batch_size", [1, 7, 1000, 4096, None])
@pytest.mark.gpu
@needs_cuda
def test_batch_size_does_not_matter(rng, batch_size):
    net = integer_net(rng, [6, 30, 30, 1], "relu", np.float32)
    X = integer_inputs(rng, 9000 if batch_size != 1 else 600, 6, np.float32)
    cpu = rl.count_patterns(net, X, return_inverse=True, return_counts=True)
    dev = rl.count_patterns(net, X, device="cuda", batch_size=batch_size, return_inverse=True, return_counts=True)
    assert_same(cpu, dev)


@pytest.mark.gpu
@needs_cuda
def test_tables_grow_without_loss(rng):
    """Nearly every sample has its own pattern: the device tables rehash many times."""
    net = gaussian_net(rng, [20, 64, 64, 1], "relu", np.float64)
    X = rng.standard_normal((200000, 20))
    for options in ({}, {"return_counts": True, "return_inverse": True}):
        cpu, dev = count_both(net, X, batch_size=5000, **options)
        assert dev.n_patterns > 100000
        assert_same(cpu, dev)


# ---------------------------------------------------------------- GPU: limits and errors
@pytest.mark.gpu
@needs_cuda
def test_max_patterns_raises_like_the_cpu(rng):
    net = gaussian_net(rng, [10, 64, 64, 1], "relu", np.float64)
    X = rng.standard_normal((5000, 10))
    n = rl.count_patterns(net, X).n_patterns
    for options in ({}, {"return_counts": True}, {"exact": True}):
        with pytest.raises(ValueError, match=f"max_patterns={n - 1}"):
            rl.count_patterns(net, X, max_patterns=n - 1, **options)
        with pytest.raises(ValueError, match=f"max_patterns={n - 1}"):
            rl.count_patterns(net, X, max_patterns=n - 1, device="cuda", **options)
        assert rl.count_patterns(net, X, max_patterns=n, device="cuda", **options).n_patterns == n


@pytest.mark.gpu
@needs_cuda
def test_nan_names_the_sample(rng):
    net = gaussian_net(rng, [5, 20, 1], "relu", np.float32)
    X = rng.standard_normal((5000, 5)).astype(np.float32)
    X[3777, 2] = np.nan
    with pytest.raises(ValueError, match="row 3777"):
        rl.count_patterns(net, X, device="cuda", batch_size=1000)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="row 3777"):
        rl.count_patterns(net, torch.from_numpy(X).cuda(), device="cuda", batch_size=1000)


@pytest.mark.gpu
@needs_cuda
def test_net_without_kinks_has_one_pattern(rng):
    net = gaussian_net(rng, [5, 20, 3], "identity", np.float64)
    X = rng.standard_normal((100, 5))
    cpu, dev = count_both(net, X, return_counts=True, return_inverse=True)
    assert dev.n_patterns == 1
    assert_same(cpu, dev)


@pytest.mark.gpu
@needs_cuda
def test_tensor_on_the_wrong_device_or_dtype_is_refused(rng):
    torch = pytest.importorskip("torch")
    net = gaussian_net(rng, [5, 20, 1], "relu", np.float32)
    with pytest.raises(TypeError, match="boolean"):
        rl.count_patterns(net, torch.ones(10, 5, dtype=torch.bool, device="cuda"), device="cuda")
    with pytest.raises(ValueError, match="5 inputs"):
        rl.count_patterns(net, torch.ones(10, 4, device="cuda"), device="cuda")
    with pytest.raises(ValueError, match="only"):
        rl.count_patterns(net, np.ones((10, 5)), device=f"cuda:{torch.cuda.device_count()}")


# ---------------------------------------------------------------- CPU-only (run in CI)
def test_bad_device_values_raise_value_error(rng):
    net = gaussian_net(rng, [2, 5, 1])
    X = rng.standard_normal((10, 2))
    for device in ("gpu", "cuda:x", "CUDA", 0, "mps"):
        with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
            rl.count_patterns(net, X, device=device)
    assert rl.count_patterns(net, X, device="cpu").device == "cpu"


@pytest.mark.skipif(rl.cuda_available(), reason="this build and machine have CUDA")
def test_cuda_unavailable_is_a_clear_error(rng):
    assert rl.cuda_available() is False
    net = gaussian_net(rng, [2, 5, 1])
    X = rng.standard_normal((10, 2))
    for device in ("cuda", "cuda:0", "cuda:1"):
        with pytest.raises(RuntimeError, match="REGIONLAB_CUDA=ON|no CUDA device is visible"):
            rl.count_patterns(net, X, device=device)
    # The CPU path is unaffected.
    assert rl.count_patterns(net, X).n_samples == 10
