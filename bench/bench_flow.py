"""Gradient flow and gradient descent: regionlab against torchdiffeq, scipy and torch.

    python bench/bench_flow.py            # the issue's problem, t = 50 (several minutes)
    python bench/bench_flow.py --quick    # t = 5 and small GD runs: a smoke test

Problem (issue #4): a 20-100-1 MLP with LeakyReLU(0.1) (torch default init, seed 0),
500 inputs x ~ N(0, I_20), labels sign(w* . x) for a random w*, logistic loss
L = mean log(1 + exp(-y f(x))), gradient flow d theta/dt = -grad L from t = 0 to 50,
rtol 1e-7, atol 1e-9 for every solver. In the same run:

  regionlab   rl.flow.integrate (Dormand-Prince 5(4), restart at every kink crossing)
  torchdiffeq odeint(method="dopri5") with the field from torch autograd
  scipy       solve_ivp(method="RK45") with the same autograd field

and the final parameters of each against a tight reference (regionlab, rtol 1e-12,
atol 1e-14; its own uncertainty is printed: the gap to a run at rtol 1e-11, atol 1e-13).

Gradient descent: steps per second of rl.flow.gd against a plain torch loop
(forward, loss, backward, SGD step) on the same float64 problem, for a few small sizes.

Threads: the flow's torch field is timed with 1 and 2 threads and the baselines run with
the faster; the torch GD loop is timed with 1 and 2 threads and the faster counts. regionlab runs with threads=1, and in the "auto"
rows times one thread against two on the first gradients and keeps the faster.
regionlab's flow runs (seconds each) report the best of 3; the baselines' runs (minutes
each) run once.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

D, H, N = 20, 100, 500
SEED = 0


def problem(n=N, d=D, h=H, seed=SEED):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(d, h), torch.nn.LeakyReLU(0.1), torch.nn.Linear(h, 1)
    ).double()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) > 0, 1.0, -1.0)
    return model, X, y


def torch_field(model, X, y):
    """theta -> -grad L by autograd, and a call counter."""
    import torch
    from torch.func import functional_call

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    count = [0]

    def f(theta):
        count[0] += 1
        with torch.enable_grad():
            th = theta.detach().requires_grad_(True)
            params, off = {}, 0
            for name, shape in zip(names, shapes):
                k = shape.numel()
                params[name] = th[off : off + k].view(shape)
                off += k
            out = functional_call(model, params, (Xt,)).squeeze(1)
            loss = torch.nn.functional.softplus(-yt * out).mean()
            (g,) = torch.autograd.grad(loss, th)
        return -g

    return f, count


def flat(model):
    import torch

    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def run_regionlab(model, X, y, t_end, rtol, atol, threads=1, repeat=1):
    """Best time of `repeat` runs (the runs are identical; the shared VM's noise is not)."""
    import regionlab as rl

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tr = rl.flow.integrate(model, X, y, loss="logistic", t_end=t_end, rtol=rtol, atol=atol,
                               record=2, threads=threads)
        best = min(best, time.perf_counter() - t0)
    return best, tr


def torch_field_ms(model, X, y, threads, reps=200):
    """Milliseconds per autograd field evaluation with this many torch threads."""
    import torch

    torch.set_num_threads(threads)
    f, _ = torch_field(model, X, y)
    theta = flat(model)
    f(theta)
    t0 = time.perf_counter()
    for _ in range(reps):
        f(theta)
    ms = (time.perf_counter() - t0) / reps * 1e3
    torch.set_num_threads(1)
    return ms


def run_torchdiffeq(model, X, y, t_end, rtol, atol):
    import torch
    from torchdiffeq import odeint

    f, count = torch_field(model, X, y)
    t0 = time.perf_counter()
    sol = odeint(lambda t, th: f(th), flat(model), torch.tensor([0.0, t_end], dtype=torch.float64),
                 rtol=rtol, atol=atol, method="dopri5")
    return time.perf_counter() - t0, sol[-1].numpy(), count[0]


def run_scipy(model, X, y, t_end, rtol, atol):
    import torch
    from scipy.integrate import solve_ivp

    f, count = torch_field(model, X, y)
    t0 = time.perf_counter()
    sol = solve_ivp(lambda t, th: f(torch.from_numpy(th)).numpy(), (0.0, t_end),
                    flat(model).numpy(), method="RK45", rtol=rtol, atol=atol)
    return time.perf_counter() - t0, sol.y[:, -1], count[0]


def torch_gd_loop(model, X, y, lr, steps):
    import torch

    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.softplus(-yt * model(Xt).squeeze(1)).mean()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, flat(model).numpy()


def bench_gd(sizes, steps, lr=0.1):
    import copy

    import regionlab as rl

    print("\n## gradient descent (float64, logistic loss, lr 0.1)")
    print(f"{'N':>6} {'d-h-1':>10} {'steps':>7} {'torch steps/s':>14} {'(thr)':>5} {'regionlab steps/s':>18}"
          f" {'speed-up':>9} {'auto threads':>13} {'speed-up':>9} {'max |dtheta|':>13}")
    import torch

    for n, d, h in sizes:
        model, X, y = problem(n, d, h)
        # torch at its faster thread count for this size (1 or 2 on this machine); every
        # timing is the best of 3 runs
        timings = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for _ in range(3):
                timings.append(torch_gd_loop(copy.deepcopy(model), X, y, lr, steps) + (threads,))
        torch.set_num_threads(1)
        tt, theta_t, torch_threads = min(timings, key=lambda r: r[0])

        def regionlab_gd(threads):
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                tr = rl.flow.gd(model, X, y, loss="logistic", lr=lr, steps=steps,
                                record_every=steps, events=False, threads=threads)
                best = min(best, time.perf_counter() - t0)
            return best, tr

        tr_time, tr = regionlab_gd(1)
        auto_time, _ = regionlab_gd(None)
        diff = np.abs(tr.flat_params[-1] - theta_t).max()
        print(f"{n:>6} {f'{d}-{h}-1':>10} {steps:>7} {steps / tt:>14.0f} {torch_threads:>5} {steps / tr_time:>18.0f}"
              f" {tt / tr_time:>8.1f}x {steps / auto_time:>13.0f} {tt / auto_time:>8.1f}x"
              f" {diff:>13.1e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="t = 5, short GD runs (smoke test)")
    ap.add_argument("--t-end", type=float, default=None)
    ap.add_argument("--skip-scipy", action="store_true")
    ap.add_argument("--skip-torchdiffeq", action="store_true")
    args = ap.parse_args()

    import torch

    import regionlab as rl

    torch.set_num_threads(1)
    t_end = args.t_end or (5.0 if args.quick else 50.0)
    rtol, atol = 1e-7, 1e-9
    print(f"# bench_flow: {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__} (1 thread), regionlab {rl.__version__} "
          f"(kernels {rl.cpu_kernels()})")
    print(f"problem: {D}-{H}-1 LeakyReLU(0.1), N={N}, logistic, t_end={t_end}, "
          f"rtol={rtol}, atol={atol}")

    model, X, y = problem()
    _, ref = run_regionlab(model, X, y, t_end, 1e-12, 1e-14)
    _, ref2 = run_regionlab(model, X, y, t_end, 1e-11, 1e-13)
    theta_ref = ref.flat_params[-1]
    ref_unc = np.abs(ref2.flat_params[-1] - theta_ref).max()
    print(f"reference: regionlab rtol 1e-12: {ref.stats['evaluations']} evaluations, "
          f"{ref.stats['n_events']} events, {ref.stats['n_sliding']} sliding intervals; "
          f"max |theta(1e-11) - theta(1e-12)| = {ref_unc:.1e}")

    rows = []
    secs, tr = run_regionlab(model, X, y, t_end, rtol, atol, repeat=3)
    err = np.abs(tr.flat_params[-1] - theta_ref).max()
    rows.append(("regionlab dopri5", secs, tr.stats["evaluations"], err))
    secs_a, tr_a = run_regionlab(model, X, y, t_end, rtol, atol, threads=None, repeat=3)
    rows.append(("  (threads auto)", secs_a, tr_a.stats["evaluations"],
                 np.abs(tr_a.flat_params[-1] - theta_ref).max()))
    print(f"regionlab: {tr.stats['steps']} steps ({tr.stats['low_order_steps']} of them "
          f"Bogacki-Shampine, {tr.stats['rejected']} rejected), "
          f"{tr.stats['n_events']} events, {tr.stats['n_sliding']} sliding intervals, "
          f"loss {tr.loss[0]:.4f} -> {tr.loss[-1]:.4f}")
    # The baselines run at torch's faster thread count for this field.
    field_ms = {th: torch_field_ms(model, X, y, th) for th in (1, 2)}
    torch_threads = min(field_ms, key=field_ms.get)
    print(f"torch autograd field: {field_ms[1]:.3f} ms an evaluation with 1 thread, "
          f"{field_ms[2]:.3f} ms with 2: the baselines run with {torch_threads}")
    torch.set_num_threads(torch_threads)
    if not args.skip_torchdiffeq:
        secs_t, theta_t, nfe_t = run_torchdiffeq(model, X, y, t_end, rtol, atol)
        rows.append(("torchdiffeq dopri5", secs_t, nfe_t, np.abs(theta_t - theta_ref).max()))
    if not args.skip_scipy:
        secs_s, theta_s, nfe_s = run_scipy(model, X, y, t_end, rtol, atol)
        rows.append(("scipy RK45", secs_s, nfe_s, np.abs(theta_s - theta_ref).max()))

    torch.set_num_threads(1)
    print(f"\n## gradient flow to t = {t_end}")
    base = next((r[1] for r in rows if r[0].startswith("torchdiffeq")), None)
    print(f"{'solver':<20} {'time (s)':>9} {'evaluations':>12} {'max |theta - ref|':>18}"
          f" {'torchdiffeq time / this':>24}")
    for name, s, nfe, e in rows:
        ratio = f"{base / s:>23.1f}x" if base else f"{'-':>24}"
        print(f"{name:<20} {s:>9.2f} {nfe:>12,} {e:>18.1e} {ratio}")

    sizes = [(100, 10, 20), (500, 20, 100), (1000, 20, 100)]
    bench_gd(sizes, steps=200 if args.quick else 2000)


if __name__ == "__main__":
    main()
