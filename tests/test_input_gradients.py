"""regionlab.input_gradients: exact input-output Jacobians against autograd and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import regionlab as rl
from regionlab import input_gradients


def _random_plnet(rng, d, widths, out, acts):
    sizes = [d] + list(widths)
    ws, bs = [], []
    for i, w in enumerate(widths):
        k = acts[i][1] if isinstance(acts[i], tuple) and acts[i][0] == "maxout" else 1
        ws.append(rng.normal(0, 1 / np.sqrt(sizes[i]), (w * k, sizes[i])))
        bs.append(rng.normal(0, 0.3, w * k))
    ws.append(rng.normal(0, 1 / np.sqrt(sizes[-1]), (out, sizes[-1])))
    bs.append(rng.normal(0, 0.3, out))
    return rl.PLNet.from_arrays(ws, bs, list(acts) + ["identity"])


def _finite_differences(net, X, h=1e-6):
    n, d = X.shape
    J = np.empty((n, net.output_dim, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        J[:, :, j] = (net.forward(X + e) - net.forward(X - e)) / (2 * h)
    return J


@pytest.mark.parametrize("acts", [
    ["relu", "relu"],
    [("leaky_relu", 0.1), "relu"],
    [("maxout", 3), ("maxout", 2)],
    ["relu", ("maxout", 4)],
])
def test_matches_finite_differences(acts):
    rng = np.random.default_rng(1)
    net = _random_plnet(rng, 5, [7, 6], 3, acts)
    X = rng.normal(size=(40, 5))
    J = input_gradients(net, X)
    assert J.shape == (40, 3, 5) and J.dtype == np.float64
    # Central differences are exact inside a region; skip samples whose step crosses a kink.
    dist = rl.distance_to_boundary(net, X).distance
    ok = dist > 1e-4
    assert ok.sum() > 30
    np.testing.assert_allclose(J[ok], _finite_differences(net, X)[ok], rtol=1e-6, atol=1e-8)


def test_affine_within_region_reproduces_output_differences():
    """f(x + v) - f(x) = J(x) v for a step v inside x's region (an independent check of
    the whole affine map, not of one coordinate at a time)."""
    rng = np.random.default_rng(2)
    net = _random_plnet(rng, 4, [8, 8], 2, [("maxout", 3), "relu"])
    X = rng.normal(size=(30, 4))
    dist = rl.distance_to_boundary(net, X).distance
    V = rng.normal(size=X.shape)
    V *= (0.5 * dist / np.linalg.norm(V, axis=1))[:, None]
    J = input_gradients(net, X)
    np.testing.assert_allclose(net.forward(X + V) - net.forward(X), np.einsum("nod,nd->no", J, V),
                               rtol=1e-9, atol=1e-12)


def test_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 9),
                                torch.nn.LeakyReLU(0.2), torch.nn.Linear(9, 4)).double()
    X = torch.randn(25, 6, dtype=torch.float64)
    J = input_gradients(model, X)
    ref = torch.autograd.functional.jacobian(lambda x: model(x).sum(0), X)  # (out, n, d)
    np.testing.assert_allclose(J, ref.permute(1, 0, 2).numpy(), rtol=1e-12, atol=1e-12)


def test_maxout_and_conv_models_against_autograd():
    torch = pytest.importorskip("torch")

    class Maxout(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 12)
            self.out = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.out(self.fc(x).view(x.shape[0], 4, 3).amax(-1))

    torch.manual_seed(1)
    for model, X in [
        (Maxout().double(), torch.randn(20, 3, dtype=torch.float64)),
        (torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                             torch.nn.Linear(2 * 3 * 3, 3)).double(),
         torch.randn(10, 1, 5, 5, dtype=torch.float64)),
    ]:
        J = input_gradients(model, X)
        ref = torch.autograd.functional.jacobian(lambda x: model(x).sum(0), X)
        ref = ref.reshape(ref.shape[0], X.shape[0], -1).permute(1, 0, 2).numpy()
        np.testing.assert_allclose(J, ref, rtol=1e-12, atol=1e-12)


def test_kink_convention_zero_preactivation_is_inactive():
    # f(x) = relu(x0) + 0.5 * relu(-x1) + max(x0, x1) (maxout, tie -> first candidate).
    relu = rl.PLNet.from_arrays([np.array([[1.0, 0.0], [0.0, -1.0]]), np.array([[1.0, 0.5]])])
    X = np.array([[0.0, 0.0], [1.0, -1.0], [-1.0, 1.0]])
    np.testing.assert_array_equal(input_gradients(relu, X)[:, 0],
                                  [[0.0, 0.0], [1.0, -0.5], [0.0, 0.0]])
    mx = rl.PLNet.from_arrays([np.eye(2), np.ones((1, 1))], activations=[("maxout", 2), "identity"])
    np.testing.assert_array_equal(input_gradients(mx, X)[:, 0], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


def test_batches_one_input_float32_and_errors():
    rng = np.random.default_rng(3)
    net = _random_plnet(rng, 3, [5], 2, ["relu"])
    X = rng.normal(size=(17, 3))
    full = input_gradients(net, X)
    np.testing.assert_array_equal(full, input_gradients(net, X, batch_size=4))
    net32 = net.astype(np.float32)
    np.testing.assert_allclose(input_gradients(net32, X), full, rtol=1e-6, atol=1e-6)
    one = _random_plnet(rng, 1, [4], 1, ["relu"])
    assert input_gradients(one, np.linspace(-1, 1, 7)).shape == (7, 1, 1)
    assert input_gradients(net, np.zeros((0, 3))).shape == (0, 2, 3)
    with pytest.raises(ValueError):
        input_gradients(net, X, batch_size=0)
    with pytest.raises(TypeError):
        input_gradients("not a net", X)
    with pytest.raises(ValueError):
        input_gradients(net, np.zeros((4, 2)))


@pytest.mark.parametrize("bad", [0, -1, 2.0, np.float64(3.0), 1.5, True, "2"])
def test_batch_size_validation(bad):
    rng = np.random.default_rng(4)
    net = _random_plnet(rng, 3, [5], 2, ["relu"])
    X = rng.normal(size=(6, 3))
    # refused like the package's other batch_size arguments (count_patterns): a positive int only
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        input_gradients(net, X, batch_size=bad)
    # ... and also when X is empty (checked before the early return)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        input_gradients(net, np.zeros((0, 3)), batch_size=bad)


def test_batch_size_accepts_numpy_ints():
    rng = np.random.default_rng(5)
    net = _random_plnet(rng, 3, [5], 2, ["relu"])
    X = rng.normal(size=(6, 3))
    np.testing.assert_array_equal(input_gradients(net, X, batch_size=np.int64(4)), input_gradients(net, X))
    assert input_gradients(net, np.zeros((0, 3)), batch_size=2).shape == (0, 2, 3)


def test_hardtanh_upper_kink_is_one_sided_not_torchs():
    # Hardtanh is lowered as lo + relu(v - lo) - relu(v - hi): at v = hi the second unit counts
    # as inactive, so the slope is 1 (left derivative); torch's backward gives 0 there (documented).
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Hardtanh(-1.0, 1.0)).double()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    X = np.array([[-1.0], [1.0], [0.5]])
    np.testing.assert_array_equal(input_gradients(model, X)[:, 0, 0], [0.0, 1.0, 1.0])
    x = torch.tensor(X, requires_grad=True)
    model(x).sum().backward()
    np.testing.assert_array_equal(x.grad[:, 0].numpy(), [0.0, 0.0, 1.0])


def test_data_sources_read_whole_in_order():
    """Generators, DataLoaders of (inputs, targets) and dict batches give the array's result;
    conv inputs keep their sample shape; malformed sources get clear errors."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    net = _random_plnet(rng, 3, [6], 2, ["relu"])
    X = rng.normal(size=(23, 3))
    full = input_gradients(net, X)
    np.testing.assert_array_equal(input_gradients(net, (X[i:i + 5] for i in range(0, 23, 5))), full)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.zeros(23))
    loader = torch.utils.data.DataLoader(ds, batch_size=7, shuffle=False)
    np.testing.assert_array_equal(input_gradients(net, loader), full)
    np.testing.assert_array_equal(input_gradients(net, iter([{"x": X[:10]}, {"x": X[10:]}])), full)

    torch.manual_seed(2)
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(2 * 3 * 3, 2)).double()
    images = torch.randn(9, 1, 5, 5, dtype=torch.float64)
    np.testing.assert_array_equal(input_gradients(conv, iter([images[:4], images[4:]])),
                                  input_gradients(conv, images))

    with pytest.raises(ValueError, match="different shapes"):
        input_gradients(net, iter([X[:3], X[3:6, :2]]))
    with pytest.raises(ValueError, match="no batches"):
        input_gradients(net, iter([]))
    with pytest.raises(ValueError, match="scalar"):
        input_gradients(net, iter([np.float64(1.0)]))
    with pytest.raises(TypeError):
        input_gradients(net, {1, 2, 3})
