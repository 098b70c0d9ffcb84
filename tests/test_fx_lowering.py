"""Models that are not plain chains (residual blocks, torch.cat, functional calls, clamps,
abs) are traced with torch.fx and lowered to PLNet stages: they must compute what torch
computes, and their regions must be what independent references say."""

from __future__ import annotations

import os
from math import comb

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import regionlab as rl  # noqa: E402


def agree_with_torch(model, X, rtol=1e-9):
    net = rl.from_torch(model, input_shape=tuple(X.shape[1:]), dtype=np.float64)
    with torch.no_grad():
        expected = model.double()(X.double()).reshape(len(X), -1).numpy()
    np.testing.assert_allclose(net.forward(X.double().numpy()), expected, rtol=rtol, atol=1e-10)
    return net


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock (conv-bn-relu-conv-bn, identity or 1x1 downsample)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.layer1 = BasicBlock(4, 4)
        self.layer2 = BasicBlock(4, 6, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def randomise_batchnorm(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def test_basic_block_resnet_agrees_with_torch():
    torch.manual_seed(0)
    model = TinyResNet()
    randomise_batchnorm(model, 1)
    model.eval()
    X = torch.randn(64, 3, 8, 8)
    net = agree_with_torch(model, X)
    # every ReLU unit of the graph is one pattern bit; the skips carry no bits
    assert net.n_neurons == 4 * 64 + 2 * 4 * 64 + 6 * 16 + 6 * 16
    # counting runs on the converted model directly
    pc = rl.count_patterns(model.float(), X.float())
    assert pc.n_samples == 64


class ResidualMLP(nn.Module):
    def __init__(self, width, blocks):
        super().__init__()
        self.inp = nn.Linear(2, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks)
        )
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = F.relu(self.inp(x))
        for blk in self.blocks:
            h = torch.relu(h + blk(h))
        return self.out(h)


def test_residual_mlp_agrees_with_torch_and_plane_maps_reproduce_it():
    torch.manual_seed(3)
    model = ResidualMLP(16, 2).eval()
    X = torch.randn(500, 2) * 2
    net = agree_with_torch(model, X)
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    st = p.centroids()
    r = np.arange(p.n_regions)
    np.testing.assert_allclose(p.output(st, r), net.forward(p.to_input(st)), rtol=1e-9, atol=1e-9)
    # dense sampling never finds a pattern that is not a region
    g = np.linspace(-2, 2, 300)
    pts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    sampled = {row.tobytes() for row in net.patterns(pts, packed=True)}
    assert sampled <= {row.tobytes() for row in p.patterns}


@pytest.mark.parametrize("seed, width, blocks", [(0, 24, 1), (1, 32, 2), (2, 16, 3)])
def test_residual_counts_equal_regioncam(seed, width, blocks):
    if os.environ.get("CI"):
        import regioncam
    else:
        regioncam = pytest.importorskip("regioncam")
    torch.manual_seed(seed)
    model = ResidualMLP(width, blocks).eval()
    C = regioncam.nn.convert
    cam = regioncam.Regioncam(size=1)
    layers = [C(model.inp), regioncam.nn.ReLU()]
    for blk in model.blocks:
        layers += [regioncam.nn.Residual(C(blk)), regioncam.nn.ReLU()]
    cam.add(layers + [C(model.out)])
    p = rl.plane(model, [0, 0], [1, 0], [0, 1], extent=(-1, 1, -1, 1))
    tiny = p.areas < 1e-10  # below regioncam's float32 resolution
    assert p.n_regions - tiny.sum() <= cam.num_faces <= p.n_regions


class Mixed(nn.Module):
    """cat, abs, hardtanh, relu6, clamp, constants, indexing, view(x.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 6)
        self.b = nn.Linear(3, 4)
        self.out = nn.Linear(6 + 4 + 3 + 4, 2)
        self.act = nn.Hardtanh(-0.5, 1.5)
        self.register_buffer("shift", torch.tensor([0.5, -1.0, 2.0]))

    def forward(self, x):
        u = self.act(self.a(x))
        v = F.relu6(3.0 * self.b(x) - 1)
        w = torch.abs(x - self.shift)
        z = torch.cat([u, v, w, torch.clamp(self.b(x), min=-0.2)], dim=1)
        z = z.view(z.size(0), -1)
        return self.out(z)[:, :2] / 2 + x[:, :1]


def test_cat_abs_clamps_and_constants_agree_with_torch():
    torch.manual_seed(5)
    model = Mixed().eval()
    X = torch.randn(2000, 3) * 3
    net = agree_with_torch(model, X)
    # hardtanh, relu6: two kinked units per feature; abs two; a one-sided clamp one
    assert net.n_neurons == 2 * 6 + 2 * 4 + 2 * 3 + 4


def arrangement_net(kind, n, seed):
    """One hidden layer of n units of `kind` on lines tangent to the unit circle."""
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 0.8 * np.pi, n))
    lin = nn.Linear(2, n)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.stack([np.cos(ang), np.sin(ang)], 1)))
        lin.bias.fill_(-1.0)
    act = {"hardtanh": nn.Hardtanh(-0.5, 0.5), "abs": None, "relu6": nn.ReLU6()}[kind]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act, self.out = lin, act, nn.Linear(n, 1)

        def forward(self, x):
            h = self.lin(x)
            return self.out(h.abs() if self.act is None else self.act(h))

    return Net().eval()


@pytest.mark.parametrize("n, seed", [(5, 0), (9, 1), (14, 2)])
def test_two_kink_units_give_the_arrangement_count(n, seed):
    """hardtanh: each unit is two parallel lines (2n lines, n parallel pairs); abs: one line
    per unit (its two units share it). Impossible sign pairs must never form regions."""
    model = arrangement_net("hardtanh", n, seed)
    W = model.lin.weight.detach().double().numpy()
    lines = [(w, off) for w in W for off in (1.5, 0.5)]  # w.x - 1 = -0.5 and 0.5
    vertices = [
        np.linalg.solve(np.stack([w1, w2]), [o1, o2])
        for i, (w1, o1) in enumerate(lines)
        for (w2, o2) in lines[i + 1 :]
        if abs(w1[0] * w2[1] - w1[1] * w2[0]) > 1e-12
    ]
    r = 1.5 * np.abs(vertices).max()
    ext = (-r, r, -r, r)  # holds every vertex
    p = rl.plane(model, [0, 0], [1, 0], [0, 1], extent=ext)
    L = 2 * n
    assert p.n_regions == 1 + L + comb(L, 2) - n
    p = rl.plane(arrangement_net("abs", n, seed), [0, 0], [1, 0], [0, 1], extent=ext)
    assert p.n_regions == 1 + n + comb(n, 2)


def test_unsupported_layers_name_the_node():
    with pytest.raises(TypeError, match="Sigmoid"):
        rl.from_torch(nn.Sequential(nn.Linear(4, 8), nn.Sigmoid()), input_shape=4)
    with pytest.raises(TypeError, match="indices"):
        rl.from_torch(nn.Sequential(nn.Unflatten(1, (1, 2, 2)), nn.MaxPool2d(2, return_indices=True)),
                      input_shape=4)


class LeNet(nn.Module):
    """Conv -> ReLU -> MaxPool2d, conv -> ReLU -> F.max_pool2d (padding, ceil_mode) -> Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(3, 4, 2)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.c1(x)))
        x = F.max_pool2d(F.relu(self.c2(x)), 2, padding=1, ceil_mode=True)
        return self.fc(x.flatten(1))


