"""Balestriero & Baraniuk (2022): batch normalisation adapts the partition to the data.

"Batch Normalization Explained" (R. Balestriero and R. G. Baraniuk, arXiv:2209.14778, 2022;
background: "The Geometry of Deep Networks: Power Diagram Subdivision", NeurIPS 2019). A
ReLU network is a continuous piecewise-affine spline; each unit's kink is a hyperplane (of
the layer's input) and the regions are cut by all of them. BatchNorm subtracts the batch
mean of each unit's pre-activation and divides by its standard deviation, so every unit's
hyperplane is moved to pass through the data (the batch centroid, in the layer's input
space). Claim: even with random weights, a network with BN has its region boundaries
concentrated near the training data, a network without BN does not.

Setup. Random MLPs (PyTorch's default initialisation, nothing trained), depth 3, width 32
on two moons (2-D) and width 64 on scikit-learn's bundled `load_digits` (8x8 images,
64-D, pixels scaled to [0, 1]; it stands in for the paper's MNIST/CIFAR). Each net is
taken twice with the same Linear weights: as is, and with `nn.BatchNorm1d` after every
hidden Linear (affine parameters at their initial 1 and 0). BN's statistics come from the
data: one pass of the whole data set in train mode with `momentum=None` (cumulative
average), then `model.eval()`, and `rl.from_torch` folds BN into the affine maps.
Measured exactly with regionlab at data points and at random points:

- `rl.local_complexity(net, X, radius=r)`: the number of linear regions meeting the
  neighbourhood `|y|_1 <= r` of each point (in the whole plane for the moons, in a random
  2-D slice through the point for digits), r = 0.1 x the data's RMS coordinate spread;
- `rl.distance_to_boundary(net, X)`: the exact distance from each point to the boundary
  of its own region;
- `rl.plane(net, ...)`: the exact partition of the 2-D box, drawn with the data on top.

Random points: uniform in the box three times the moons' bounding box (the picture's
extent); for digits uniform in the pixel cube [0, 1]^64 ("random images"). A profile
moves away from the data gradually: data + t * sigma * N(0, I) (sigma: the data's
per-coordinate standard deviation), t = 0 .. 4. Reported: ratios data / random of the
mean local complexity and of the mean distance, mean +- s.d. over the random nets. The
paper shows this qualitatively (pictures of 2-D partitions, statistics of the distance to
the boundary); the published column of the table states the claim, not a number.

Without BN the moons' ratios are already above 1 (PyTorch's default biases put the first
layer's lines near the origin, where the moons lie); BN doubles them. On digits, whose
data lie far from the origin, only BN concentrates the partition on the data.

Deviation: the paper's deep-network results use trained and convolutional nets on
CIFAR/ImageNet; here only random MLPs at small scale (the claim is stated for random
weights), with `load_digits` for the high-dimensional case.

    python examples/batchnorm_partition.py            # 8 random nets per case, all digits
    python examples/batchnorm_partition.py --quick    # 3 nets, 600 digits
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np

import regionlab as rl

PROFILE = (0.0, 0.5, 1.0, 2.0, 4.0)


def make_mlp(d: int, width: int, depth: int, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers, a = [], d
    for _ in range(depth):
        layers += [nn.Linear(a, width), nn.ReLU()]
        a = width
    layers.append(nn.Linear(a, 1))
    return nn.Sequential(*layers)


def with_batchnorm(model, X: np.ndarray):
    """The same Linear weights with BatchNorm1d after every hidden Linear, its statistics
    those of the whole data set (one train-mode pass, momentum=None), then eval()."""
    import torch
    from torch import nn

    layers = []
    mods = list(copy.deepcopy(model))
    for i, m in enumerate(mods):
        layers.append(m)
        if isinstance(m, nn.Linear) and i + 1 < len(mods):
            layers.append(nn.BatchNorm1d(m.out_features, momentum=None))
    bn = nn.Sequential(*layers)
    bn.train()
    with torch.no_grad():
        bn(torch.as_tensor(X, dtype=torch.float32))
    return bn.eval()


def datasets(quick: bool, seed: int) -> dict:
    from sklearn.datasets import load_digits, make_moons

    rng = np.random.default_rng(seed)
    Xm, _ = make_moons(300 if quick else 500, noise=0.08, random_state=seed)
    lo, hi = Xm.min(0), Xm.max(0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    box = (centre - 3 * half, centre + 3 * half)
    Xd = load_digits().data / 16.0
    if quick:
        Xd = Xd[rng.permutation(len(Xd))[:600]]
    return {
        "moons": dict(X=Xm, width=32, box=box, random=rng.uniform(*box, size=(len(Xm) * 4, 2)),
                      random_name="uniform, 3x bounding box"),
        "digits": dict(X=Xd, width=64, box=None, random=rng.uniform(0.0, 1.0, size=Xd.shape),
                       random_name="uniform in [0,1]^64"),
    }


def measure(net, X: np.ndarray, radius: float, seed: int) -> tuple[float, float]:
    lc = rl.local_complexity(net, X, radius=radius, seed=seed).n_regions.mean()
    dist = rl.distance_to_boundary(net, X).distance.mean()
    return float(lc), float(dist)


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--nets", type=int, default=None, help="random nets per case (default 8, quick 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    args = ap.parse_args(argv)
    n_nets = args.nets or (3 if args.quick else 8)
    t0 = time.time()
    data = datasets(args.quick, args.seed)
    rows, keep = [], {}
    print(f"random MLPs (depth 3, PyTorch init, untrained), {n_nets} nets per case; BN statistics "
          "from the data (train-mode pass, momentum=None), folded by rl.from_torch")
    print("digits: scikit-learn's load_digits (8x8, 64-D) stands in for the paper's image data")
    print(f"{'data':<7} {'BN':<4} {'LC data':>8} {'LC rand':>8} {'LC ratio':>13} "
          f"{'dist data':>10} {'dist rand':>10} {'dist ratio':>13}   random points")
    for name, ds in data.items():
        X, R = ds["X"], ds["random"]
        sd = X.std(0)
        radius = 0.1 * float(np.sqrt((sd ** 2).mean()))
        rng = np.random.default_rng([args.seed, 7])
        noise = rng.normal(size=X.shape) * sd
        for bn in (False, True):
            vals, prof = [], []
            for k in range(n_nets):
                model = make_mlp(X.shape[1], ds["width"], 3, seed=1000 * args.seed + k)
                if bn:
                    model = with_batchnorm(model, X)
                net = rl.from_torch(model)
                lcd, dd = measure(net, X, radius, k)
                lcr, dr = measure(net, R, radius, k)
                vals.append((lcd, lcr, lcd / lcr, dd, dr, dd / dr))
                prof.append([measure(net, X + t * noise, radius, k) for t in PROFILE])
                if k == 0 and ds["box"] is not None:
                    lo, hi = ds["box"]
                    keep[(name, bn)] = rl.plane(net, np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0]),
                                                extent=(lo[0], hi[0], lo[1], hi[1]))
            v = np.array(vals)
            prof = np.array(prof)  # (nets, t, 2)
            row = dict(data=name, bn=bn, lc_data=v[:, 0].mean(), lc_rand=v[:, 1].mean(),
                       lc_ratio=v[:, 2].mean(), lc_ratio_sd=v[:, 2].std(), dist_data=v[:, 3].mean(),
                       dist_rand=v[:, 4].mean(), dist_ratio=v[:, 5].mean(), dist_ratio_sd=v[:, 5].std(),
                       lc_profile=(prof[:, :, 0] / prof[:, :1, 0]).mean(0),
                       dist_profile=(prof[:, :, 1] / prof[:, :1, 1]).mean(0), radius=radius)
            rows.append(row)
            print(f"{name:<7} {'yes' if bn else 'no':<4} {row['lc_data']:>8.2f} {row['lc_rand']:>8.2f} "
                  f"{row['lc_ratio']:>7.2f}+-{row['lc_ratio_sd']:<4.2f} {row['dist_data']:>10.2e} "
                  f"{row['dist_rand']:>10.2e} {row['dist_ratio']:>7.2f}+-{row['dist_ratio_sd']:<4.2f}   "
                  f"{ds['random_name']}", flush=True)
    print()
    print("moving away from the data: x + t*sigma*noise; mean LC and mean distance relative to t = 0")
    print(f"{'data':<7} {'BN':<4} " + " ".join(f"{'LC t=' + format(t, 'g'):>9}" for t in PROFILE) + " "
          + " ".join(f"{'d t=' + format(t, 'g'):>9}" for t in PROFILE))
    for r in rows:
        print(f"{r['data']:<7} {'yes' if r['bn'] else 'no':<4} " + " ".join(f"{x:>9.2f}" for x in r["lc_profile"])
              + " " + " ".join(f"{x:>9.2f}" for x in r["dist_profile"]))
    print()
    print(f"{'claim (Balestriero & Baraniuk 2022)':<58} {'ours':<40} verdict")
    for name in data:
        nb, wb = [r for r in rows if r["data"] == name]
        lc_ok = wb["lc_ratio"] > 1 and wb["lc_ratio"] > nb["lc_ratio"]
        d_ok = wb["dist_ratio"] < 1 and wb["dist_ratio"] < nb["dist_ratio"]
        lc = f"LC ratio {wb['lc_ratio']:.2f} (BN) vs {nb['lc_ratio']:.2f} (no BN)"
        dist = f"dist ratio {wb['dist_ratio']:.2f} (BN) vs {nb['dist_ratio']:.2f} (no BN)"
        print(f"{name + ': with BN, more regions near data than at random':<58} {lc:<40} "
              f"{'agrees' if lc_ok else 'DISAGREES'}")
        print(f"{name + ': with BN, boundaries closer to data than at random':<58} {dist:<40} "
              f"{'agrees' if d_ok else 'DISAGREES'}")
    print("note: without BN the moons' ratios already favour the data: PyTorch's default biases put the "
          "first layer's lines near the origin, where the moons lie too; on digits, far from the "
          "origin, the ratios without BN are about 1 (no concentration)")
    plot(rows, keep, data, Path(args.out) / "batchnorm_partition.png")
    print(f"total time {time.time() - t0:.1f} s")
    return rows


def plot(rows: list, planes: dict, data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13.5, 8.6), constrained_layout=True)
    gs = fig.add_gridspec(2, 6)
    X = data["moons"]["X"]
    lo, hi = data["moons"]["box"]
    for j, bn in enumerate((False, True)):
        ax = fig.add_subplot(gs[0, 3 * j:3 * j + 3])
        p = planes[("moons", bn)]
        p.plot(ax=ax, color="pattern", boundary=False, anchors=False, title=None, linewidth=0.1)
        regions = ax.collections[0]  # one polygon per region: recolour by log10(area)
        regions.set_array(np.log10(p.areas))
        regions.set_cmap("viridis")
        regions.set_clim(-5, 0)
        ax.scatter(X[:, 0], X[:, 1], s=3, c="orangered", alpha=0.7, lw=0, label="data (two moons)", zorder=3)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel("x[0] (input units)")
        ax.set_ylabel("x[1] (input units)")
        ax.set_title(f"random 2-32-32-32-1 ReLU net {'with' if bn else 'without'} BatchNorm: "
                     f"{p.n_regions} regions (exact, rl.plane)", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(regions, ax=ax, label="log10 region area (input units^2)")
    ax = fig.add_subplot(gs[1, 0:2])
    labels = [f"{r['data']}\n{'BN' if r['bn'] else 'no BN'}" for r in rows]
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["lc_ratio"] for r in rows], 0.4, yerr=[r["lc_ratio_sd"] for r in rows], capsize=3,
           label="local complexity: data / random")
    ax.bar(x + 0.2, [r["dist_ratio"] for r in rows], 0.4, yerr=[r["dist_ratio_sd"] for r in rows], capsize=3,
           label="distance to boundary: data / random")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, labels)
    ax.set_yscale("log")
    ax.set_yticks([0.2, 0.5, 1, 2, 5], ["0.2", "0.5", "1", "2", "5"])
    top = max(r["lc_ratio"] + r["lc_ratio_sd"] for r in rows)
    ax.set_ylim(top=top * 2.5)  # room for the legend above the tallest bar
    ax.minorticks_off()
    ax.set_ylabel("ratio data / random points (log)")
    ax.set_title("data vs random points (mean \u00b1 s.d. over nets)", fontsize=10)
    ax.legend(fontsize=8)
    for k, (key, ylabel) in enumerate((("lc_profile", "mean local complexity / at data"),
                                       ("dist_profile", "mean distance to boundary / at data"))):
        ax = fig.add_subplot(gs[1, 2 + 2 * k:4 + 2 * k])
        for r in rows:
            ax.plot(PROFILE, r[key], "-o" if r["bn"] else "--s", color="C0" if r["data"] == "moons" else "C3",
                    label=f"{r['data']}, {'BN' if r['bn'] else 'no BN'}")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xlabel("t: noise scale away from the data (in data s.d.)")
        ax.set_ylabel(ylabel)
        ax.set_title("moving away from the data", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Balestriero & Baraniuk (2022): BatchNorm moves the partition onto the data, even at "
                 "random weights")
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
