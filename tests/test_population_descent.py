"""Gradient descent on the population loss: against a plain loop over an independent
autograd gradient, batch against single runs, and the run classification."""

import numpy as np
import pytest

import regionlab as rl
from test_population import torch_loss


def autograd_gd(W0, a, teacher, lr, steps, alpha=0.0):
    torch = pytest.importorskip("torch")
    W = torch.tensor(W0)
    t = lambda x: torch.tensor(np.asarray(x, dtype=np.float64))  # noqa: E731
    for _ in range(steps):
        W.requires_grad_(True)
        (g,) = torch.autograd.grad(torch_loss(W, t(a), t(teacher.V), t(teacher.b), alpha), W)
        W = (W - lr * g).detach()
    return W.numpy()


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_descent_equals_a_plain_loop(alpha):
    rng = np.random.default_rng(0)
    teacher = rl.teachers.gaussian_relu(3)
    W0 = rng.standard_normal((4, 3)) / np.sqrt(3)
    a = np.ones(4)
    traj = rl.flow.population(W0, teacher, a=a, lr=0.3, steps=25, negative_slope=alpha, record_every=5)
    np.testing.assert_allclose(traj.W[-1], autograd_gd(W0, a, teacher, 0.3, 25, alpha), atol=1e-12)
    assert list(traj.step) == [0, 5, 10, 15, 20, 25]
    np.testing.assert_allclose(traj.t, traj.step * 0.3)
    assert traj.loss[0] == pytest.approx(rl.metrics.population_loss(W0, teacher, a, negative_slope=alpha))
    assert np.all(np.diff(traj.loss) <= 1e-15)  # a small step descends
    np.testing.assert_array_equal(traj.params[-1]["W"], traj.W[-1])


def test_training_a_follows_the_joint_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    teacher = rl.teachers.gaussian_relu(rng.standard_normal((2, 3)), b=[1.0, -1.0])
    W0, a0 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    ours = rl.flow.population(W0, teacher, a=a0, lr=0.05, steps=30, train_a=True)
    t = lambda x: torch.tensor(np.asarray(x, dtype=np.float64))  # noqa: E731
    W, a = t(W0), t(a0)
    for _ in range(30):
        W.requires_grad_(True)
        a.requires_grad_(True)
        gW, ga = torch.autograd.grad(torch_loss(W, a, t(teacher.V), t(teacher.b), 0.0), (W, a))
        W, a = (W - 0.05 * gW).detach(), (a - 0.05 * ga).detach()
    np.testing.assert_allclose(ours.W[-1], W.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.a[-1], a.numpy(), atol=1e-12)
    fixed = rl.flow.population(W0, teacher, a=a0, lr=0.05, steps=30)
    np.testing.assert_array_equal(fixed.a[-1], a0)


def test_many_runs_equal_single_runs_for_any_thread_count():
    rng = np.random.default_rng(2)
    k = 4
    teacher = rl.teachers.gaussian_relu(k)
    W0 = rng.standard_normal((6, k, k)) / np.sqrt(k)
    table = rl.flow.population(W0, teacher, lr=5 / k, steps=3000, tol=1e-9, threads=2)
    one = rl.flow.population(W0, teacher, lr=5 / k, steps=3000, tol=1e-9, threads=1)
    np.testing.assert_array_equal(table.W, one.W)
    for r in range(len(W0)):
        single = rl.flow.population(W0[r], teacher, lr=5 / k, steps=3000, tol=1e-9)
        np.testing.assert_array_equal(table.W[r], single.W[-1])
        assert table.steps[r] == single.stats["steps"]
    # k = 4: every run of Safran & Shamir's protocol converges, almost all to the teacher
    assert set(table.kind) <= {"global", "spurious"}
    g = table.kind == "global"
    assert (table.loss[g] < 1e-8).all() and (table.eig_min[g] > -1e-8).all()
    assert len(table) == 6 and sum(table.counts().values()) == 6


