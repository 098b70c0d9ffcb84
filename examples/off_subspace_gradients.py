"""Melamed, Yehudai & Vardi (2023): adversarial directions off a low-dimensional data subspace.

Paper: O. Melamed, G. Yehudai, G. Vardi, "Adversarial Examples Exist in Two-Layer ReLU
Networks for Low Dimensional Linear Subspaces", NeurIPS 2023.

Claim reproduced: a two-layer ReLU network trained by gradient descent on data lying in a
k-dimensional linear subspace of R^d (k << d) has, at the training points, input
gradients with a large component orthogonal to the subspace, so a small L2 perturbation
in that orthogonal direction flips the predicted label; a smaller initialisation scale
shrinks that component and makes the network more robust off the subspace. The mechanism:
the gradient of the loss with respect to a first-layer weight vector is a combination of
training inputs, so GD never moves the weights' component orthogonal to the subspace;
it stays at its random initial value.

Setup (ours, small scale): d = 200 (quick: 100), k = 4, n = 40 points ``x = sqrt(d) U z``
with ``z`` uniform on the unit sphere of R^k (so ``|x| = sqrt(d)``, coordinates of order
1) and random +-1 labels; ``f(x) = v . relu(W x + b) + c`` with m = 100 hidden units, ``W``
entries ``N(0, alpha^2 / d)``, ``v`` entries ``N(0, alpha^2 / m)``, zero biases, for init
scales alpha in {1, 0.3, 0.1, 0.03, 0.01} (quick: {1, 0.1}); full-batch GD on the
logistic loss, lr 0.05, 5000 steps (quick: 2000), all parameters trained. 5 seeds (quick:
1). The paper's theorems are asymptotic in d and width; this is a finite illustration
with the same structure (data exactly on a subspace, standard Gaussian init, GD).

Measured at every training point x_i (regionlab calls):

- ``rl.flow.gd`` trains the torch model exactly as GD (all steps in C++);
- ``rl.input_gradients`` (defined in ``regionlab/gradients.py``) gives the exact input gradient
  ``g = df/dx`` of the trained net at x_i (its region's affine map); we split it into
  ``P g`` (in the subspace) and ``P_perp g`` (orthogonal);
- ``rl.segment`` gives the exact regions of the net on the ray from x_i along
  ``-y_i P_perp g / |P_perp g|`` (length 10 |x_i|) and its first class change: the
  exact size of the smallest perturbation *in that direction* that flips the label
  (reported relative to |x_i|; "inf" if it does not flip within 10 |x_i|), next to the
  first-order estimate ``|f(x_i)| / |P_perp g|``;
- ``rl.plane`` draws the decision boundary on the plane through one training point
  spanned by an in-subspace direction and its orthogonal gradient direction.

Prints a table per init scale, then the published claims beside ours, and writes
``off_subspace_gradients.png``. In the "published" column, "large" for the orthogonal
gradient is the paper's; the yardstick ">= the in-subspace part" (our ratio >= 1) is our own
reading of it, not a number from the paper, and is marked as such.

    python examples/off_subspace_gradients.py            # d = 200, 5 init scales, 5 seeds
    python examples/off_subspace_gradients.py --quick    # d = 100, 2 init scales, 1 seed
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import regionlab as rl
from regionlab import input_gradients


def make_data(d: int, k: int, n: int, seed: int):
    rng = np.random.default_rng([seed, 1])
    U, _ = np.linalg.qr(rng.normal(size=(d, k)))  # orthonormal basis of the data subspace
    Z = rng.normal(size=(n, k))
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    X = math.sqrt(d) * Z @ U.T
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return X, y, U


def make_model(d: int, m: int, alpha: float, seed: int):
    import torch

    rng = np.random.default_rng([seed, 2])
    model = torch.nn.Sequential(torch.nn.Linear(d, m), torch.nn.ReLU(), torch.nn.Linear(m, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(alpha * rng.normal(0.0, 1.0 / math.sqrt(d), (m, d))))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.from_numpy(alpha * rng.normal(0.0, 1.0 / math.sqrt(m), (1, m))))
        model[2].bias.zero_()
    return model


def run(alpha: float, seed: int, d: int, k: int, n: int, m: int, steps: int, lr: float) -> dict:
    X, y, U = make_data(d, k, n, seed)
    model = make_model(d, m, alpha, seed)
    W0 = model[0].weight.detach().numpy().copy()
    traj = rl.flow.gd(model, X, y, loss="logistic", lr=lr, steps=steps, events=False)
    trained = traj.model(-1)
    net = rl.from_torch(trained, dtype=np.float64)
    P = U @ U.T
    Pp = np.eye(d) - P
    W = traj.params[-1]["0.weight"]
    f = net.forward(X)[:, 0]
    G = input_gradients(net, X)[:, 0, :]  # (n, d) exact df/dx at each training point
    g_par = np.linalg.norm(G @ P, axis=1)
    g_orth = np.linalg.norm(G @ Pp, axis=1)
    flip = np.full(n, np.inf)
    for i in range(n):
        e = -y[i] * (Pp @ G[i])
        e /= np.linalg.norm(e)
        T = 10.0 * np.linalg.norm(X[i])
        seg = rl.segment(net, X[i], X[i] + T * e)
        if len(seg.change_t):
            flip[i] = seg.change_t[0] * T
    norms = np.linalg.norm(X, axis=1)
    return {"alpha": alpha, "seed": seed, "net": net, "X": X, "y": y, "U": U, "G": G,
            "loss": float(traj.loss[-1]), "acc": float(np.mean(np.sign(f) == y)),
            "g_par": g_par, "g_orth": g_orth, "flip_rel": flip / norms,
            "lin_rel": np.abs(f) / g_orth / norms,
            "w_orth_moved": float(np.abs((W - W0) @ Pp).max()),
            "w_orth_norm": float(np.linalg.norm(W0 @ Pp, axis=1).mean())}


def quantiles(x: np.ndarray, q) -> np.ndarray:
    """Quantiles of flip sizes, where inf (no flip within the ray) sorts above every size."""
    big = 1e12
    out = np.quantile(np.where(np.isfinite(x), x, big), q)
    return np.where(out >= big / 2, np.inf, out)


def fmt(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.3g}"


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.quick:
        d, alphas, seeds, steps = 100, [1.0, 0.1], 1, 2000
    else:
        d, alphas, seeds, steps = 200, [1.0, 0.3, 0.1, 0.03, 0.01], 5, 5000
    k, n, m, lr = 4, 40, 100, 0.05
    print(f"two-layer ReLU nets (width {m}) trained by GD (logistic loss, lr {lr}, {steps} steps) on "
          f"n = {n} points with random labels in a k = {k} dim subspace of R^{d}, |x| = sqrt(d) = "
          f"{math.sqrt(d):.1f}; {seeds} seed(s) per init scale; medians over all training points")
    print(f"{'alpha':>6} {'acc':>5} {'loss':>8} {'|Pg|':>7} {'|P_perp g|':>10} {'ratio':>7} "
          f"{'flip/|x|':>9} {'lin/|x|':>8} {'dW_perp':>8}")
    rows = []
    for alpha in alphas:
        runs = [run(alpha, args.seed + s, d, k, n, m, steps, lr) for s in range(seeds)]
        cat = {key: np.concatenate([r[key] for r in runs]) for key in ("g_par", "g_orth", "flip_rel", "lin_rel")}
        row = {"alpha": alpha, "runs": runs,
               "acc": min(r["acc"] for r in runs), "loss": max(r["loss"] for r in runs),
               "g_par": float(np.median(cat["g_par"])), "g_orth": float(np.median(cat["g_orth"])),
               "ratio": float(np.median(cat["g_orth"] / cat["g_par"])),
               "flip_rel": float(quantiles(cat["flip_rel"], 0.5)), "lin_rel": float(np.median(cat["lin_rel"])),
               "flip_q": quantiles(cat["flip_rel"], [0.25, 0.75]),
               "moved": max(r["w_orth_moved"] for r in runs)}
        rows.append(row)
        print(f"{alpha:>6g} {row['acc']:>5.2f} {row['loss']:>8.2e} {row['g_par']:>7.3f} {row['g_orth']:>10.3f} "
              f"{row['ratio']:>7.3f} {fmt(row['flip_rel']):>9} {fmt(row['lin_rel']):>8} {row['moved']:>8.1e}",
              flush=True)
    std, small = rows[0], rows[-1]
    print("flip/|x|: exact smallest flip along -y P_perp g (inf: none within 10 |x|); lin/|x|: first-order "
          "estimate |f| / |P_perp g|; dW_perp: max change of W's orthogonal part during GD")
    print()
    print("claim                                  | published (Melamed et al. 2023)           | ours")
    verdict = lambda ok: "agrees" if ok else "DISAGREES"  # noqa: E731
    ok1 = std["ratio"] >= 1.0
    print(f"orthogonal gradient at standard init   | large (>= in-subspace part: our reading)  | "
          f"|P_perp g| / |P g| = {std['ratio']:.2f} (alpha = 1): {verdict(ok1)}")
    ok2 = small["g_orth"] < 0.2 * std["g_orth"]
    print(f"smaller init shrinks it                | yes (orthogonal weights stay at init)     | "
          f"|P_perp g| {std['g_orth']:.3f} -> {small['g_orth']:.3f} at alpha = {small['alpha']:g}: "
          f"{verdict(ok2)}")
    ok3 = std["flip_rel"] < 0.5
    print(f"small orthogonal perturbation flips    | |delta| << |x|                            | "
          f"median |delta| / |x| = {std['flip_rel']:.3f} (alpha = 1), {fmt(small['flip_rel'])} "
          f"(alpha = {small['alpha']:g}): {verdict(ok3 and small['flip_rel'] > std['flip_rel'])}")
    print(f"GD leaves W's orthogonal part at init  | yes (proof mechanism)                     | "
          f"max change {max(r['moved'] for r in rows):.1e} (|W0 P_perp| rows ~ {std['runs'][0]['w_orth_norm']:.2f})")
    plot(rows, Path(args.out) / "off_subspace_gradients.png")
    print(f"total time {time.perf_counter() - t0:.1f} s")
    return rows


def plot(rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12.5, 9.5), constrained_layout=True)
    alphas = np.array([r["alpha"] for r in rows])
    ax = axes[0, 0]
    ax.loglog(alphas, [r["g_orth"] for r in rows], "o-", color="C3", label=r"orthogonal $|P_\perp \nabla_x f|$")
    ax.loglog(alphas, [r["g_par"] for r in rows], "s-", color="C0", label=r"in subspace $|P \nabla_x f|$")
    ax.set_xlabel(r"initialisation scale $\alpha$")
    ax.set_ylabel("input-gradient norm at training points (median)")
    ax.set_title("(a) exact input gradients after training")
    ax.legend(fontsize=9)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[0, 1]
    cap = 10.0
    flip = np.array([min(r["flip_rel"], cap) for r in rows])
    lo = np.array([min(r["flip_q"][0], cap) for r in rows])
    hi = np.array([min(r["flip_q"][1], cap) for r in rows])
    ax.fill_between(alphas, lo, hi, color="C3", alpha=0.2, label="exact, quartiles")
    ax.loglog(alphas, flip, "o-", color="C3", label=r"exact (rl.segment), median")
    ax.loglog(alphas, [r["lin_rel"] for r in rows], "x--", color="k", label=r"first order $|f| / |P_\perp \nabla f|$")
    ax.axhline(cap, color="grey", lw=0.8, ls=":")
    ax.text(alphas.min(), cap * 1.08, "no flip within 10 |x| (capped)", fontsize=8, color="grey")
    ax.set_xlabel(r"initialisation scale $\alpha$")
    ax.set_ylabel(r"perturbation that flips the label / $|x|$")
    ax.set_title("(b) smallest flip along the orthogonal gradient")
    ax.legend(fontsize=9)
    ax.grid(True, which="both", alpha=0.3)

    for ax, r in zip(axes[1], (rows[0], rows[-1])):
        run0 = r["runs"][0]
        X, G, U, net = run0["X"], run0["G"], run0["U"], run0["net"]
        i = 0
        x = X[i]
        u = x / np.linalg.norm(x)  # in-subspace direction (through the origin and x)
        v = G[i] - U @ (U.T @ G[i])
        v /= np.linalg.norm(v)
        R = np.linalg.norm(x)
        p = rl.plane(net, x, u, v, extent=(-R, R, -R, R))
        p.plot(ax=ax, color="output", boundary=True, title=False, colorbar=True)
        ax.plot([0], [0], "k*", ms=12, label="training point $x_i$")
        ax.axhline(0, color="k", lw=0.6, ls="--", label="data subspace direction")
        ax.set_xlabel(r"$s$: along $x_i$ (in the subspace)")
        ax.set_ylabel(r"$t$: along $P_\perp \nabla_x f(x_i)$ (orthogonal)")
        ax.set_title(f"({'c' if r is rows[0] else 'd'}) alpha = {r['alpha']:g}: f on a plane, "
                     f"{p.n_regions} regions, boundary bold")
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Melamed, Yehudai & Vardi (2023): trained two-layer ReLU nets are fragile off the data subspace",
                 fontsize=12)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
