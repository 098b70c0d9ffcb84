"""Balestriero & LeCun (2023), POLICE: a network trained to be provably affine on a region.

"POLICE: Provably Optimal Linear Constraint Enforcement for Deep Neural Networks"
(R. Balestriero and Y. LeCun, ICASSP 2023, arXiv:2211.01340). Given the vertices of a
convex region R, POLICE shifts, at every layer of the forward pass, the bias of each unit
whose kink would cross R by the least amount that puts all of R on the side of the
majority of the vertices; the network is then one affine map on R, whatever the weights,
and is trained as usual (the correction is part of the forward pass). Claim (their Fig. 1):
the constraint holds exactly (one linear region inside R, so a straight decision boundary
there) while the classification task is still solved outside R.

Setup: the paper's Fig. 1 (their `figure_1.py`): two classes on wavy rings r = 1 + 0.2
cos(10 theta) and 1.3 r, 1,024 angles each, noise s.d. 0.025; R = the square [0, 1.5]^2;
a depth-3, width-128 MLP with LeakyReLU (slope 0.01) and a linear output; AdamW (lr 1e-3,
weight decay 1e-5), full batch, step decay x0.3 every quarter of the 2,000 steps; logistic
loss. Trained twice from the same initialisation: without constraint, and wrapped by
`regionlab.police.constrained` (the package's POLICE helper). After training,
`Police.export()` bakes the correction into the biases, and regionlab checks the claim
exactly:

- `rl.regions(net, lower, upper)`: every linear region of R (exactly 1 with POLICE) and
  of the box [-1.8, 1.8]^2 around the data;
- `net.patterns`: the activation patterns of R's vertices and of the test points in R;
- `rl.plane(net, ...)`: the exact partition of the plane with its decision boundary.

Accuracy on 4,000 fresh test points (random angles), outside and inside R. Inside R the
two rings are not linearly separable, so a net affine there must lose some accuracy in R;
the claim is about outside R. The paper gives no accuracy (only the figure), so the table
compares with the unconstrained net. Deviations: float32 on the CPU; the default margin
1e-4 of `regionlab.police` (the authors' code has none; see its docstring); the quick mode
trains on 256 angles per ring instead of 1,024.

    python examples/police_affine_region.py            # the paper's setting
    python examples/police_affine_region.py --quick    # 512 training points instead of 2,048
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import regionlab as rl

LOWER = np.array([0.0, 0.0])  # R = [0, 1.5]^2, the paper's constraint square
UPPER = np.array([1.5, 1.5])
VIEW = 1.8  # the paper's plotting domain [-1.8, 1.8]^2


def rings(n_angles: int, rng: np.random.Generator, random_angles: bool = False):
    """The paper's Fig. 1 data: class 0 on r = 1 + 0.2 cos(10 theta), class 1 at 1.3 r."""
    theta = rng.uniform(0, 2 * np.pi, n_angles) if random_angles else np.linspace(0, 2 * np.pi, n_angles)
    r = 1 + 0.2 * np.cos(10 * theta)
    inner = np.c_[np.cos(theta) * r, np.sin(theta) * r]
    X = np.stack([inner, 1.3 * inner], 1).reshape(-1, 2)
    X = X + rng.normal(0, 0.025, X.shape)
    y = np.tile(np.arange(2), n_angles).astype(float)
    return X, y


def make_mlp(seed: int, width: int, depth: int = 3):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers, a = [], 2
    for _ in range(depth):
        layers += [nn.Linear(a, width), nn.LeakyReLU(0.01)]
        a = width
    layers.append(nn.Linear(a, 1))
    return nn.Sequential(*layers)


