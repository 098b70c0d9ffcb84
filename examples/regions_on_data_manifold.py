"""Linear regions on a data manifold against off it, at initialisation and after training.

References and claims tested.

* At initialisation (S. Tiwari, G. Konidaris, "Effects of Data Geometry in Early Deep
  Learning", NeurIPS 2022, extending B. Hanin, D. Rolnick, ICML 2019): the density of
  region boundaries along a curve is set by the curve's geometry through Hanin & Rolnick's
  formula, the sum over neurons of `E[|grad z . u| rho_bz(z(x) - b_z)]` at each point `x`
  of the curve with unit tangent `u`; nothing singles out the data manifold. So on the
  manifold and on parallel curves off it the densities differ only as this formula says
  (here: by the points' distance from the origin). We do not reproduce a specific figure of
  theirs (they use a tractrix, a sphere and MetFaces); we test this statement.
* After training, the claim often made (regions concentrate near the training data, e.g.
  the rise of local complexity around training points in A. I. Humayun, R. Balestriero,
  R. Baraniuk, "Deep Networks Always Grok and Here is Why", ICML 2024) is that the density
  on the data manifold becomes higher than off it. We know of no paper with this exact
  circle-in-R^16 measurement; we test that statement. We measure the on/off ratio after training and, separately, how much training
  raised the density on the manifold and at each distance from it.

Setup. The manifold is a circle of radius 1 in a random 2-plane of R^16 (a random
isometry), centred at a point 2 away from the origin in a direction normal to that plane,
so every point of it is equally far from the origin. Task: regression of sin(6 theta) on
1000 points at random angles theta. Network: 16 -> 64 -> 64 -> 1 ReLU, He-normal weights,
biases N(0, 0.1^2), trained with Adam (lr 3e-3, batch 50, MSE) for 200 epochs (quick: 60).
Off-manifold curves: the circle translated by delta in unit directions normal to the
manifold (orthogonal to its plane and to its centre's offset, so they stay parallel at
distance exactly delta), delta = 0.5, 1, 2, 4 (quick: 0.5, 2) radii, averaged over 4
(quick: 2) such directions.

Exact measurement (regionlab). Each closed curve is a polygon of 200 (quick: 100) chords;
`rl.segment(net, a, b)` gives every region on each chord exactly, so the boundaries
crossed along the curve are counted without sampling; density = boundaries per unit
length. The prediction at initialisation is `rl.bounds.expected_kinks_per_length(N, d,
weight_std, bias_std, at=x, direction=u)` (exact for the first layer; for the second
layer the same mean-field value, as at He initialisation its pre-activations and gradients
have the first layer's variances up to the small bias terms), averaged over the curve.
`rl.plane` draws the regions on a plane through the manifold's centre, spanned by a
radius of the circle and a normal direction.

Result (seed 0; full run about 40 s single-threaded on a shared 2-core machine, quick about
10 s): at initialisation the densities on and off the manifold follow the formula (they
fall off the manifold only because the shifted curves lie farther from the origin). After
training the density on the manifold rises (x1.26), but more so off it (x1.3 to x1.7,
growing with the offset): within 1 radius the parallel curves cross as many boundaries as
the manifold (on/off ratio 0.99-1.00) and at every offset the ratio is below its value at
initialisation. So in this setting the regions do not concentrate on the data manifold;
they stretch along its normal directions. The script says so, and prints the first
layer's weights in and normal to the data's span, which show a likely reason: training
grows the components in the span (x1.5) and leaves the normal ones about as they were.
This may differ for real data manifolds, other optimisers or longer training (Humayun et
al. see local complexity near training points rise and then fall during training).

    python examples/regions_on_data_manifold.py            # 3 nets, 4 offsets, 200 epochs
    python examples/regions_on_data_manifold.py --quick    # 2 nets, 2 offsets, 60 epochs
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import regionlab as rl

D, WIDTH, DEPTH, BIAS_STD, FREQ, OFFSET = 16, 64, 2, 0.1, 6, 2.0


def geometry(seed: int):
    """Orthonormal frame: the circle's plane P (D, 2), its centre c, normal directions (D - 3, D)."""
    rng = np.random.default_rng([seed, 1])
    Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    return Q[:, :2], OFFSET * Q[:, 2], Q[:, 3:].T


