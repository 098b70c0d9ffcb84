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
* After training, the common claim (regions concentrate near the training data; e.g. the rise
  of local complexity around training points in A. I. Humayun, R. Balestriero, R. Baraniuk,
  "Deep Networks Always Grok and Here is Why", ICML 2024, who also see it fall again later)
  is that there are more regions on the data manifold than off it. No paper we know of makes
  this circle-in-R^16 measurement, so this is a test of the common claim, not of a published
  result. We measure the on/off ratio after training against its value at init, and how
  much training changed each measure on the manifold and at each distance from it.

Setup. The manifold is a circle of radius 1 in a random 2-plane of R^16 (a random
isometry), centred at a point 2 away from the origin in a direction normal to that plane,
so every point of it is equally far from the origin. Task: regression of sin(6 theta) on
1000 points at random angles theta. Network: 16 -> 64 -> 64 -> 1 ReLU, He-normal weights,
biases N(0, 0.1^2), trained with Adam (lr 3e-3, batch 50, MSE) for 200 epochs (quick: 60).
Off-manifold curves: the circle translated by delta in unit directions normal to the
manifold (orthogonal to its plane and to its centre's offset, so they stay parallel at
distance exactly delta), delta = 0.5, 1, 2, 4 (quick: 0.5, 2) radii, averaged over 4
(quick: 2) such directions.

Exact measurements (regionlab), three of them, because one direction is not enough:

1. Tangential density. Each closed curve is a polygon of 200 (quick: 100) chords;
   `rl.segment(net, a, b)` gives every region on each chord exactly, so the boundaries
   crossed along the curve are counted without sampling; density = boundaries per unit
   length. This counts only boundaries that cut the curve's tangent direction: a boundary
   running parallel to the manifold near it is never crossed.
2. Local complexity in the full neighbourhood. At 100 probe points per curve (equal
   angles; the manifold's points are used once per normal direction so that every offset
   has as many probes), `rl.local_complexity(net, X, radius=0.25, dim=2)` counts exactly
   the regions meeting the L1 ball of radius 0.25 in a random 2-D slice through each point
   (fixed per point, the same at init and after training). The radius is half the smallest
   offset, so no off-manifold neighbourhood reaches the manifold; a random 2-plane of R^16
   lies almost wholly in the normal directions, so this sees boundaries of any
   orientation, those parallel to the manifold included.
3. Normal density. At the same probe points, `rl.segment` on a segment of length 0.5
   centred on the point in a random direction normal to its curve (isotropic in the
   15-dimensional complement of the tangent; the same distribution on and off the
   manifold): boundaries per unit length across the manifold rather than along it.

