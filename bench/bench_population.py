"""Teacher-student gradient descent on the exact population loss: regionlab against a
vectorised numpy loop over the same closed form, one run.

    python bench/bench_population.py

Safran & Shamir's setting: k = n = d, V = I, a = b = 1 fixed, W0 ~ N(0, 1/k), GD step 5/k
for a fixed number of steps (so both do the same work). The numpy baseline is what a
researcher writes: all pairwise angles at once (``arccos`` of the normalised Gram matrices),
the gradient formula vectorised, one step a loop iteration. Both are float64; their end
points are compared. Then one gradient flow (k = 7, t = 600, rtol 1e-8, atol 1e-10) against
scipy's DOP853 and torchdiffeq's dopri5 on the same closed form (numpy / torch), and
regionlab's census of many runs at once (all cores).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import machine  # noqa: E402


def numpy_gradient(W: np.ndarray, V: np.ndarray) -> np.ndarray:
    """dF/dW of F = 1/2 E[(sum relu(w_i x) - sum relu(v_j x))^2] (a = b = 1), vectorised."""

    def g(A, B):  # sum over rows b of B of d k(a, b)/da, for every row a of A
        na, nb = np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1)
        cos = np.clip(A @ B.T / (na[:, None] * nb[None, :]), -1.0, 1.0)
        t = np.arccos(cos)
        sin = np.sqrt(1.0 - cos * cos)
        cu = (nb[None, :] * sin / (2 * math.pi)).sum(1) / na
        return cu[:, None] * A + ((math.pi - t) / (2 * math.pi)) @ B

    n = W.shape[0]
    nw = np.linalg.norm(W, axis=1)
    cos = np.clip(W @ W.T / (nw[:, None] * nw[None, :]), -1.0, 1.0)
    np.fill_diagonal(cos, 1.0)
    t = np.arccos(cos)
    sin = np.sqrt(1.0 - cos * cos)
    off = 1.0 - np.eye(n)
    cu = ((nw[None, :] * sin * off) / (2 * math.pi)).sum(1) / nw
    ss = cu[:, None] * W + (((math.pi - t) * off) / (2 * math.pi)) @ W
    return 0.5 * W + ss - g(W, V)


def torch_gradient(W, V):
    """numpy_gradient's formula in torch (for torchdiffeq)."""
    import torch

    def g(A, B):
        na, nb = A.norm(dim=1), B.norm(dim=1)
        cos = (A @ B.T / (na[:, None] * nb[None, :])).clamp(-1.0, 1.0)
        t = torch.arccos(cos)
        sin = torch.sqrt(1.0 - cos * cos)
        cu = (nb[None, :] * sin / (2 * math.pi)).sum(1) / na
        return cu[:, None] * A + ((math.pi - t) / (2 * math.pi)) @ B

    n = W.shape[0]
    nw = W.norm(dim=1)
    eye = torch.eye(n, dtype=W.dtype)
    cos = (W @ W.T / (nw[:, None] * nw[None, :])).clamp(-1.0, 1.0) * (1 - eye) + eye
    t = torch.arccos(cos)
    sin = torch.sqrt((1.0 - cos * cos).clamp(min=0))
    off = 1.0 - eye
    cu = ((nw[None, :] * sin * off) / (2 * math.pi)).sum(1) / nw
    ss = cu[:, None] * W + (((math.pi - t) * off) / (2 * math.pi)) @ W
    return 0.5 * W + ss - g(W, V)


