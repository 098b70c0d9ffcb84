"""Frozen parameters (requires_grad=False or trainable=) stay put; the rest train exactly."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from flow_reference import (  # noqa: E402
    field,
    flat_params,
    make_mlp,
    rk4_with_crossings,
    trainable_vector,
)


def fixed_output_net(seed=0, widths=(2, 6, 1)):
    """Two-layer ReLU net with the output layer fixed to +-1 (Safran & Shamir's setting)."""
    model = make_mlp(widths, 0.0, True, seed=seed)
    with torch.no_grad():
        model[2].weight.copy_(torch.tensor([[1.0, -1.0] * (widths[1] // 2)], dtype=torch.float64))
        model[2].bias.zero_()
    model[2].weight.requires_grad_(False)
    model[2].bias.requires_grad_(False)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, widths[0]))
    y = np.tanh(X @ rng.standard_normal(widths[0]))
    return model, X, y


def test_frozen_output_layer_stays_bit_identical_along_integrate_and_gd():
    model, X, y = fixed_output_net()
    w2 = model[2].weight.detach().numpy().copy()
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=2.0, record=21)
    gd = rl.flow.gd(model, X, y, loss="mse", lr=0.05, steps=40, record_every=1,
                    momentum=0.9, weight_decay=0.1)
    for run in (tr, gd):
        assert run.trainable == ["0.weight", "0.bias"]
        for rec in run.params:
            np.testing.assert_array_equal(rec["2.weight"], w2)
            np.testing.assert_array_equal(rec["2.bias"], [0.0])
        assert np.abs(run.params[-1]["0.weight"] - run.params[0]["0.weight"]).max() > 1e-3


def test_trained_part_matches_the_autograd_reference_with_the_same_mask():
    model, X, y = fixed_output_net(seed=3)
    mask = trainable_vector(model, {"0.weight", "0.bias"})
    t_end = 1.0
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=t_end, rtol=1e-11, atol=1e-13)
    ref, crossings = rk4_with_crossings(model, flat_params(model), X, y, "mse", t_end, 5e-3,
                                        trainable=mask)
    assert len(tr.sliding) == 0 and len(crossings) >= 1
    assert len(tr.events) == len(crossings)
    np.testing.assert_allclose(tr.flat_params[-1], ref, rtol=0, atol=1e-7)
    # one GD step is -lr times the masked autograd gradient
    gd = rl.flow.gd(model, X, y, loss="mse", lr=0.5, steps=1)
    f, _ = field(model, flat_params(model), X, y, "mse", trainable=mask)
    np.testing.assert_allclose(gd.flat_params[1] - gd.flat_params[0], 0.5 * f, atol=1e-14)


def test_trainable_argument_overrides_requires_grad():
    model, X, y = fixed_output_net()
    by_list = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=5,
                         trainable=["2.weight", "2.bias"])
    by_pred = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=5,
                         trainable=lambda name: name.startswith("2."))
    np.testing.assert_array_equal(by_list.flat_params, by_pred.flat_params)
    assert by_list.trainable == ["2.weight", "2.bias"]
    np.testing.assert_array_equal(by_list.params[-1]["0.weight"], by_list.params[0]["0.weight"])
    assert not np.array_equal(by_list.params[-1]["2.weight"], by_list.params[0]["2.weight"])
    everything = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=5,
                            trainable=lambda name: True)
    assert everything.trainable == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_plnet_trains_everything_unless_told():
    rng = np.random.default_rng(3)
    net = rl.PLNet.from_arrays([rng.standard_normal((4, 2)), rng.standard_normal((1, 4))],
                               [rng.standard_normal(4), np.zeros(1)], "relu")
    X = rng.standard_normal((10, 2))
    y = np.sign(X[:, 0])
    tr = rl.flow.gd(net, X, y, loss="logistic", lr=0.5, steps=3)
    assert tr.trainable == ["0.weight", "0.bias", "2.weight", "2.bias"]
    frozen = rl.flow.gd(net, X, y, loss="logistic", lr=0.5, steps=3, trainable=["2.weight"])
    assert frozen.trainable == ["2.weight"]
    np.testing.assert_array_equal(frozen.flat_params[-1][:12], frozen.flat_params[0][:12])


