"""Gradient flow on traced models (residual MLPs): the flow runs on the PLNet's stages and
trains the model's own parameters through the parameter map. References: torch autograd
on the model itself, integrated by scipy's DOP853."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import regionlab as rl  # noqa: E402


class ResidualMLP(nn.Module):
    def __init__(self, d=3, width=5, blocks=2, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.inp = nn.Linear(d, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.1), nn.Linear(width, width))
            for _ in range(blocks))
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        for blk in self.blocks:
            h = torch.nn.functional.leaky_relu(h + blk(h), 0.2)
        return self.out(h)


def data(n=24, d=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.sign(X[:, 0] + 0.3 * X[:, 1])


def autograd_flow(model, X, y, t_end, trainable):
    """The model's own gradient flow (logistic loss), torch autograd + DOP853."""
    from scipy.integrate import solve_ivp

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    theta0 = torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()]).double().numpy()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    mask = np.concatenate([np.full(s, n in trainable, dtype=float) for n, s in zip(names, sizes)])

    def field(_t, theta):
        th = torch.tensor(theta, requires_grad=True)
        params, off = {}, 0
        for n, shp, s in zip(names, shapes, sizes):
            params[n] = th[off : off + s].reshape(shp)
            off += s
        out = torch.func.functional_call(model, params, (Xt,)).reshape(-1)
        loss = torch.nn.functional.softplus(-yt * out).mean()
        (g,) = torch.autograd.grad(loss, th)
        return -g.numpy() * mask

    sol = solve_ivp(field, (0, t_end), theta0, method="DOP853", rtol=1e-11, atol=1e-12)
    return sol.y[:, -1], names, sizes


@pytest.mark.parametrize("frozen", [[], ["out.weight", "blocks.0.0.bias"]])
def test_residual_mlp_flow_equals_autograd_of_the_model(frozen):
    model = ResidualMLP().double()
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
    X, y = data()
    traj = rl.flow.integrate(model, X, y, loss="logistic", t_end=0.3, rtol=1e-10, atol=1e-12)
    assert set(traj.params[-1]) == set(dict(model.named_parameters()))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert traj.trainable == trainable
    ref, names, sizes = autograd_flow(model, X, y, 0.3, set(trainable))
    ours = np.concatenate([traj.params[-1][n].ravel() for n in names])
    np.testing.assert_allclose(ours, ref, atol=1e-7)
    for name in frozen:  # frozen parameters do not move, to the bit
        np.testing.assert_array_equal(traj.params[-1][name], dict(model.named_parameters())[name].detach().numpy())
    # the trained model is the model's own class, with the trained values
    trained = traj.model(-1)
    assert isinstance(trained, ResidualMLP)
    np.testing.assert_allclose(trained(torch.tensor(X)).detach().numpy(),
                               rl.from_torch(trained).forward(X), rtol=1e-12)
    assert traj.loss[-1] < traj.loss[0]
    with pytest.raises(ValueError, match="traced model"):
        traj.save("never.npz")


def test_gd_on_a_residual_mlp_equals_a_torch_sgd_loop():
    model = ResidualMLP(blocks=1, seed=3).double()
    X, y = data(seed=4)
    ours = rl.flow.gd(model, X, y, loss="logistic", lr=0.05, steps=40, momentum=0.9)
    ref = ResidualMLP(blocks=1, seed=3).double()
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(40):
        opt.zero_grad()
        torch.nn.functional.softplus(-yt * ref(Xt).reshape(-1)).mean().backward()
        opt.step()
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(ours.params[-1][name], p.detach().numpy(), atol=1e-10)


def test_ntk_and_gradient_norms_of_a_traced_model_equal_autograd():
    class Scaled(nn.Module):  # entries carry coefficients (0.5) and a skip
        def __init__(self):
            super().__init__()
            torch.manual_seed(7)
            self.a, self.out = nn.Linear(3, 5), nn.Linear(5, 1)

        def forward(self, x):
            return 0.5 * self.out(torch.relu(self.a(x))) + x[:, :1]

    model = Scaled().double()
    X, y = data(n=10)
    Xt = torch.tensor(X)
    params = dict(model.named_parameters())
    jac = torch.func.jacrev(lambda p: torch.func.functional_call(model, p, (Xt,)).reshape(-1))(params)
    J = torch.cat([jac[n].reshape(len(X), -1) for n in params], 1).detach().numpy()
    np.testing.assert_allclose(rl.metrics.ntk(model, X), J @ J.T, rtol=1e-10, atol=1e-12)
    out = model(Xt).reshape(-1)
    norms = []
    for i in range(len(X)):
        li = torch.nn.functional.softplus(-torch.tensor(y[i]) * out[i])
        g = torch.autograd.grad(li, list(params.values()), retain_graph=True)
        norms.append(float(torch.sqrt(sum((gi ** 2).sum() for gi in g))))
    np.testing.assert_allclose(rl.metrics.sample_grad_norms(model, X, y, loss="logistic"), norms,
                               rtol=1e-10)