class MaxoutMLP(nn.Module):
    """Maxout written the usual ways, plus torch.maximum and a skip of the input."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.out = nn.Linear(2, 12), nn.Linear(4, 8), nn.Linear(4, 1)

    def forward(self, x):
        h = self.a(x).view(-1, 4, 3).amax(-1)
        h = self.b(h).view(x.size(0), 4, 2).max(-1).values
        return self.out(torch.maximum(h, -h)) + x[:, :1]


def test_max_pool_and_maxout_models_agree_with_torch_and_round_trip():
    torch.manual_seed(2)
    for model, X in ((LeNet().eval(), torch.randn(200, 1, 9, 9)), (MaxoutMLP().eval(), torch.randn(500, 2) * 3)):
        net = agree_with_torch(model, X)
        assert any(st.is_max for st in net.stages)
        back = rl.from_torch(net.to_torch())
        Xf = X.double().reshape(len(X), -1).numpy()
        np.testing.assert_array_equal(back.forward(Xf), net.forward(Xf))
        np.testing.assert_array_equal(back.patterns(Xf), net.patterns(Xf))
    # the maxout net's groups: 4 of 3, the input's 2 entries carried as groups of one; then
    # 4 of 2 (and the carry); then |h| = max(h, -h): 4 of 2
    sizes = [tuple(np.unique(st.group_sizes)) for st in net.stages if st.is_max]
    assert sizes == [(1, 3), (1, 2), (1, 2)]


def test_max_pool_regions_against_sampling():
    """A slice through a max-pool net's input space: sampled patterns are regions."""
    torch.manual_seed(4)
    model = LeNet().eval()
    net = rl.from_torch(model, input_shape=(1, 9, 9), dtype=np.float64)
    rng = np.random.default_rng(0)
    x0, u, v = rng.standard_normal((3, 81))
    p = rl.plane(net, x0, u, v, extent=(-1, 1, -1, 1))
    g = np.linspace(-0.999, 0.999, 120)
    st = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    sampled = {r.tobytes() for r in net.patterns(p.to_input(st), packed=True)}
    assert sampled <= {r.tobytes() for r in p.patterns}
    assert abs(p.areas.sum() - 4) < 1e-9