@pytest.mark.parametrize(
    "trainable,exc,match",
    [
        (["0.weight", "1.weight"], ValueError, r"\['1.weight'\].*valid names.*0.weight"),
        ("0.weight", TypeError, "not a string"),
        ([0], TypeError, "strings"),
        (42, TypeError, "list of parameter names"),
        ([], ValueError, "no parameter"),
        (lambda n: 1, TypeError, "bool"),
    ],
)
def test_bad_trainable_is_explained(trainable, exc, match):
    model, X, y = fixed_output_net()
    with pytest.raises(exc, match=match):
        rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, trainable=trainable)
    with pytest.raises(exc, match=match):
        rl.metrics.ntk(model, X, trainable=trainable)


def test_all_frozen_model_is_refused_unless_trainable_is_given():
    model, X, y = fixed_output_net()
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="requires grad.*trainable="):
        rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=2)
    tr = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=2, trainable=["0.bias"])
    assert tr.trainable == ["0.bias"]


def autograd_jacobian(model, X, names):
    rows = []
    params = dict(model.named_parameters())
    for i in range(len(X)):
        out = model(torch.as_tensor(X[i : i + 1]))[0, 0]
        grads = torch.autograd.grad(out, [params[n] for n in names])
        rows.append(torch.cat([g.reshape(-1) for g in grads]).numpy())
    return np.array(rows)


def test_ntk_and_grad_norms_cover_the_trainable_params_only():
    model, X, y = fixed_output_net(seed=5, widths=(3, 8, 1))
    for p in model.parameters():  # autograd needs them all on; regionlab is told by name
        p.requires_grad_(True)
    names = ["0.weight", "0.bias"]
    J = autograd_jacobian(model, X, names)
    K = rl.metrics.ntk(model, X, trainable=names)
    np.testing.assert_allclose(K, J @ J.T, rtol=1e-12, atol=1e-12)
    Jall = autograd_jacobian(model, X, ["0.weight", "0.bias", "2.weight", "2.bias"])
    assert np.abs(Jall @ Jall.T - K).max() > 1e-3  # the frozen layer would have counted
    model[2].weight.requires_grad_(False)  # requires_grad gives the same answer
    model[2].bias.requires_grad_(False)
    np.testing.assert_allclose(rl.metrics.ntk(model, X), K, rtol=0, atol=0)
    mask = trainable_vector(model, set(names))
    norms = rl.metrics.sample_grad_norms(model, X, y, loss="mse")
    for i in range(len(X)):
        g = field(model, flat_params(model), X[i : i + 1], y[i : i + 1], "mse",
                  trainable=mask)[0]
        assert norms[i] == pytest.approx(np.linalg.norm(g), rel=1e-12)
    tr = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=1)
    np.testing.assert_allclose(tr.sample_grad_norms(0, X, y), norms, rtol=1e-12)


def test_trainable_names_are_saved_and_loaded(tmp_path):
    model, X, y = fixed_output_net()
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=0.5)
    back = rl.load(tr.save(tmp_path / "frozen"))
    assert back.trainable == ["0.weight", "0.bias"]
    for run in (tr, back):  # a run continued from model(-1) keeps the same ones frozen
        grads = {n: p.requires_grad for n, p in run.model(-1).named_parameters()}
        assert grads == {"0.weight": True, "0.bias": True, "2.weight": False, "2.bias": False}
    chosen = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=1, trainable=["2.bias"])
    assert [n for n, p in chosen.model(0).named_parameters() if p.requires_grad] == ["2.bias"]
    np.testing.assert_allclose(back.sample_grad_norms(-1, X, y), tr.sample_grad_norms(-1, X, y),
                               rtol=1e-14)


def test_sliding_with_a_frozen_output_layer_keeps_it_fixed_and_z_on_the_kink():
    from flow_reference import preacts

    model = make_mlp((2, 6, 1), 0.0, True, seed=0)
    model[2].weight.requires_grad_(False)
    model[2].bias.requires_grad_(False)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = np.tanh(X @ rng.standard_normal(2))
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=10.0, record=51, dense=True)
    assert len(tr.sliding) >= 1
    for rec in tr.params:
        np.testing.assert_array_equal(rec["2.weight"], tr.params[0]["2.weight"])
    for r in tr.sliding:
        for w in (0.25, 0.5, 0.75):  # inside the interval, from the dense output
            params, _ = tr.at((1 - w) * r["t_start"] + w * r["t_end"])
            np.testing.assert_array_equal(params["2.weight"], tr.params[0]["2.weight"])
            th = np.concatenate([params[n].ravel() for n in tr.param_names])
            assert abs(preacts(model, th, X)[r["layer"]][r["sample"], r["neuron"]]) < 1e-8
    assert np.all(np.diff(tr.loss) <= 1e-12)