def test_classification_thresholds():
    kind = rl.flow._population.classify(
        loss=[0.0, 0.1, 0.1, 0.1], grad_norm=[0, 0, 0, 1.0], eig_min=[0.0, 0.5, -0.2, 0.1],
        tol=1e-9, global_loss=1e-8, eig_tol=1e-8)
    assert list(kind) == ["global", "spurious", "saddle", "not converged"]


def test_population_argument_errors():
    teacher = rl.teachers.gaussian_relu(3)
    with pytest.raises(ValueError, match="not both"):
        rl.flow.population(np.eye(3), teacher, t_end=10.0, lr=0.1)
    with pytest.raises(ValueError, match="lr= and steps="):
        rl.flow.population(np.eye(3), teacher, lr=0.1)
    with pytest.raises(ValueError, match="t_end"):
        rl.flow.population(np.eye(3), teacher, t_end=-1.0)
    with pytest.raises(ValueError, match="t_eval"):
        rl.flow.population(np.eye(3), teacher, t_end=1.0, t_eval=[0.5, 2.0])
    with pytest.raises(ValueError, match=r"\(runs, k, d\)"):
        rl.flow.population(np.zeros(3), teacher, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="lr"):
        rl.flow.population(np.eye(3), teacher, lr=-1.0, steps=3)


def test_an_executor_or_a_dask_cluster_gives_the_same_table():
    from concurrent.futures import ThreadPoolExecutor

    k = 4
    teacher = rl.teachers.gaussian_relu(k)
    W0 = np.random.default_rng(3).standard_normal((10, k, k)) / np.sqrt(k)
    here = rl.flow.population(W0, teacher, lr=5 / k, steps=2000, tol=1e-9)
    with ThreadPoolExecutor(2) as pool:
        there = rl.flow.population(W0, teacher, lr=5 / k, steps=2000, tol=1e-9, client=pool, chunks=3)
    for field in ("W", "a", "loss", "grad_norm", "eig_min", "eig_max", "steps", "kind"):
        np.testing.assert_array_equal(getattr(there, field), getattr(here, field))
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = rl.flow.population(W0, teacher, lr=5 / k, steps=2000, tol=1e-9, client=client)
    for field in ("W", "loss", "eig_min", "kind"):
        np.testing.assert_array_equal(getattr(remote, field), getattr(here, field))
    with pytest.raises(TypeError, match="Executor"):
        rl.flow.population(W0, teacher, lr=0.1, steps=2, client="not a client")


@pytest.mark.parametrize("chunks", [None, 2])
def test_chunks_of_one_run_join_the_table(chunks):
    """Regression: a chunk of one run comes back in the single-run form (records, 0-d
    counts), so flows with the default chunks (one run each) and descents mixing chunk
    sizes failed on an executor."""
    from concurrent.futures import ThreadPoolExecutor

    teacher = rl.teachers.gaussian_relu(3)
    W0 = np.random.default_rng(0).standard_normal((3, 3, 3))
    for kw in (dict(t_end=5.0), dict(lr=0.3, steps=50)):
        here = rl.flow.population(W0, teacher, **kw)
        with ThreadPoolExecutor(2) as pool:
            there = rl.flow.population(W0, teacher, client=pool, chunks=chunks, **kw)
        for field in ("W", "a", "loss", "grad_norm", "eig_min", "eig_max", "steps", "kind"):
            np.testing.assert_array_equal(getattr(there, field), getattr(here, field))


