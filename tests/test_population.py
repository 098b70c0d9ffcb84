"""The closed-form population loss of two-layer students (rl.metrics.population_*) against
Monte Carlo, autograd of an independent torch implementation of the kernel formula, and
finite differences."""

import math

import numpy as np
import pytest

import regionlab as rl


def student(rng, k, d):
    return rng.standard_normal((k, d)) / np.sqrt(d), rng.standard_normal(k)


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_loss_equals_monte_carlo(alpha):
    rng = np.random.default_rng(0)
    teacher = rl.teachers.gaussian_relu(rng.standard_normal((3, 4)), b=[1.0, -0.5, 2.0])
    W, a = student(rng, 5, 4)
    F = rl.metrics.population_loss(W, teacher, a, negative_slope=alpha)
    X = rng.standard_normal((2_000_000, 4))
    z = X @ W.T
    r = 0.5 * (np.where(z > 0, z, alpha * z) @ a - teacher(X)) ** 2
    se = r.std() / math.sqrt(len(r))
    assert abs(F - r.mean()) < 5 * se


def torch_loss(W, a, V, b, alpha):
    """The same closed form written independently with torch, for autograd."""
    import torch

    def k1(x, y, same):  # arc-cosine kernel of one pair; k(w, w) = |w|^2 / 2 exactly
        if same:
            return x @ x / 2
        nx, ny = x.norm(), y.norm()
        cos = x @ y / (nx * ny)
        t = torch.arccos(cos)
        return nx * ny * (torch.sin(t) + (math.pi - t) * cos) / (2 * math.pi)

    def k(w1, w2):
        same = w1 is w2
        return torch.stack([torch.stack([k1(x, y, same and i == j) for j, y in enumerate(w2)])
                            for i, x in enumerate(w1)])

    ss = (1 - alpha) ** 2 * k(W, W) + alpha * (W @ W.T)
    st = (1 - alpha) * k(W, V) + 0.5 * alpha * (W @ V.T)
    return 0.5 * a @ ss @ a - a @ st @ b + 0.5 * b @ k(V, V) @ b


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("seed", range(3))
def test_gradient_and_hessian_equal_autograd(alpha, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((4, 3))
    teacher = rl.teachers.gaussian_relu(V, b=rng.standard_normal(4))
    W, a = student(rng, 5, 3)
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    Wt, at = t(W).requires_grad_(), t(a).requires_grad_()
    F = torch_loss(Wt, at, t(V), t(teacher.b), alpha)
    gW, ga = torch.autograd.grad(F, (Wt, at))
    ours_W, ours_a = rl.metrics.population_gradient(W, teacher, a, negative_slope=alpha, return_a=True)
    assert abs(rl.metrics.population_loss(W, teacher, a, negative_slope=alpha) - F.detach().item()) < 1e-12
    np.testing.assert_allclose(ours_W, gW.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours_a, ga.numpy(), rtol=1e-10, atol=1e-12)
    H = torch.autograd.functional.hessian(
        lambda w: torch_loss(w.reshape(5, 3), t(a), t(V), t(teacher.b), alpha), t(W).reshape(-1))
    np.testing.assert_allclose(rl.metrics.population_hessian(W, teacher, a, negative_slope=alpha),
                               H.numpy(), rtol=1e-8, atol=1e-10)


def test_hessian_equals_finite_differences_of_the_gradient():
    rng = np.random.default_rng(5)
    teacher = rl.teachers.gaussian_relu(6)
    W, a = student(rng, 7, 6)
    H = rl.metrics.population_hessian(W, teacher, a)
    eps = 1e-6
    fd = np.empty_like(H)
    for q in range(W.size):
        e = np.zeros(W.size)
        e[q] = eps
        gp = rl.metrics.population_gradient(W + e.reshape(W.shape), teacher, a)
        gm = rl.metrics.population_gradient(W - e.reshape(W.shape), teacher, a)
        fd[:, q] = ((gp - gm) / (2 * eps)).ravel()
    np.testing.assert_allclose(H, fd, atol=1e-7)
    np.testing.assert_allclose(H, H.T, atol=1e-14)


@pytest.mark.parametrize("k", [2, 5, 8])
def test_the_teacher_is_a_global_minimum(k):
    """W = V (Safran & Shamir's teacher V = I, a = b = 1): zero loss, zero gradient, a
    positive semi-definite Hessian."""
    teacher = rl.teachers.gaussian_relu(k)
    W = np.eye(k)
    assert abs(rl.metrics.population_loss(W, teacher)) < 1e-14
    assert np.abs(rl.metrics.population_gradient(W, teacher)).max() < 1e-14
    assert np.linalg.eigvalsh(rl.metrics.population_hessian(W, teacher)).min() > -1e-12
    # a permutation of the teacher's rows is the same network
    P = np.eye(k)[np.random.default_rng(k).permutation(k)]
    assert abs(rl.metrics.population_loss(P, teacher)) < 1e-14


def test_degenerate_points_give_finite_values():
    """Zero rows and parallel rows: the documented limits, never NaN."""
    teacher = rl.teachers.gaussian_relu(3)
    W = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    F = rl.metrics.population_loss(W, teacher)
    g = rl.metrics.population_gradient(W, teacher)
    H = rl.metrics.population_hessian(W, teacher)
    assert np.isfinite(F) and np.isfinite(g).all() and np.isfinite(H).all()
    np.testing.assert_array_equal(g[0], 0.0)  # relu'(0) = 0: a zero row gets no gradient
    # parallel rows: the gradient is the limit from nearby non-parallel rows
    Wn = W.copy()
    Wn[2, 1] = 1e-7
    np.testing.assert_allclose(rl.metrics.population_gradient(Wn, teacher)[1:], g[1:], atol=1e-6)


def test_zero_row_of_a_leaky_student_takes_torchs_slope():
    """Regression: a zero row's gradient used al w_l for the student pairs, where torch's
    s'(0) = al gives al E[x s(w_l.x)] = al (1 + al)/2 w_l (closed form, and autograd)."""
    rng = np.random.default_rng(11)
    d, al, c = 3, 0.3, 0.2
    V, b = rng.standard_normal((2, d)), np.array([1.0, -0.7])
    teacher = rl.teachers.gaussian_relu(V, b)
    a = np.array([0.8, -1.2, 0.5])
    W = np.vstack([np.zeros(d), rng.standard_normal((2, d))])
    g = rl.metrics.population_gradient(W, teacher, a, negative_slope=al, bias=c)
    # E[x s(w.x)] = (1 + al)/2 w, E[x relu(v.x)] = v/2, E[x] = 0
    expected = a[0] * al * ((1 + al) / 2 * (a[1:, None] * W[1:]).sum(0) - (b[:, None] * V).sum(0) / 2)
    np.testing.assert_allclose(g[0], expected, rtol=1e-13, atol=1e-15)
    # the other rows: the limit of a vanishing row, which has the same s(0) = 0 output
    Wt = W.copy()
    Wt[0] = 1e-9 * rng.standard_normal(d)
    np.testing.assert_allclose(
        rl.metrics.population_gradient(Wt, teacher, a, negative_slope=al, bias=c)[1:], g[1:],
        atol=1e-8)


def test_teacher_and_argument_checks():
    t = rl.teachers.gaussian_relu(np.ones((2, 3)))
    assert t.k == 2 and t.d == 3 and (t.b == 1).all()
    X, y = t.sample(10, seed=0)
    np.testing.assert_allclose(y, np.maximum(X @ np.ones((3, 2)), 0).sum(1))
    with pytest.raises(ValueError, match="one entry per row of V"):
        rl.teachers.gaussian_relu(np.ones((2, 3)), b=[1.0])
    with pytest.raises(ValueError, match=r"\(k, 3\)"):
        rl.metrics.population_loss(np.ones((2, 4)), t)
    with pytest.raises(TypeError, match="gaussian_relu"):
        rl.metrics.population_loss(np.ones((2, 3)), "teacher")
    with pytest.raises(ValueError, match="NaN"):
        rl.metrics.population_loss(np.full((2, 3), np.nan), t)


@pytest.mark.parametrize("inputs", ["gaussian", "uniform"])
def test_linear_teacher_data_respect_the_margin(inputs):
    t = rl.teachers.linear(d=5, margin=0.2, inputs=inputs, seed=1)
    X, y = t.sample(500, seed=2)
    dist = X @ t.w / np.linalg.norm(t.w)
    assert X.shape == (500, 5) and (np.abs(dist) >= 0.2).all()
    np.testing.assert_array_equal(y, np.sign(dist))
    if inputs == "uniform":
        assert (np.abs(X) <= 1).all()
    np.testing.assert_array_equal(t.sample(500, seed=2)[0], X)  # seeded
    with pytest.raises(ValueError, match="margin"):
        rl.teachers.linear(d=3, margin=5.0, inputs="uniform")
    with pytest.raises(ValueError, match="inputs"):
        rl.teachers.linear(d=3, inputs="cauchy")


def test_output_bias_against_monte_carlo_and_finite_differences():
    rng = np.random.default_rng(7)
    teacher = rl.teachers.gaussian_relu(rng.standard_normal((2, 3)), b=[1.0, 0.5])
    W, a = student(rng, 4, 3)
    c, alpha = 0.7, 0.1
    F = rl.metrics.population_loss(W, teacher, a, negative_slope=alpha, bias=c)
    X = rng.standard_normal((2_000_000, 3))
    z = X @ W.T
    r = 0.5 * (np.where(z > 0, z, alpha * z) @ a + c - teacher(X)) ** 2
    assert abs(F - r.mean()) < 5 * r.std() / math.sqrt(len(r))
    gW, ga, gc = rl.metrics.population_gradient(W, teacher, a, negative_slope=alpha, bias=c,
                                               return_a=True, return_bias=True)
    eps = 1e-6
    f = lambda **kw: rl.metrics.population_loss(  # noqa: E731
        kw.get("W", W), teacher, kw.get("a", a), negative_slope=alpha, bias=kw.get("c", c))
    assert gc == pytest.approx((f(c=c + eps) - f(c=c - eps)) / (2 * eps), abs=1e-8)
    for i in range(4):
        e = np.zeros(4)
        e[i] = eps
        assert ga[i] == pytest.approx((f(a=a + e) - f(a=a - e)) / (2 * eps), abs=1e-8)
        for j in range(3):
            E = np.zeros_like(W)
            E[i, j] = eps
            assert gW[i, j] == pytest.approx((f(W=W + E) - f(W=W - E)) / (2 * eps), abs=1e-8)
    H = rl.metrics.population_hessian(W, teacher, a, negative_slope=alpha, bias=c)
    fd = np.empty_like(H)
    for q in range(W.size):
        E = np.zeros(W.size)
        E[q] = eps
        gp = rl.metrics.population_gradient(W + E.reshape(W.shape), teacher, a, negative_slope=alpha, bias=c)
        gm = rl.metrics.population_gradient(W - E.reshape(W.shape), teacher, a, negative_slope=alpha, bias=c)
        fd[:, q] = ((gp - gm) / (2 * eps)).ravel()
    np.testing.assert_allclose(H, fd, atol=1e-7)


def test_overflowing_weights_are_refused_not_nan():
    teacher = rl.teachers.gaussian_relu(3)
    W = np.random.default_rng(0).standard_normal((3, 3)) * 1e160
    for f in (rl.metrics.population_loss, rl.metrics.population_gradient, rl.metrics.population_hessian):
        with pytest.raises(ValueError, match="overflows"):
            f(W, teacher)
    tiny = rl.metrics.population_loss(W * 1e-310, teacher)  # a student of (almost) zero rows
    assert tiny == pytest.approx(rl.metrics.population_loss(np.zeros((3, 3)) + 1e-300, teacher))
