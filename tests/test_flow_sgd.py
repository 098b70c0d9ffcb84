"""rl.flow.gd with mini-batches, momentum and weight decay against a plain torch.optim.SGD loop."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regionlab as rl  # noqa: E402
from flow_reference import make_mlp  # noqa: E402


def data(n=23, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) > 0, 1.0, -1.0)
    return X, y


def torch_sgd(model, X, y, batches, lr, momentum=0.0, weight_decay=0.0, frozen=()):
    """The reference: a torch loop over the given batches, parameters after every step."""
    import copy

    m = copy.deepcopy(model)
    params = [p for n, p in m.named_parameters() if n not in frozen]
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    out = [torch.cat([p.detach().reshape(-1) for p in m.parameters()]).numpy().copy()]
    for idx in batches:
        idx = torch.as_tensor(idx)
        opt.zero_grad()
        f = m(Xt[idx])[:, 0]
        torch.nn.functional.softplus(-yt[idx] * f).mean().backward()
        opt.step()
        out.append(torch.cat([p.detach().reshape(-1) for p in m.parameters()]).numpy().copy())
    return np.array(out)


@pytest.mark.parametrize("batch_size,momentum,weight_decay", [
    (5, 0.0, 0.0), (5, 0.9, 0.0), (8, 0.0, 1e-2), (4, 0.5, 5e-3), (None, 0.9, 1e-2),
])
def test_matches_torch_sgd_with_the_same_batches(batch_size, momentum, weight_decay):
    X, y = data()
    model = make_mlp((3, 7, 1), 0.1, True, seed=1)
    steps, lr = 30, 0.2
    seed = 123 if batch_size else None
    tr = rl.flow.gd(model, X, y, loss="logistic", lr=lr, steps=steps, record_every=1,
                    batch_size=batch_size, seed=seed, momentum=momentum,
                    weight_decay=weight_decay)
    if batch_size:
        batches = list(rl.flow.minibatches(len(X), batch_size, steps, seed))
    else:
        batches = [np.arange(len(X))] * steps
    ref = torch_sgd(model, X, y, batches, lr, momentum, weight_decay)
    np.testing.assert_allclose(tr.flat_params, ref, rtol=1e-12, atol=1e-13)
    # the recorded loss is the full-data loss at each iterate
    full = [torch.nn.functional.softplus(-torch.as_tensor(y) * tr.model(k)(
        torch.as_tensor(X))[:, 0]).mean().item() for k in (0, 10, -1)]
    np.testing.assert_allclose(tr.loss[[0, 10, -1]], full, rtol=1e-12)
    assert tr.stats["momentum"] == momentum and tr.stats["weight_decay"] == weight_decay


def test_batches_are_epochs_of_seeded_permutations():
    batches = list(rl.flow.minibatches(10, 4, 7, seed=3))
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2, 4]
    rng = np.random.default_rng(3)
    p0, p1, p2 = rng.permutation(10), rng.permutation(10), rng.permutation(10)
    np.testing.assert_array_equal(np.concatenate(batches[:3]), p0)
    np.testing.assert_array_equal(np.concatenate(batches[3:6]), p1)
    np.testing.assert_array_equal(batches[6], p2[:4])


def test_seed_reproduces_and_batch_size_n_is_full_batch():
    X, y = data()
    model = make_mlp((3, 5, 1), 0.1, True, seed=2)
    kw = dict(loss="logistic", lr=0.3, steps=12)
    a = rl.flow.gd(model, X, y, batch_size=6, seed=7, **kw)
    b = rl.flow.gd(model, X, y, batch_size=6, seed=7, **kw)
    c = rl.flow.gd(model, X, y, batch_size=6, seed=8, **kw)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert not np.array_equal(a.flat_params, c.flat_params)
    full = rl.flow.gd(model, X, y, **kw)
    np.testing.assert_array_equal(rl.flow.gd(model, X, y, batch_size=len(X), **kw).flat_params,
                                  full.flat_params)
    assert full.stats["evaluations"] == 13


def test_minibatch_events_are_sign_changes_over_all_samples():
    X, y = data(n=30)
    model = make_mlp((3, 6, 1), 0.0, True, seed=3)
    tr = rl.flow.gd(model, X, y, loss="logistic", lr=0.5, steps=40, record_every=1,
                    batch_size=7, seed=0)
    for k in (1, 20, 40):
        before = (tr.model(k - 1)[0](torch.as_tensor(X)) > 0).numpy()
        after = (tr.model(k)[0](torch.as_tensor(X)) > 0).numpy()
        ev = tr.events[np.isclose(tr.events["time"], k * 0.5)]
        assert len(ev) == int((before != after).sum())


def test_frozen_parameters_get_no_momentum_nor_decay():
    X, y = data()
    model = make_mlp((3, 5, 1), 0.1, True, seed=4)
    model[2].weight.requires_grad_(False)
    tr = rl.flow.gd(model, X, y, loss="logistic", lr=0.2, steps=15, record_every=1,
                    batch_size=6, seed=1, momentum=0.9, weight_decay=0.1)
    batches = list(rl.flow.minibatches(len(X), 6, 15, 1))
    ref = torch_sgd(model, X, y, batches, 0.2, 0.9, 0.1, frozen=("2.weight",))
    np.testing.assert_allclose(tr.flat_params, ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(tr.params[-1]["2.weight"], tr.params[0]["2.weight"])


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(weight_decay=float("nan")), ValueError, "weight_decay"),
    (dict(momentum="a"), TypeError, "momentum"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(seed=3), ValueError, "batch_size="),
])
def test_bad_sgd_arguments(kwargs, exc, match):
    X, y = data()
    model = make_mlp((3, 5, 1), 0.1, True)
    with pytest.raises(exc, match=match):
        rl.flow.gd(model, X, y, loss="logistic", lr=0.1, steps=2, **kwargs)
