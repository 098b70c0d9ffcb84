"""Arjevani & Field (2021): the spurious minima of two-layer ReLU nets are highly symmetric.

In Safran & Shamir's setting (k = n = d, teacher V = I, a = b = 1) the spurious minima
that gradient descent finds are fixed by a large group of symmetries: permuting k - 1 of
the input coordinates together with the matching hidden units leaves W unchanged. Written
with the odd coordinate last, such a W is

    [ p I + q (1 1^T - I)   r 1 ]
    [ s 1^T                  u  ]        (k - 1 + 1 rows and columns)

(type (k - 1, 1)). This script collects the spurious minima of a census for k = 7..10,
takes the most frequent one, puts it in that order and measures how far it is from the
symmetric form; prints its loss, its Hessian's smallest and largest eigenvalues, the five
numbers p, q, r, s, u; and draws W for each k (`symmetric_minima.png`).

    python examples/symmetric_minima.py            # k = 7..10, 300 runs each
    python examples/symmetric_minima.py --quick    # k = 7, 8; 200 runs each
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import regionlab as rl


def spurious_minima(k: int, runs: int, seed: int) -> rl.flow.PopulationRuns:
    rng = np.random.default_rng([seed, k])
    W0 = rng.normal(0.0, 1.0 / math.sqrt(k), (runs, k, k))
    return rl.flow.population(W0, rl.teachers.gaussian_relu(k), lr=5.0 / k, steps=100_000, tol=1e-9)


def canonical(W: np.ndarray) -> tuple[np.ndarray, float]:
    """W in (k - 1, 1) order: the odd coordinate (column) and odd unit (row) last, every
    other unit next to the coordinate it leans on; ``(W', deviation from the form)`` for
    the choice of odd row and column that fits best."""
    k = W.shape[0]
    best, best_dev = W, math.inf
    for odd_col in range(k):
        cols = [c for c in range(k) if c != odd_col]
        for odd_row in range(k):
            rows = [r for r in range(k) if r != odd_row]
            lean = [cols[int(np.argmax(W[r, cols]))] for r in rows]
            if len(set(lean)) != k - 1:
                continue
            order_rows = [r for _, r in sorted(zip(lean, rows))] + [odd_row]
            C = W[np.ix_(order_rows, sorted(lean) + [odd_col])]
            dev = deviation(C)
            if dev < best_dev:
                best, best_dev = C, dev
    return best, best_dev


def symmetric_parts(C: np.ndarray) -> dict:
    """The five numbers of the (k - 1, 1) form, averaged over their entries."""
    m = C.shape[0] - 1
    block = C[:m, :m]
    off = block[~np.eye(m, dtype=bool)]
    return {"p": float(np.diag(block).mean()), "q": float(off.mean()),
            "r": float(C[:m, m].mean()), "s": float(C[m, :m].mean()), "u": float(C[m, m])}


def deviation(C: np.ndarray) -> float:
    """Largest distance of an entry from its group's mean in the (k - 1, 1) form."""
    m = C.shape[0] - 1
    block = C[:m, :m]
    off = block[~np.eye(m, dtype=bool)]
    groups = [np.diag(block), off, C[:m, m], C[m, :m]]
    return float(max(np.abs(g - g.mean()).max() for g in groups if g.size))


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    args = ap.parse_args(argv)
    ks = [7, 8] if args.quick else [7, 8, 9, 10]
    runs = args.runs or (200 if args.quick else 300)
    print(f"spurious minima of Safran & Shamir's census ({runs} runs per k), the most frequent "
          "one put in (k - 1, 1) order")
    print(f"{'k':>3} {'found':>6} {'share':>6} {'loss':>12} {'eig_min':>10} {'eig_max':>8} "
          f"{'deviation':>10} {'p':>8} {'q':>8} {'r':>8} {'s':>8} {'u':>8}")
    rows = []
    for k in ks:
        table = spurious_minima(k, runs, args.seed)
        spur = np.flatnonzero(table.kind == "spurious")
        if len(spur) == 0:
            print(f"{k:>3} no spurious minimum among {runs} runs")
            continue
        losses = np.round(table.loss[spur], 8)
        values, counts = np.unique(losses, return_counts=True)
        pick = spur[np.flatnonzero(losses == values[np.argmax(counts)])[0]]
        C, dev = canonical(table.W[pick])
        parts = symmetric_parts(C)
        rows.append({"k": k, "W": C, "loss": float(table.loss[pick]), "eig_min": float(table.eig_min[pick]),
                     "eig_max": float(table.eig_max[pick]), "deviation": dev, "share": counts.max() / len(spur),
                     **parts})
        print(f"{k:>3} {len(spur):>6} {counts.max() / len(spur):>6.0%} {table.loss[pick]:>12.6e} "
              f"{table.eig_min[pick]:>10.2e} {table.eig_max[pick]:>8.3f} {dev:>10.1e} "
              + " ".join(f"{parts[x]:>8.4f}" for x in "pqrsu"), flush=True)
    plot(rows, Path(args.out) / "symmetric_minima.png")
    return rows


def plot(rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.4), constrained_layout=True,
                             squeeze=False)
    for ax, r in zip(axes[0], rows):
        lim = np.abs(r["W"]).max()
        im = ax.imshow(r["W"], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"k = {r['k']}: loss {r['loss']:.2e}\nsmallest Hessian eigenvalue {r['eig_min']:.1e}",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="W (odd coordinate last)")
    fig.suptitle("Spurious minima of type (k-1, 1): W is invariant under permuting k-1 coordinates")
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