The prediction at initialisation is `rl.bounds.expected_kinks_per_length(N, d,
weight_std, bias_std, at=x, direction=u)` (exact for the first layer; for the second
layer the same mean-field value, as at He initialisation its pre-activations and gradients
have the first layer's variances up to the small bias terms), averaged over the curve
(tangential) or over the probe points and their normal directions (normal).
`rl.plane` draws the regions on a plane through the manifold's centre, spanned by a
radius of the circle and a normal direction. "Concentrated" is decided per measure: within
1 radius of the manifold the on/off ratio after training is above 1 and at least 1.1
times its value at init (training raised the measure on the manifold 10% more than beside
it).

Result (seed 0; full run about 20 s single-threaded on a shared 2-core machine, quick about
5 s): at initialisation the tangential and normal densities on and off the manifold follow
the formula (they fall off the manifold only because the shifted curves lie farther from
the origin). After training none of the three measures concentrates on the manifold.
Along it, the density rises (x1.26) but more so off it (x1.3 to x1.7, growing with the
offset). In the full neighbourhood, training lowers local complexity (x0.70 on the
manifold, x0.65-0.71 within 1 radius, x0.90-1.02 at 2-4 radii) and the normal density
likewise (x0.75; x0.73-0.78; x0.89-0.96): within 1 radius the on/off ratios stay near 1
(1.02-1.05, against 0.97-1.06 at init), and farther out they fall, so the data's
surroundings become simpler relative to far away, not more complex. What training does near
the data is turn the boundaries: more crossings along the manifold, fewer across it. The
first layer's weights show a likely reason: training grows their components in the data's
span (x1.5) and leaves the normal ones about as they were, so each neuron's boundary turns
towards being perpendicular to the manifold. Local complexity on the manifold falls
over the first 100 epochs and rises again by epoch 200 (slightly more than beside it); this
may differ for real data manifolds, other optimisers or longer training (Humayun et al. see
local complexity near training points rise and then fall during training).

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
LC_DIM, LC_RADIUS, HALF = 2, 0.25, 0.25  # neighbourhood: 2-D slices of L1 radius 0.25; normal segments of length 0.5


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


def probes(P, c, normals, deltas, points: int, seed: int):
    """Sample points on the manifold and on each parallel curve, with random unit normal directions.

    Returns the offset of each point (0 = on the manifold), the points and, per point, a random
    unit direction normal to its curve (isotropic in the 15-dimensional complement of the
    tangent); on and off the manifold the points sit at the same angles and the directions
    have the same distribution.
    """
    rng = np.random.default_rng([seed, 4])
    theta = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    on = circle(P, c, theta)
    tang = -np.sin(theta)[:, None] * P[:, 0] + np.cos(theta)[:, None] * P[:, 1]
    offs, X = [np.zeros(points * len(normals))], [np.tile(on, (len(normals), 1))]  # as many as per offset
    for dl in deltas:
        for n in normals:
            offs.append(np.full(points, dl))
            X.append(on + dl * n)
    offs, X = np.concatenate(offs), np.concatenate(X)
    T = np.tile(tang, (len(X) // points, 1))
    V = rng.normal(size=X.shape)
    V -= np.sum(V * T, axis=1, keepdims=True) * T
    return offs, X, V / np.linalg.norm(V, axis=1, keepdims=True)


def neighbourhood(model, offs, X, V, seed: int) -> dict:
    """Per offset: mean exact local complexity (2-D slices) and mean density along normal segments."""
    net = rl.from_torch(model)
    lc = rl.local_complexity(net, X, radius=LC_RADIUS, dim=LC_DIM, seed=seed).n_regions
    kinks = np.array([rl.segment(net, x - HALF * v, x + HALF * v).n_regions - 1 for x, v in zip(X, V)])
    return {float(dl): {"lc": float(lc[offs == dl].mean()), "normal": float(kinks[offs == dl].mean() / (2 * HALF))}
            for dl in np.unique(offs)}


def predicted_normal(n: int, offs, X, V) -> dict:
    """Kac-Rice density of n He-initialised neurons at each probe point along its normal direction."""
    vals = np.array([rl.bounds.expected_kinks_per_length(n, D, weight_std=math.sqrt(2.0 / D), bias_std=BIAS_STD,
                                                         at=x, direction=v) for x, v in zip(X, V)])
    return {float(dl): float(vals[offs == dl].mean()) for dl in np.unique(offs)}


def run(seed: int, deltas, n_dirs: int, chords: int, epochs: int, checkpoints, points: int) -> dict:
    import torch

    P, c, normals = geometry(seed)
    on, off = curves(P, c, normals[:n_dirs], deltas, chords)
    offs, PX, PV = probes(P, c, normals[:n_dirs], deltas, points, seed)
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
            hist[epoch] = {"density": measure(model, on, off), "hood": neighbourhood(model, offs, PX, PV, seed),
                           "mse": mse}
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
    pred_normal = predicted_normal(n, offs, PX, PV)
    S = np.column_stack([P, c / np.linalg.norm(c)])  # the data's affine span, as directions from the origin
    W0, W1 = make_net(seed)[0].weight.detach().numpy(), model[0].weight.detach().numpy()
    weights = {"span0": np.linalg.norm(W0 @ S), "span1": np.linalg.norm(W1 @ S),
               "normal0": np.linalg.norm(W0 @ normals.T), "normal1": np.linalg.norm(W1 @ normals.T)}
    return {"hist": hist, "pred": pred, "pred_normal": pred_normal, "model": model, "P": P, "c": c,
            "normal": normals[0], "weights": weights}


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
        deltas, n_dirs, chords, epochs, nets, checkpoints, points = [0.5, 2.0], 2, 100, 60, 2, [0, 60], 100
    else:
        deltas, n_dirs, chords, epochs, nets, checkpoints, points = ([0.5, 1.0, 2.0, 4.0], 4, 200, 200, 3,
                                                                      [0, 10, 30, 100, 200], 100)
    print(f"regions on a data manifold: circle of radius 1 in R^{D} (random isometry, centre {OFFSET:g} from the "
          f"origin), target sin({FREQ} theta), net {D}-{WIDTH}-{WIDTH}-1 ReLU (He init, bias std {BIAS_STD:g}), "
          f"Adam {epochs} epochs; {nets} net(s), {n_dirs} normal directions per offset, {chords} chords per curve, "
          f"{points} probe points per curve")
    print("offset in radii of the circle (0 = on the manifold); on/off = value on the manifold / value at the "
          "offset; gain = trained / init; predicted = Hanin & Rolnick / Kac-Rice density at initialisation")
    runs = [run(args.seed * 100 + k, deltas, n_dirs, chords, epochs, checkpoints, points) for k in range(nets)]
    last = max(runs[0]["hist"])
    allds = [0.0] + deltas

    def avg(epoch, dl, key="density", sub=None):
        return float(np.mean([r["hist"][epoch][key][dl] if sub is None else r["hist"][epoch][key][dl][sub]
                              for r in runs]))

    pred = {dl: float(np.mean([r["pred"][dl] for r in runs])) for dl in allds}
    pred_n = {dl: float(np.mean([r["pred_normal"][dl] for r in runs])) for dl in allds}
    mse = float(np.mean([r["hist"][last]["mse"] for r in runs]))
    print("(1) tangential density: region boundaries crossed per unit length along the closed curve (exact, "
          "rl.segment on each chord); counts only the boundaries that cut the curve's tangent direction")
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
    print(f"(2) full neighbourhood of each probe point: LC = exact number of regions meeting a random {LC_DIM}-D "
          f"slice through it, the L1 ball of radius {LC_RADIUS:g} (rl.local_complexity, dim={LC_DIM}, "
          f"radius={LC_RADIUS:g}; a random slice of R^{D} lies almost wholly in the normal directions); normal = "
          f"boundaries per unit length on a segment of length {2 * HALF:g} centred on it in a random direction "
          f"normal to its curve (exact, rl.segment), with its predicted value at init")
    print(f"{'offset':>6} {'LC init':>8} {'LC trained':>10} {'LC on/off init':>14} {'LC on/off trained':>17} "
          f"{'LC gain':>7} {'nrm pred':>8} {'nrm init':>8} {'nrm trained':>11} {'nrm on/off init':>15} "
          f"{'nrm on/off trained':>18} {'nrm gain':>8}")
    hood = []
    for dl in allds:
        l0, l1 = avg(0, dl, "hood", "lc"), avg(last, dl, "hood", "lc")
        n0, n1 = avg(0, dl, "hood", "normal"), avg(last, dl, "hood", "normal")
        row = {"offset": dl, "lc_init": l0, "lc_trained": l1, "lc_ratio_init": avg(0, 0.0, "hood", "lc") / l0,
               "lc_ratio_trained": avg(last, 0.0, "hood", "lc") / l1, "lc_gain": l1 / l0,
               "nrm_pred": pred_n[dl], "nrm_init": n0, "nrm_trained": n1,
               "nrm_ratio_init": avg(0, 0.0, "hood", "normal") / n0,
               "nrm_ratio_trained": avg(last, 0.0, "hood", "normal") / n1, "nrm_gain": n1 / n0}
        hood.append(row)
        print(f"{dl:>6.2f} {l0:>8.3f} {l1:>10.3f} {row['lc_ratio_init']:>14.3f} {row['lc_ratio_trained']:>17.3f} "
              f"{row['lc_gain']:>7.3f} {pred_n[dl]:>8.3f} {n0:>8.3f} {n1:>11.3f} {row['nrm_ratio_init']:>15.3f} "
              f"{row['nrm_ratio_trained']:>18.3f} {row['nrm_gain']:>8.3f}", flush=True)
    epochs_seen = sorted(runs[0]["hist"])
    print("LC during training (on the manifold / nearest offset / farthest offset): " + ", ".join(
        f"epoch {e}: {avg(e, 0.0, 'hood', 'lc'):.2f} / {avg(e, deltas[0], 'hood', 'lc'):.2f} / "
        f"{avg(e, deltas[-1], 'hood', 'lc'):.2f}" for e in epochs_seen))
    print(f"trained: mean squared error {mse:.4f} (targets of variance 0.5)")
    sp0, sp1, no0, no1 = (float(np.mean([r["weights"][k] for r in runs]))
                          for k in ("span0", "span1", "normal0", "normal1"))
    print(f"first layer's weights: components in the data's span |W S| {sp0:.2f} -> {sp1:.2f}, normal to it "
          f"|W N| {no0:.2f} -> {no1:.2f} (init -> trained)")

    print("published at init (Tiwari & Konidaris; Hanin & Rolnick): density set by the curve's geometry through "
          "the first-order formula, on and off the manifold alike")
    worst = max(abs(math.log(r["init"] / r["predicted"])) for r in rows)
    worst_n = max(abs(math.log(h["nrm_init"] / h["nrm_pred"])) for h in hood)
    ok_init = max(worst, worst_n) < math.log(1.25)
    print(f"ours at init: measured / predicted within a factor {math.exp(worst):.3f} (tangential) and "
          f"{math.exp(worst_n):.3f} (normal) on and off the manifold; " + ("agrees" if ok_init else "DISAGREES"))
    print("common claim after training (regions concentrate near the data; no paper makes this measurement, and "
          "Humayun et al. see local complexity near training points rise and then fall): more regions on the "
          "manifold than off it, i.e. training raises the count more on the manifold than off it")
    near = [i for i, dl in enumerate(allds) if 0 < dl <= 1.0] or [1]
    # concentration in a measure: within 1 radius, training raised it on the manifold at least 10% more than at
    # each offset (the on/off ratio rose by that factor over its value at init) and on > off after training
    measures = {"tangential density": ("ratio_init", "ratio_trained", "gain", rows, ("density", None)),
                "local complexity": ("lc_ratio_init", "lc_ratio_trained", "lc_gain", hood, ("hood", "lc")),
                "normal density": ("nrm_ratio_init", "nrm_ratio_trained", "nrm_gain", hood, ("hood", "normal"))}

    def one(r, e, dl, key, sub):
        return r["hist"][e][key][dl] if sub is None else r["hist"][e][key][dl][sub]

    verdict, lifts = {}, {}
    for name, (ri, rt, gk, tab, (key, sub)) in measures.items():
        lift = [tab[i][rt] / tab[i][ri] for i in near]
        # the same lift net by net: (on/off trained) / (on/off init) = gain on the manifold / gain at the offset
        per_net = [(one(r, last, 0.0, key, sub) / one(r, 0, 0.0, key, sub))
                   / (one(r, last, allds[i], key, sub) / one(r, 0, allds[i], key, sub)) for r in runs for i in near]
        verdict[name] = all(tab[i][rt] > 1.0 and tab[i][rt] / tab[i][ri] > 1.1 for i in near)
        lifts[name] = lift
        print(f"ours after training, {name}: on/off ratio {min(tab[i][rt] for i in near):.3f}.."
              f"{max(tab[i][rt] for i in near):.3f} within 1 radius (at init {min(tab[i][ri] for i in near):.3f}.."
              f"{max(tab[i][ri] for i in near):.3f}; trained / init {min(lift):.3f}..{max(lift):.3f}, net by net "
              f"{min(per_net):.3f}..{max(per_net):.3f}), {tab[-1][rt]:.3f} at {allds[-1]:g} radii (at init "
              f"{tab[-1][ri]:.3f}); training multiplied it by {tab[0][gk]:.2f} on the manifold and "
              + ", ".join(f"{t[gk]:.2f} at {t['offset']:g}" for t in tab[1:]) + " radii off it; "
              + ("concentrated" if verdict[name] else "not concentrated"))
    print("(concentrated = within 1 radius the on/off ratio after training is above 1 and at least 1.1 times its "
          "value at init, i.e. training raised the measure on the manifold 10% more than near it)")
    hood_ok = verdict["local complexity"] and verdict["normal density"]
    hood_any = verdict["local complexity"] or verdict["normal density"]
    if hood_ok:
        print("ours: agrees in the full neighbourhood: after training local complexity and normal density on the "
              "manifold exceed their values near it by more than at init"
              + ("" if verdict["tangential density"] else "; the tangential density alone does not show it"))
    elif hood_any:
        print("ours: mixed: of the neighbourhood measures only the "
              + ("local complexity" if verdict["local complexity"] else "normal density")
              + " concentrates on the manifold; no clear concentration")
    else:
        lc0, lcn = hood[0]["lc_gain"], [h["lc_gain"] for h in hood if 0 < h["offset"] <= 1.0] or [hood[1]["lc_gain"]]
        print(f"ours: DISAGREES with concentration on the manifold, in the full neighbourhood as well as along it: "
              f"training changed local complexity by x{lc0:.2f} on the manifold and x{min(lcn):.2f}..x{max(lcn):.2f} "
              f"within 1 radius of it (x{hood[-1]['lc_gain']:.2f} at {allds[-1]:g} radii), so the neighbourhoods on "
              "the manifold hold no more regions, relative to init, than those beside it, and the data's "
              "surroundings became simpler relative to far away rather than more complex. Training did reorient "
              f"the boundaries near the data: tangential density x{rows[0]['gain']:.2f}, normal density "
              f"x{hood[0]['nrm_gain']:.2f} on the manifold, consistent with the first layer's weights above "
              "(components in the data's span grow, normal ones stay): boundaries turn towards being perpendicular "
              "to the manifold, cutting it more often and its normal directions less")
    print(f"(local complexity over epochs is printed above; Humayun et al. see it rise and then fall near training "
          f"points as training goes on; this verdict is for our one training budget, {epochs * 20} Adam steps)")
    plot(runs, rows, hood, allds, last, Path(args.out) / "regions_on_data_manifold.png")
    print(f"total {time.time() - t0:.1f} s")
    return rows, hood


def plot(runs, rows, hood, allds, last, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(17, 10), constrained_layout=True)
    epochs = sorted(runs[0]["hist"])
    cols = plt.cm.viridis(np.linspace(0.0, 0.9, len(epochs)))

    def curve(e, key, sub=None):
        return [np.mean([r["hist"][e][key][dl] if sub is None else r["hist"][e][key][dl][sub] for r in runs])
                for dl in allds]

    panels = [(axes[0, 0], ("density", None), [r["predicted"] for r in rows], "boundaries per unit length",
               "(a) Tangential density: along the manifold\n(offset 0) and parallel curves"),
              (axes[0, 1], ("hood", "normal"), [h["nrm_pred"] for h in hood], "boundaries per unit length",
               f"(b) Normal density: segments of length {2 * HALF:g}\nnormal to the curve through each point"),
              (axes[0, 2], ("hood", "lc"), None, "regions meeting the neighbourhood",
               f"(c) Local complexity: regions in a random {LC_DIM}-D slice\n(L1 ball of radius {LC_RADIUS:g}) "
               "through each point")]
    for ax, (key, sub), pred, ylab, title in panels:
        for e, col in zip(epochs, cols):
            ax.plot(allds, curve(e, key, sub), "o-", color=col, label=f"epoch {e}")
        if pred is not None:
            ax.plot(allds, pred, "k--", label="predicted at init")
        ax.set_xlabel("offset from the manifold (radii of the circle)")
        ax.set_ylabel(ylab)
        ax.set_title(title, fontsize=11)
        ax.set_ylim(0, None)
        ax.legend(fontsize=8)
    meas = [("tangential", "tab:blue", "o", [r["ratio_init"] for r in rows], [r["ratio_trained"] for r in rows],
             [r["gain"] for r in rows]),
            ("normal", "tab:orange", "s", [h["nrm_ratio_init"] for h in hood], [h["nrm_ratio_trained"] for h in hood],
             [h["nrm_gain"] for h in hood]),
            ("local complexity", "tab:green", "^", [h["lc_ratio_init"] for h in hood],
             [h["lc_ratio_trained"] for h in hood], [h["lc_gain"] for h in hood])]
    ax = axes[1, 0]
    for name, col, mk, ri, rt, _ in meas:
        ax.plot(allds[1:], ri[1:], mk + "--", color=col, mfc="white", label=f"{name}, init")
        ax.plot(allds[1:], rt[1:], mk + "-", color=col, label=f"{name}, trained")
    ax.plot(allds[1:], [r["ratio_pred"] for r in rows[1:]], "k:", label="tangential, predicted at init")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("offset from the manifold (radii of the circle)")
    ax.set_ylabel("value on the manifold / value at the offset")
    ax.set_title("(d) On/off ratios at init (open) and after training (filled)", fontsize=11)
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for name, col, mk, _, _, gain in meas:
        ax.plot(allds, gain, mk + "-", color=col, label=name)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("offset from the manifold (radii of the circle)")
    ax.set_ylabel("trained / init")
    ax.set_title("(e) Change from training at each offset\n(concentration: higher at offset 0 than near it)",
                 fontsize=11)
    ax.legend(fontsize=8)
    r0 = runs[0]
    ext = 1.0 + max(allds)
    part = rl.plane(rl.from_torch(r0["model"]), r0["c"], r0["P"][:, 0], r0["normal"], extent=(-ext, ext, -ext, ext))
    part.plot(ax=axes[1, 2], color="output", title=f"(f) trained net: {part.n_regions} regions on a plane")
    axes[1, 2].plot([-1, 1], [0, 0], "o", color="gold", mec="k", ms=9, label="the manifold (circle) crosses")
    axes[1, 2].set_xlabel("along a radius of the circle (radii)")
    axes[1, 2].set_ylabel("normal to the manifold (radii)")
    axes[1, 2].legend(fontsize=8, loc="upper right")
    fig.suptitle(f"Linear regions on a circle in R^{D} vs off it, at initialisation and after training (exact counts: "
                 "rl.segment, rl.local_complexity; mean of the nets)", fontsize=12)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
