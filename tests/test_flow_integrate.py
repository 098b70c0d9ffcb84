"""Gradient flow against independent integrators, GD -> GF, events, sliding modes."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from flow_reference import (  # noqa: E402
    field,
    flat_params,
    make_mlp,
    preacts,
    rk4_with_crossings,
    sign_masks,
)


def problem(n=30, widths=(3, 8, 1), slope=0.1, seed=0, loss="logistic"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0]))
    y = np.where(X @ rng.standard_normal(widths[0]) > 0, 1.0, -1.0)
    if loss == "mse":
        y = np.tanh(X @ rng.standard_normal(widths[0]))
    return make_mlp(widths, slope, True, seed=seed), X, y


def test_matches_scipy_dop853_on_a_stretch_without_kinks():
    scipy_integrate = pytest.importorskip("scipy.integrate")
    model, X, y = problem(n=25, widths=(3, 10, 1), seed=1)
    first = rl.flow.integrate(model, X, y, loss="logistic", t_end=2.0).events["time"]
    t_end = 0.9 * first[0] if len(first) else 2.0  # stop before the first kink
    tr = rl.flow.integrate(model, X, y, loss="logistic", t_end=t_end, record=[0.25],
                           rtol=1e-10, atol=1e-12)
    assert len(tr.events) == 0 and t_end > 0.25
    theta0 = flat_params(model)
    masks = sign_masks(model, theta0, X)
    sol = scipy_integrate.solve_ivp(lambda t, th: field(model, th, X, y, "logistic", masks)[0],
                                    (0, t_end), theta0, method="DOP853", rtol=1e-12,
                                    atol=1e-12, t_eval=[0.25, t_end])
    assert sol.success
    np.testing.assert_allclose(tr.flat_params[1:], sol.y.T, rtol=0, atol=1e-8)


@pytest.mark.parametrize("method,step", [("dopri5", None), ("bs3", None), ("rk4", 2e-3)])
def test_matches_tiny_step_rk4_that_stops_at_each_crossing(method, step):
    model, X, y = problem(n=12, widths=(2, 5, 1), seed=3, loss="mse")
    t_end = 1.5
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=t_end, rtol=1e-11, atol=1e-13,
                           method=method, step=step)
    ref, crossings = rk4_with_crossings(model, flat_params(model), X, y, "mse", t_end, 5e-3)
    assert len(tr.sliding) == 0 and len(crossings) >= 3  # crossings, and no sliding
    assert len(tr.events) == len(crossings)
    ref_times = np.array([c[0] for c in crossings])
    np.testing.assert_allclose(tr.events["time"], ref_times, atol=1e-6)
    assert [(e["sample"], e["layer"], e["neuron"]) for e in tr.events] == [
        (c[1], c[2], c[3]) for c in crossings]
    np.testing.assert_allclose(tr.flat_params[-1], ref, rtol=0, atol=1e-7)


@pytest.mark.parametrize("method", ["dopri5", "bs3"])
def test_wide_deep_net_matches_scipy_dop853_before_the_first_kink(method):
    # widths that leave partial vectors and several register tiles in the batch kernel
    scipy_integrate = pytest.importorskip("scipy.integrate")
    model, X, y = problem(n=90, widths=(5, 19, 11, 1), seed=4, loss="mse")
    first = rl.flow.integrate(model, X, y, loss="mse", t_end=1.0).events["time"]
    t_end = 0.9 * first[0] if len(first) else 1.0
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=t_end, rtol=1e-10, atol=1e-12,
                           method=method, record=2)
    assert len(tr.events) == 0
    theta0 = flat_params(model)
    masks = sign_masks(model, theta0, X)
    sol = scipy_integrate.solve_ivp(lambda t, th: field(model, th, X, y, "mse", masks)[0],
                                    (0, t_end), theta0, method="DOP853", rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.flat_params[-1], sol.y[:, -1], rtol=0, atol=1e-8)


def test_dense_kinks_take_low_order_steps_and_stay_exact():
    # Many samples near the kinks: pieces between events are short, so dopri5 switches to
    # Bogacki-Shampine steps; the result must still match a tight reference and the
    # events must be the same.
    model, X, y = problem(n=100, widths=(3, 20, 1), seed=2, loss="mse")
    t_end = 2.0
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=t_end)
    ref = rl.flow.integrate(model, X, y, loss="mse", t_end=t_end, rtol=1e-12, atol=1e-14,
                            method="bs3")
    pure, crossings = rk4_with_crossings(model, flat_params(model), X, y, "mse", t_end, 5e-3)
    assert len(tr.sliding) == 0 and len(crossings) >= 50
    assert tr.stats["low_order_steps"] > len(crossings) // 2
    assert len(tr.events) == len(ref.events) == len(crossings)
    # times of grazing crossings are ill-conditioned (|dz/dt| small): the state is what
    # the tolerances control
    np.testing.assert_allclose(tr.events["time"], ref.events["time"], atol=1e-5)
    np.testing.assert_allclose(ref.flat_params[-1], pure, rtol=0, atol=1e-7)
    np.testing.assert_allclose(tr.flat_params[-1], ref.flat_params[-1], rtol=0, atol=1e-6)


def test_gd_tends_to_gf_at_first_order():
    model, X, y = problem(n=20, widths=(3, 6, 1), seed=4)
    T = 1.0
    lrs = [0.04, 0.02, 0.01]
    gf = rl.flow.integrate(model, X, y, loss="logistic", t_end=T, record=np.arange(1, 101) * 0.01,
                           rtol=1e-10, atol=1e-12)
    errs = []
    for lr in lrs:
        gd = rl.flow.gd(model, X, y, loss="logistic", lr=lr, steps=int(round(T / lr)),
                        record_every=1)
        t, d = rl.flow.distance(gf, gd)
        assert t[-1] == pytest.approx(T)
        errs.append(d[-1])
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.7) & (ratios < 2.3)), (errs, ratios)


@pytest.mark.parametrize("loss", ["logistic", "mse", "exp"])
def test_loss_is_non_increasing(loss):
    model, X, y = problem(n=40, widths=(4, 12, 1), seed=5, loss=loss)
    tr = rl.flow.integrate(model, X, y, loss=loss, t_end=5.0, record=400)
    assert len(tr.events) > 0
    assert np.all(np.diff(tr.loss) <= 1e-12 * np.abs(tr.loss[:-1]))


def test_cross_entropy_deep_net_flows_down():
    model = make_mlp((3, 6, 5, 3), 0.1, True, seed=6)
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 3))
    y = rng.integers(0, 3, 30)
    tr = rl.flow.integrate(model, X, y, loss="cross_entropy", t_end=3.0)
    assert np.all(np.diff(tr.loss) <= 1e-12)
    assert tr.loss[-1] < tr.loss[0]


def test_events_equal_the_sign_changes_on_a_fine_grid():
    model, X, y = problem(n=30, widths=(3, 10, 1), seed=7)
    t_end = 3.0  # this problem starts sliding at t = 3.3
    grid = np.linspace(0, t_end, 3001)
    tr = rl.flow.integrate(model, X, y, loss="logistic", t_end=t_end, record=grid)
    assert len(tr.sliding) == 0 and len(tr.events) > 5
    signs = np.array([preacts(model, th, X)[0] > 0 for th in tr.flat_params])  # (T, n, h)
    changes = np.argwhere(signs[1:] != signs[:-1])  # (interval, sample, neuron)
    seen = sorted((int(k), int(i), int(j)) for k, i, j in changes)
    ev = tr.events
    interval = np.searchsorted(grid, ev["time"]) - 1
    found = sorted((int(k), int(e["sample"]), int(e["neuron"])) for k, e in zip(interval, ev))
    assert found == seen
    assert np.all(ev["layer"] == 0)
    assert np.all((ev["new_state"] == 1) == signs[interval + 1, ev["sample"], ev["neuron"]])


def sliding_problem():
    """One ReLU neuron, three points in 1D: its kink is drawn onto sample 2 and stays."""
    rng = np.random.default_rng(40)
    X = rng.uniform(-2, 2, (3, 1))
    y = rng.uniform(-1, 1, 3)
    W0 = rng.standard_normal((1, 1))
    b0 = rng.standard_normal(1) * 0.5
    v = rng.standard_normal((1, 1))
    net = rl.PLNet.from_arrays([W0, v], [b0, np.zeros(1)], [0.0, "identity"])
    return net, X, y


def test_sliding_mode_stays_on_the_kink_with_few_steps():
    net, X, y = sliding_problem()
    t_end = 10.0
    tr = rl.flow.integrate(net, X, y, loss="mse", t_end=t_end, record=1001)
    assert len(tr.sliding) == 1
    sl = tr.sliding[0]
    assert (sl["sample"], sl["layer"], sl["neuron"]) == (2, 0, 0)
    assert 0.2 < sl["t_start"] < 0.4 and sl["t_end"] == t_end
    assert tr.events[-1]["new_state"] == 0 and tr.events[-1]["time"] == sl["t_start"]
    assert tr.stats["steps"] < 100  # no chattering
    model = tr.model(0)
    inside = tr.t > sl["t_start"] + 1e-9
    z = np.array([preacts(model, th, X)[0][2, 0] for th in tr.flat_params[inside]])
    assert np.abs(z).max() < 1e-9
    # Filippov's condition, checked with autograd at a record inside the interval: the
    # field with the neuron on (slope 1) pushes z down, with it off (slope 0) pushes z up.
    th = tr.flat_params[np.argmax(inside) + 200]
    masks = sign_masks(model, th, X)
    xi = np.append(X[2], 1.0)
    vel = []
    for s in (1.0, 0.0):
        masks[0][2, 0] = s
        f = field(model, th, X, y, "mse", masks)[0]
        vel.append(f[[0, 1]] @ xi)  # dz/dt = dW x + db for the one hidden neuron
    assert vel[0] < 0 < vel[1]
    assert np.all(np.diff(tr.loss) <= 1e-12)


def test_a_slide_ends_where_its_filippov_slope_reaches_the_interval_end():
    """Regression: exits were located to 1e-5 of the slope interval, so their times were
    late by ~1e-5 whatever rtol. Oracle: the slope that holds dz/dt = 0 (affine in it for
    one hidden layer), solved with autograd's field on the run's own dense output."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((15, 3)), rng.standard_normal(15)
    torch.manual_seed(62)
    model = torch.nn.Sequential(torch.nn.Linear(3, 6, dtype=torch.float64), torch.nn.LeakyReLU(0.1),
                                torch.nn.Linear(6, 1, dtype=torch.float64))
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=3.0, rtol=1e-11, atol=1e-13, dense=True)
    ended = tr.sliding[tr.sliding["t_end"] < 3.0]
    # (an exit at another pair's event is a jump of the field, not a slope reaching an end)
    others = [tr.events["time"][(tr.events["sample"] != sl["sample"])
                                | (tr.events["neuron"] != sl["neuron"])] for sl in ended]
    ended = [sl for sl, t in zip(ended, others) if not np.isclose(t, sl["t_end"], rtol=0, atol=1e-9).any()]
    assert len(ended) >= 1
    for sl in ended:
        i, j = int(sl["sample"]), int(sl["neuron"])

        def slope(t):
            params, _ = tr.at(float(t))
            th = np.concatenate([np.ravel(params[n]) for n in tr.param_names])
            masks = sign_masks(model, th, X)
            xi = np.append(X[i], 1.0)
            rows = [j * 3, j * 3 + 1, j * 3 + 2, 18 + j]  # row j of the weight, bias j
            v = []
            for s in (0.0, 1.0):
                masks[0][i, j] = s
                v.append(field(model, th, X, y.reshape(-1, 1), "mse", masks)[0][rows] @ xi)
            return v[0] / (v[0] - v[1])  # dz/dt = (1 - s) v0 + s v1 = 0

        end = slope(sl["t_end"])
        assert min(abs(end - 0.1), abs(end - 1.0)) < 1e-8
        assert 0.1 < slope(sl["t_end"] - 1e-4) < 1.0