def circle(P, c, theta):
    return c + np.cos(theta)[:, None] * P[:, 0] + np.sin(theta)[:, None] * P[:, 1]


def density(net, pts: np.ndarray) -> float:
    """Region boundaries crossed per unit length along the closed polygon pts (exact)."""
    kinks = sum(rl.segment(net, pts[i], pts[i + 1]).n_regions - 1 for i in range(len(pts) - 1))
    return kinks / float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def predicted_density(n: int, pts: np.ndarray) -> float:
    """Hanin & Rolnick / Kac-Rice density of n He-initialised neurons, averaged over the polygon."""
    mids, tang = 0.5 * (pts[1:] + pts[:-1]), np.diff(pts, axis=0)
    lens = np.linalg.norm(tang, axis=1)
    vals = [rl.bounds.expected_kinks_per_length(n, D, weight_std=math.sqrt(2.0 / D), bias_std=BIAS_STD,
                                                at=x, direction=u) for x, u in zip(mids, tang)]
    return float(np.dot(vals, lens) / lens.sum())


def make_net(seed: int):
    import torch

    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 2]).generate_state(1)[0]))
    layers, fan = [], D
    for _ in range(DEPTH):
        lin = torch.nn.Linear(fan, WIDTH)
        with torch.no_grad():
            lin.weight.normal_(0.0, math.sqrt(2.0 / fan), generator=g)
            lin.bias.normal_(0.0, BIAS_STD, generator=g)
        layers += [lin, torch.nn.ReLU()]
        fan = WIDTH
    out = torch.nn.Linear(fan, 1)
    with torch.no_grad():
        out.weight.normal_(0.0, math.sqrt(1.0 / fan), generator=g)
        out.bias.zero_()
    return torch.nn.Sequential(*layers, out)


def curves(P, c, normals, deltas, chords):
    theta = np.linspace(0.0, 2 * np.pi, chords + 1)
    on = circle(P, c, theta)
    return on, {dl: [on + dl * n for n in normals] for dl in deltas}


def measure(model, on, off) -> dict:
    net = rl.from_torch(model)
    res = {0.0: density(net, on)}
    for dl, cs in off.items():
        res[dl] = float(np.mean([density(net, cv) for cv in cs]))
    return res


