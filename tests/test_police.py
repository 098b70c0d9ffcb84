"""regionlab.police: POLICE (Balestriero & LeCun 2023) makes a net affine on a convex region.

Oracles, independent of the correction's code: the exact partition of the region's box
(`rl.regions`, one region), brute-force activation patterns of the vertices and of many
random points of the region (`net.patterns`: convexity of activation regions makes the
vertices' common pattern a proof for the whole hull), the exact plane partition
(`rl.plane`) for a non-box polygon with a separating-axis overlap test per region, and a
re-typed version of the authors' reference forward (vertices appended to the batch).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import regionlab as rl  # noqa: E402
from regionlab import police  # noqa: E402


def mlp(d, widths, act=nn.ReLU, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    layers, a = [], d
    for w in widths:
        layers += [nn.Linear(a, w, dtype=dtype), act()]
        a = w
    layers.append(nn.Linear(a, 1, dtype=dtype))
    return nn.Sequential(*layers)


def inside_box(lo, hi, n, seed):
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, len(lo)))


def inside_hull(V, n, seed):
    w = np.random.default_rng(seed).dirichlet(np.ones(len(V)), size=n)
    return w @ V


def test_box_vertices():
    V = police.box_vertices([0, -1, 2], [1, 1, 3])
    assert V.shape == (8, 3)
    assert {tuple(v) for v in V} == {(a, b, c) for a in (0, 1) for b in (-1, 1) for c in (2, 3)}
    with pytest.raises(ValueError):
        police.box_vertices([0, 1], [1, 0])


@pytest.mark.parametrize("d, widths, act", [(2, [16, 16], nn.ReLU), (3, [12, 12, 12], lambda: nn.LeakyReLU(0.1)),
                                            (4, [10, 10], nn.ReLU)])
def test_box_region_is_one_region(d, widths, act):
    model = mlp(d, widths, act, seed=d)
    lo, hi = -0.4 * np.ones(d), 0.5 * np.ones(d)
    assert rl.regions(model, lo, hi).n_regions > 1  # the test is not trivial
    plain = police.correct(model, police.box_vertices(lo, hi))
    part = rl.regions(plain, lo, hi)
    assert part.n_regions == 1
    net = rl.from_torch(plain)
    pats = net.patterns(np.vstack([police.box_vertices(lo, hi), inside_box(lo, hi, 2000, 1)]))
    assert (pats == pats[0]).all()
    assert (pats != net.patterns(part.interior_points[:1])[0]).sum() == 0
    # outside the region the net is still free: a larger box has many regions
    assert rl.regions(plain, lo - 2, hi + 2).n_regions > 5


def test_polygon_region_exact_plane():
    """A pentagon R: every region of the exact plane partition of R's bounding box that
    overlaps R (separating-axis test) has one pattern; random points of R share it."""
    model = mlp(2, [24, 24, 24], seed=3)
    ang = np.linspace(0, 2 * np.pi, 6)[:-1] + 0.3
    V = np.c_[0.2 + 0.6 * np.cos(ang), -0.1 + 0.4 * np.sin(ang)]
    plain = police.correct(model, V)
    lo, hi = V.min(0) - 0.3, V.max(0) + 0.3
    p = rl.plane(plain, np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0]), extent=(lo[0], hi[0], lo[1], hi[1]))
    assert p.n_regions > 1

    def overlaps(A, B, tol=1e-9):
        for P in (A, B):
            for k in range(len(P)):
                e = P[(k + 1) % len(P)] - P[k]
                n = np.array([-e[1], e[0]]) / np.linalg.norm(e)
                a, b = A @ n, B @ n
                if a.max() <= b.min() + tol or b.max() <= a.min() + tol:
                    return False
        return True

    meet = [r for r in range(p.n_regions) if overlaps(p.polygon(r), V)]
    assert len(meet) == 1
    # the same region holds the vertices and random points of R (by brute force)
    pats = rl.from_torch(plain).patterns(np.vstack([V, inside_hull(V, 3000, 2)]), packed=True)
    assert (pats == p.patterns[meet[0]]).all()
    # and without POLICE R is cut
    p0 = rl.plane(model, np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0]), extent=(lo[0], hi[0], lo[1], hi[1]))
    assert sum(overlaps(p0.polygon(r), V) for r in range(p0.n_regions)) > 1


@pytest.mark.parametrize("half_side, weight_scale, widths", [(1e4, 1.0, [32, 32]), (1e6, 1.0, [16, 16, 16]),
                                                         (1.0, 100.0, [32, 32])])
def test_float32_one_region_at_large_pre_activations(half_side, weight_scale, widths):
    """Pre-activations of 1e4 and more: float32's spacing there exceeds the 1e-4 margin,
    which must grow with it, or the rounded shift leaves corner slivers of other patterns
    (24 regions before the fix). Oracle: the exact partition of the float32 weights."""
    model = mlp(2, widths, seed=1)
    with torch.no_grad():
        for prm in model.parameters():
            prm.mul_(weight_scale)
    lo, hi = -half_side * np.ones(2), half_side * np.ones(2)
    plain = police.correct(model, police.box_vertices(lo, hi))
    assert rl.regions(plain, lo, hi).n_regions == 1
    pats = rl.from_torch(plain).patterns(np.vstack([police.box_vertices(lo, hi), inside_box(lo, hi, 2000, 2)]))
    assert (pats == pats[0]).all()


def test_export_computes_the_wrapper_and_shift_is_minimal():
    model = mlp(2, [32, 32], seed=5, dtype=torch.float64)
    V = police.box_vertices([-1, -1], [1, 1])
    wrapped = police.constrained(model, V, margin=1e-3)
    x = torch.randn(500, 2, dtype=torch.float64)
    torch.testing.assert_close(wrapped(x), wrapped.export()(x), rtol=1e-12, atol=1e-12)
    shifts = wrapped.shifts()
    assert len(shifts) == 2 and any((c != 0).any() for c in shifts)
    # minimality: per unit the nearest vertex sits exactly at the margin on the majority side
    plain = wrapped.export()
    h = torch.as_tensor(V)
    for lin, act in ((plain[0], plain[1]), (plain[2], plain[3])):
        z = lin(h)
        moved = shifts[0 if lin is plain[0] else 1] != 0
        side = torch.where((z > 0).sum(0) * 2 > len(V), 1.0, -1.0).double()
        dist = (side * z).amin(0)
        assert (dist >= 1e-3 - 1e-12).all()
        torch.testing.assert_close(dist[moved], torch.full_like(dist[moved], 1e-3), rtol=0, atol=1e-12)
        h = act(z)
    # the wrapped model's own parameters are untouched by export
    torch.testing.assert_close(wrapped.model[0].bias, model[0].bias)


def reference_forward(model, x, V):
    """The authors' POLICE forward (github.com/RandallBalestriero/POLICE, utils.py,
    ``enforce_constraint_forward``), re-typed for an nn.Sequential: the vertices are
    appended to the batch; a unit whose vertices disagree is shifted so that the vertex
    farthest on the minority side lands on the kink; autograd runs through the shift.
    One change: the majority count in float64 instead of float16 (see below)."""
    C = len(V)
    h = torch.cat([x, V])
    layers = list(model)
    for i, m in enumerate(layers):
        if isinstance(m, nn.Linear) and i + 1 < len(layers) and isinstance(layers[i + 1], (nn.ReLU, nn.LeakyReLU)):
            h = h @ m.weight.T + m.bias
            Vh = h[-C:]
            with torch.no_grad():
                agreement = Vh > 0
                invalid = agreement.all(0).logical_not_().logical_and_(agreement.any(0))
                # the original sums in .half(), where C / 2 + 1e-6 rounds to C / 2: a tie
                # (C / 2 vertices on each side, common for a 2-D box) gets sign 0 and is not
                # shifted at all; in float64 the tie goes to the negative side, the intent
                sign = agreement[:, invalid].double().sum(0).sub_(C / 2 + 1e-6).sign_()
            extra = (Vh[:, invalid] * sign).amin(0).clamp(max=0) * sign
            h[:, invalid] -= extra
        else:
            h = m(h)
    return h[:-C]


def test_margin_zero_is_the_reference_forward_and_gradient():
    model = mlp(2, [20, 20, 20], seed=7, dtype=torch.float64)
    V = torch.as_tensor(police.box_vertices([0.1, -0.3], [0.9, 0.4]))
    x = torch.randn(300, 2, dtype=torch.float64) * 2
    ours = police.constrained(model, V, margin=0.0)(x)
    ref = reference_forward(model, x, V)
    assert police.constrained(model, V).shifts()[0].abs().max() > 0  # units are shifted
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    g_ours = torch.autograd.grad(ours.square().sum(), list(model.parameters()))
    g_ref = torch.autograd.grad(ref.square().sum(), list(model.parameters()))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # the default margin keeps every vertex 1e-4 off every kink: a slightly different net
    assert not torch.allclose(police.constrained(model, V)(x), ref, rtol=0, atol=1e-9)


def test_ties_go_to_the_negative_side():
    """Two of four box vertices on each side of a kink: the unit is shifted (to the
    negative side), which the authors' float16 count would skip."""
    lin = nn.Linear(2, 1, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0]]))
        lin.bias.zero_()
    model = nn.Sequential(lin, nn.ReLU(), nn.Linear(1, 1, dtype=torch.float64))
    (c,) = police.constrained(model, police.box_vertices([-1, -1], [1, 1]), margin=0.0).shifts()
    assert c.item() == -1.0
    plain = police.correct(model, police.box_vertices([-1, -1], [1, 1]))
    assert rl.regions(plain, [-1, -1], [1, 1]).n_regions == 1