@pytest.mark.parametrize("train_a, alpha", [(False, 0.0), (True, 0.0), (False, 0.2)])
def test_flow_equals_scipy_dop853(train_a, alpha):
    """The population flow (shared ODE layer, Dormand-Prince) against scipy's DOP853 on the
    same closed-form field, to 1e-8 in parameters, at every record time."""
    from scipy.integrate import solve_ivp

    k = 5
    rng = np.random.default_rng(4)
    teacher = rl.teachers.gaussian_relu(k)
    W0, a0 = rng.normal(0, 1 / np.sqrt(k), (k, k)), 1 + 0.1 * rng.standard_normal(k)
    times = np.linspace(0, 40, 9)
    traj = rl.flow.population(W0, teacher, a=a0, t_end=40.0, rtol=1e-10, atol=1e-12, t_eval=times,
                              train_a=train_a, negative_slope=alpha)

    def field(_t, y):
        W, a = y[: k * k].reshape(k, k), (y[k * k:] if train_a else a0)
        gW, ga = rl.metrics.population_gradient(W, teacher, a, negative_slope=alpha, return_a=True)
        return -np.concatenate([gW.ravel(), ga]) if train_a else -gW.ravel()

    y0 = np.concatenate([W0.ravel(), a0]) if train_a else W0.ravel()
    ref = solve_ivp(field, (0, 40), y0, method="DOP853", rtol=1e-12, atol=1e-14, t_eval=times)
    np.testing.assert_allclose(traj.t, times)
    np.testing.assert_allclose(traj.W.reshape(len(times), -1), ref.y[: k * k].T, atol=1e-8)
    if train_a:
        np.testing.assert_allclose(traj.a, ref.y[k * k:].T, atol=1e-8)
    assert np.all(np.diff(traj.loss) <= 1e-12)  # the flow descends


def test_flow_batches_classify_their_ends():
    k = 4
    teacher = rl.teachers.gaussian_relu(k)
    W0 = np.random.default_rng(5).normal(0, 1 / np.sqrt(k), (4, k, k))
    runs = rl.flow.population(W0, teacher, t_end=400.0, tol=1e-6)
    single = rl.flow.population(W0[1], teacher, t_end=400.0)
    np.testing.assert_array_equal(runs.W[1], single.W[-1])
    assert set(runs.kind) <= {"global", "spurious", "not converged"}
    assert (runs.loss[runs.kind == "global"] < 1e-8).all()


def test_a_torch_student_is_keyed_by_its_state_dict():
    torch = pytest.importorskip("torch")
    k = 3
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(k, k, bias=False), torch.nn.LeakyReLU(0.1),
                                torch.nn.Linear(k, 1, bias=False)).double()
    model[2].weight.requires_grad_(False)
    teacher = rl.teachers.gaussian_relu(k)
    traj = rl.flow.population(model, teacher, lr=0.2, steps=50)
    same = rl.flow.population(model[0].weight.detach().numpy(), teacher, a=model[2].weight.detach().numpy()[0],
                              negative_slope=0.1, lr=0.2, steps=50)
    assert set(traj.params[-1]) == {"0.weight", "2.weight"}
    np.testing.assert_array_equal(traj.params[-1]["0.weight"], same.W[-1])
    assert traj.params[-1]["2.weight"].shape == (1, k)
    np.testing.assert_array_equal(traj.params[-1]["2.weight"][0], model[2].weight.detach().numpy()[0])
    with pytest.raises(TypeError, match="torch student"):
        rl.flow.population(torch.nn.Linear(3, 3), teacher, lr=0.1, steps=2)


def test_unconverged_runs_and_trained_output_weights_are_labelled_honestly():
    k = 4
    teacher = rl.teachers.gaussian_relu(k)
    W0 = np.random.default_rng(8).normal(0, 1 / np.sqrt(k), (3, k, k))
    short = rl.flow.population(W0, teacher, lr=5 / k, steps=3)  # tol=0: judged at 1e-6
    assert (short.kind == "not converged").all()
    both = rl.flow.population(W0, teacher, lr=5 / k, steps=5000, tol=1e-9, train_a=True)
    assert set(both.kind) <= {"global", "stationary", "not converged"}
    assert np.isnan(both.eig_min).all()


def test_sweeps_of_data_runs_on_an_executor_and_a_dask_cluster_match_in_process():
    from concurrent.futures import ThreadPoolExecutor

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1)).double()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.sign(X[:, 0])
    runs = [dict(model=model, X=X, y=y, loss="logistic", lr=lr, steps=50) for lr in (0.05, 0.1, 0.2)]
    here = rl.flow.sweep(rl.flow.gd, runs)
    with ThreadPoolExecutor(2) as pool:
        there = rl.flow.sweep(rl.flow.gd, runs, client=pool)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = rl.flow.sweep(rl.flow.gd, runs, client=client)
    for a, b, c in zip(here, there, remote):
        np.testing.assert_array_equal(a["loss"], b["loss"])
        np.testing.assert_array_equal(a["loss"], c["loss"])
        for k in a["params"]:
            np.testing.assert_array_equal(a["params"][k], c["params"][k])
    assert here[2]["loss"][-1] < here[0]["loss"][-1]  # a larger step went further
    with pytest.raises(TypeError, match="integrate or rl.flow.gd"):
        rl.flow.sweep(print, runs)


