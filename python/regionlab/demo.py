"""`regionlab demo`: train a small 2-D classifier, find its exact linear regions, draw them.

Also counts the patterns of an MNIST-size MLP on random inputs, to show the throughput.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from .count import count_patterns
from .geometry import plane
from .net import PLNet, from_torch


def _two_spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = np.sqrt(rng.uniform(0.05, 1.0, n)) * 3 * math.pi
    label = rng.integers(0, 2, n)
    sign = np.where(label == 1, 1.0, -1.0)
    X = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) / (3 * math.pi)
    X += rng.normal(0, 0.03, X.shape)
    return X.astype(np.float32), label.astype(np.float32)


def _trained_classifier(X: np.ndarray, y: np.ndarray, seed: int, steps: int):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(Xt).squeeze(1), yt)
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = float(((model(Xt).squeeze(1) > 0).float() == yt).float().mean())
    return model.eval(), float(loss.detach()), accuracy


def _random_classifier(seed: int) -> PLNet:
    """Used when torch is not installed: the same architecture, untrained."""
    rng = np.random.default_rng(seed)
    ws = [rng.normal(0, 1 / math.sqrt(i), (o, i)) for i, o in [(2, 64), (64, 64), (64, 1)]]
    bs = [rng.normal(0, 0.5, o) for o in (64, 64, 1)]
    return PLNet.from_arrays(ws, bs, "relu", dtype=np.float32)


def _draw(path: Path, partition, X, y):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 6), dpi=150)
    partition.plot(axes[0], color="pattern")
    partition.plot(axes[1], color="output")
    for ax in axes:
        ax.scatter(X[:, 0], X[:, 1], c=np.where(y > 0, "tab:red", "tab:blue"), s=2, lw=0, zorder=2)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title(f"{partition.n_regions:,} exact linear regions and the decision boundary")
    axes[1].set_title("coloured by the logit")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(out_dir: str = ".", seed: int = 0, side: int = 1000) -> dict:
    rng = np.random.default_rng(seed)
    X, y = _two_spirals(2000, rng)
    try:
        model, loss, accuracy = _trained_classifier(X, y, seed, steps=600)
        net = from_torch(model)
        print(f"trained a 2-64-64-1 ReLU MLP on two spirals: loss {loss:.3f}, accuracy {accuracy:.1%}")
    except ImportError:
        net = _random_classifier(seed)
        print("torch is not installed: using an untrained 2-64-64-1 ReLU MLP")
    print(net)

    extent = (-1.2, 1.2, -1.2, 1.2)
    xs = np.linspace(extent[0], extent[1], side, dtype=np.float32)
    gx, gy = np.meshgrid(xs, xs)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    pc = count_patterns(net, grid, return_inverse=True)
    print(
        f"grid of {pc.n_samples:,} points: {pc.n_patterns:,} activation patterns "
        f"(layer 1: {pc.n_patterns_per_layer[0]:,}), {pc.samples_per_second:,.0f} samples/s"
    )
    t0 = time.perf_counter()
    partition = plane(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], extent=extent)
    print(
        f"exact partition of the square: {partition.n_regions:,} linear regions "
        f"(layer 1: {partition.n_regions_per_layer[0]:,}) in {time.perf_counter() - t0:.3f} s; "
        f"the grid saw {pc.n_patterns / partition.n_regions:.1%} of them; "
        f"decision boundary: {len(partition.boundary):,} segments"
    )
    on_data = count_patterns(net, X)
    print(f"training data: {on_data.n_patterns:,} patterns among {on_data.n_samples:,} samples")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    picture = out / "regionlab_demo.png"
    try:
        _draw(picture, partition, X, y)
        print(f"wrote {picture}")
    except ImportError:
        picture = None
        print("matplotlib is not installed: no picture (pip install 'regionlab[plot]')")

    # Throughput on an MNIST-size MLP.
    big_rng = np.random.default_rng(seed + 1)
    widths = [784, 512, 512, 512]
    ws = [big_rng.normal(0, 1 / math.sqrt(i), (o, i)).astype(np.float32) for i, o in zip(widths, widths[1:])]
    big = PLNet.from_arrays(ws, [np.zeros(o, np.float32) for o in widths[1:]], ["relu"] * 3)
    data = big_rng.standard_normal((100_000, 784), dtype=np.float32)
    t0 = time.perf_counter()
    big_pc = count_patterns(big, data)
    seconds = time.perf_counter() - t0
    print(
        f"784-512-512-512 MLP, {big_pc.n_samples:,} random inputs: {big_pc.n_patterns:,} patterns "
        f"in {seconds:.2f} s ({big_pc.n_samples / seconds:,.0f} samples/s)"
    )
    return {"grid": pc, "plane": partition, "data": on_data, "mnist_size": big_pc, "picture": picture}