def run(seed: int, deltas, n_dirs: int, chords: int, epochs: int, checkpoints) -> dict:
    import torch

    P, c, normals = geometry(seed)
    on, off = curves(P, c, normals[:n_dirs], deltas, chords)
    rng = np.random.default_rng([seed, 3])
    theta = rng.uniform(0.0, 2 * np.pi, 1000)
    X = torch.tensor(circle(P, c, theta), dtype=torch.float32)
    Y = torch.tensor(np.sin(FREQ * theta), dtype=torch.float32)
    model = make_net(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    hist = {}
    for epoch in range(epochs + 1):
        if epoch in checkpoints or epoch == epochs:
            with torch.no_grad():
                mse = float(((model(X).squeeze(1) - Y) ** 2).mean())
            hist[epoch] = {"density": measure(model, on, off), "mse": mse}
        if epoch == epochs:
            break
        for idx in torch.randperm(len(X), generator=g).split(50):
            opt.zero_grad()
            ((model(X[idx]).squeeze(1) - Y[idx]) ** 2).mean().backward()
            opt.step()
    n = DEPTH * WIDTH
    pred = {0.0: predicted_density(n, on)}
    for dl, cs in off.items():
        pred[dl] = float(np.mean([predicted_density(n, cv) for cv in cs]))
    S = np.column_stack([P, c / np.linalg.norm(c)])  # the data's affine span, as directions from the origin
    W0, W1 = make_net(seed)[0].weight.detach().numpy(), model[0].weight.detach().numpy()
    weights = {"span0": np.linalg.norm(W0 @ S), "span1": np.linalg.norm(W1 @ S),
               "normal0": np.linalg.norm(W0 @ normals.T), "normal1": np.linalg.norm(W1 @ normals.T)}
    return {"hist": hist, "pred": pred, "model": model, "P": P, "c": c, "normal": normals[0], "weights": weights}


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    if args.quick:
        deltas, n_dirs, chords, epochs, nets, checkpoints = [0.5, 2.0], 2, 100, 60, 2, [0, 60]
    else:
        deltas, n_dirs, chords, epochs, nets, checkpoints = [0.5, 1.0, 2.0, 4.0], 4, 200, 200, 3, [0, 10, 30, 100, 200]
    print(f"regions on a data manifold: circle of radius 1 in R^{D} (random isometry, centre {OFFSET:g} from the "
          f"origin), target sin({FREQ} theta), net {D}-{WIDTH}-{WIDTH}-1 ReLU (He init, bias std {BIAS_STD:g}), "
          f"Adam {epochs} epochs; {nets} net(s), {n_dirs} normal directions per offset, {chords} chords per curve")
    print("density = region boundaries crossed per unit length (exact, rl.segment); predicted = Hanin & Rolnick / "
          "Kac-Rice density at initialisation; offset in radii (0 = on the manifold)")
    runs = [run(args.seed * 100 + k, deltas, n_dirs, chords, epochs, checkpoints) for k in range(nets)]
    last = max(runs[0]["hist"])
    allds = [0.0] + deltas

    def avg(epoch, dl):
        return float(np.mean([r["hist"][epoch]["density"][dl] for r in runs]))

    pred = {dl: float(np.mean([r["pred"][dl] for r in runs])) for dl in allds}
    mse = float(np.mean([r["hist"][last]["mse"] for r in runs]))
    print(f"{'offset':>6} {'predicted':>9} {'init':>7} {'init/pred':>9} {'on/off init':>11} {'pred ratio':>10} "
          f"{'trained':>8} {'on/off trained':>14} {'gain':>6}")
    rows = []
    for dl in allds:
        i0, i1 = avg(0, dl), avg(last, dl)
        row = {"offset": dl, "predicted": pred[dl], "init": i0, "trained": i1,
               "ratio_init": avg(0, 0.0) / i0, "ratio_pred": pred[0.0] / pred[dl],
               "ratio_trained": avg(last, 0.0) / i1, "gain": i1 / i0}
        rows.append(row)
        print(f"{dl:>6.2f} {pred[dl]:>9.3f} {i0:>7.3f} {i0 / pred[dl]:>9.3f} {row['ratio_init']:>11.3f} "
              f"{row['ratio_pred']:>10.3f} {i1:>8.3f} {row['ratio_trained']:>14.3f} {row['gain']:>6.3f}", flush=True)
    print(f"trained: mean squared error {mse:.4f} (targets of variance 0.5)")
    far = rows[-1]
    print("published at init (Tiwari & Konidaris; Hanin & Rolnick): density set by the curve's geometry through "
          "the first-order formula")
    worst = max(abs(math.log(r["init"] / r["predicted"])) for r in rows)
    print(f"ours at init: measured / predicted within a factor {math.exp(worst):.3f} on and off the manifold; "
          + ("agrees" if worst < math.log(1.25) else "DISAGREES"))
    print("published after training (regions concentrate near the data): density on the manifold above the "
          "density off it, i.e. training raises it more on the manifold than off it")
    near = [r for r in rows if 0 < r["offset"] <= 1.0] or rows[1:2]
    print(f"ours after training: on/off ratio {min(r['ratio_trained'] for r in near):.3f}.."
          f"{max(r['ratio_trained'] for r in near):.3f} within 1 radius of the manifold, "
          f"{far['ratio_trained']:.3f} at {far['offset']:g} radii (at init {far['ratio_init']:.3f}); "
          f"training raised the density x{rows[0]['gain']:.2f} on the manifold and "
          + ", ".join(f"x{r['gain']:.2f} at {r['offset']:g}" for r in rows[1:]) + " radii off it")
    sp0, sp1, no0, no1 = (float(np.mean([r["weights"][k] for r in runs])) for k in ("span0", "span1", "normal0", "normal1"))
    print(f"first layer's weights: components in the data's span |W S| {sp0:.2f} -> {sp1:.2f}, normal to it "
          f"|W N| {no0:.2f} -> {no1:.2f} (init -> trained)")
    concentrated = all(r["ratio_trained"] > 1.1 and r["ratio_trained"] > r["ratio_init"] for r in near)
    if concentrated:
        print("ours: agrees: after training the density on the manifold exceeds the density near it")
    else:
        print("ours: DISAGREES with concentration on the manifold: training raised the density off the manifold "
              "at least as much as on it, so curves parallel to the manifold within 1 radius cross as many "
              "boundaries as the manifold itself and the on/off ratio falls below its value at init. A likely "
              "reason, shown by the weights above: training grows the first layer's components in the data's span "
              "and leaves the normal ones about as they were, so each neuron's boundary turns towards being "
              "perpendicular to the manifold and stretches along the normal directions")
    plot(runs, rows, allds, last, Path(args.out) / "regions_on_data_manifold.png")
    print(f"total {time.time() - t0:.1f} s")
    return rows


def plot(runs, rows, allds, last, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    ax = axes[0]
    epochs = sorted(runs[0]["hist"])
    cols = plt.cm.viridis(np.linspace(0.0, 0.9, len(epochs)))
    for e, col in zip(epochs, cols):
        ax.plot(allds, [np.mean([r["hist"][e]["density"][dl] for r in runs]) for dl in allds], "o-", color=col,
                label=f"epoch {e}")
    ax.plot(allds, [r["predicted"] for r in rows], "k--", label="predicted at init")
    ax.set_xlabel("offset from the manifold (radii of the circle)")
    ax.set_ylabel("region boundaries per unit length")
    ax.set_title("Density along the manifold (offset 0) and parallel curves")
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(allds[1:], [r["ratio_init"] for r in rows[1:]], "o-", color=cols[0], label="on / off, init")
    ax.plot(allds[1:], [r["ratio_pred"] for r in rows[1:]], "k--", label="on / off, predicted at init")
    ax.plot(allds[1:], [r["ratio_trained"] for r in rows[1:]], "s-", color=cols[-1], label="on / off, trained")
    ax.plot(allds[1:], [r["gain"] for r in rows[1:]], "^:", color="tab:red", label="trained / init (off)")
    ax.axhline(rows[0]["gain"], color="tab:red", lw=1, ls="-.", label="trained / init (on the manifold)")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("offset from the manifold (radii of the circle)")
    ax.set_ylabel("ratio of densities")
    ax.set_title("On/off ratios and the gain from training")
    ax.legend(fontsize=8)
    r0 = runs[0]
    ext = 1.0 + max(allds)
    part = rl.plane(rl.from_torch(r0["model"]), r0["c"], r0["P"][:, 0], r0["normal"], extent=(-ext, ext, -ext, ext))
    part.plot(ax=axes[2], color="output", title=f"trained net: {part.n_regions} regions on the plane")
    axes[2].plot([-1, 1], [0, 0], "o", color="gold", mec="k", ms=9, label="the manifold (circle) crosses")
    axes[2].set_xlabel("along a radius of the circle (radii)")
    axes[2].set_ylabel("normal to the manifold (radii)")
    axes[2].legend(fontsize=8, loc="upper right")
    fig.suptitle("Linear regions on a circle in R^16 vs parallel curves off it (exact counts, rl.segment)",
                 fontsize=12)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