def test_repeated_unseeded_runs_on_dask_are_separate_runs():
    """Regression: dask took tasks with equal arguments for one (pure=True), so repeated
    mini-batch runs with seed=None, meant as a sample, came back as copies of one run."""
    torch = pytest.importorskip("torch")
    distributed = pytest.importorskip("distributed")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    runs = [dict(model=model, X=X, y=np.sign(X[:, 0]), loss="logistic", lr=0.2, steps=30,
                 batch_size=5)] * 4
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        rows = rl.flow.sweep(rl.flow.gd, runs, client=client)
    assert len({float(r["loss"][-1]) for r in rows}) == 4


def test_a_trained_output_bias_follows_its_gradient():
    from scipy.integrate import solve_ivp

    k = 3
    rng = np.random.default_rng(9)
    teacher = rl.teachers.gaussian_relu(rng.standard_normal((2, k)), b=[1.0, 0.5])
    W0 = rng.normal(0, 1 / np.sqrt(k), (k, k))
    gd = rl.flow.population(W0, teacher, lr=0.1, steps=30, bias=0.3, train_bias=True)
    W, c = W0.copy(), 0.3
    for _ in range(30):  # a plain loop over the closed-form gradient
        gW, gc = rl.metrics.population_gradient(W, teacher, bias=c, return_bias=True)
        W, c = W - 0.1 * gW, c - 0.1 * gc
    np.testing.assert_allclose(gd.W[-1], W, atol=1e-13)
    assert gd.c[-1] == pytest.approx(c, abs=1e-13)
    flow = rl.flow.population(W0, teacher, t_end=5.0, bias=0.3, train_bias=True, rtol=1e-10,
                              atol=1e-12, t_eval=[5.0])

    def field(_t, y):
        gW, gc = rl.metrics.population_gradient(y[:-1].reshape(k, k), teacher, bias=y[-1], return_bias=True)
        return -np.concatenate([gW.ravel(), [gc]])

    ref = solve_ivp(field, (0, 5), np.concatenate([W0.ravel(), [0.3]]), method="DOP853", rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(flow.W[-1].ravel(), ref.y[:-1, -1], atol=1e-8)
    assert flow.c[-1] == pytest.approx(ref.y[-1, -1], abs=1e-8)


def test_a_single_run_is_a_trajectory():
    torch = pytest.importorskip("torch")
    k = 3
    teacher = rl.teachers.gaussian_relu(k)
    W0 = np.random.default_rng(11).normal(0, 1 / np.sqrt(k), (k, k))
    traj = rl.flow.population(W0, teacher, lr=0.2, steps=20, record_every=5, bias=0.1)
    assert isinstance(traj, rl.flow.Trajectory)
    assert set(traj.params[-1]) == {"W", "a"} and traj.params[-1]["a"].shape == (k,)
    params, loss = traj.at(traj.t[2])
    np.testing.assert_array_equal(params["W"], traj.W[2])
    assert loss == traj.loss[2]
    mid_params, mid_loss = traj.at(0.5 * (traj.t[1] + traj.t[2]))
    assert mid_loss == pytest.approx(rl.metrics.population_loss(mid_params["W"], teacher, bias=0.1))
    model = traj.model(-1)  # the student as a torch module, its output bias included
    X = np.random.default_rng(0).standard_normal((5, k))
    expected = np.maximum(X @ traj.W[-1].T, 0) @ traj.a[-1] + traj.c[-1]
    np.testing.assert_allclose(model(torch.tensor(X)).detach().numpy().ravel(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="outside"):
        traj.at(traj.t[-1] + 1)