class Tied(nn.Module):
    """One Linear used twice, and a convolution (each kernel entry feeds many entries)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.conv = nn.Conv2d(1, 2, 2)
        self.a, self.out = nn.Linear(8, 8), nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.conv(x.view(-1, 1, 3, 3))).flatten(1)
        return self.out(torch.relu(self.a(torch.relu(self.a(h)))))


def test_tied_parameters_flow_as_autograd_says():
    model = Tied().double()
    X, y = data(n=16, d=9)
    traj = rl.flow.integrate(model, X, y, loss="logistic", t_end=0.3, rtol=1e-10, atol=1e-12)
    ref, names, _ = autograd_flow(model, X, y, 0.3, {n for n, _ in model.named_parameters()})
    ours = np.concatenate([traj.params[-1][n].ravel() for n in names])
    np.testing.assert_allclose(ours, ref, atol=1e-7)
    # the tied entries stayed equal: the trained model converts to the same network
    trained = traj.model(-1)
    np.testing.assert_allclose(rl.from_torch(trained, input_shape=9).forward(X),
                               trained(torch.tensor(X)).detach().numpy(), rtol=1e-10)
    # GD against torch's loop, and the NTK against jacrev, through the ties
    gd = rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=15)
    ref_model = Tied().double()
    opt = torch.optim.SGD(ref_model.parameters(), lr=0.1)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(15):
        opt.zero_grad()
        torch.nn.functional.softplus(-yt * ref_model(Xt).reshape(-1)).mean().backward()
        opt.step()
    for name, p in ref_model.named_parameters():
        np.testing.assert_allclose(gd.params[-1][name], p.detach().numpy(), atol=1e-10)
    params = dict(model.named_parameters())
    jac = torch.func.jacrev(lambda p: torch.func.functional_call(model, p, (Xt,)).reshape(-1))(params)
    J = torch.cat([jac[n].reshape(len(X), -1) for n in params], 1).detach().numpy()
    np.testing.assert_allclose(rl.metrics.ntk(model, X), J @ J.T, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="weight_decay"):
        rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=2, weight_decay=0.1)


def test_models_the_map_cannot_train_are_refused():
    X, y = data()

    class Composed(nn.Module):  # two Linear layers without an activation between
        def __init__(self):
            super().__init__()
            self.a, self.b, self.out = nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 1)

        def forward(self, x):
            return self.out(torch.relu(self.b(self.a(x))))

    with pytest.raises(TypeError, match="combines several trainable parameter entries"):
        rl.flow.integrate(Composed().double(), X, y, loss="logistic", t_end=0.1)
    model = Composed().double()
    model.a.requires_grad_(False)  # each entry is then a combination of several entries of b
    with pytest.raises(TypeError, match="combines"):
        rl.flow.integrate(model, X, y, loss="logistic", t_end=0.1)
    with pytest.raises(ValueError, match="standard"):
        rl.flow.integrate(ResidualMLP().double(), X, y, loss="logistic", t_end=0.1,
                          parameterization="ntk")


def test_every_model_goes_through_the_ir_deep_linear_nets_keep_their_layers(tmp_path):
    """Flow builds its problem from the PLNet (fold_linear=False): a deep linear network
    keeps one stage per Linear, named by its parameters, and saves like any plain MLP."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4, bias=False), nn.Dropout(0.5),
                          nn.Linear(4, 1)).double().eval()
    X, y = data()
    traj = rl.flow.integrate(model, X, y, loss="logistic", t_end=0.3, rtol=1e-10, atol=1e-12)
    assert traj.param_names == ["0.weight", "0.bias", "1.weight", "3.weight", "3.bias"]
    ref, names, _ = autograd_flow(model, X, y, 0.3, set(traj.param_names))
    np.testing.assert_allclose(np.concatenate([traj.params[-1][n].ravel() for n in names]), ref,
                               atol=1e-7)
    back = rl.load(traj.save(tmp_path / "deep_linear.npz"))
    np.testing.assert_array_equal(back.params[-1]["1.weight"], traj.params[-1]["1.weight"])


def test_a_frozen_batchnorm_folded_into_a_layer_trains_the_layer():
    """Entries scale * W + shift mix W with frozen BatchNorm statistics and affine
    parameters: probed alone, the trainable ones map one to one."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].weight.uniform_(0.5, 2.0)
    model.eval()
    for p in model[1].parameters():
        p.requires_grad_(False)
    X, y = data(n=12)
    ours = rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=10)
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD([p for p in ref.parameters() if p.requires_grad], lr=0.1)
    for _ in range(10):
        opt.zero_grad()
        torch.nn.functional.softplus(-torch.tensor(y) * ref(torch.tensor(X)).reshape(-1)).mean().backward()
        opt.step()
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(ours.params[-1][name], p.detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="frozen"):
        rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=2, trainable=["1.weight"])
