"""Tseran & Montúfar (2021): the expected number of regions of maxout networks at initialisation.

Paper: H. Tseran, G. Montúfar, "On the Expected Complexity of Maxout Networks", NeurIPS
2021 (arXiv:2107.00379; reference code github.com/hanna-tseran/maxout_complexity).

Claim reproduced: for maxout networks with generic random parameters (here the paper's
"maxout-He" normal initialisation) the expected number of activation regions in a cube
of input space is bounded by a formula polynomial in the total number of units N and the
rank K, of degree n_0 (the input dimension) in N and independent of the depth,

    E[#regions in C] <= (T K N)^{n_0} C(K n_0, 2 n_0) vol(C) / n_0!,   T = 2^5 C_grad C_bias

(``rl.bounds.tseran_montufar_upper``); in practice the count is of the order of
N^{n_0} / n_0! (``rl.bounds.tseran_montufar_order``) -- far below the maximum number of
regions (``rl.bounds.serra_maxout_upper``), which grows exponentially with depth.

Setup: n_0 = 1 and n_0 = 2 inputs, the cube [-3, 3]^{n_0} (the authors' default), rank
K in {2, 3, 5}, depth L in {1, 2, 3} with N units in total split evenly over the layers
(the authors' ``get_hidden_layer_sizes``), N in {12, 24, 48, 96} (quick: fewer); weights
and biases of a layer with fan-in m drawn N(0, c_K / m), c_K = 1 / E[(max of K standard
normals)^2] (maxout-He: c_2 = 1, c_3 = 2 pi / (sqrt 3 + 2 pi), c_5 ~ 0.555). Regions are
counted exactly: ``rl.segment`` on [-3, 3] for n_0 = 1, ``rl.regions`` on the square for
n_0 = 2 (every activation region, however small), over many independent initialisations
(mean +- standard error). The bound's constants: C_bias = 1 / (sqrt(2 pi) s_min) (s_min
the smallest bias std over the layers) and C_grad = the largest, over a grid of the cube,
of the mean norm of the pre-activation features' input gradients, averaged over 10 nets
(computed exactly per region with ``regionlab.input_gradients.input_gradients`` on the
nets' prefixes). This is close to the authors' practice but not the same: their
``estimate_c_grad`` takes, for each hidden unit, only the gradient of its winning
feature (the argmax taken in a forward pass without the biases), adds the output unit's
gradient norm, divides by the number of hidden units, and takes the grid maximum of one
net; here every feature of every hidden unit counts, at the true pre-activations, no
output unit. Either way C_grad is of order one and the bound stays two to three orders of
magnitude above the counts (the printed mean/bound), so the difference does not affect
any verdict. For one layer and n_0 = 1 the expectation is known exactly
(``rl.bounds.maxout_expected_kinks_on_segment``, a Kac-Rice computation: not in the
paper), which checks the counts. The constant in front of ``N^{n_0} / n_0!`` is not
given by the paper and grows with K: for one layer it is ``P_K`` times a K-free factor
for n_0 = 1, and for n_0 = 2 the number of regions is ``1 + N a_K + C(N, 2) I_K`` with
``I_K`` the expected crossings of two units' boundaries, ``I_K = P_K^2 I_2`` (ours: on
every line a unit's kink density is ``P_K`` times a rank-2 unit's, so its boundary's
length-and-direction density is too, and crossings of independent units multiply), where
``P_K = C(K, 2) E[Phi(Y)^(K-2)]`` (1, 1.5, 2.06 for K = 2, 3, 5). So rank-K / rank-2
counts approach ``P_K^2`` as N grows (from below by O(1/N)); the script checks this.

Measured (seed 0, 2-core machine shared with other jobs): full run 46-73 s, quick
about 6 s.

Deviations: smaller N (the paper goes to a few hundred units) and, for the deepest
settings, a handful of units per layer. The quick mode counts n_0 = 2 only at N = 24, 48:
at N = 12 a 3-layer net has 4 units per layer, where the growth exponent is not yet
visible (the full run includes N = 12 and fits the exponent over all four N).

    python examples/maxout_complexity.py            # N up to 96, 200 / 40 nets per setting
    python examples/maxout_complexity.py --quick    # n0 = 1: N = 12..48, 60 nets; n0 = 2: N = 24, 48, 16 nets
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import regionlab as rl
from regionlab import input_gradients
from regionlab.net import PLNet, Stage

HALF = 3.0  # the cube [-3, 3]^{n0}
RANKS = (2, 3, 5)
DEPTHS = (1, 2, 3)


def maxout_he_c(K: int) -> float:
    """c_K = 1 / E[M^2], M the largest of K standard normals (E[M^2] = int z^2 K phi Phi^(K-1))."""
    z = np.linspace(-12.0, 12.0, 48001)
    phi = np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in z]))
    f = z * z * K * phi * Phi ** (K - 1)
    return 1.0 / float(np.sum((f[1:] + f[:-1]) / 2) * (z[1] - z[0]))


def layer_widths(N: int, depth: int) -> list[int]:
    w = [N // depth] * depth
    for i in range(N - sum(w)):
        w[i] += 1
    return w


def random_net(rng, d: int, K: int, widths: list[int], c: float) -> tuple[PLNet, list[float]]:
    ws, bs, stds = [], [], []
    fan = d
    for w in widths:
        s = math.sqrt(c / fan)
        ws.append(rng.normal(0.0, s, (w * K, fan)))
        bs.append(rng.normal(0.0, s, w * K))
        stds.append(s)
        fan = w
    ws.append(rng.normal(0.0, math.sqrt(2.0 / fan), (1, fan)))
    bs.append(np.zeros(1))
    return PLNet.from_arrays(ws, bs, [("maxout", K)] * len(widths) + ["identity"]), stds


def count_regions(net: PLNet, d: int) -> int:
    if d == 1:
        return len(rl.segment(net, [-HALF], [HALF]).breakpoints) - 1
    return rl.regions(net, [-HALF] * d, [HALF] * d, volumes=False).n_regions


def feature_gradient_norms(net: PLNet, grid: np.ndarray) -> np.ndarray:
    """Mean over every pre-activation feature zeta_{z,k} of |grad_x zeta| at each grid point."""
    total = np.zeros(len(grid))
    count = 0
    stages = net.stages[:-1]
    for layer, st in enumerate(stages):
        prefix = PLNet(list(stages[:layer]) + [Stage(st.weight, st.bias, np.ones(st.affine_features))])
        J = input_gradients(prefix, grid)  # (points, K * n_l, d): every feature's gradient
        total += np.linalg.norm(J, axis=2).sum(axis=1)
        count += J.shape[1]
    return total / count


def setting(d: int, K: int, depth: int, N: int, nets: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, d, K, depth, N])
    widths = layer_widths(N, depth)
    c = maxout_he_c(K)
    g = np.linspace(-HALF, HALF, 61 if d == 1 else 11)
    grid = g[:, None] if d == 1 else np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    counts, grad_sum, stds = [], np.zeros(len(grid)), None
    n_grad = min(nets, 10)
    for i in range(nets):
        net, stds = random_net(rng, d, K, widths, c)
        counts.append(count_regions(net, d))
        if i < n_grad:
            grad_sum += feature_gradient_norms(net, grid)
    counts = np.array(counts, dtype=float)
    c_grad = float((grad_sum / n_grad).max())
    c_bias = 1.0 / (math.sqrt(2 * math.pi) * min(stds))
    row = {"d": d, "K": K, "depth": depth, "N": N, "widths": widths,
           "mean": counts.mean(), "se": counts.std(ddof=1) / math.sqrt(nets), "nets": nets,
           "c_grad": c_grad, "c_bias": c_bias,
           "bound": rl.bounds.tseran_montufar_upper(N, d, K, c_grad=c_grad, c_bias=c_bias,
                                                    volume=(2 * HALF) ** d),
           "order": rl.bounds.tseran_montufar_order(N, d),
           "order_K": rl.bounds.tseran_montufar_order(N, d, K),
           "max": rl.bounds.serra_maxout_upper(widths, d, K),
           "exact": math.nan}
    if d == 1 and depth == 1:
        s = math.sqrt(c / 1)
        row["exact"] = 1 + rl.bounds.maxout_expected_kinks_on_segment(N, [-HALF], [HALF], rank=K,
                                                                      weight_std=s, bias_std=s)
    return row


def slope(rows: list) -> float:
    x = np.log([r["N"] for r in rows])
    y = np.log([r["mean"] for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.quick:
        plan = {1: ([12, 24, 48], 60), 2: ([24, 48], 16)}
    else:
        plan = {1: ([12, 24, 48, 96], 200), 2: ([12, 24, 48, 96], 40)}
    print("maxout nets at maxout-He initialisation: exact number of activation regions in [-3, 3]^n0 "
          "(mean +- s.e. over random nets)")
    print("exact1 = exact expectation for one layer (n0 = 1); N^n0/n0! and order_K = Tseran & Montufar's "
          "growth orders; bound = their upper bound on the expectation; max = serra_maxout_upper")
    head = (f"{'n0':>2} {'K':>2} {'L':>2} {'N':>3} {'widths':>10} {'nets':>4} {'mean':>9} {'se':>6} {'exact1':>8} "
            f"{'N^n0/n0!':>9} {'order_K':>9} {'bound':>9} {'max':>9} {'mean/max':>9}")
    print(head)
    rows = []
    for d, (Ns, nets) in plan.items():
        for K in RANKS:
            for depth in DEPTHS:
                for N in Ns:
                    r = setting(d, K, depth, N, nets, args.seed)
                    rows.append(r)
                    ex = "-" if math.isnan(r["exact"]) else f"{r['exact']:.2f}"
                    print(f"{d:>2} {K:>2} {depth:>2} {N:>3} {'-'.join(map(str, r['widths'])):>10} {nets:>4} "
                          f"{r['mean']:>9.2f} {r['se']:>6.2f} {ex:>8} {r['order']:>9.4g} {r['order_K']:>9.3g} "
                          f"{r['bound']:>9.3g} {float(r['max']):>9.3g} {r['mean'] / r['max']:>9.2e}", flush=True)
    print()
    print("growth with N (least-squares slope of log mean vs log N; the paper: n0) and depth effect "
          "(mean at depth 3 / depth 1, largest N)")
    print(f"{'n0':>2} {'K':>2} {'slope_L1':>8} {'slope_L2':>8} {'slope_L3':>8} {'L3/L1':>6}")
    summary = []
    for d in plan:
        for K in RANKS:
            sel = {L: [r for r in rows if r["d"] == d and r["K"] == K and r["depth"] == L] for L in DEPTHS}
            slopes = [slope(sel[L]) for L in DEPTHS]
            ratio = sel[3][-1]["mean"] / sel[1][-1]["mean"]
            summary.append({"d": d, "K": K, "slopes": slopes, "ratio": ratio})
            print(f"{d:>2} {K:>2} " + " ".join(f"{s:>8.2f}" for s in slopes) + f" {ratio:>6.2f}")
    print()
    below = max(r["mean"] / r["bound"] for r in rows)
    deep = [r for r in rows if r["depth"] == 3 and r["N"] >= 24]
    far = max(r["mean"] / r["max"] for r in deep)
    slopes = [s for row in summary for s in row["slopes"]]
    slope_dev = max(abs(s - row["d"]) for row in summary for s in row["slopes"])
    ratios = [row["ratio"] for row in summary]
    exact = [(r["mean"] - r["exact"]) / r["se"] for r in rows if not math.isnan(r["exact"])]
    print("claim                                    | published (Tseran & Montufar 2021)  | ours")
    print(f"E[#regions] below the upper bound        | yes, every architecture            | largest mean/bound "
          f"{below:.1e}: {'agrees' if below < 1 else 'DISAGREES'}"
          + (f" (the bound is loose: at least {1 / below:.0f}x the mean everywhere, so this does not test it "
             "sharply)" if below < 1 else ""))
    print(f"far below the maximum for deep nets      | yes                                | depth 3, N >= 24: "
          f"mean/max <= {far:.1e}: {'agrees' if far < 0.1 else 'DISAGREES'}")
    print(f"polynomial in N of degree n0             | yes (order N^n0 / n0!)             | slopes "
          f"{min(slopes):.2f}..{max(slopes):.2f}, largest |slope - n0| = {slope_dev:.2f}: "
          f"{'agrees' if slope_dev < 0.35 else 'DISAGREES'}")
    grows = max(ratios) > 1.25
    print(f"no growth with depth at fixed N          | bound independent of depth         | depth 3 / depth 1: "
          f"{min(ratios):.2f}..{max(ratios):.2f}: {'DISAGREES' if grows else 'agrees'}"
          + ("" if grows or min(ratios) > 0.8 else " (deeper nets have somewhat fewer regions)"))
    print(f"one layer, n0 = 1: exact expectation     | (not in the paper; Kac-Rice, ours)  | (mean - exact) / se "
          f"in {min(exact):.1f}..{max(exact):.1f}")
    if 2 in plan:
        top = max(plan[2][0])
        one = {r["K"]: r for r in rows if r["d"] == 2 and r["depth"] == 1 and r["N"] == top}
        pk = {K: rl.bounds.maxout_expected_kinks_on_segment(1, [-1.0], [1.0], rank=K, weight_std=1.0, bias_std=1.0)
              / rl.bounds.maxout_expected_kinks_on_segment(1, [-1.0], [1.0], rank=2, weight_std=1.0, bias_std=1.0)
              for K in RANKS}
        q = {K: (one[K]["mean"] / one[2]["mean"]) / pk[K] ** 2 for K in RANKS if K != 2}
        ok = all(0.85 < v < 1.1 for v in q.values())
        print(f"one layer, n0 = 2: growth with rank K    | (not in the paper; ours)            | (mean_K / mean_2) / "
              f"P_K^2 at N = {top}: " + ", ".join(f"K = {K}: {v:.3f}" for K, v in q.items())
              + f": {'agrees' if ok else 'DISAGREES'} (limit N -> inf: 1, approached from below)")
    plot(rows, plan, args.seed, Path(args.out) / "maxout_complexity.png")
    print(f"total time {time.perf_counter() - t0:.1f} s")
    return rows


def plot(rows: list, plan: dict, seed: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, NullLocator

    fig, axes = plt.subplots(2, 2, figsize=(13, 10.5), constrained_layout=True)
    markers = {1: "o", 2: "s", 3: "^"}
    styles = {1: "-", 2: "--", 3: ":"}

    def ticks(ax, Ns):
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(Ns)
        ax.set_xticklabels([str(int(N)) for N in Ns])

    for ax, d in zip(axes[0], plan):
        Ns = np.array(plan[d][0], dtype=float)
        for ci, K in enumerate(RANKS):
            for L in DEPTHS:
                sel = [r for r in rows if r["d"] == d and r["K"] == K and r["depth"] == L]
                ax.errorbar(Ns, [r["mean"] for r in sel], yerr=[r["se"] for r in sel], color=f"C{ci}",
                            marker=markers[L], ls=styles[L], ms=5, capsize=2, label=f"K = {K}, depth {L}")
            if d == 1:
                exact = [r["exact"] for r in rows if r["d"] == d and r["K"] == K and r["depth"] == 1]
                ax.plot(Ns, exact, color=f"C{ci}", lw=5, alpha=0.25)
        ax.plot(Ns, [rl.bounds.tseran_montufar_order(int(N), d) for N in Ns], color="k", lw=1.5,
                label=r"$N^{n_0}/n_0!$ (paper's order)")
        ax.set_yscale("log")
        ticks(ax, Ns)
        ax.set_xlabel("total number of maxout units N")
        ax.set_ylabel(f"activation regions in $[-3, 3]^{d}$ (mean ± s.e.)")
        ax.set_title(f"({'a' if d == 1 else 'b'}) $n_0$ = {d}: exact counts over random initialisations"
                     + ("\n(wide pale lines: exact one-layer expectation)" if d == 1 else ""), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7.5, ncol=2, loc="upper left")

    ax = axes[1, 0]
    for ci, K in enumerate(RANKS):
        for d in plan:
            sel = [r for r in rows if r["d"] == d and r["K"] == K and r["depth"] == 3]
            ax.plot([r["N"] for r in sel], [r["mean"] / float(r["max"]) for r in sel], color=f"C{ci}",
                    marker="o" if d == 1 else "s", ls="-" if d == 1 else "--", label=f"K = {K}, $n_0$ = {d}")
    ax.set_yscale("log")
    ticks(ax, np.array(sorted({r["N"] for r in rows}), dtype=float))
    ax.set_xlabel("total number of maxout units N (3 layers)")
    ax.set_ylabel("mean regions / maximum (serra_maxout_upper)")
    ax.set_title("(c) depth 3: the expected count is a vanishing fraction of the maximum", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)

    ax = axes[1, 1]
    rng = np.random.default_rng([seed, 99])
    net, _ = random_net(rng, 2, 3, layer_widths(48, 3), maxout_he_c(3))
    p = rl.plane(net, np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0]), extent=(-HALF, HALF, -HALF, HALF))
    p.plot(ax=ax, color="pattern", boundary=False, title=False)
    ax.set_xlabel("input $x_0$")
    ax.set_ylabel("input $x_1$")
    ax.set_title(f"(d) one rank-3 maxout net, 3 layers of 16 units (rl.plane): {p.n_regions} regions\n"
                 f"(maximum for this architecture: {float(rl.bounds.serra_maxout_upper([16] * 3, 2, 3)):.2g}; "
                 f"$N^2/2$ = {48 * 48 // 2})", fontsize=10)
    fig.suptitle("Tseran & Montúfar (2021): maxout nets at initialisation have about $N^{n_0}/n_0!$ regions, "
                 "far below the maximum", fontsize=12)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