def test_gradient_is_the_corrected_networks():
    """Autograd through the wrapper equals finite differences of the exported network's
    output with respect to the original parameters (the function actually trained)."""
    model = mlp(2, [8, 8], seed=11, dtype=torch.float64)
    V = police.box_vertices([-0.5, -0.5], [0.5, 0.5])
    x = torch.randn(50, 2, dtype=torch.float64)

    def f():
        return police.constrained(model, V)(x).sum()

    params = list(model.parameters())
    grads = torch.autograd.grad(f(), params)
    eps = 1e-6
    with torch.no_grad():
        for p, g in zip(params, grads):
            for idx in list(np.ndindex(*p.shape))[:6]:
                old = p[idx].item()
                p[idx] = old + eps
                up = f().item()
                p[idx] = old - eps
                down = f().item()
                p[idx] = old
                assert abs((up - down) / (2 * eps) - g[idx].item()) < 1e-5


def test_training_keeps_the_constraint_and_learns():
    from sklearn.datasets import make_moons

    X, y = make_moons(300, noise=0.1, random_state=0)
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    lo, hi = np.array([-1.2, 0.6]), np.array([-0.4, 1.2])
    wrapped = police.constrained(mlp(2, [32, 32], seed=1), police.box_vertices(lo, hi))
    opt = torch.optim.Adam(wrapped.parameters(), lr=1e-2)
    for step in range(300):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(wrapped(X)[:, 0], y)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            assert rl.regions(wrapped.export(), lo, hi).n_regions == 1
    assert rl.regions(wrapped.export(), lo, hi).n_regions == 1
    acc = ((wrapped(X)[:, 0] > 0).float() == y).float().mean().item()
    assert acc > 0.95


def test_refusals():
    with pytest.raises(TypeError, match="unsupported"):
        police.constrained(nn.Sequential(nn.Linear(2, 3), nn.Sigmoid()), np.zeros((3, 2)))
    class Doubled(nn.Sequential):  # a Sequential whose forward is its own is not a chain
        def forward(self, x):
            return 2 * super().forward(x)

    with pytest.raises(TypeError, match="unsupported module Doubled"):
        police.constrained(nn.Sequential(Doubled(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1)), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="directly follow"):
        police.constrained(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.ReLU()), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="vertices"):
        police.constrained(mlp(2, [4]), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        police.constrained(mlp(2, [4]), np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="margin"):
        police.constrained(mlp(2, [4]), np.zeros((3, 2)), margin=-1)
    with pytest.raises(TypeError, match="margin"):
        police.constrained(mlp(2, [4]), np.zeros((3, 2)), margin="0.1")
    with pytest.raises(TypeError, match="array of numbers"):
        police.constrained(mlp(2, [4]), "corners")
