"""{0, 1} labels and the "bce" alias for the margin losses; a unit that is exactly zero."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from flow_reference import make_mlp, preacts  # noqa: E402


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    return X, np.where(X[:, 0] + 0.3 * X[:, 1] > 0, 1.0, -1.0)


@pytest.mark.parametrize("loss", ["logistic", "bce"])
def test_zero_one_labels_give_the_same_flow_as_plus_minus_one(loss):
    X, y = data()
    model = make_mlp((2, 5, 1), 0.1, True, seed=1)
    pm = rl.flow.integrate(model, X, y, loss="logistic", t_end=1.0)
    zo = rl.flow.integrate(model, X, (y > 0).astype(np.int64), loss=loss, t_end=1.0)
    np.testing.assert_array_equal(zo.flat_params, pm.flat_params)
    np.testing.assert_array_equal(zo.margin, pm.margin)
    # "bce" on {0, 1} labels is torch's BCEWithLogitsLoss
    out = model(torch.as_tensor(X))[:, 0]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out, torch.as_tensor(y > 0).double())
    assert zo.loss[0] == pytest.approx(bce.item(), rel=1e-13)
    gd = rl.flow.gd(model, X, (y > 0), loss=loss, lr=0.1, steps=3)  # bool labels too
    np.testing.assert_array_equal(gd.flat_params,
                                  rl.flow.gd(model, X, y, loss="logistic", lr=0.1,
                                             steps=3).flat_params)


@pytest.mark.parametrize("labels", [[0, 2], [-1, 0, 1], [0.5, 1]])
def test_other_labels_are_refused_with_the_accepted_sets(labels):
    X, _ = data(n=len(labels))
    model = make_mlp((2, 3, 1), 0.1, True)
    with pytest.raises(ValueError, match=r"\{-1, \+1\} or in \{0, 1\}"):
        rl.flow.integrate(model, X, np.array(labels, dtype=float), loss="bce", t_end=1.0)
    with pytest.raises(ValueError, match=r"\{-1, \+1\} or in \{0, 1\}"):
        rl.metrics.sample_grad_norms(model, X, np.array(labels, dtype=float), loss="exp")


def zero_unit_model(slope=0.0):
    model = make_mlp((2, 4, 1), slope, True, seed=2)
    with torch.no_grad():
        model[0].weight[1].zero_()
        model[0].bias[1] = 0.0
    return model


def test_a_zero_relu_unit_stays_zero_and_its_pairs_are_reported_on_the_kink():
    X, y = data()
    model = zero_unit_model()
    tr = rl.flow.integrate(model, X, y, loss="logistic", t_end=3.0, record=31)
    for rec in tr.params:  # the unit stays exactly at 0 (and so does its z)
        np.testing.assert_array_equal(rec["0.weight"][1], [0.0, 0.0])
        assert rec["0.bias"][1] == 0.0
    assert np.any(tr.params[-1]["2.weight"] != tr.params[0]["2.weight"])  # the rest trains
    held = tr.sliding[(tr.sliding["layer"] == 0) & (tr.sliding["neuron"] == 1)]
    assert sorted(held["sample"]) == list(range(len(X)))
    assert np.all(held["t_start"] == 0.0) and np.all(held["t_end"] == 3.0)
    assert tr.stats["n_sliding"] == len(tr.sliding)
    z = preacts(model, tr.flat_params[-1], X)[0][:, 1]
    np.testing.assert_array_equal(z, 0.0)
    assert not np.any((tr.events["layer"] == 0) & (tr.events["neuron"] == 1))


def test_a_zero_leaky_unit_moves_off_and_is_not_reported():
    X, y = data()
    model = zero_unit_model(slope=0.2)  # slope 0.2 on the kink: its gradient is not zero
    tr = rl.flow.integrate(model, X, y, loss="logistic", t_end=1.0)
    assert np.any(tr.params[-1]["0.weight"][1] != 0)
    sl = tr.sliding
    whole_run = sl[(sl["layer"] == 0) & (sl["neuron"] == 1) & (sl["t_start"] == 0)
                   & (sl["t_end"] == 1.0)]
    assert len(whole_run) == 0
