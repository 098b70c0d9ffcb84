"""Many small exact segments, as a Hanin & Rolnick study makes them: rl.segment per call.

Regions along lines through data are counted one segment at a time (hundreds of digit
pairs, a dozen architectures, before and after training), so the cost of one call on a
small segment matters as much as throughput on a big one. Baseline: what such studies do
without regionlab, counting pattern changes between dense samples of the segment
(numpy, 2,000 points per segment: a lower bound on the count, which misses regions
thinner than the spacing). Prints the time per segment of both, with one and two threads,
and their ratio.

    python bench/bench_segment_calls.py
"""

from __future__ import annotations

import time

import numpy as np

import regionlab as rl
from _harness import machine


def he_mlp(d: int, depth: int, width: int, rng) -> rl.PLNet:
    weights, biases, fan = [], [], d
    for _ in range(depth):
        weights.append(rng.normal(size=(width, fan)) * np.sqrt(2.0 / fan))
        biases.append(rng.normal(size=width) * 1e-3)
        fan = width
    weights.append(rng.normal(size=(10, fan)) / np.sqrt(fan))
    biases.append(np.zeros(10))
    return rl.PLNet.from_arrays(weights, biases)


def sampled_count(net: rl.PLNet, a: np.ndarray, b: np.ndarray, points: int) -> int:
    t = np.linspace(0.0, 1.0, points)[:, None]
    pats = net.patterns(a + t * (b - a), packed=True)
    return 1 + int(np.any(pats[1:] != pats[:-1], axis=1).sum())


def main() -> None:
    from sklearn.datasets import load_digits

    X = load_digits().data
    X = (X - X.mean()) / X.std()
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(X), (200, 2))
    print(f"machine: {machine()}")
    print("200 segments between load_digits pairs (d = 64), He-normal ReLU nets; time per segment")
    print(f"{'depth':>5} {'width':>5} {'threads':>7} {'exact regions':>13} {'rl.segment ms':>13} "
          f"{'sampled regions':>15} {'sampling ms':>11} {'speed-up':>8}")
    for depth, width in [(1, 384), (4, 96)]:
        net = he_mlp(64, depth, width, np.random.default_rng(depth))
        for threads in (1, 2):
            rl.set_num_threads(threads)
            rl.segment(net, X[0], X[1])  # warm-up
            t0 = time.perf_counter()
            exact = sum(rl.segment(net, X[i], X[j]).n_regions for i, j in pairs)
            t_exact = (time.perf_counter() - t0) / len(pairs)
            t0 = time.perf_counter()
            sampled = sum(sampled_count(net, X[i], X[j], 2000) for i, j in pairs)
            t_sampled = (time.perf_counter() - t0) / len(pairs)
            print(f"{depth:>5} {width:>5} {threads:>7} {exact:>13} {t_exact * 1e3:>13.2f} "
                  f"{sampled:>15} {t_sampled * 1e3:>11.2f} {t_sampled / t_exact:>7.1f}x")
    rl.set_num_threads(None)


if __name__ == "__main__":
    main()
