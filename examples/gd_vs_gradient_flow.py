"""Elkabetz & Cohen (2021): gradient descent with a small step stays close to the gradient
flow, and where it drifts away is governed by the sharpness along the flow.

Paper: O. Elkabetz, N. Cohen, "Continuous vs. Discrete Optimization of Deep Neural
Networks", NeurIPS 2021.

Claim reproduced: gradient descent at a conventional step size ``eta`` follows the
gradient-flow trajectory closely: on one time axis (``t = k eta``) the distance
``|theta_GD(t) - theta_GF(t)|`` stays small against the distance travelled from the
initialisation ``|theta_GF(t) - theta(0)|`` (they report about 0.05 against about 3 for
fully connected ReLU nets on MNIST); the gap is first order in ``eta`` (halving the step
halves it), and it is controlled by the sharpness ``lambda_max`` of the Hessian along the
flow (GD tracks the flow where ``eta`` is small against ``2 / lambda_max``; the gap grows
where ``lambda_max`` is large).

Setup: ``sklearn.datasets.load_digits`` stands in for MNIST (8x8 digits, bundled, no
download): 300 samples of the 10 classes (150 in ``--quick``), normalised as MNIST
usually is, by the pixels' overall mean and standard deviation (two numbers); a fully connected ReLU net 64-16-16-10 (64-8-8-10 in ``--quick``), torch's
default initialisation (seeded), float64; the mean cross-entropy loss. The exact gradient
flow ``rl.flow.integrate(model, X, y, loss="cross_entropy", t_end=40, dense=True)`` (every
activation change located, dense output so that ``traj.at(t)`` is exact to its
tolerances at any time); full-batch gradient descent ``rl.flow.gd(..., lr=eta / r,
steps=t_end r / eta)`` for ``eta = 0.5 / max lambda_max`` and ``r = 1, 2, 4, 8`` (1, 2, 4 in ``--quick``);
``rl.flow.distance(flow, descent)`` compares them on the union of both record grids;
``rl.metrics.sharpness(flow, X, y, records=...)`` gives ``lambda_max`` (dense Hessian over
all parameters) at records along the flow.

Deviations: digits for MNIST, a few hundred samples and a small net (the flow and the
Hessians are exact, not sampled), float64; the step is set from the flow's own sharpness,
``lr = 0.5 / max lambda_max`` (and ``lr / r``), plus one step beyond stability,
``lr = 4 / max lambda_max``. The sharpness is computed at sampled records along the flow
(6 in ``--quick``, 21 in the full run), so "lr * lambda_max <= 0.5 along the flow" holds at
those records. Since the gap is first order in ``lr``, the step 8x beyond the stable one
gives an 8x larger gap without any departure from the flow; the script therefore judges
the departure on the gap per unit step: GD beyond ``2 / lambda_max`` departs if its
``max gap / lr`` is more than 3x the largest of the stable runs', and says "partly" or "NO"
where it is not.

What we find beyond the paper: the gap is first order in ``lr`` only between kink events.
Where the flow holds a sample on a ReLU's kink (Filippov sliding) or grazes one, GD's
iterates chatter across the kink and may leave it at another time than the flow; the gap
then jumps by an amount that does not shrink with ``lr`` until ``lr`` is small enough for
GD to follow the sliding (in the full run GD at ``lr/2`` and at ``lr/4`` end about as far
from the flow). Checked separately, over the whole run: GD at ``lr/32`` and at ``lr/2048``
stay within 8e-3 and 1.5e-4 of the flow (gap / step about 6-7, first order), while GD at
``lr/128`` and ``lr/512`` leave one such episode on the other side and end 1.7e-2 and
2.0e-2 away: the flow is the limit GD converges to, but not monotonically in the step.
The script prints each halving's ratio and says where one is not first order.
Past the stability limit the full run does not show more than first order either: GD at
``lr * max lambda_max = 4`` ends 1.65 from the flow, but its gap per unit step (4.6) is not
larger than the stable runs' (5.3 at ``lr``, 11.2 at ``lr/4`` after a kink episode), so the
script says "partly" there (in ``--quick`` it is 9x larger: "yes").

regionlab calls: ``rl.flow.integrate(..., dense=True)``, ``rl.flow.gd``,
``rl.flow.distance``, ``Trajectory.at``, ``rl.metrics.sharpness``.

    python examples/gd_vs_gradient_flow.py            # 300 samples, 64-16-16-10, t = 40
    python examples/gd_vs_gradient_flow.py --quick    # 150 samples, 64-8-8-10, t = 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import regionlab as rl

STABLE, BEYOND = 0.5, 4.0   # lr * (largest lambda_max along the flow): well inside / beyond 2
DEPART = 3.0   # beyond 2 / lambda_max, GD departs if its gap / lr exceeds the stable runs' by this factor


def digits(n: int, seed: int) -> tuple:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(seed).permutation(len(X))[:n]
    X, y = X[idx].astype(np.float64), y[idx].astype(np.int64)
    return (X - X.mean()) / X.std(), y


def make_model(width: int, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 10)).double()


def flat(params: dict) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in params.values()])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    args = ap.parse_args(argv)
    n, width, t_end, rs, n_sharp = (150, 8, 20.0, (1, 2, 4), 6) if args.quick else (300, 16, 40.0, (1, 2, 4, 8), 21)

    X, y = digits(n, args.seed)
    model = make_model(width, args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    print("Elkabetz & Cohen (2021): gradient descent vs the exact gradient flow on one time axis (t = k lr)")
    print(f"load_digits standing in for MNIST: {n} samples, 10 classes; ReLU MLP 64-{width}-{width}-10 "
          f"({n_params} parameters), mean cross-entropy, t in [0, {t_end:g}]")
    flow = rl.flow.integrate(model, X, y, loss="cross_entropy", t_end=t_end, dense=True,
                             record=np.linspace(0.0, t_end, 2 * (n_sharp - 1) + 1))
    theta0 = flat(flow.params[0])
    travelled = np.array([np.linalg.norm(flat(p) - theta0) for p in flow.params])
    print(f"flow: {flow.stats['steps']} steps, {flow.stats['n_events']} activation changes, loss "
          f"{flow.loss[0]:.3f} -> {flow.loss[-1]:.3f}, travelled |theta(t_end) - theta(0)| = {travelled[-1]:.3f}")
    sharp_idx = list(range(0, len(flow.t), 2))
    lam = rl.metrics.sharpness(flow, X, y, records=sharp_idx)
    t_lam = flow.t[sharp_idx]

    eta = STABLE / lam.max()
    print(f"sharpness along the flow: lambda_max {lam.min():.2f}..{lam.max():.2f} (largest at t = "
          f"{t_lam[np.argmax(lam)]:g}); lr = {STABLE:g} / max lambda_max = {eta:.4f}, and lr / r")
    print(f"{'':<4} {'lr':>7} {'steps':>6} {'max|GD-GF|':>11} {'/lr':>7} {'travelled':>10} {'ratio':>8} "
          f"{'max lr*lam':>10} {'GD loss':>8}")
    runs = []
    for r in rs:
        lr = eta / r
        steps = int(round(t_end / lr))
        gd = rl.flow.gd(model, X, y, loss="cross_entropy", lr=lr, steps=steps)
        t, dist = rl.flow.distance(flow, gd)
        runs.append({"r": r, "lr": lr, "t": t, "dist": dist, "gd": gd})
        ratio = dist.max() / travelled.max()
        print(f"{'GD':<4} {lr:>7.4f} {steps:>6} {dist.max():>11.5f} {dist.max() / lr:>7.4f} "
              f"{travelled.max():>10.3f} {ratio:>8.4f} {lr * lam.max():>10.3f} {gd.loss[-1]:>8.4f}", flush=True)

    # beyond the stability limit: a step with lr * max lambda_max = 4 (> 2)
    lr_big = BEYOND / lam.max()
    gd_big = rl.flow.gd(model, X, y, loss="cross_entropy", lr=lr_big, steps=int(round(t_end / lr_big)))
    t_big, dist_big = rl.flow.distance(flow, gd_big)
    print(f"{'GD':<4} {lr_big:>7.4f} {int(round(t_end / lr_big)):>6} {dist_big.max():>11.5f} "
          f"{dist_big.max() / lr_big:>7.4f} {travelled.max():>10.3f} {dist_big.max() / travelled.max():>8.4f} "
          f"{lr_big * lam.max():>10.3f} {gd_big.loss[-1]:>8.4f}   (beyond 2 / lambda_max)", flush=True)
    big = {"lr": lr_big, "t": t_big, "dist": dist_big, "gd": gd_big}
    halvings = [runs[i + 1]["dist"].max() / runs[i]["dist"].max() for i in range(len(runs) - 1)]
    top = runs[0]
    print()
    print(f"{'':<36} {'published (MNIST)':<26} ours (digits)")
    print(f"{'max |GD - GF| vs travelled':<36} {'~0.05 vs ~3 (ratio ~0.02)':<26} "
          f"{top['dist'].max():.3f} vs {travelled.max():.2f} (ratio {top['dist'].max() / travelled.max():.4f}) at lr {eta:.4f}")
    print(f"{'gap ~ lr (first order)':<36} {'yes':<26} max gap at lr/2 over lr/1: "
          + ", ".join(f"{h:.2f}" for h in halvings) + " (first order: 0.50)")
    print(f"{'GD tracks GF where lr << 2/lambda_max':<36} {'yes':<26} lr*lambda_max <= {STABLE:g} at the {len(lam)} "
          f"sampled records along the flow: ratio {top['dist'].max() / travelled.max():.4f}")
    # First order in lr already makes the big step's gap BEYOND / STABLE = 8x the stable one's; GD departs
    # from the flow only if the gap per unit step (gap / lr) is itself much larger than in the stable runs.
    per_lr_stable = max(run["dist"].max() / run["lr"] for run in runs)
    per_lr_big = dist_big.max() / lr_big
    excess = per_lr_big / per_lr_stable
    if excess > DEPART:
        departs = "yes"
    elif dist_big.max() > DEPART * top["dist"].max():
        departs = "partly (larger gap, but no more than first order in lr predicts)"
    else:
        departs = "NO"
    print(f"{'GD departs where lr > 2/lambda_max':<36} {'yes':<26} lr*max lambda_max = {BEYOND:g} (lr {lr_big:.3f}): "
          f"max gap {dist_big.max():.3f} (ratio {dist_big.max() / travelled.max():.3f}); gap/lr {per_lr_big:.3f} vs "
          f"<= {per_lr_stable:.3f} stable, x{excess:.1f} (needs > {DEPART:g}): {departs}")
    first_order = all(h < 0.6 for h in halvings)
    if not first_order:
        print("note: NOT first order at every halving (a ratio >= 0.6): where the flow slides along a ReLU's "
              "kink, GD chatters across it and can leave it at another time; the gap then jumps by an amount "
              "that does not shrink with lr until lr is much smaller (not checked in this run; checked "
              "separately in the full setting, see the docstring: GD at lr/2048 follows the flow to 1.5e-4); "
              "between such events the gap halves with lr")
    if departs != "yes":
        print(f"note: beyond 2 / lambda_max the gap per unit step is only x{excess:.1f} the stable runs' "
              f"(the step is x{BEYOND / STABLE:g}, so first order alone makes the gap x{BEYOND / STABLE:g} larger): "
              "this run does not show GD departing from the flow faster than first order in lr")
    close = top["dist"].max() / travelled.max() < 0.1
    failed = [what for what, ok in (("gap not first order at every halving", first_order),
                                    ("no departure beyond first order past 2 / lambda_max", departs == "yes")) if not ok]
    verdict = ("yes" if not failed else f"partly (GD close to GF; {'; '.join(failed)})") if close else "NO"
    print(f"agreement with the published claim: {verdict}")
    summary = {"flow": flow, "travelled": travelled, "lam": lam, "t_lam": t_lam, "runs": runs,
               "big": big, "halvings": halvings}
    plot(summary, Path(args.out) / "gd_vs_gradient_flow.png")
    return summary


def plot(s: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    flow = s["flow"]
    ax = axes[0]
    ax.plot(flow.t[1:], s["travelled"][1:], "k--", lw=2, label=r"travelled $|\theta_{GF}(t) - \theta(0)|$")
    for i, run in enumerate(s["runs"]):
        m = run["t"] > 0
        ax.plot(run["t"][m], run["dist"][m], color=f"C{i}", lw=1.8, label=f"$|GD - GF|$, lr = {run['lr']:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel("time t (= step k x lr)")
    ax.set_ylabel("parameter distance (Euclidean)")
    ax.set_title("GD stays close to the flow")
    ax.legend(fontsize=8)
    ax = axes[1]
    for i, run in enumerate(s["runs"]):
        ax.plot(run["t"], run["dist"] / run["lr"], color=f"C{i}", lw=1.8, label=f"lr = {run['lr']:.4g}")
    ax.set_xlabel("time t")
    ax.set_ylabel(r"$|GD - GF|$ / lr")
    ax.set_title("gap / lr: the curves coincide where the gap is first order")
    ax.legend(fontsize=8)
    big = s["big"]
    m = big["t"] > 0
    axes[0].plot(big["t"][m], big["dist"][m], color="C7", lw=1.5, ls=":",
                 label=f"$|GD - GF|$, lr = {big['lr']:.3f} (> 2/$\\lambda_{{max}}$)")
    axes[0].legend(fontsize=8)
    ax = axes[2]
    ax.plot(s["t_lam"], s["lam"], "o-", color="k", lw=2, label=r"$\lambda_{max}$ of the Hessian along the flow")
    for i, run in enumerate(s["runs"][:2]):
        ax.axhline(2.0 / run["lr"], color=f"C{i}", lw=1.5, ls="--", label=f"2 / lr, lr = {run['lr']:.4g}")
    ax.axhline(2.0 / big["lr"], color="C7", lw=1.5, ls=":", label=f"2 / lr, lr = {big['lr']:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("time t")
    ax.set_ylabel(r"sharpness $\lambda_{max}$ (loss / parameter$^2$)")
    ax.set_title("GD tracks the flow while lr << 2 / $\\lambda_{max}$")
    ax.legend(fontsize=8)
    fig.suptitle("Elkabetz & Cohen (2021): gradient descent vs exact gradient flow, ReLU MLP on load_digits "
                 "(standing in for MNIST)")
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