def test_unsupported_graph_operations_name_the_node():
    class Product(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 3), nn.Linear(2, 3)

        def forward(self, x):
            return self.a(x) * self.b(x)

    with pytest.raises(TypeError, match="mul.*not piecewise linear"):
        rl.from_torch(Product())

    class MaxIndices(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 6)

        def forward(self, x):
            return self.a(x).view(-1, 3, 2).max(-1).indices.float()

    with pytest.raises(TypeError, match="indices"):
        rl.from_torch(MaxIndices())

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)

        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow cannot be traced
                return self.a(x)
            return -self.a(x)

    with pytest.raises(TypeError, match="trace"):
        rl.from_torch(Branchy())


class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(2, 4), nn.Linear(4, 4), nn.Linear(4, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.a(x)
        h.relu_()                  # the return value is dropped: h itself changes
        g = self.b(h)
        out = self.act(g)          # g itself becomes relu(g) too
        return self.c(out + g + h)


class AliasedAdd(nn.Module):
    """`out` and `g` are one tensor; `g += h` changes both. torch.fx records a copy."""

    def __init__(self):
        super().__init__()
        self.b, self.c = nn.Linear(2, 4), nn.Linear(4, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        g = self.b(x)
        out = self.act(g)
        g += 1.0
        return self.c(out + g)


class MaxLater(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.c = nn.Linear(2, 4), nn.Linear(2, 3)

    def forward(self, x):
        m = self.a(x).max(dim=1, keepdim=True)  # read only after another activation
        h = torch.relu(self.c(x))
        return m.values + h


@pytest.mark.parametrize("model_cls", [InPlace, MaxLater])
def test_in_place_ops_and_values_read_after_later_stages(model_cls):
    """Regressions: in-place activations were lowered as copies, and a max's values were
    read in a stale basis after a later stage."""
    torch.manual_seed(0)
    agree_with_torch(model_cls().eval(), torch.randn(300, 2))


def test_the_stages_do_not_depend_on_parameter_values():
    """Regression: an output layer equal to the identity was dropped as a 'trivial' stage,
    so the flow never trained it."""
    class Net(nn.Module):
        def __init__(self, scale):
            super().__init__()
            torch.manual_seed(0)
            self.a, self.o = nn.Linear(2, 2), nn.Linear(2, 2, bias=False)
            with torch.no_grad():
                self.o.weight.copy_(scale * torch.eye(2))

        def forward(self, x):
            return self.o(F.relu(self.a(x)))

    assert len(rl.from_torch(Net(1.0)).stages) == len(rl.from_torch(Net(0.5)).stages) == 2
    X = np.random.default_rng(0).standard_normal((8, 2))
    y = np.random.default_rng(1).standard_normal((8, 2))
    traj = rl.flow.gd(Net(1.0).double(), X, y, lr=0.1, steps=20, loss="mse")
    ref = Net(1.0).double()
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(20):
        opt.zero_grad()
        (0.5 * ((ref(torch.tensor(X)) - torch.tensor(y)) ** 2).sum(1)).mean().backward()
        opt.step()
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(traj.params[-1][name], p.detach().numpy(), atol=1e-12)


def test_a_trace_that_is_not_the_model_is_refused():
    with pytest.raises(TypeError, match="in-place"):
        rl.from_torch(AliasedAdd().eval())