@pytest.mark.parametrize("aim", [True, False])
def test_duplicate_samples_share_one_history(aim):
    """Regression: samples with equal inputs have equal pre-activations for ever, but one
    twin was recorded sliding while the other crossed. Each copy of X now has the history
    of the run without copies; parameters unchanged (the mse of copies is the same loss)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((15, 3)), rng.standard_normal(15)
    torch.manual_seed(24)
    model = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 1)).double()
    kw = dict(loss="mse", t_end=3.0, rtol=1e-11, atol=1e-13, aim=aim, record=np.linspace(0, 3, 31))
    one = rl.flow.integrate(model, X, y, **kw)
    three = rl.flow.integrate(model, np.vstack([X, X, X]), np.concatenate([y, y, y]), **kw)
    assert len(one.sliding) >= 2
    np.testing.assert_allclose(three.flat_params, one.flat_params, atol=1e-10)
    assert len(three.events) == 3 * len(one.events)
    assert len(three.sliding) == 3 * len(one.sliding)

    def history(tr, i):
        ev = tr.events[tr.events["sample"] == i]
        sl = tr.sliding[tr.sliding["sample"] == i]
        return ([(int(e["neuron"]), int(e["new_state"])) for e in ev], ev["time"],
                [int(r["neuron"]) for r in sl], sl["t_start"], sl["t_end"])

    for i in range(15):
        ref = history(one, i)
        for copy in (i, i + 15, i + 30):
            got = history(three, copy)
            assert got[0] == ref[0] and got[2] == ref[2]
            for a, b in zip((got[1], got[3], got[4]), (ref[1], ref[3], ref[4])):
                np.testing.assert_allclose(a, b, atol=1e-8)


def test_a_rescaled_flow_is_the_same_flow():
    """Regression: a bias-free two-layer ReLU net is 2-homogeneous, so theta -> c theta,
    y -> c^2 y, t -> t / c^2 maps its flow onto itself; at c = 1e6 (t_end 3e-12) the
    run stopped with "the step size collapsed" (an absolute 1e-14 floor on the step)."""
    torch = pytest.importorskip("torch")
    import copy

    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((15, 3)), rng.standard_normal(15)
    torch.manual_seed(24)
    base = torch.nn.Sequential(torch.nn.Linear(3, 6, bias=False), torch.nn.ReLU(),
                               torch.nn.Linear(6, 1, bias=False)).double()
    ref = rl.flow.integrate(base, X, y, loss="mse", t_end=3.0, rtol=1e-11, atol=1e-13, record=11)
    for c in (1e-3, 1e6):
        model = copy.deepcopy(base)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(c)
        tr = rl.flow.integrate(model, X, y * c * c, loss="mse", t_end=3.0 / c**2, rtol=1e-11,
                               atol=1e-13 * c, record=11)
        np.testing.assert_allclose(tr.flat_params / c, ref.flat_params, rtol=0,
                                   atol=1e-10 * np.abs(ref.flat_params).max())


def test_a_sample_placed_on_kinks_at_the_start_gets_its_events():
    """Regression: z == 0 counts inactive, but the engine's summation order rounded one of
    three exact zeros to +3e-17, so that pair started active and its activation at t = 0
    was missing from the table. Oracle: z along the run's dense output."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((15, 3)), rng.standard_normal(15)
    torch.manual_seed(25)
    model = torch.nn.Sequential(torch.nn.Linear(3, 6, dtype=torch.float64), torch.nn.ReLU(),
                                torch.nn.Linear(6, 1, dtype=torch.float64))
    X[0] = [0.5, -0.25, 1.0]
    with torch.no_grad():
        W = model[0].weight.numpy()
        model[0].bias[:3] = torch.tensor(-(W[:3] @ X[0]))
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=2.0, rtol=1e-11, atol=1e-13, dense=True)
    params, _ = tr.at(1e-9)
    z = X[0] @ params["0.weight"].T + params["0.bias"]
    first = tr.events[(tr.events["sample"] == 0) & (tr.events["time"] < 1e-12)]
    moved_up = {j for j in range(3) if z[j] > 0}
    assert moved_up  # the case needs pairs that leave their kink upwards
    assert {int(e["neuron"]) for e in first if e["new_state"] == 1} == moved_up


