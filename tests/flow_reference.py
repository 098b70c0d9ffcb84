"""Independent references for the gradient-flow tests: torch autograd and plain integrators.

Nothing here calls regionlab's C++ core: the field is torch autograd on an explicitly
masked network, the integrators are written out in numpy/scipy.
"""

import numpy as np
import torch

F64 = torch.float64


def make_mlp(widths, slope=0.1, bias=True, seed=0):
    """nn.Sequential MLP: Linear layers with LeakyReLU(slope) (ReLU for slope 0) between."""
    torch.manual_seed(seed)
    mods = []
    for k in range(len(widths) - 1):
        mods.append(torch.nn.Linear(widths[k], widths[k + 1], bias=bias))
        if k < len(widths) - 2:
            mods.append(torch.nn.ReLU() if slope == 0 else torch.nn.LeakyReLU(slope))
    return torch.nn.Sequential(*mods).double()


def linear_layers(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


def slopes_of(model):
    """Negative slope after each Linear (1.0 = none)."""
    out, mods = [], list(model)
    for k, m in enumerate(mods):
        if isinstance(m, torch.nn.Linear):
            nxt = mods[k + 1] if k + 1 < len(mods) else None
            if isinstance(nxt, torch.nn.ReLU):
                out.append(0.0)
            elif isinstance(nxt, torch.nn.LeakyReLU):
                out.append(nxt.negative_slope)
            else:
                out.append(1.0)
    return out


def unflatten(model, theta):
    """Tensors (requires_grad) shaped like the model's Linear weights/biases."""
    out, off = [], 0
    for lin in linear_layers(model):
        w = torch.tensor(theta[off : off + lin.weight.numel()], dtype=F64).reshape(lin.weight.shape)
        off += lin.weight.numel()
        b = None
        if lin.bias is not None:
            b = torch.tensor(theta[off : off + lin.bias.numel()], dtype=F64)
            off += lin.bias.numel()
        out.append((w, b))
    return out


def preacts(model, theta, X, masks=None):
    """Pre-activations of every layer (numpy), with fixed slope masks or sign slopes."""
    with torch.no_grad():
        zs, _ = _forward(model, unflatten(model, theta), torch.as_tensor(X, dtype=F64), masks)
    return [z.numpy() for z in zs]


def _forward(model, params, X, masks):
    a, zs, slopes = X, [], slopes_of(model)
    for k, (w, b) in enumerate(params):
        z = a @ w.T + (b if b is not None else 0)
        zs.append(z)
        if masks is not None:
            s = torch.as_tensor(masks[k], dtype=F64)
        else:
            s = torch.where(z > 0, torch.ones_like(z), torch.full_like(z, slopes[k]))
        a = z * s
    return zs, a


def loss_fn(out, y, loss):
    y = torch.as_tensor(y)
    if loss == "mse":
        return 0.5 * ((out - y.reshape(out.shape).to(F64)) ** 2).sum(1).mean()
    if loss == "logistic":
        return torch.nn.functional.softplus(-y.to(F64) * out[:, 0]).mean()
    if loss == "exp":
        return torch.exp(-y.to(F64) * out[:, 0]).mean()
    if loss == "cross_entropy":
        return torch.nn.functional.cross_entropy(out, y.long())
    raise ValueError(loss)


def field(model, theta, X, y, loss, masks=None, trainable=None):
    """-grad L at theta (flat, state_dict order) by torch autograd; masks fix the slopes;
    trainable (flat 0/1, or None for all) keeps only the trained entries."""
    params = unflatten(model, theta)
    leaves = []
    for w, b in params:
        w.requires_grad_(True)
        leaves.append(w)
        if b is not None:
            b.requires_grad_(True)
            leaves.append(b)
    _, out = _forward(model, params, torch.as_tensor(X, dtype=F64), masks)
    L = loss_fn(out, y, loss)
    grads = torch.autograd.grad(L, leaves)
    f = -torch.cat([g.reshape(-1) for g in grads]).numpy()
    if trainable is not None:
        f = np.where(np.asarray(trainable) > 0, f, 0.0)
    return f, float(L.detach())


def trainable_vector(model, names):
    """Flat 0/1 vector in state_dict order: 1 for the parameters in names."""
    return np.concatenate([np.full(p.numel(), 1.0 if n in names else 0.0)
                           for n, p in model.named_parameters()])


def sign_masks(model, theta, X):
    slopes = slopes_of(model)
    return [np.where(z > 0, 1.0, s) for z, s in zip(preacts(model, theta, X), slopes)]


def rk4_with_crossings(model, theta0, X, y, loss, t_end, h, trainable=None):
    """Fixed-step RK4 on the masked field; a step that changes a sign is cut back (by
    bisection on its length) to the crossing, where that pair's slope is flipped.
    trainable: flat 0/1 vector (None: all); the other entries get a zero field."""
    slopes = slopes_of(model)
    theta = np.array(theta0, dtype=np.float64)
    masks = sign_masks(model, theta, X)
    t, crossings = 0.0, []

    def step(th, hh):
        f = lambda v: field(model, v, X, y, loss, masks, trainable)[0]  # noqa: E731
        k1 = f(th)
        k2 = f(th + 0.5 * hh * k1)
        k3 = f(th + 0.5 * hh * k2)
        k4 = f(th + hh * k3)
        return th + hh / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    def flipped(th):
        zs = preacts(model, th, X, masks)
        out = []
        for k, (z, m) in enumerate(zip(zs, masks)):
            if slopes[k] == 1.0:
                continue
            bad = np.argwhere((z > 0) != (m == 1.0))
            out.extend((k, int(i), int(j)) for i, j in bad)
        return out

    while t < t_end - 1e-15:
        hh = min(h, t_end - t)
        new = step(theta, hh)
        if not flipped(new):
            theta, t = new, t + hh
            continue
        lo, hi = 0.0, hh
        while hi - lo > 1e-13:
            mid = 0.5 * (lo + hi)
            if flipped(step(theta, mid)):
                hi = mid
            else:
                lo = mid
        theta = step(theta, hi)
        t += hi
        for k, i, j in flipped(theta):
            masks[k][i, j] = 1.0 if masks[k][i, j] != 1.0 else slopes[k]
            crossings.append((t, i, k, j))
    return theta, crossings
