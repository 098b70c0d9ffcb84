"""The data-driven loss's Hessian within an activation region, its products and extreme
eigenvalues, against finite differences of regionlab's exact C++ gradient."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import regionlab as rl  # noqa: E402
from regionlab.flow._model import parse_model, prepare_data  # noqa: E402


def setup(seed=0, loss="logistic"):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 6), nn.LeakyReLU(0.1), nn.Linear(6, 1)).double()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 3))
    y = np.sign(X[:, 0] + 0.2) if loss != "mse" else rng.standard_normal(40)
    return model, X, y


@pytest.mark.parametrize("loss", ["logistic", "mse", "exp"])
def test_hessian_equals_finite_differences_of_the_exact_gradient(loss):
    model, X, y = setup(1, loss)
    H = rl.metrics.hessian(model, X, y, loss=loss)
    from regionlab import _core

    fm = parse_model(model, X)
    Xa, Y = prepare_data(fm, X, y, loss)
    problem = fm.build_problem(Xa, Y, loss, "standard")
    theta = fm.theta0()
    eps = 1e-6
    fd = np.empty_like(H)
    for q in range(len(theta)):  # -grad from the C++ field; patterns do not change at 1e-6
        e = np.zeros_like(theta)
        e[q] = eps
        gp = -_core.flow_gradient(problem, theta + e)[1]
        gm = -_core.flow_gradient(problem, theta - e)[1]
        fd[:, q] = (gp - gm) / (2 * eps)
    np.testing.assert_allclose(H, fd, atol=2e-7)
    v = np.random.default_rng(2).standard_normal(len(theta))
    np.testing.assert_allclose(rl.metrics.hvp(model, X, y, v, loss=loss), H @ v, atol=1e-10)


def test_lanczos_extremes_equal_the_dense_ones_and_frozen_parameters_drop_out():
    model, X, y = setup(3)
    dense = rl.metrics.hessian_extremes(model, X, y, loss="logistic")
    lanczos = rl.metrics.hessian_extremes(model, X, y, loss="logistic", dense_limit=0)
    np.testing.assert_allclose(lanczos, dense, rtol=1e-7, atol=1e-9)
    model[2].weight.requires_grad_(False)
    model[2].bias.requires_grad_(False)
    assert rl.metrics.hessian(model, X, y, loss="logistic").shape == (24, 24)


def test_sharpness_along_a_descent():
    model, X, y = setup(4)
    traj = rl.flow.gd(model, X, y, loss="logistic", lr=0.5, steps=40, record_every=10)
    s = rl.metrics.sharpness(traj, X, y)
    assert s.shape == (len(traj.t),)
    assert s[-1] == pytest.approx(rl.metrics.hessian_extremes(traj.model(-1), X, y, loss="logistic")[1])
    assert (s > 0).all()