def train(model, X, y, steps: int):
    """The paper's loop: AdamW(1e-3, weight decay 1e-5), full batch, x0.3 every steps/4."""
    import torch
    from torch import nn

    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 4), gamma=0.3)
    for _ in range(steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(X)[:, 0], y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return float(loss.detach())


def accuracy(net: rl.PLNet, X: np.ndarray, y: np.ndarray) -> float:
    return float(((net.forward(X)[:, 0] > 0) == (y > 0.5)).mean()) if len(X) else float("nan")


def main(argv=None) -> list:
    import torch

    from regionlab import police

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=2000, help="AdamW steps (default 2000, the paper's)")
    ap.add_argument("--angles", type=int, default=None, help="training angles per ring (default 1024, quick 256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    args = ap.parse_args(argv)
    steps, width = args.steps, 128
    angles = args.angles or (256 if args.quick else 1024)
    t0 = time.time()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    X, y = rings(angles, rng)
    Xt, yt = rings(2000, rng, random_angles=True)
    in_R = np.all((Xt >= LOWER) & (Xt <= UPPER), axis=1)
    view_lo, view_hi = -VIEW * np.ones(2), VIEW * np.ones(2)
    vertices = police.box_vertices(LOWER, UPPER)
    print(f"the paper's Fig. 1 task: two wavy rings ({len(X)} training points; {len(Xt)} test points, "
          f"{int((~in_R).sum())} outside R, {int(in_R.sum())} inside)")
    print(f"2-{width}-{width}-{width}-1 LeakyReLU(0.01) MLP, AdamW {steps} steps, full batch; "
          f"R = [{LOWER[0]:g}, {UPPER[0]:g}] x [{LOWER[1]:g}, {UPPER[1]:g}]")
    rows, nets = [], {}
    for name in ("unconstrained", "POLICE"):
        model = make_mlp(args.seed, width)
        trained = police.constrained(model, vertices) if name == "POLICE" else model
        loss = train(trained, X, y, steps)
        plain = trained.export() if name == "POLICE" else model
        net = rl.from_torch(plain.eval())
        part_R = rl.regions(net, LOWER, UPPER, volumes=False)
        part_view = rl.regions(net, view_lo, view_hi, volumes=False)
        pats_R = net.patterns(np.vstack([vertices, Xt[in_R]]), packed=True)
        row = dict(model=name, loss=loss, regions_R=part_R.n_regions, regions_view=part_view.n_regions,
                   patterns_R=len(np.unique(pats_R, axis=0)), acc_out=accuracy(net, Xt[~in_R], yt[~in_R]),
                   acc_in=accuracy(net, Xt[in_R], yt[in_R]), acc_train=accuracy(net, X, y))
        rows.append(row)
        nets[name] = net
    print(f"{'model':<14} {'train loss':>10} {'regions in R':>13} {'patterns in R':>14} {'regions in view':>16} "
          f"{'acc outside R':>14} {'acc inside R':>13} {'acc train':>10}")
    for r in rows:
        print(f"{r['model']:<14} {r['loss']:>10.4f} {r['regions_R']:>13d} {r['patterns_R']:>14d} "
              f"{r['regions_view']:>16d} {r['acc_out']:>14.4f} {r['acc_in']:>13.4f} {r['acc_train']:>10.4f}")
    free, pol = rows
    print()
    print(f"(regions: exact, rl.regions on R and on the view box [-{VIEW:g}, {VIEW:g}]^2; patterns in R: distinct "
          "activation patterns of R's vertices and of the test points in R)")
    print(f"{'claim (Balestriero & LeCun 2023)':<36} {'published':<24} {'ours':<34} verdict")
    ok1 = pol["regions_R"] == 1 and pol["patterns_R"] == 1
    print(f"{'POLICE net is affine on R':<36} {'1 region (by proof)':<24} "
          f"{str(pol['regions_R']) + ' region (vs ' + str(free['regions_R']) + ' unconstrained)':<34} "
          f"{'agrees' if ok1 else 'DISAGREES'}")
    gap = free["acc_out"] - pol["acc_out"]
    ok2 = pol["acc_out"] >= 0.93 and gap <= 0.05
    print(f"{'task still solved outside R':<36} {'yes (Fig. 1, no number)':<24} "
          f"{'test acc ' + format(pol['acc_out'], '.3f') + ' (vs ' + format(free['acc_out'], '.3f') + ')':<34} "
          f"{'agrees' if ok2 else 'DISAGREES'}")
    print("(task solved outside R: test accuracy outside R >= 0.93 and within 0.05 of the unconstrained net's)")
    print(f"inside R the POLICE net is one affine map, so its decision boundary there is one straight line; "
          f"test accuracy in R {pol['acc_in']:.3f} (unconstrained {free['acc_in']:.3f}): the rings are not "
          "linearly separable in R")
    plot(nets, rows, X, y, view_lo, view_hi, Path(args.out) / "police_affine_region.png")
    print(f"total time {time.time() - t0:.1f} s")
    return rows


def plot(nets: dict, rows: list, X, y, lo, hi, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.4), constrained_layout=True)
    for ax, (name, net), r in zip(axes, nets.items(), rows):
        p = rl.plane(net, np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0]), extent=(lo[0], hi[0], lo[1], hi[1]))
        p.plot(ax=ax, color="output", boundary=True, anchors=False, title=None, linewidth=0.15,
               vmin=-8, vmax=8)
        ax.scatter(X[:, 0], X[:, 1], c=np.where(y > 0, "C1", "C0"), s=3, lw=0, alpha=0.8, zorder=3)
        ax.add_patch(Rectangle(LOWER, *(UPPER - LOWER), fill=False, ec="lime", lw=2.2, zorder=4,
                               label=f"R: {r['regions_R']} linear region{'s' if r['regions_R'] != 1 else ''}"))
        ax.plot([], [], "k-", lw=2, label="decision boundary (exact)")
        ax.scatter([], [], c="C0", s=10, label="class 0")
        ax.scatter([], [], c="C1", s=10, label="class 1")
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel("x[0] (input units)")
        ax.set_ylabel("x[1] (input units)")
        ax.set_title(f"{name}: {p.n_regions} regions in view (rl.plane), "
                     f"test acc. outside R {r['acc_out']:.3f}", fontsize=10)
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.colorbar(axes[1].collections[0], ax=axes, label="logit (colour clipped at \u00b18)", shrink=0.9)
    fig.suptitle("Balestriero & LeCun (2023), POLICE: the trained net is one affine map on R (green box)")
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