def test_a_slide_that_turns_repelling_is_reported():
    """A pair slides from t = 0.097; near t = 1.75 the field starts pushing it away from
    its kink on both sides while its slope is still inside [alpha, 1], so the slide goes
    on as one of several Filippov solutions (the unstable one). Oracle: the one-sided
    speeds dz/dt at slopes alpha and 1 by autograd on the run's dense output change sign
    there, and the run says so with a RuntimeWarning and stats["repelling_slides"]."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(50)
    X = rng.standard_normal((30, 2))
    y = np.abs(X[:, 0]) - 0.5
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.LeakyReLU(-0.5),
                                torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.2)
    with pytest.warns(RuntimeWarning, match="sample 11 unit 0 of layer 0 near t=1.7"):
        tr = rl.flow.integrate(model, X, y, loss="mse", t_end=3.0, rtol=1e-12, atol=1e-14,
                               dense=True, aim=False)
    assert tr.stats["repelling_slides"] == 1

    def speeds(t):
        params, _ = tr.at(float(t))
        th = np.concatenate([np.ravel(params[n]) for n in tr.param_names])
        masks = sign_masks(model, th, X)
        xi = np.append(X[11], 1.0)
        out = []
        for s in (-0.5, 1.0):
            masks[0][11, 0] = s
            out.append(field(model, th, X, y.reshape(-1, 1), "mse", masks)[0][[0, 1, 16]] @ xi)
        return out

    below, above = speeds(1.0)
    assert below > 0 > above  # attracted from both sides
    below, above = speeds(2.2)
    assert below < 0 < above  # pushed away on both sides, still listed as sliding
    sl = tr.sliding[(tr.sliding["sample"] == 11) & (tr.sliding["neuron"] == 0)]
    assert sl["t_start"][0] < 1.0 and sl["t_end"][0] > 2.2


def test_a_step_and_check_integrator_chatters_on_the_sliding_problem():
    # Independent evidence that the sliding is real: plain Euler on the sign field flips
    # the pair back and forth at every step once it reaches the kink.
    net, X, y = sliding_problem()
    tr = rl.flow.gd(net, X, y, loss="mse", lr=1e-3, steps=5000)
    flips = tr.events[(tr.events["sample"] == 2)]
    assert len(flips) > 100


def test_max_steps_raises_and_ctrl_c_hook_exists():
    model, X, y = problem(n=30, widths=(3, 8, 1), seed=0)
    with pytest.raises(ValueError, match="max_steps"):
        rl.flow.integrate(model, X, y, loss="logistic", t_end=50.0, max_steps=5)


def test_record_times_and_stats():
    model, X, y = problem(n=20, widths=(3, 6, 1), seed=8)
    tr = rl.flow.integrate(model, X, y, loss="logistic", t_end=2.0, record=[0.5, 1.5])
    np.testing.assert_array_equal(tr.t, [0.0, 0.5, 1.5, 2.0])
    assert tr.sample_loss.shape == (4, 20) and tr.margin.shape == (4, 20)
    np.testing.assert_allclose(tr.sample_loss.mean(1), tr.loss, rtol=1e-14)
    out = tr.model(-1)(torch.as_tensor(X)).detach().numpy()[:, 0]
    np.testing.assert_allclose(tr.margin[-1], y * out, rtol=1e-12)
    for key in ("steps", "rejected", "evaluations"):
        assert tr.stats[key] >= 0
    assert tr.stats["evaluations"] > tr.stats["steps"]


def test_euler_integrate_with_small_step_is_close_to_dopri5():
    model, X, y = problem(n=20, widths=(3, 6, 1), seed=9)
    a = rl.flow.integrate(model, X, y, loss="logistic", t_end=1.0, record=3)
    b = rl.flow.integrate(model, X, y, loss="logistic", t_end=1.0, record=3, method="euler",
                          step=1e-4)
    t, d = rl.flow.distance(a, b)
    assert len(t) == 3 and d[-1] < 1e-4


def test_save_load_round_trip(tmp_path):
    net, X, y = sliding_problem()
    tr = rl.flow.integrate(net, X, y, loss="mse", t_end=3.0)
    path = tr.save(tmp_path / "traj")
    back = rl.load(path)
    for name in ("t", "loss", "sample_loss", "margin", "flat_params"):
        np.testing.assert_array_equal(getattr(back, name), getattr(tr, name))
    np.testing.assert_array_equal(back.events, tr.events)
    np.testing.assert_array_equal(back.sliding, tr.sliding)
    assert back.stats == tr.stats
    assert back.param_names == tr.param_names
    m = back.model(-1)
    np.testing.assert_allclose(m(torch.as_tensor(X)).detach().numpy(),
                               tr.model(-1)(torch.as_tensor(X)).detach().numpy(), rtol=1e-15)


def test_sliding_in_a_deeper_layer_holds_z_at_zero():
    # 3-8-6-1 ReLU net: pairs slide in both hidden layers (the general, linearised solve).
    model = make_mlp((3, 8, 6, 1), 0.0, True, seed=3)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 3))
    y = np.tanh(X @ rng.standard_normal(3))
    tr = rl.flow.integrate(model, X, y, loss="mse", t_end=10.0, record=201)
    sl = tr.sliding
    assert set(sl["layer"]) == {0, 1}
    assert tr.stats["steps"] < 500
    assert np.all(np.diff(tr.loss) <= 1e-12)
    for r in sl:
        inside = (tr.t > r["t_start"] + 1e-6) & (tr.t < r["t_end"] - 1e-6)
        for th in tr.flat_params[inside]:
            assert abs(preacts(model, th, X)[r["layer"]][r["sample"], r["neuron"]]) < 1e-8
