"""Activation patterns of a ReLU MLP during training (after Hanin & Rolnick, 2019).

Hanin & Rolnick ("Complexity of Linear Regions in Deep Networks", ICML 2019) observed that
the number of linear regions a ReLU network has near its data stays of the order of
(number of neurons)^(input dim) at initialisation and changes little during training, far
below the exponential worst case. This script trains a 2-32-32-32-1 MLP on two noisy
circles and counts, after every epoch, the distinct activation patterns on a 1000x1000
grid over the data and on the training points. It writes `patterns_during_training.png`.

    python examples/patterns_during_training.py [--epochs 30] [--out .]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import regionlab as rl


def two_circles(n: int, rng: np.random.Generator):
    radius = np.where(rng.random(n) < 0.5, 0.5, 1.0)
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + rng.normal(0, 0.08, (n, 2))
    return X.astype(np.float32), (radius > 0.75).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--grid", type=int, default=1000, help="grid points per side")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    X, y = two_circles(4000, rng)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 1),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=128, shuffle=True
    )
    side = np.linspace(-1.5, 1.5, args.grid, dtype=np.float32)
    grid = np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)

    epochs, on_grid, on_data, per_layer = [], [], [], []
    for epoch in range(args.epochs + 1):
        if epoch > 0:
            for xb, yb in loader:
                opt.zero_grad()
                torch.nn.functional.binary_cross_entropy_with_logits(model(xb).squeeze(1), yb).backward()
                opt.step()
        net = rl.from_torch(model.eval())
        g = rl.count_patterns(net, grid)
        d = rl.count_patterns(net, X)
        epochs.append(epoch)
        on_grid.append(g.n_patterns)
        on_data.append(d.n_patterns)
        per_layer.append(g.n_patterns_per_layer)
        print(f"epoch {epoch:3d}: {g.n_patterns:6,} patterns on the grid "
              f"(per layer {g.n_patterns_per_layer}), {d.n_patterns:5,} on {d.n_samples:,} training points")
        model.train()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_layer = np.array(per_layer)
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=150)
    for l in range(per_layer.shape[1]):
        ax.plot(epochs, per_layer[:, l], label=f"grid, layers 1..{l + 1}")
    ax.plot(epochs, on_data, "k--", label="training points")
    ax.set_xlabel("epoch")
    ax.set_ylabel("distinct activation patterns")
    ax.set_yscale("log")
    ax.legend(fontsize=8, loc="center right")
    ax.set_title("2-32-32-32-1 ReLU MLP on two circles")
    fig.tight_layout()
    out = Path(args.out) / "patterns_during_training.png"
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
