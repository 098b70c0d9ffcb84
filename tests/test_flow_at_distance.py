"""traj.at(t) and rl.flow.distance on any time grids, against runs recorded exactly there."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from flow_reference import field, flat_params, make_mlp, rk4_with_crossings  # noqa: E402


def problem(n=20, widths=(2, 6, 1), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0]))
    y = np.tanh(X @ rng.standard_normal(widths[0]))
    return make_mlp(widths, 0.1, True, seed=seed), X, y


def test_at_from_the_dense_output_equals_a_run_recorded_there():
    model, X, y = problem(seed=1)
    t_end = 3.0
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=t_end, record=4, dense=True)
    assert tr.has_dense_output and len(tr.events) > 0
    times = [0.123, 0.77, 1.5 + 1e-9, 2.9999]
    exact = rl.flow.integrate(model, X, y, loss="mse", t_end=t_end, record=times)
    for k, t in enumerate(times):
        params, loss = tr.at(t)
        for name, value in exact.params[k + 1].items():
            np.testing.assert_allclose(params[name], value, rtol=1e-13, atol=1e-14)
        assert loss == pytest.approx(exact.loss[k + 1], rel=1e-12)
        # the loss is that of the parameters, by autograd
        flat = np.concatenate([params[n].ravel() for n in exact.param_names])
        assert loss == pytest.approx(field(model, flat, X, y, "mse")[1], rel=1e-12)
    params, loss = tr.at(1.0)  # a record time gives the record
    np.testing.assert_array_equal(params["0.weight"], tr.params[1]["0.weight"])
    assert loss == tr.loss[1]


def test_at_agrees_with_the_independent_tiny_step_reference():
    model, X, y = problem(n=12, seed=3)
    t = 0.8
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=1.5, rtol=1e-11, atol=1e-13,
                           dense=True)
    ref, _ = rk4_with_crossings(model, flat_params(model), X, y, "mse", t, 5e-3)
    params, _ = tr.at(t)
    got = np.concatenate([params[n].ravel() for n in tr.param_names])
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7)


def test_at_outside_the_run_or_without_data_is_refused(tmp_path):
    model, X, y = problem()
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, record=3)
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match="outside the run's time range"):
            tr.at(bad)
    with pytest.raises(TypeError, match="number"):
        tr.at("1")
    assert tr.at(0.5)[1] == tr.loss[1]
    dense = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, record=3, dense=True)
    back = rl.load(dense.save(tmp_path / "dense"))
    with pytest.raises(ValueError, match="pass at\\(t, X, y\\)"):
        back.at(0.3)
    params, loss = back.at(0.3, X, y)
    np.testing.assert_array_equal(params["0.weight"], dense.at(0.3)[0]["0.weight"])
    assert loss == pytest.approx(dense.at(0.3)[1], rel=1e-14)
    assert back.at(0.5)[1] == back.loss[1]  # a record needs no data


def test_gd_at_gives_iterates_at_step_times_and_lines_between_records():
    model, X, y = problem(seed=2)
    every = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=20, record_every=1)
    sparse = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=20, record_every=5)
    p, loss = sparse.at(1.0)  # step 10: a record
    np.testing.assert_array_equal(p["0.weight"], every.params[10]["0.weight"])
    assert loss == every.loss[10]
    p, loss = sparse.at(0.7)  # step 7: between records 5 and 10, linear
    want = 0.6 * every.flat_params[5] + 0.4 * every.flat_params[10]
    got = np.concatenate([p[n].ravel() for n in sparse.param_names])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    assert loss == pytest.approx(field(model, got, X, y, "mse")[1], rel=1e-12)
    p, _ = every.at(0.7)
    np.testing.assert_array_equal(p["0.weight"], every.params[7]["0.weight"])


def test_distance_uses_the_union_of_both_grids_in_the_shared_range():
    model, X, y = problem(seed=4)
    gf = rl.flow.integrate(model, X, y, loss="mse", t_end=2.0, record=5, dense=True)
    descent = rl.flow.gd(model, X, y, loss="mse", lr=0.03, steps=50, record_every=7)
    t, d = rl.flow.distance(gf, descent)
    shared = np.union1d(gf.t, descent.t)
    shared = shared[shared <= descent.t[-1] + 1e-12]
    np.testing.assert_allclose(t, shared, rtol=1e-12)
    assert len(t) > len(np.intersect1d(gf.t, descent.t))  # more than the common points
    # each value against a GF run recorded at those times and GD with every iterate
    exact = rl.flow.integrate(model, X, y, loss="mse", t_end=2.0, record=t[t < 2.0])
    steps = rl.flow.gd(model, X, y, loss="mse", lr=0.03, steps=50, record_every=1)
    rec_steps = np.append(np.arange(0, 50, 7), 50)  # GD's records: every 7th step and the last
    for k, tk in enumerate(t):
        a = exact.flat_params[np.argmin(np.abs(exact.t - tk))]
        s_k = tk / 0.03  # GD between its records: the line between the neighbouring ones
        hi = int(np.searchsorted(rec_steps, s_k - 1e-9))
        lo = max(hi - 1, 0)
        w = 0.0 if hi == lo else (s_k - rec_steps[lo]) / (rec_steps[hi] - rec_steps[lo])
        w = 1.0 if abs(w - 1) < 1e-9 else w
        b = (1 - w) * steps.flat_params[rec_steps[lo]] + w * steps.flat_params[rec_steps[hi]]
        assert d[k] == pytest.approx(np.linalg.norm(a - b), rel=1e-9, abs=1e-12)


def test_distance_of_a_run_with_itself_on_other_grids_is_zero():
    model, X, y = problem(seed=5)
    a = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, record=11, dense=True)
    b = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, record=[0.05, 0.33, 0.61],
                          dense=True)
    t, d = rl.flow.distance(a, b)
    assert len(t) == 14
    assert d.max() < 1e-12
    plain = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, record=[0.05, 0.33, 0.61])
    t, d = rl.flow.distance(a, plain)  # plain is run again to record a's times
    assert len(t) == 14 and d.max() < 1e-12
    same = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, record=a.t)
    t, d = rl.flow.distance(same, a)
    assert len(t) == 11 and d.max() < 1e-12


def test_distance_of_different_models_is_refused():
    model, X, y = problem()
    a = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=5)
    other = make_mlp((2, 7, 1), 0.1, True)
    b = rl.flow.gd(other, X, y, loss="mse", lr=0.1, steps=5)
    with pytest.raises(ValueError, match="different models"):
        rl.flow.distance(a, b)



def test_without_dense_output_the_flow_is_run_again_or_refused_after_load(tmp_path):
    model, X, y = problem(seed=6)
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=2.0, record=3)
    exact = rl.flow.integrate(model, X, y, loss="mse", t_end=2.0, record=[0.37, 1.21])
    for k, t in enumerate((0.37, 1.21)):
        params, loss = tr.at(t)
        got = np.concatenate([params[n].ravel() for n in tr.param_names])
        np.testing.assert_allclose(got, exact.flat_params[k + 1], rtol=1e-13, atol=1e-14)
        assert loss == pytest.approx(exact.loss[k + 1], rel=1e-13)
    back = rl.load(tr.save(tmp_path / "plain"))
    with pytest.raises(ValueError, match="X, y"):
        back.at(0.37)
    with pytest.raises(ValueError, match="X, y"):
        rl.flow.distance(back, exact)
    params, _ = back.at(0.37, X, y)
    np.testing.assert_allclose(params["0.weight"], exact.params[1]["0.weight"], rtol=1e-13)
    # frozen parameters stay frozen when run again
    model[2].weight.requires_grad_(False)
    frozen = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0, record=2)
    np.testing.assert_array_equal(frozen.at(0.3)[0]["2.weight"], frozen.params[0]["2.weight"])
    back = rl.load(frozen.save(tmp_path / "frozen"))
    np.testing.assert_array_equal(back.at(0.3, X, y)[0]["2.weight"], frozen.params[0]["2.weight"])


def test_distance_keeps_to_the_shared_time_range():
    model, X, y = problem()
    late = rl.flow.integrate(model, X, y, loss="mse", t_end=2.0, record=[0.25, 1.5], dense=True)
    early = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=5, record_every=1)
    t, d = rl.flow.distance(late, early)  # [0, 0.5]: GD's six iterates and GF's t = 0.25
    np.testing.assert_allclose(t, [0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5], rtol=1e-12)
    assert d[0] == 0 and np.all(d[1:] > 0)