def flow_comparison(rl, k: int = 7, t_end: float = 600.0, rtol: float = 1e-8, atol: float = 1e-10) -> None:
    """One population flow: regionlab against scipy DOP853 and torchdiffeq dopri5 on the
    closed form written in numpy / torch, against a tight regionlab reference."""
    from scipy.integrate import solve_ivp

    teacher = rl.teachers.gaussian_relu(k)
    W0 = np.random.default_rng(1).normal(0, 1 / math.sqrt(k), (k, k))
    ref = rl.flow.population(W0, teacher, t_end=t_end, rtol=1e-12, atol=1e-14).W[-1]
    print(f"\none gradient flow, k = {k}, t = {t_end:g}, rtol {rtol:g}, atol {atol:g}; error against "
          "regionlab at rtol 1e-12")
    print(f"{'solver':>22} {'seconds':>9} {'evaluations':>12} {'max |W - ref|':>14} {'speed-up':>9}")
    best, traj = math.inf, None
    for _ in range(3):
        t = time.perf_counter()
        traj = rl.flow.population(W0, teacher, t_end=t_end, rtol=rtol, atol=atol, t_eval=[t_end])
        best = min(best, time.perf_counter() - t)
    rows = [("regionlab dopri5", best, traj.stats["evaluations"], np.abs(traj.W[-1] - ref).max())]
    count = [0]

    def f(_t, w):
        count[0] += 1
        return -numpy_gradient(w.reshape(k, k), teacher.V).ravel()

    t = time.perf_counter()
    sol = solve_ivp(f, (0, t_end), W0.ravel(), method="DOP853", rtol=rtol, atol=atol)
    rows.append(("scipy DOP853 (numpy)", time.perf_counter() - t, count[0],
                 np.abs(sol.y[:, -1].reshape(k, k) - ref).max()))
    try:
        import torch
        from torchdiffeq import odeint

        Vt = torch.tensor(teacher.V)
        calls = [0]

        def tf(_t, w):
            calls[0] += 1
            return -torch_gradient(w, Vt)

        t = time.perf_counter()
        out = odeint(tf, torch.tensor(W0), torch.tensor([0.0, t_end], dtype=torch.float64),
                     method="dopri5", rtol=rtol, atol=atol)
        rows.append(("torchdiffeq dopri5", time.perf_counter() - t, calls[0],
                     np.abs(out[-1].numpy() - ref).max()))
    except ImportError:
        print("(torchdiffeq not installed: pip install torchdiffeq)")
    for name, sec, ev, err in rows:
        print(f"{name:>22} {sec:>9.4f} {ev:>12,} {err:>14.1e} {sec / rows[0][1]:>8.1f}x")


def numpy_gd(W0: np.ndarray, V: np.ndarray, lr: float, steps: int) -> np.ndarray:
    W = W0.copy()
    for _ in range(steps):
        W -= lr * numpy_gradient(W, V)
    return W


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=500, help="runs of the census part")
    args = ap.parse_args()

    import regionlab as rl

    print(f"machine: {machine()}")
    print(f"regionlab {rl.__version__}, {rl.num_threads()} threads; numpy {np.__version__}\n")
    print(f"one GD run of {args.steps} steps, step 5/k (one thread each)")
    print(f"{'k':>4} {'numpy s':>9} {'regionlab s':>12} {'speed-up':>9} {'max |dW|':>10}")
    rng = np.random.default_rng(0)
    for k in (7, 10, 15, 20):
        teacher = rl.teachers.gaussian_relu(k)
        W0 = rng.normal(0, 1 / math.sqrt(k), (k, k))
        t = time.perf_counter()
        ref = numpy_gd(W0, teacher.V, 5 / k, args.steps)
        t_np = time.perf_counter() - t
        best = math.inf
        for _ in range(3):
            t = time.perf_counter()
            ours = rl.flow.population(W0, teacher, lr=5 / k, steps=args.steps, threads=1)
            best = min(best, time.perf_counter() - t)
        err = np.abs(ours.W[-1] - ref).max()
        print(f"{k:>4} {t_np:>9.3f} {best:>12.4f} {t_np / best:>8.1f}x {err:>10.1e}", flush=True)

    flow_comparison(rl)

    print(f"\ncensus: {args.runs} runs per k, GD step 5/k until |grad| < 1e-9 (budget 10^5 steps), "
          "all cores")
    print(f"{'k':>4} {'seconds':>8} {'runs/s':>8} {'mean steps':>10} {'spurious %':>10}")
    total = 0.0
    for k in (6, 10, 14):
        teacher = rl.teachers.gaussian_relu(k)
        W0 = np.random.default_rng([0, k]).normal(0, 1 / math.sqrt(k), (args.runs, k, k))
        t = time.perf_counter()
        runs = rl.flow.population(W0, teacher, lr=5 / k, steps=100_000, tol=1e-9)
        el = time.perf_counter() - t
        total += el
        print(f"{k:>4} {el:>8.2f} {args.runs / el:>8.1f} {runs.steps.mean():>10.0f} "
              f"{100 * runs.counts()['spurious'] / args.runs:>10.1f}", flush=True)
    print(f"those three values of k: {total:.1f} s (the full census, k = 6..20: "
          "examples/spurious_minima_census.py)")


if __name__ == "__main__":
    main()
