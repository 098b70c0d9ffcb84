"""The flow's field, GD steps, NTK and per-sample gradients against torch autograd."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from regionlab import _core  # noqa: E402
from flow_reference import field, flat_params, make_mlp, preacts  # noqa: E402


def data(n, d, loss, k=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if loss in ("logistic", "exp"):
        y = np.where(X @ rng.standard_normal(d) > 0, 1.0, -1.0)
    elif loss == "cross_entropy":
        y = rng.integers(0, k, n)
    else:
        y = rng.standard_normal((n, k)) if k > 1 else rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize(
    "widths,slope,bias,loss",
    [
        ((3, 8, 1), 0.1, True, "logistic"),
        ((3, 8, 1), 0.0, True, "exp"),
        ((4, 6, 5, 1), 0.2, False, "mse"),
        ((4, 6, 3), 0.0, True, "mse"),
        ((5, 7, 6, 4), 0.05, True, "cross_entropy"),
        # partial vectors, several register tiles and blocks of rows in the batch kernel
        ((7, 19, 13, 1), 0.1, True, "logistic"),
        ((9, 33, 3), 0.0, True, "cross_entropy"),
        ((1, 17, 1), 0.3, False, "exp"),
        ((20, 100, 1), 0.1, True, "logistic"),
        ((6, 40, 9, 2), 0.01, True, "mse"),
    ],
)
def test_one_gd_step_is_minus_lr_times_the_autograd_gradient(widths, slope, bias, loss):
    model = make_mlp(widths, slope, bias, seed=1)
    X, y = data(40 if widths[1] < 100 else 333, widths[0], loss, k=widths[-1])
    lr = 0.3
    tr = rl.flow.gd(model, X, y, loss=loss, lr=lr, steps=1, record_every=1)
    f, L = field(model, flat_params(model), X, y, loss)
    assert tr.loss[0] == pytest.approx(L, rel=1e-12)
    np.testing.assert_allclose(tr.flat_params[1], flat_params(model) + lr * f, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(tr.t, [0.0, lr])


def test_params_are_named_like_the_state_dict():
    model = torch.nn.Sequential(
        torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU()),
        torch.nn.Linear(5, 1, bias=False),
    ).double()
    X, y = data(10, 3, "mse")
    tr = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=3)
    sd = model.state_dict()
    assert list(tr.params[0]) == list(sd)
    for name, value in sd.items():
        np.testing.assert_array_equal(tr.params[0][name], value.numpy())
    m = tr.model(-1)
    for name, value in m.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), tr.params[-1][name])


def test_plnet_input_gives_the_same_gd_as_its_torch_module():
    rng = np.random.default_rng(3)
    net = rl.PLNet.from_arrays([rng.standard_normal((6, 2)), rng.standard_normal((1, 6))],
                               [rng.standard_normal(6), np.zeros(1)], ("leaky_relu", 0.1))
    X, y = data(20, 2, "logistic")
    a = rl.flow.gd(net, X, y, loss="logistic", lr=0.5, steps=10)
    b = rl.flow.gd(net.to_torch().double(), X, y, loss="logistic", lr=0.5, steps=10)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)


def test_ntk_equals_j_jt_from_autograd():
    model = make_mlp((3, 7, 5, 1), 0.1, True, seed=2)
    X, _ = data(12, 3, "mse")
    K = rl.metrics.ntk(model, X)
    Xt = torch.as_tensor(X)
    rows = []
    for i in range(len(X)):
        model.zero_grad()
        model(Xt[i : i + 1]).sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy().copy())
    J = np.array(rows)
    np.testing.assert_allclose(K, J @ J.T, rtol=1e-12, atol=1e-12)
    # NTK parameterization: weights of fan-in n count 1/n
    scale = np.concatenate([np.full(p.numel(), 1.0 / p.shape[1] if p.ndim == 2 else 1.0)
                            for p in model.parameters()])
    np.testing.assert_allclose(rl.metrics.ntk(model, X, parameterization="ntk"),
                               (J * scale) @ J.T, rtol=1e-12, atol=1e-12)


def test_ntk_multi_output_shape():
    model = make_mlp((3, 4, 2), 0.0, True, seed=0)
    X, _ = data(5, 3, "mse")
    assert rl.metrics.ntk(model, X).shape == (5, 2, 5, 2)


def test_sample_grad_norms_match_autograd_and_the_trajectory():
    model = make_mlp((3, 6, 1), 0.1, True, seed=4)
    X, y = data(15, 3, "logistic")
    norms = rl.metrics.sample_grad_norms(model, X, y, loss="logistic")
    for i in range(len(X)):
        g = -field(model, flat_params(model), X[i : i + 1], y[i : i + 1], "logistic")[0]
        assert norms[i] == pytest.approx(np.linalg.norm(g), rel=1e-12)
    tr = rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=2)
    np.testing.assert_allclose(tr.sample_grad_norms(0, X, y), norms, rtol=1e-12)


def test_parameterizations_scale_the_step():
    model = make_mlp((3, 5, 1), 0.1, True, seed=5)
    X, y = data(10, 3, "mse")
    f, _ = field(model, flat_params(model), X, y, "mse")
    std = rl.flow.gd(model, X, y, loss="mse", lr=1.0, steps=1)
    ntk = rl.flow.gd(model, X, y, loss="mse", lr=1.0, steps=1, parameterization="ntk")
    mf = rl.flow.gd(model, X, y, loss="mse", lr=1.0, steps=1, parameterization="mean_field")
    d_std = std.flat_params[1] - std.flat_params[0]
    np.testing.assert_allclose(d_std, f, atol=1e-14)
    p_ntk = np.concatenate([np.full(15, 1 / 3), np.ones(5), np.full(5, 1 / 5), np.ones(1)])
    np.testing.assert_allclose(ntk.flat_params[1] - ntk.flat_params[0], p_ntk * f, atol=1e-14)
    p_mf = np.concatenate([np.full(20, 5.0), np.full(6, 1 / 5)])
    np.testing.assert_allclose(mf.flat_params[1] - mf.flat_params[0], p_mf * f, atol=1e-14)


def test_threads_give_the_same_descent_and_flow():
    model = make_mlp((20, 100, 1), 0.1, True, seed=7)
    X, y = data(800, 20, "logistic", seed=7)
    one = rl.flow.gd(model, X, y, loss="logistic", lr=0.5, steps=20, threads=1)
    two = rl.flow.gd(model, X, y, loss="logistic", lr=0.5, steps=20, threads=2)
    np.testing.assert_allclose(two.flat_params, one.flat_params, rtol=0, atol=1e-12)
    a = rl.flow.integrate(model, X, y, loss="logistic", t_end=0.2, threads=1)
    b = rl.flow.integrate(model, X, y, loss="logistic", t_end=0.2, threads=2)
    assert len(a.events) == len(b.events) > 0
    np.testing.assert_allclose(b.flat_params, a.flat_params, rtol=0, atol=1e-9)


def test_logistic_and_exp_gradients_hold_at_large_margins():
    # the vectorised exp of the scalar losses' gradient, far into its tails
    model = make_mlp((3, 8, 1), 0.1, True, seed=2)
    X, y = data(50, 3, "logistic", seed=2)
    X = X * np.geomspace(1e-3, 300, 50)[:, None]  # outputs from ~0 to hundreds
    for loss in ("logistic", "exp"):
        f, L = field(model, flat_params(model), X, y, loss)
        tr = rl.flow.gd(model, X, y, loss=loss, lr=1e-3, steps=1, record_every=1)
        assert np.all(np.isfinite(tr.flat_params[1]))
        np.testing.assert_allclose((tr.flat_params[1] - tr.flat_params[0]) / 1e-3, f,
                                   rtol=1e-12, atol=1e-12 * np.abs(f).max())


@pytest.mark.parametrize("biases", [(True, False, True), (False, True, True), (True, True, False)])
def test_mixed_biases_and_a_width_one_hidden_layer(biases):
    torch.manual_seed(11)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 5, bias=biases[0]), torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(5, 1, bias=biases[1]), torch.nn.ReLU(),
        torch.nn.Linear(1, 1, bias=biases[2]),
    ).double()
    X, y = data(300, 3, "mse", seed=11)
    f, L = field(model, flat_params(model), X, y, "mse")
    tr = rl.flow.gd(model, X, y, loss="mse", lr=1.0, steps=1, record_every=1)
    assert tr.loss[0] == pytest.approx(L, rel=1e-12)
    np.testing.assert_allclose(tr.flat_params[1] - tr.flat_params[0], f, rtol=0, atol=1e-13)


def test_bias_free_middle_layer_under_a_one_output_layer():
    torch.manual_seed(12)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4, bias=False),
        torch.nn.LeakyReLU(0.1), torch.nn.Linear(4, 1),
    ).double()
    X, y = data(300, 3, "logistic", seed=12)
    f, _ = field(model, flat_params(model), X, y, "logistic")
    tr = rl.flow.gd(model, X, y, loss="logistic", lr=1.0, steps=1, record_every=1)
    np.testing.assert_allclose(tr.flat_params[1] - tr.flat_params[0], f, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    "d,h,n,slope,hidden_bias,out_act,loss,threads",
    [
        (20, 100, 333, 0.1, True, None, "logistic", 2),  # several blocks of rows on two threads
        (4, 13, 57, 0.0, False, None, "mse", 1),          # partial vectors, rows not a multiple of 8
        (2, 2, 9, 0.1, True, torch.nn.LeakyReLU(0.3), "exp", 1),  # a kink on the output itself
        (5, 8, 203, 1.0, True, torch.nn.ReLU(), "mse", 2),
        # slopes outside [0, 1]: the slopes travel as bits, not as the sign of the activation
        (3, 11, 70, -0.5, True, None, "logistic", 1),
        (6, 21, 90, 2.0, True, None, "mse", 2),
        # more inputs than the folded backward takes: dL/dz swept into a buffer, then X^T D
        (23, 30, 150, 0.1, True, None, "logistic", 2),
        (23, 9, 40, -0.5, False, None, "mse", 1),
    ],
)
@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
def test_one_hidden_layer_pass_against_autograd(d, h, n, slope, hidden_bias, out_act, loss, threads,
                                                isa):
    # d-h-1 nets take their own fused pass (forward tiles that end in the output's dot
    # product), compiled per instruction set: one GD step against autograd, and its events
    # against the sign changes of z
    before = _core.isa()
    if not _core.set_isa(isa):
        pytest.skip(f"this CPU lacks {isa}")
    try:
        _check_one_hidden_layer_pass(d, h, n, slope, hidden_bias, out_act, loss, threads)
    finally:
        _core.set_isa(before)


def _check_one_hidden_layer_pass(d, h, n, slope, hidden_bias, out_act, loss, threads):
    torch.manual_seed(d * h + n)
    mods = [torch.nn.Linear(d, h, bias=hidden_bias), torch.nn.LeakyReLU(slope), torch.nn.Linear(h, 1)]
    model = torch.nn.Sequential(*mods, *([out_act] if out_act is not None else [])).double()
    X, y = data(n, d, loss, seed=h)
    theta = flat_params(model)
    f, L = field(model, theta, X, y, loss)
    tr = rl.flow.gd(model, X, y, loss=loss, lr=0.5, steps=4, record_every=1, events=True,
                    threads=threads)
    assert tr.loss[0] == pytest.approx(L, rel=1e-12)
    np.testing.assert_allclose(tr.flat_params[1] - theta, 0.5 * f, rtol=0,
                               atol=1e-13 * max(1.0, np.abs(f).max()))
    kinked = [slope != 1.0, out_act is not None]
    expected = []
    zs = [preacts(model, p, X) for p in tr.flat_params]
    for k in range(1, len(zs)):
        for layer in (0, 1):
            if not kinked[layer]:
                continue
            before, after = zs[k - 1][layer] > 0, zs[k][layer] > 0
            for i, j in zip(*np.nonzero(before != after)):
                expected.append((k * 0.5, i, layer, j, 1 if after[i, j] else -1))
    got = sorted((e["time"], e["sample"], e["layer"], e["neuron"], e["new_state"]) for e in tr.events)
    assert got == sorted(expected) and len(got) > 0
