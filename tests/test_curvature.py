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


class _DeclaredBackwards(torch.nn.Module):
    """Layers declared in the other order than they run: state_dict lists out.* first."""

    def __init__(self):
        super().__init__()
        self.out = torch.nn.Linear(4, 1)
        self.inp = torch.nn.Linear(3, 4)

    def forward(self, x):
        return self.out(torch.relu(self.inp(x)))


class _Reused(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.o = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)

    def forward(self, x):
        return self.o(torch.relu(self.a(torch.relu(self.a(x)))))


@pytest.mark.parametrize("cls", [_DeclaredBackwards, _Reused])
def test_flat_orders_are_state_dict_order(cls):
    """Regression: a module declaring its layers out of running order was flattened layer
    by layer, so the Hessian, hvp's vector and traj.flat_params were silently permuted
    against the documented state_dict order (and a reused layer gave one entry per use)."""
    torch.manual_seed(0)
    model = cls().double()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    params = dict(model.named_parameters())
    names = list(model.state_dict())
    theta = torch.cat([params[n].detach().reshape(-1) for n in names])

    def loss(flat):
        values, off = {}, 0
        for n in names:
            k = params[n].numel()
            values[n] = flat[off:off + k].reshape(params[n].shape)
            off += k
        out = torch.func.functional_call(model, values, (torch.as_tensor(X),)).reshape(-1)
        return 0.5 * ((out - torch.as_tensor(y)) ** 2).mean()

    ref = torch.autograd.functional.hessian(loss, theta).numpy()
    np.testing.assert_allclose(rl.metrics.hessian(model, X, y, loss="mse"), ref, atol=1e-12)
    v = rng.standard_normal(theta.numel())
    np.testing.assert_allclose(rl.metrics.hvp(model, X, y, v, loss="mse"), ref @ v, atol=1e-12)
    tr = rl.flow.gd(model, X, y, loss="mse", lr=0.1, steps=2)
    np.testing.assert_array_equal(tr.flat_params[0], theta.numpy())
    assert list(tr.params[0]) == names


def test_hessian_of_a_convolutional_model_takes_its_inputs_shaped():
    """Regression: the module was handed the flattened (n, C*H*W) matrix and Conv2d raised."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)).double()
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5, 1, 3, 3)), rng.standard_normal(5)
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    shapes = [(n, p.shape) for n, p in model.named_parameters()]

    def loss(flat):
        values, off = {}, 0
        for n, shape in shapes:
            values[n] = flat[off:off + shape.numel()].reshape(shape)
            off += shape.numel()
        out = torch.func.functional_call(model, values, (torch.as_tensor(X),)).reshape(-1)
        return 0.5 * ((out - torch.as_tensor(y)) ** 2).mean()

    ref = torch.autograd.functional.hessian(loss, theta).numpy()
    np.testing.assert_allclose(rl.metrics.hessian(model, X, y, loss="mse"), ref, atol=1e-12)


def test_sharpness_after_loading_a_run_of_a_named_sequential(tmp_path):
    """Regression: the rebuilt module numbers its layers, so model(i) looked the saved
    names (fc1.weight...) up on it and raised; sharpness then failed too."""
    from collections import OrderedDict

    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc1=nn.Linear(3, 4), act=nn.ReLU(), fc2=nn.Linear(4, 1))).double()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.choice([-1.0, 1.0], 8)
    tr = rl.flow.gd(model, X, y, loss="logistic", lr=0.3, steps=4, record_every=2)
    tr.save(tmp_path / "run.npz")
    loaded = rl.load(tmp_path / "run.npz")
    np.testing.assert_allclose(rl.metrics.sharpness(loaded, X, y), rl.metrics.sharpness(tr, X, y),
                               rtol=1e-12)
    assert [p.requires_grad for p in loaded.model(0).parameters()] == [True] * 4
    with pytest.raises(TypeError, match="population_hessian"):
        rl.metrics.sharpness(rl.flow.population(np.eye(3), rl.teachers.gaussian_relu(3), lr=0.1,
                                                steps=2), X, y)
