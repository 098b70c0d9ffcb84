"""Linear regions on the plane through three inputs of an MNIST-size classifier, during training.

The picture of the field (e.g. Novak et al. 2018, Hanin & Rolnick 2019, SplineCam 2023): take
three training inputs, slice input space with the plane through them, and draw the
network's linear regions there with its decision boundary. Here a 784-256-256-10 ReLU MLP
learns ten classes of 28x28 "images" (smooth random prototypes plus noise; no download
needed), and after every epoch the exact partition of the plane through one input of each
of three classes is computed — fast enough to do at every epoch. Writes
`plane_through_three_inputs.png`: the regions at initialisation and after training,
coloured by predicted class, and the number of regions per epoch.

    python examples/plane_through_three_inputs.py [--epochs 8] [--out .]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import regionlab as rl


def smooth_prototypes(n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Ten blurry 28x28 blobs in [0, 1], one per class."""
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    protos = []
    for _ in range(n_classes):
        img = np.zeros((28, 28))
        for _ in range(4):
            cy, cx = rng.uniform(0.2, 0.8, 2)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(0.04, 0.12) ** 2))
        protos.append(img / img.max())
    return np.stack(protos)


def dataset(n: int, rng: np.random.Generator):
    protos = smooth_prototypes(10, rng)
    y = rng.integers(0, 10, n)
    X = np.clip(protos[y] + rng.normal(0, 0.25, (n, 28, 28)), 0, 1)
    return torch.tensor(X[:, None], dtype=torch.float32), torch.tensor(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--n", type=int, default=6000, help="training inputs")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    X, y = dataset(args.n, rng)
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    # One input of each of three classes spans the plane.
    anchors = [X[int(np.flatnonzero(y.numpy() == c)[0])] for c in (0, 1, 2)]

    def slice_now():
        t = time.perf_counter()
        p = rl.plane_through(model.eval(), *anchors, margin=0.3)
        model.train()
        return p, time.perf_counter() - t

    first, seconds = slice_now()
    history = [first.n_regions]
    print(f"epoch   0: {first.n_regions:7,} regions on the plane ({seconds:.2f} s)")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        for idx in torch.randperm(len(X)).split(128):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        with torch.no_grad():
            accuracy = float((model.eval()(X).argmax(1) == y).float().mean())
        last, seconds = slice_now()
        history.append(last.n_regions)
        print(f"epoch {epoch:3d}: {last.n_regions:7,} regions on the plane ({seconds:.2f} s), "
              f"train accuracy {accuracy:.1%}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 5.6), dpi=130)
    first.plot(axes[0], color="output", linewidth=0.08)
    axes[0].set_title(f"initialisation: {first.n_regions:,} regions")
    last.plot(axes[1], color="output", linewidth=0.08)
    axes[1].set_title(f"after {args.epochs} epochs: {last.n_regions:,} regions")
    axes[2].plot(range(len(history)), history, marker="o")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("linear regions on the plane")
    axes[2].grid(alpha=0.3)
    fig.suptitle("784-256-256-10 ReLU MLP: exact regions on the plane through inputs of classes 0, 1, 2 "
                 "(colour: predicted class; bold: decision boundary)")
    fig.tight_layout()
    out = Path(args.out) / "plane_through_three_inputs.png"
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
